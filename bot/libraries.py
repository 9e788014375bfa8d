"""Libraries: one corpus and one index per Discord server, plus the shared one the owner curates.

Why: a public bot is in many servers run by strangers; one server's uploads must never reach
another server's answers. Each library is an ordinary index folder (`IndexStore`: versioned,
checksummed, published atomically, its own cross-process reindex lock), so a reindex locks one
library only, and the existing index folder simply *is* the shared library (no migration step).

Layout:

    <index>/                      the shared library's index (as before)
    <index>/libraries/<guild>/    a server's index
    <corpus>/                     the shared library's articles (as before)
    <data>/libraries/<guild>/     a server's articles (not under <corpus>: the shared build reads
                                  its folder recursively and must never see a server's uploads)

Names are "shared" or a Discord id (digits only), checked before any path is built, so no name
can leave its folder. Engines are opened on a library's first question and kept in a bounded LRU
cache of open snapshots (memory-mapped; evicting one just drops its maps), so a bot in 1,000
servers holds only the libraries in use. The shared engine is pinned.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import shutil
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.engine import Engine
from bot.index.errors import IndexProblem
from bot.models import Answer, Hit
from bot.render.reply import SpoilerMode

if TYPE_CHECKING:
    from bot.build import Progress, ReindexReport

__all__ = [
    "SHARED",
    "LibraryLimits",
    "LimitReached",
    "Libraries",
    "check_library_name",
    "library_name",
]

log = logging.getLogger(__name__)

SHARED = "shared"
_NAME = re.compile(r"[0-9]{1,20}")
THIS_SERVER = "this server's library"
SHARED_LABEL = "shared library"
NO_LIBRARY = (
    "This server has no articles of its own yet and the shared library is switched off: "
    "an admin can add articles with `/corpus add` or switch it on with `/library shared on`."
)
ID_SEPARATOR = "::"  # passage ids of a server's library: "<guild>::<file>#<n>" (shared ids stay as they are)


class LimitReached(ValueError):
    """A server's library is at one of its limits; the message is for the admin."""


@dataclass(frozen=True, slots=True)
class LibraryLimits:
    """Per-server limits (the shared library, curated by the owner, has none)."""

    max_articles: int = 200
    max_bytes: int = 5_000_000
    reindexes_per_hour: int = 6


def check_library_name(name: object) -> str:
    """ "shared" or a Discord id as digits; anything else (dots, slashes, names) is refused."""
    if isinstance(name, bool):
        raise ValueError(f"not a library name: {name!r}")
    if isinstance(name, int) and 0 <= name < 2**64:
        return str(name)
    if isinstance(name, str) and (name == SHARED or _NAME.fullmatch(name)):
        return name
    raise ValueError(f"not a library name: {name!r} (use 'shared' or a server id)")


def library_name(guild_id: int | None) -> str:
    """The library a server writes to (DMs have none of their own: the shared one)."""
    return SHARED if guild_id is None else check_library_name(guild_id)


