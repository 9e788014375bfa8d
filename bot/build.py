"""Build a new index version from the corpus folder: read, cut, detect spoilers, embed, publish.

Only passages whose embedding text changed are sent to the model: vectors of the served version
are reused by content hash, so editing one article re-embeds just that article. The same goes for
the sentences the spoiler engine embeds: each version keeps their vectors (float16, keyed by a hash
of the text, in `embed_cache/`), and every vector the spoiler engine sees is rounded to float16,
so a sentence gets the same flags whether its vector was cached or freshly computed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bot.annotate.spoilers import detect_spoilers
from bot.embedder import Embedder
from bot.index.errors import IndexProblem
from bot.index.store import IndexStore, LoadedIndex
from bot.ingest.corpus import Corpus, IngestCache, load_corpus
from bot.models import ArticleMeta, Passage
from bot.search.features import write_features
from bot.search.retriever import embedding_text
from bot.shows import ShowFacts, load_show_facts
from bot.text import one_line

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
EMBED_BATCH = 256  # texts per model call (sorted by length first, so batches pad little)
CACHE = "embed_cache"


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
    readers: dict[str, list[str]] = field(default_factory=dict)  # reader -> files it read

    def summary(self) -> str:
        lines = [
            f"Index {self.version}: {self.articles} articles, {self.passages} passages "
            f"({self.spoiler_passages} with finale spoilers) in {self.seconds:.1f}s.",
            f"Articles added {len(self.added)}, removed {len(self.removed)}, changed {len(self.changed)}; "
            f"passages embedded {self.embedded}, reused {self.reused}.",
        ]
        if self.readers:
            lines.append(
                "Read with: "
                + ", ".join(f"{name} {len(files)}" for name, files in sorted(self.readers.items()))
            )
            fallback = self.readers.get("html-fallback", [])
            if fallback:
                lines.append(
                    "no main text found by trafilatura (read by page structure): " + ", ".join(fallback[:10])
                )
        for name, files in (("added", self.added), ("removed", self.removed), ("changed", self.changed)):
            if files:
                shown = ", ".join(one_line(f) for f in files[:10])  # a newline in a name stays on its line
                lines.append(f"{name}: {shown}" + (" …" if len(files) > 10 else ""))
        if self.problems:
            lines.append(f"skipped {len(self.problems)} file(s):")
            lines.extend(f"  - {one_line(p)}" for p in self.problems[:10])
        return "\n".join(lines)


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _key16(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class SentenceCache:
    """`embed` for the spoiler engine that reuses the previous version's sentence vectors."""

    def __init__(self, embedder: Embedder, previous: LoadedIndex | None) -> None:
        self._embedder = embedder
        self._old: dict[bytes, int] = {}
        self._old_vectors: np.ndarray | None = None
        self._new: dict[bytes, np.ndarray] = {}
        self.embedded = 0
        folder = previous.path / CACHE if previous is not None else None
        if folder is not None and (folder / "sentence_keys.npy").is_file():
            try:
                keys = np.load(folder / "sentence_keys.npy", allow_pickle=False)
                vectors = np.load(folder / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
                if len(keys) == len(vectors) and vectors.shape[1:] == (embedder.dimension,):
                    self._old = {bytes(k): row for row, k in enumerate(keys)}
                    self._old_vectors = vectors
            except (OSError, ValueError) as exc:
                log.warning("sentence cache of %s unreadable (%s); embedding again", previous, exc)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        keys = [_key16(t) for t in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._new:
                row = self._old.get(key)
                if row is not None and self._old_vectors is not None:
                    self._new[key] = np.asarray(self._old_vectors[row], dtype=np.float16)
                else:
                    missing[key] = text
        if missing:
            order = sorted(missing, key=lambda k: len(missing[k]))
            for start in range(0, len(order), EMBED_BATCH):
                chunk = order[start : start + EMBED_BATCH]
                vectors = self._embedder.embed([missing[k] for k in chunk]).astype(np.float16)
                self._new.update(zip(chunk, vectors, strict=True))
            self.embedded += len(missing)
        if not keys:
            return np.zeros((0, self._embedder.dimension), dtype=np.float32)
        return np.stack([self._new[k] for k in keys]).astype(np.float32)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        keys = list(self._new)
        matrix = np.zeros((len(keys), 16), dtype=np.uint8)
        if keys:
            matrix = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16)
        vectors = (
            np.stack([self._new[k] for k in keys])
            if keys
            else np.zeros((0, self._embedder.dimension), dtype=np.float16)
        )
        np.save(folder / "sentence_keys.npy", matrix, allow_pickle=False)
        np.save(folder / "sentence_vectors.npy", vectors, allow_pickle=False)


def _spoiler_fingerprint(facts: object, variant: str) -> str:
    """What spoiler flags depend on besides an article's own text: the detector's code and weights,
    the admin's show facts and the embedding variant."""
    digest = hashlib.sha256(f"{variant}\0{facts!r}\0".encode())
    import bot.annotate
    from bot.learned import ARTIFACT_PATH

    folder = Path(bot.annotate.__file__).parent
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".pyc")
    for path in [*files, ARTIFACT_PATH]:
        digest.update(path.name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"missing"))
    return digest.hexdigest()


