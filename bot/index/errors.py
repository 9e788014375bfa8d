"""Errors the index raises, each with a message meant for the person who has to fix it."""


class IndexProblem(Exception):
    """The index cannot be used; the message says why and what to do."""


class IndexMissing(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    pass


class ReindexRunning(Exception):
    """Another reindex (from Discord or the command line) holds the lock."""