class Libraries:
    """Every library's paths, its engine (opened lazily, LRU-cached) and the merged answers."""

    def __init__(
        self,
        shared: Engine,
        *,
        corpus_root: Path,
        index_root: Path | None = None,
        cache_size: int = 64,
        limits: LibraryLimits | None = None,
    ) -> None:
        self.shared = shared
        self.corpus_root = Path(corpus_root)
        self.index_root = Path(index_root) if index_root is not None else shared.store.root / "libraries"
        self.cache_size = max(1, cache_size)
        self.limits = limits or LibraryLimits()
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._lock = threading.Lock()
        self._learned: object | None = None
        self.loads = 0  # engines opened (cold starts), for the bench and tests

    # ------------------------------------------------------------------ paths

    def corpus_dir(self, name: str) -> Path:
        name = check_library_name(name)
        return self.shared.corpus_dir if name == SHARED else self.corpus_root / name

    def index_dir(self, name: str) -> Path:
        name = check_library_name(name)
        return self.shared.store.root if name == SHARED else self.index_root / name

    def has_index(self, name: str) -> bool:
        """Whether the library has a published index (cheap: one stat, no load)."""
        return (self.index_dir(name) / "CURRENT").is_file()

    def names(self) -> list[str]:
        """Every server library on disk (by its corpus or index folder), then "shared"."""
        found: set[str] = set()
        for root in (self.corpus_root, self.index_root):
            if root.is_dir():
                found.update(p.name for p in root.iterdir() if p.is_dir() and _NAME.fullmatch(p.name))
        return sorted(found, key=int) + [SHARED]

    # ------------------------------------------------------------------ engines

    def engine(self, name: str, *, load: bool = True) -> Engine:
        """The library's engine, opened (and its index loaded) on first use; least recently used
        ones beyond `cache_size` are dropped. A library without an index gets an engine with
        `problem` set (a reindex can fill it)."""
        name = check_library_name(name)
        if name == SHARED:
            return self.shared
        with self._lock:
            engine = self._engines.get(name)
            if engine is not None:
                self._engines.move_to_end(name)
                return engine
        engine = Engine(
            self.corpus_dir(name),
            self.index_dir(name),
            embedder=self.shared.embedder,
            settings=self.shared.settings,
            learned=self._ranker(),
        )
        if load and self.has_index(name):
            try:
                engine.load(clean=False)  # leftovers are cleaned before this library's next reindex
            except IndexProblem as exc:
                log.warning("library %s: index not loaded (%s)", name, exc)
        with self._lock:
            raced = self._engines.get(name)
            if raced is not None:  # another thread opened it meanwhile: keep one
                self._engines.move_to_end(name)
                return raced
            self._engines[name] = engine
            self.loads += 1
            while len(self._engines) > self.cache_size:
                evicted, old = self._engines.popitem(last=False)
                if old._reindexing.locked():  # never drop one mid-reindex: its swap must be seen
                    self._engines[evicted] = old
                    self._engines.move_to_end(evicted, last=False)
                    break
                log.debug("library %s evicted from the cache", evicted)
        return engine

    def cached(self) -> list[str]:
        with self._lock:
            return list(self._engines)

    def evict(self, name: str) -> None:
        with self._lock:
            self._engines.pop(check_library_name(name), None)

    def _ranker(self) -> object | None:
        """The learned ranker, loaded once and shared by every library's retriever."""
        if self._learned is None:
            learned = self.shared.learned  # what the shared engine was told (False: blended score)
            snapshot = self.shared.snapshot
            if learned is None and snapshot is not None:
                learned = snapshot.retriever.learned or False
            if learned is None:
                from bot.search.rerank import load_ranker

                learned = load_ranker()
            self._learned = learned if learned is not None else False
        return self._learned

    # ------------------------------------------------------------------ writing

    def reindex_sync(self, name: str, progress: Progress | None = None) -> ReindexReport:
        """Rebuild one library (its own lock: other libraries keep answering and reindexing)."""
        name = check_library_name(name)
        engine = self.engine(name)
        self.corpus_dir(name).mkdir(parents=True, exist_ok=True)
        engine.store.clean_leftovers()
        return engine.reindex_sync(progress)

    async def reindex(self, name: str, progress: Progress | None = None) -> ReindexReport:
        return await asyncio.to_thread(self.reindex_sync, name, progress)

    def clear_index(self, name: str) -> None:
        """Stop serving a server library whose last article was removed (an index must have
        passages, so it cannot be rebuilt empty): its index folder goes, under its lock."""
        name = check_library_name(name)
        if name == SHARED:
            raise ValueError("the shared library's index is never cleared")
        engine = self.engine(name, load=False)
        root = self.index_dir(name)
        with engine.store.reindex_lock():
            (root / "CURRENT").unlink(missing_ok=True)
            shutil.rmtree(root / "versions", ignore_errors=True)
        self.evict(name)

    def usage(self, name: str) -> tuple[int, int]:
        """(articles, bytes) in the library's corpus folder."""
        folder = self.corpus_dir(name)
        if not folder.is_dir():
            return 0, 0
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        return len(files), sum(p.stat().st_size for p in files)

    def check_room(self, name: str, size: int, *, replacing: int | None = None) -> None:
        """LimitReached unless a file of `size` bytes fits (`replacing`: size of the file it replaces)."""
        if check_library_name(name) == SHARED:
            return
        articles, used = self.usage(name)
        if replacing is None and articles + 1 > self.limits.max_articles:
            raise LimitReached(
                f"This server's library is full: {articles} of {self.limits.max_articles} articles. "
                "Remove one with `/corpus remove` first."
            )
        after = used - (replacing or 0) + size
        if after > self.limits.max_bytes:
            raise LimitReached(
                f"That would make this server's library {after:,} bytes; the limit is "
                f"{self.limits.max_bytes:,}. Remove an article with `/corpus remove` first."
            )

    # ------------------------------------------------------------------ answers

    def libraries_for(self, guild_id: int | None, shared_on: bool) -> list[str]:
        """Which libraries answer: DMs the shared one only; a server its own (when it has an
        index) and the shared one when switched on."""
        if guild_id is None:
            return [SHARED]
        names = [check_library_name(guild_id)] if self.has_index(str(guild_id)) else []
        if shared_on:
            names.append(SHARED)
        return names

    async def ask(
        self,
        question: str,
        *,
        guild_id: int | None,
        shared_on: bool = True,
        history: Sequence[str] = (),
        k: int = 3,
        mode: SpoilerMode = "tag",
        watched: Mapping[str, int] | None = None,
        exclude: Sequence[str] = (),
    ) -> Answer:
        """Answer from the right libraries; one library answers exactly as its engine does."""
        names = self.libraries_for(guild_id, shared_on)
        if not names:
            return Answer(question=question, messages=[NO_LIBRARY])
        if names == [SHARED]:
            return await self.shared.ask(
                question, history=history, k=k, mode=mode, watched=watched, exclude=exclude
            )
        engines = await asyncio.to_thread(lambda: [(n, self.engine(n)) for n in names])
        return await self._ask_merged(engines, question, history, k, mode, watched or {}, exclude)

    async def _ask_merged(
        self,
        engines: list[tuple[str, Engine]],
        question: str,
        history: Sequence[str],
        k: int,
        mode: SpoilerMode,
        watched: Mapping[str, int],
        exclude: Sequence[str],
    ) -> Answer:
        """Embed once for every library, search each, merge by score (the ranker's logits are
        comparable across indexes), label each hit with its library."""
        prepared = []
        for name, engine in engines:
            ready = engine._prepare(question, history)
            if isinstance(ready, Answer):
                if engine.snapshot is None:  # that library is down: answer from the others
                    log.warning("library %s unavailable: %s", name, engine.problem)
                    continue
                return ready  # empty or too long: the same for every library
            prepared.append((name, engine, *ready))
        if not prepared:
            return Answer(question=question, messages=[f"I can't answer right now: {NO_LIBRARY}"])
        texts = sorted({t for *_, texts in prepared for t in texts.values()})
        vectors = dict(zip(texts, await self.shared.embedder.embed_async(texts), strict=True))

        def search() -> Answer:
            query = prepared[0][3]
            hits: list[Hit] = []
            for name, engine, snapshot, q, wanted in prepared:
                if engine.embedder.variant != snapshot.index.variant:
                    continue
                own = {key: vectors[text] for key, text in wanted.items()}
                prefix = "" if name == SHARED else name + ID_SEPARATOR
                if prefix:
                    mine = [e[len(prefix) :] for e in exclude if e.startswith(prefix)]
                else:
                    mine = [e for e in exclude if ID_SEPARATOR not in e]
                wanted_k = k + (0 if exclude else q.skip)
                found = engine.search_prepared(snapshot, q, own, k=wanted_k, exclude=mine)
                label = SHARED_LABEL if name == SHARED else THIS_SERVER
                for hit in found:
                    passage = hit.passage
                    if prefix:
                        passage = dataclasses.replace(passage, id=prefix + passage.id)
                    hits.append(dataclasses.replace(hit, passage=passage, library=label))
            hits.sort(key=lambda h: h.score, reverse=True)
            skip = 0 if exclude else query.skip
            return Engine.compose_answer(question, query, hits[skip : skip + k], mode=mode, watched=watched)

        return await asyncio.to_thread(search)
