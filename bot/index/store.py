"""Versioned index folders with an atomic switch.

Layout under the index root (default `embeddings/`):

    CURRENT                 name of the version being served (replaced with os.replace)
    versions/<version>/     manifest.json, vectors.npy, passages.jsonl, articles.json
    versions/.building-*    a version being written; removed at the next start if a build died
    .reindex.lock           held while a reindex runs (across processes)

A new version is written beside the served one, read back and checked, then published by renaming
its folder and replacing CURRENT. Readers that still map the old files keep working: old versions
are removed only after a newer one is published, and Linux keeps an unlinked file alive while it is
mapped. A crash at any point leaves CURRENT naming a complete, checked version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from bot.index.errors import IndexCorrupt, IndexMissing, IndexProblem, ReindexRunning
from bot.models import ArticleMeta, Passage

log = logging.getLogger(__name__)

FORMAT = 1
KEEP_VERSIONS = 2
_FILES = ("vectors.npy", "passages.jsonl", "articles.json")


@dataclass(frozen=True, slots=True)
class LoadedIndex:
    """One published version, read and checked."""

    version: str
    path: Path
    manifest: dict[str, Any]
    passages: list[Passage]
    articles: dict[str, ArticleMeta]
    vectors: np.ndarray  # (count, dimension) float32, rows of length 1, memory-mapped


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class IndexStore:
    """Reads and publishes index versions under one root folder."""

    def __init__(self, root: Path, *, model: str, dimension: int) -> None:
        self.root = root
        self.model = model
        self.dimension = dimension

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    # ------------------------------------------------------------------ locking

    @contextlib.contextmanager
    def reindex_lock(self) -> Iterator[None]:
        """Exclusive right to build and publish; raises ReindexRunning at once if held elsewhere."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / ".reindex.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout as exc:
            raise ReindexRunning("a reindex is already running; try again when it has finished") from exc
        try:
            yield
        finally:
            lock.release()

    def clean_leftovers(self) -> list[Path]:
        """Remove half-written versions a killed build left behind (only when no build is running)."""
        removed: list[Path] = []
        if not self.versions_dir.is_dir():
            return removed
        try:
            with self.reindex_lock():
                for path in self.versions_dir.glob(".building-*"):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
                for path in self.root.glob(".CURRENT.*"):
                    path.unlink(missing_ok=True)
                    removed.append(path)
        except ReindexRunning:
            pass
        for path in removed:
            log.info("removed leftover %s from an interrupted reindex", path.name)
        return removed

    # ------------------------------------------------------------------ reading

    def current_version(self) -> str | None:
        try:
            name = (self.root / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def load(self, version: str | None = None, *, verify: bool = True) -> LoadedIndex:
        """Open a version (default: the current one), refusing anything corrupt or foreign."""
        version = version or self.current_version()
        if not version:
            raise IndexMissing(
                f"no index in {self.root}: build one with `python -m bot index` (or /reindex on Discord)"
            )
        return self._load_path(self.versions_dir / version, verify=verify)

    def _load_path(self, path: Path, *, verify: bool) -> LoadedIndex:
        name = path.name
        try:
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexCorrupt(
                f"index version {name} has no manifest; rebuild with `python -m bot index`"
            ) from exc
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(
                f"index version {name}: unreadable manifest ({exc}); rebuild the index"
            ) from exc
        self._check_manifest(manifest, name)
        for file_name in _FILES:
            file_path = path / file_name
            if not file_path.is_file():
                raise IndexCorrupt(f"index version {name} is missing {file_name}; rebuild the index")
            if verify and file_sha256(file_path) != manifest["checksums"].get(file_name):
                raise IndexCorrupt(
                    f"index version {name}: {file_name} does not match its checksum "
                    "(truncated or damaged); rebuild the index"
                )
        try:
            vectors = np.load(path / "vectors.npy", mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise IndexCorrupt(
                f"index version {name}: vectors unreadable ({exc}); rebuild the index"
            ) from exc
        count = int(manifest["count"])
        if vectors.dtype != np.float32 or vectors.shape != (count, self.dimension):
            raise IndexCorrupt(
                f"index version {name}: vectors are {vectors.dtype} {vectors.shape}, "
                f"expected float32 ({count}, {self.dimension}); rebuild the index"
            )
        check_vectors(np.asarray(vectors), where=f"index version {name}")
        try:
            passages = [
                Passage.from_dict(json.loads(line))
                for line in (path / "passages.jsonl").read_text(encoding="utf-8").splitlines()
                if line.strip()
            ]
            articles = {
                a["file"]: ArticleMeta.from_dict(a)
                for a in json.loads((path / "articles.json").read_text(encoding="utf-8"))
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(
                f"index version {name}: passage data unreadable ({exc}); rebuild the index"
            ) from exc
        if len(passages) != count:
            raise IndexCorrupt(f"index version {name}: {len(passages)} passages for {count} vectors")
        missing = {p.file for p in passages} - articles.keys()
        if missing:
            raise IndexCorrupt(f"index version {name}: passages from unknown articles {sorted(missing)[:3]}")
        return LoadedIndex(name, path, manifest, passages, articles, vectors)

    def _check_manifest(self, manifest: Any, name: str) -> None:
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise IndexCorrupt(f"index version {name}: unknown format; rebuild with `python -m bot index`")
        if manifest.get("model") != self.model or manifest.get("dimension") != self.dimension:
            raise IndexCorrupt(
                f"index version {name} was built with {manifest.get('model')} "
                f"({manifest.get('dimension')} dimensions), but this bot uses {self.model} "
                f"({self.dimension}); rebuild with `python -m bot index`"
            )
        if not isinstance(manifest.get("checksums"), dict) or not isinstance(manifest.get("count"), int):
            raise IndexCorrupt(f"index version {name}: manifest lacks checksums or count; rebuild the index")

    # ------------------------------------------------------------------ writing

    def publish(
        self,
        passages: Sequence[Passage],
        articles: Sequence[ArticleMeta],
        vectors: np.ndarray,
        *,
        fingerprint: str,
        extra: dict[str, Any] | None = None,
    ) -> LoadedIndex:
        """Write a new version beside the current one, check it, then switch to it atomically.

        The caller must hold `reindex_lock()`. Raises IndexProblem (old index untouched) when the
        data is not publishable, e.g. an empty corpus.
        """
        if not passages:
            raise IndexProblem("the corpus has no passages; nothing was published and the old index stays")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(passages), self.dimension):
            raise IndexProblem(f"{len(passages)} passages but vectors of shape {vectors.shape}")
        check_vectors(vectors, where="the new index")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        # Microseconds in the name so names sort in publishing order, which pruning relies on.
        now = time.time()
        stamp = time.strftime("v%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1_000_000):06d}"
        version = stamp + "-" + uuid.uuid4().hex[:8]
        building = self.versions_dir / f".building-{version}"
        building.mkdir()
        try:
            with (building / "vectors.npy").open("wb") as handle:
                np.save(handle, vectors, allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
            _write_file(
                building / "passages.jsonl",
                "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in passages).encode(),
            )
            _write_file(
                building / "articles.json",
                json.dumps([a.to_dict() for a in articles], ensure_ascii=False).encode(),
            )
            manifest = {
                "format": FORMAT,
                "version": version,
                "model": self.model,
                "dimension": self.dimension,
                "dtype": "float32",
                "count": len(passages),
                "articles": len(articles),
                "corpus_fingerprint": fingerprint,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "checksums": {name: file_sha256(building / name) for name in _FILES},
                **(extra or {}),
            }
            _write_file(building / "manifest.json", json.dumps(manifest, indent=2).encode())
            _fsync_dir(building)
            self._load_path(building, verify=True)  # read back before anyone is served from it
            final = self.versions_dir / version
            os.rename(building, final)
            _fsync_dir(self.versions_dir)
            replaced = self.current_version()
            self._switch(version)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        self._prune(keep=version, previous=replaced)
        return self._load_path(final, verify=False)

    def _switch(self, version: str) -> None:
        pending = self.root / f".CURRENT.{uuid.uuid4().hex[:8]}"
        _write_file(pending, (version + "\n").encode())
        os.replace(pending, self.root / "CURRENT")
        _fsync_dir(self.root)

    def _prune(self, keep: str, previous: str | None = None) -> None:
        """Drop old versions down to KEEP_VERSIONS, oldest first, never the one just published nor
        the one it replaced (readers may still be answering from it)."""
        versions = sorted(p for p in self.versions_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        spare = [p for p in versions if p.name not in (keep, previous)]
        for path in spare[: max(0, len(versions) - KEEP_VERSIONS)]:
            shutil.rmtree(path, ignore_errors=True)


def check_vectors(vectors: np.ndarray, *, where: str) -> None:
    """Refuse NaN, infinite or zero vectors: they would rank garbage or divide by zero."""
    if vectors.size == 0:
        return
    if not np.isfinite(vectors).all():
        raise IndexCorrupt(f"{where}: vectors contain NaN or infinite values; rebuild the index")
    norms = np.linalg.norm(vectors, axis=1)
    if (np.abs(norms - 1.0) > 1e-2).any():
        raise IndexCorrupt(f"{where}: vectors are not unit length (zero or damaged rows); rebuild the index")
