"""The engine every front end shares: question in, Discord-ready answer out; reindex with hot swap.

The console, the command line and the Discord cogs all call `Engine.ask`, so a fan sees the same
reply everywhere. Each answer is computed against one snapshot of the index, and a reindex swaps
in a new snapshot only after the new version is published, so questions never see half an index.
Several processes can serve one index folder: a version another process published is picked up
when it is announced (`catch_up`, called by `bot.fleet`) or, if the notice was missed, before the
next question (`stale` reads the folder's tiny CURRENT file).
Model work runs on the embedder's single worker thread; search runs off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.embedder import Embedder
from bot.index.errors import IndexProblem
from bot.index.store import IndexStore, LoadedIndex
from bot.models import Answer, ArticleMeta
from bot.render.reply import DECLINE, MAX_QUOTES_SHOWN, SpoilerMode, compose
from bot.search.question import (
    asks_about_ending,
    asks_who_said_that,
    is_more,
    looks_like_follow_up,
    wants_quote,
)
from bot.search.retriever import Retriever, SearchSettings
from bot.text import clean_question

if TYPE_CHECKING:  # the builder (ingestion, spoiler engine) is imported only when reindexing
    from bot.build import Progress, ReindexReport
    from bot.models import Hit
    from bot.search.rerank import LearnedRanker

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500
EMPTY_QUESTION = "Ask me something about the shows, e.g. “why did Jessica kill Kilgrave?”"
TOO_LONG = f"That question is too long for me; please keep it under {MAX_QUESTION_CHARS} characters."


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One index version with its retriever; replaced whole on reindex."""

    index: LoadedIndex
    retriever: Retriever


@dataclass(slots=True)
class Query:
    """A question resolved against the user's recent turns."""

    text: str
    context: str | None = None
    skip: int = 0  # quotes to skip ("more"): MAX_QUOTES_SHOWN per earlier answer, refined by _answer
    answers_before: int = 0  # answers already given to this question (it and each "more")
    who_said_that: bool = False
    problem: str | None = None
    exclude: list[str] = field(default_factory=list)


