"""Build a new index version from the corpus folder: read, cut, detect spoilers, embed, publish.

Only passages whose embedding text changed are sent to the model: vectors of the served version
are reused by content hash, so editing one article re-embeds just that article.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.embedder import Embedder
from bot.index.errors import IndexProblem
from bot.index.store import IndexStore, LoadedIndex
from bot.ingest.corpus import load_corpus
from bot.search.retriever import embedding_text
from bot.shows import load_show_facts
from bot.spoilers.detect import detect_spoilers

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
EMBED_BATCH = 64


@dataclass(slots=True)
class ReindexReport:
    """What a reindex did, for the admin who asked for it."""

    version: str = ""
    articles: int = 0
    passages: int = 0
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    embedded: int = 0
    reused: int = 0
    spoiler_passages: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"Index {self.version}: {self.articles} articles, {self.passages} passages "
            f"({self.spoiler_passages} with finale spoilers) in {self.seconds:.1f}s.",
            f"Articles added {len(self.added)}, removed {len(self.removed)}, changed {len(self.changed)}; "
            f"passages embedded {self.embedded}, reused {self.reused}.",
        ]
        for name, files in (("added", self.added), ("removed", self.removed), ("changed", self.changed)):
            if files:
                lines.append(f"{name}: " + ", ".join(files[:10]) + (" …" if len(files) > 10 else ""))
        if self.problems:
            lines.append(f"skipped {len(self.problems)} file(s):")
            lines.extend(f"  - {p}" for p in self.problems[:10])
        return "\n".join(lines)


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_index(
    corpus_dir: Path,
    store: IndexStore,
    embedder: Embedder,
    *,
    progress: Progress | None = None,
    previous: LoadedIndex | None = None,
) -> tuple[LoadedIndex, ReindexReport]:
    """Rebuild from `corpus_dir` and publish. Raises ReindexRunning or IndexProblem; the served
    version is untouched unless this returns."""
    started = time.monotonic()
    report = ReindexReport()
    notify = progress or (lambda stage, done, total: None)
    with store.reindex_lock():
        notify("reading", 0, 1)
        corpus = load_corpus(corpus_dir)
        report.problems = list(corpus.problems)
        facts, fact_problems = load_show_facts(corpus_dir)
        report.problems += fact_problems
        if not corpus.passages:
            raise IndexProblem(
                f"no readable articles in {corpus_dir}"
                + (f" ({len(corpus.problems)} skipped)" if corpus.problems else "")
                + "; nothing was published and the old index stays"
            )
        if previous is None:
            try:
                previous = store.load(verify=False)
            except IndexProblem:
                previous = None
        texts = [embedding_text(p) for p in corpus.passages]
        cache: dict[str, int] = {}
        if previous is not None:
            cache = {_text_key(embedding_text(p)): row for row, p in enumerate(previous.passages)}
        vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        todo: list[int] = []
        for row, text in enumerate(texts):
            hit = cache.get(_text_key(text))
            if hit is not None and previous is not None:
                vectors[row] = previous.vectors[hit]
            else:
                todo.append(row)
        report.embedded, report.reused = len(todo), len(texts) - len(todo)
        notify("embedding", 0, len(todo))
        for start in range(0, len(todo), EMBED_BATCH):
            rows = todo[start : start + EMBED_BATCH]
            vectors[rows] = embedder.embed([texts[r] for r in rows])
            notify("embedding", min(start + EMBED_BATCH, len(todo)), len(todo))
        notify("spoilers", 0, 1)
        passages = detect_spoilers(corpus.articles, corpus.passages, embedder.embed, facts)
        notify("publishing", 0, 1)
        old_files: dict[str, str] = dict(previous.manifest.get("files", {})) if previous else {}
        loaded = store.publish(
            passages,
            [a.meta for a in corpus.articles],
            vectors,
            fingerprint=corpus.fingerprint,
            # Nicknames travel with the index, so questions are read with the facts it was built from.
            extra={"files": corpus.files, "nicknames": facts.alias_map()},
        )
    report.version = loaded.version
    report.articles = len(corpus.articles)
    report.passages = len(passages)
    report.spoiler_passages = sum(1 for p in passages if p.spoiler is None or p.spoiler.any)
    report.added = sorted(corpus.files.keys() - old_files.keys())
    report.removed = sorted(old_files.keys() - corpus.files.keys())
    report.changed = sorted(
        f for f in corpus.files.keys() & old_files.keys() if corpus.files[f] != old_files[f]
    )
    report.seconds = time.monotonic() - started
    return loaded, report