def _detect_changed(
    corpus: Corpus, previous: LoadedIndex | None, embed: SentenceCache, facts: ShowFacts, variant: str
) -> tuple[list[Passage], dict[str, ArticleMeta]]:
    """Spoiler flags for the corpus, running the detector only on articles that changed.

    Detection is per article, so an article whose bytes are unchanged (and cut into the same
    passages) keeps its flags from the previous version, as long as the detector, the show facts
    and the embedding variant are the same (`spoiler_fingerprint`) and it had flags at all.
    """
    reuse: dict[str, list[Passage]] = {}
    if previous is not None and previous.manifest.get("spoiler_fingerprint") == _spoiler_fingerprint(
        facts, variant
    ):
        old_files = previous.manifest.get("files") or {}
        same = {f for f, digest in corpus.files.items() if old_files.get(f) == digest}
        if same:
            for passage in previous.passages:
                if passage.file in same:
                    reuse.setdefault(passage.file, []).append(passage)
    rows_of: dict[str, list[int]] = {}
    for row, passage in enumerate(corpus.passages):
        rows_of.setdefault(passage.file, []).append(row)
    result = list(corpus.passages)
    metas = {a.meta.file: a.meta for a in corpus.articles}
    todo: list[int] = []
    for file, rows in rows_of.items():
        old = reuse.get(file, [])
        if len(old) == len(rows) and all(
            o.spoiler is not None and replace(o, spoiler=None) == corpus.passages[r]
            for o, r in zip(old, rows, strict=True)
        ):
            for o, r in zip(old, rows, strict=True):
                result[r] = replace(corpus.passages[r], spoiler=o.spoiler)
            before = previous.articles.get(file) if previous is not None else None
            if before is not None and file in metas:
                metas[file] = replace(
                    metas[file], title_spoils=before.title_spoils, slug_spoils=before.slug_spoils
                )
        else:
            todo.extend(rows)
    if todo:
        files = {corpus.passages[r].file for r in todo}
        articles = [a for a in corpus.articles if a.meta.file in files]
        detected, decided = detect_spoilers(articles, [corpus.passages[r] for r in todo], embed, facts)
        for row, passage in zip(todo, detected, strict=True):
            result[row] = passage
        metas.update(decided)
    return result, metas


def _passage_keys(index: LoadedIndex) -> list[bytes]:
    """Hashes of the embedding texts of an index's passages (stored, or computed for old indexes)."""
    path = index.path / CACHE / "passage_keys.npy"
    if path.is_file():
        try:
            keys = np.load(path, allow_pickle=False)
            if len(keys) == len(index.passages):
                return [bytes(k) for k in keys]
        except (OSError, ValueError):
            pass
    return [_key16(embedding_text(p)) for p in index.passages]


def build_index(
    corpus_dir: Path,
    store: IndexStore,
    embedder: Embedder,
    *,
    progress: Progress | None = None,
    previous: LoadedIndex | None = None,
    ingest_cache: IngestCache | None = None,
) -> tuple[LoadedIndex, ReindexReport]:
    """Rebuild from `corpus_dir` and publish. Raises ReindexRunning or IndexProblem; the served
    version is untouched unless this returns."""
    started = time.monotonic()
    report = ReindexReport()
    notify = progress or (lambda stage, done, total: None)
    with store.reindex_lock():
        notify("reading", 0, 1)
        corpus = load_corpus(corpus_dir, ingest_cache)
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
        built_with = (previous.manifest.get("embedder") or {}) if previous is not None else {}
        # vectors of another variant, or fed to the model another way, are not reused (nor the
        # spoiler flags made from them); the previous version still says which files changed
        reusable = previous if built_with.get("recipe") == embedder.recipe else None
        texts = [embedding_text(p) for p in corpus.passages]
        keys = [_key16(t) for t in texts]
        cache: dict[bytes, int] = {}
        if reusable is not None:
            cache = {key: row for row, key in enumerate(_passage_keys(reusable))}
        vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        todo: list[int] = []
        for row, key in enumerate(keys):
            hit = cache.get(key)
            if hit is not None and reusable is not None:
                vectors[row] = reusable.vectors[hit]
            else:
                todo.append(row)
        todo.sort(key=lambda r: len(texts[r]))
        report.embedded, report.reused = len(todo), len(texts) - len(todo)
        notify("embedding", 0, len(todo))
        for start in range(0, len(todo), EMBED_BATCH):
            rows = todo[start : start + EMBED_BATCH]
            vectors[rows] = embedder.embed([texts[r] for r in rows])
            notify("embedding", min(start + EMBED_BATCH, len(todo)), len(todo))
        notify("spoilers", 0, 1)
        sentences = SentenceCache(embedder, reusable)
        metas = {a.meta.file: a.meta for a in corpus.articles}
        try:
            passages, metas = _detect_changed(corpus, reusable, sentences, facts, embedder.variant)
        except Exception as exc:  # detection must never cost the admin the whole reindex
            log.exception("spoiler detection failed; every passage will be tagged")
            report.problems.append(f"spoiler detection failed ({exc}); every passage is tagged until fixed")
            passages = [replace(p, spoiler=None) for p in corpus.passages]
        notify("publishing", 0, 1)

        def attach(folder: Path, published: Sequence[Passage], articles: Sequence[ArticleMeta]) -> None:
            write_features(folder, published, articles, sentences)
            sentences.save(folder / CACHE)
            np.save(
                folder / CACHE / "passage_keys.npy",
                np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16),
                allow_pickle=False,
            )

        old_files: dict[str, str] = dict(previous.manifest.get("files", {})) if previous else {}
        loaded = store.publish(
            passages,
            [metas.get(a.meta.file, a.meta) for a in corpus.articles],
            vectors,
            fingerprint=corpus.fingerprint,
            # Nicknames travel with the index, so questions are read with the facts it was built from.
            extra={
                "spoiler_fingerprint": _spoiler_fingerprint(facts, embedder.variant),
                "files": corpus.files,
                "nicknames": facts.alias_map(),
                "embedder": {
                    "backend": embedder.backend,
                    "variant": embedder.variant,
                    "recipe": embedder.recipe,
                },
            },
            attach=attach,
        )
    report.version = loaded.version
    for article in corpus.articles:
        report.readers.setdefault(article.reader, []).append(article.meta.file)
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