class Engine:
    def __init__(
        self,
        corpus_dir: Path,
        index_dir: Path,
        *,
        embedder: Embedder | None = None,
        settings: SearchSettings | None = None,
        learned: LearnedRanker | bool | None = None,
    ) -> None:
        self.corpus_dir = corpus_dir
        # One ranker shared by every library's engine (None: each retriever loads its own).
        self.learned = learned
        self.embedder = embedder or Embedder()
        self.store = IndexStore(
            index_dir,
            model=self.embedder.name,
            dimension=self.embedder.dimension,
            variant=self.embedder.variant,
        )
        self.settings = settings or SearchSettings()
        self._snapshot: Snapshot | None = None
        self.problem: str | None = "the index is not loaded yet"
        self._reindexing = threading.Lock()
        self._swapping = threading.Lock()  # a catch-up load must not overwrite a newer swap
        self._refused: str | None = None  # a published version that failed to load: not retried per question
        self._ingest_cache: dict = {}  # articles read by the last reindex, by path and content hash
        #: Called (on the reindex thread) with each version this engine publishes, before it returns:
        #: `bot.fleet` announces it to the other processes. A failing hook is logged, never raised.
        self.on_publish: list[Callable[[LoadedIndex], None]] = []
        #: Called (on whichever thread caught up) after swapping to a version published elsewhere.
        self.on_catch_up: list[Callable[[LoadedIndex], None]] = []

    # ------------------------------------------------------------------ index lifecycle

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    @property
    def version(self) -> str | None:
        return self._snapshot.index.version if self._snapshot else None

    def load(self, *, clean: bool = True) -> None:
        """Open the current index; on failure keep serving what was loaded and record the problem.
        `clean=False` skips removing a killed build's leftovers (a file lock and a folder scan):
        for libraries opened on a question, which clean up before their next reindex instead."""
        if clean:
            self.store.clean_leftovers()
        try:
            index = self.store.load()
        except IndexProblem as exc:
            self.problem = str(exc)
            log.warning("index not loaded: %s", exc)
            raise
        self._swap(index)

    def _snapshot_of(self, index: LoadedIndex) -> Snapshot:
        return Snapshot(
            index, Retriever(index, index.manifest.get("nicknames") or {}, self.settings, self.learned)
        )

    def _swap(self, index: LoadedIndex) -> None:
        snapshot = self._snapshot_of(index)
        with self._swapping:
            self._snapshot = snapshot
            self.problem = None

    def stale(self) -> bool:
        """Whether the folder's CURRENT names a version other than the one served (another process
        published it). Cheap: one read of a tiny file; False while this engine reindexes itself."""
        if self._reindexing.locked():
            return False
        try:
            current = self.store.current_version()
        except OSError:
            return False
        return current is not None and current != self.version and current != self._refused

    def catch_up(self) -> bool:
        """Load and serve the version CURRENT names when it is not the served one; True if swapped.

        A version that fails to load is logged once and not retried; the served one stays."""
        if not self.stale():
            return False
        current = self.store.current_version()
        try:
            index = self.store.load(current)
        except IndexProblem as exc:
            self._refused = current
            log.error(
                "index %s was published but can't be loaded here (%s); still serving %s",
                current,
                exc,
                self.version,
            )
            if self._snapshot is None:
                self.problem = str(exc)
            return False
        snapshot = self._snapshot_of(index)
        with self._swapping:
            if self.store.current_version() != index.version:  # a newer one was published meanwhile
                return False
            self._snapshot = snapshot
            self.problem = None
        log.info("now serving index %s (published by another process)", index.version)
        for hook in self.on_catch_up:
            try:
                hook(index)
            except Exception:
                log.exception("a catch-up hook failed")
        return True

    def reindex_sync(self, progress: Progress | None = None) -> ReindexReport:
        """Rebuild from the corpus and switch to it; questions keep using the old snapshot meanwhile."""
        build = globals().get("build_index") or __getattr__("build_index")
        if not self._reindexing.acquire(blocking=False):
            from bot.index.errors import ReindexRunning

            raise ReindexRunning("a reindex is already running; try again when it has finished")
        try:
            previous = self._snapshot.index if self._snapshot else None
            self.embedder.warm_up()  # loads the model: a failed ONNX export falls back to torch here
            self.store.variant = self.embedder.variant
            index, report = build(
                self.corpus_dir,
                self.store,
                self.embedder,
                progress=progress,
                previous=previous,
                ingest_cache=self._ingest_cache,
            )
            self._swap(index)
            for hook in self.on_publish:
                try:
                    hook(index)
                except Exception:
                    log.exception(
                        "announcing index %s failed; other processes catch up on their own", index.version
                    )
            return report
        finally:
            self._reindexing.release()

    async def reindex(self, progress: Progress | None = None) -> ReindexReport:
        return await asyncio.to_thread(self.reindex_sync, progress)

    def sources(self) -> list[ArticleMeta]:
        snapshot = self._snapshot
        return sorted(snapshot.index.articles.values(), key=lambda a: a.title) if snapshot else []

    # ------------------------------------------------------------------ questions

    def resolve(self, question: str, history: Sequence[str] = ()) -> Query:
        """Decide what to search for, using earlier turns for "more", "who said that" and follow-ups."""
        text = clean_question(question)
        if not text:
            return Query("", problem=EMPTY_QUESTION)
        if len(text) > MAX_QUESTION_CHARS:
            return Query("", problem=TOO_LONG)
        previous = [clean_question(h) for h in history if clean_question(h)]
        previous = [h for h in previous if not is_more(h) and not asks_who_said_that(h)]
        if previous and is_more(text):
            before = _count_more(history)
            return Query(previous[-1], skip=MAX_QUOTES_SHOWN * before, answers_before=before)
        if previous and asks_who_said_that(text):
            return Query(previous[-1], who_said_that=True)
        if previous and looks_like_follow_up(text):
            return Query(text, context=previous[-1])
        return Query(text)

    def ask_sync(
        self,
        question: str,
        *,
        history: Sequence[str] = (),
        k: int = 3,
        mode: SpoilerMode = "tag",
        watched: Mapping[str, int] | None = None,
        exclude: Sequence[str] = (),
    ) -> Answer:
        if self.stale():
            self.catch_up()
        prepared = self._prepare(question, history)
        if isinstance(prepared, Answer):
            return prepared
        snapshot, query, texts = prepared
        vectors = dict(zip(texts, self.embedder.embed(list(texts.values())), strict=True))
        return self._answer(snapshot, question, query, vectors, k, mode, watched or {}, exclude)

    async def ask(
        self,
        question: str,
        *,
        history: Sequence[str] = (),
        k: int = 3,
        mode: SpoilerMode = "tag",
        watched: Mapping[str, int] | None = None,
        exclude: Sequence[str] = (),
    ) -> Answer:
        """Answer without blocking the event loop: model on its worker, search on a thread."""
        if self.stale():  # a version published elsewhere whose notice this process missed
            await asyncio.to_thread(self.catch_up)
        prepared = self._prepare(question, history)
        if isinstance(prepared, Answer):
            return prepared
        snapshot, query, texts = prepared
        vectors = dict(zip(texts, await self.embedder.embed_async(list(texts.values())), strict=True))
        return await asyncio.to_thread(
            self._answer, snapshot, question, query, vectors, k, mode, watched or {}, exclude
        )

    def _prepare(
        self, question: str, history: Sequence[str]
    ) -> Answer | tuple[Snapshot, Query, dict[str, str]]:
        """Everything before the model call: an early answer (empty, too long, no index), or the
        snapshot this answer will use, the resolved query and the texts to embed."""
        query = self.resolve(question, history)
        if query.problem:
            return Answer(question=question, messages=[query.problem])
        snapshot = self._snapshot
        if snapshot is None:
            return self._unavailable(question)
        if query.context is not None and not query.skip and not query.who_said_that:
            # "best pizza topping?" after a question about Kilgrave is a new question, not a follow-up:
            # a message whose own specific words the corpus never uses cannot continue a talk about it
            specific, unknown = snapshot.retriever.specific_words(snapshot.retriever.expand(query.text))
            if specific and len(unknown) == len(specific):
                query = Query(query.text)
        return snapshot, query, self._texts_to_embed(snapshot, query)

    def _foreign(self, question: str, snapshot: Snapshot) -> Answer:
        """The embedder fell back to a backend whose vectors do not match the index's."""
        self.problem = (
            f"the index holds {snapshot.index.variant} vectors but questions are now embedded as "
            f"{self.embedder.variant} ({self.embedder.backend}); an admin must reindex"
        )
        log.error("%s", self.problem)
        return self._unavailable(question)

    def _unavailable(self, question: str) -> Answer:
        return Answer(
            question=question,
            messages=[f"I can't answer right now: {self.problem or 'no index is loaded'}."],
        )

    @staticmethod
    def _texts_to_embed(snapshot: Snapshot, query: Query) -> dict[str, str]:
        """The question (aliases expanded), the earlier turn it follows up, and the question
        without show names; embedded together in one model call."""
        retriever = snapshot.retriever
        texts = {"question": retriever.expand(query.text)}
        if query.context:
            texts["context"] = retriever.expand(query.context)
        focus = retriever.aliases.without_shows(texts["question"])
        if focus:
            texts["focus"] = focus
        return texts

    def _answer(
        self,
        snapshot: Snapshot,
        question: str,
        query: Query,
        vectors: dict[str, np.ndarray],
        k: int,
        mode: SpoilerMode,
        watched: Mapping[str, int],
        exclude: Sequence[str],
    ) -> Answer:
        if self.embedder.variant != snapshot.index.variant:
            return self._foreign(question, snapshot)
        skip = query.skip
        if query.answers_before and not exclude:
            # "more" goes on after the quotes the earlier answers really showed (a long quote can
            # leave less room than MAX_QUOTES_SHOWN); Discord lists what it showed (`exclude`) instead.
            skip = 0
            cautious = asks_about_ending(query.text) or bool(
                query.context and asks_about_ending(query.context)
            )
            for _ in range(query.answers_before):
                earlier = self.search_prepared(snapshot, query, vectors, k=k, skip=skip)
                if not earlier:
                    break
                shown = Answer(question=question)
                compose(shown, earlier, mode=mode, watched=watched, cautious=cautious)
                skip += len(earlier) - len(shown.unshown)
        hits = self.search_prepared(snapshot, query, vectors, k=k, skip=skip, exclude=exclude)
        return self.compose_answer(question, query, hits, mode=mode, watched=watched)

    def search_prepared(
        self,
        snapshot: Snapshot,
        query: Query,
        vectors: dict[str, np.ndarray],
        *,
        k: int,
        skip: int = 0,
        exclude: Sequence[str] = (),
    ) -> list[Hit]:
        """The hits of one snapshot for a resolved, embedded query (no rendering): what several
        libraries' answers are merged from."""
        retriever = snapshot.retriever
        expanded = retriever.expand(query.text)
        prefer_speakers = wants_quote(query.text) or bool(query.context and wants_quote(query.context))
        return retriever.search(
            vectors["question"],
            expanded,
            k=k,
            # A caller that lists what it already showed (Discord) needs no positional skip too.
            skip=0 if exclude else skip,
            context_vector=vectors.get("context"),
            focus_vector=vectors.get("focus"),
            exclude=exclude,
            prefer_speakers=prefer_speakers,
        )

    @staticmethod
    def compose_answer(
        question: str,
        query: Query,
        hits: list[Hit],
        *,
        mode: SpoilerMode,
        watched: Mapping[str, int],
    ) -> Answer:
        """The Discord messages for hits already chosen (from one library or several)."""
        answer = Answer(question=question, hits=hits, answered=bool(hits))
        cautious = asks_about_ending(query.text) or bool(query.context and asks_about_ending(query.context))
        answer.cautious = cautious
        if query.who_said_that and hits:
            answer.messages = [_who_said(hits[0])] + compose(
                answer, hits[:1], mode=mode, watched=watched, cautious=cautious
            )
            answer.messages = (
                ["\n".join(answer.messages)] if sum(map(len, answer.messages)) < 1900 else answer.messages
            )
            return answer
        if not hits and query.skip:
            answer.messages = ["That's all I have on that."]
            return answer
        answer.messages = (
            compose(answer, hits, mode=mode, watched=watched, cautious=cautious) if hits else [DECLINE]
        )
        return answer


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """`bot.engine.build_index`, imported on first use (it pulls in ingestion and the spoiler engine)."""
    if name == "build_index":
        from bot.build import build_index

        globals()["build_index"] = build_index
        return build_index
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _who_said(hit) -> str:  # type: ignore[no-untyped-def]
    from bot.render.markdown import escape_text

    if hit.passage.speaker:
        return f"That was **{escape_text(hit.passage.speaker)}**:"
    return f"That line is from *{escape_text(hit.article.title)}*; the article doesn't name a speaker:"


def _count_more(history: Sequence[str]) -> int:
    """How many answers were already given for the last real question (it and each "more")."""
    count = 1
    for turn in reversed(history):
        if not is_more(clean_question(turn)):
            break
        count += 1
    return count
