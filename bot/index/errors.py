"""Errors the index raises, each with a message meant for the person who has to fix it."""

import errno


class IndexProblem(Exception):
    """The index cannot be used; the message says why and what to do."""


class IndexMissing(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    pass


class ReindexRunning(Exception):
    """Another reindex (from Discord or the command line) holds the lock."""


def os_problem(exc: OSError) -> str:
    """A short reason for a failed read or write ("the disk is full"), for the person at the
    console or on Discord; the store has already removed whatever it had half written."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__
