"""Versioned index folders with an atomic switch.

Layout under the index root (default `embeddings/`):

    CURRENT                 name of the version being served (replaced with os.replace); only a
                            plain folder name of versions/ is accepted
    versions/<version>/     manifest.json (which names <version>, so swapped folders are noticed),
                            vectors.npy, passages.jsonl, articles.json
    versions/.building-*    a version being written; removed at the next start if a build died
    .reindex.lock           held while a reindex runs (across processes on this machine; with
                            DATABASE_URL a PostgreSQL advisory lock replaces it, see `lock_factory`);
                            serving never creates it, so an index on read-only storage can be served

A new version is written beside the served one, read back and checked, then published by renaming
its folder and replacing CURRENT. Readers that still map the old files keep working: old versions
are removed only after a newer one is published, and Linux keeps an unlinked file alive while it is
mapped. A crash at any point leaves CURRENT naming a complete, checked version.

Besides the three core files a version holds derived files for serving large corpora in little
memory (see `bot.index.compact`): `vectors.q8.npy` + `vectors.scale.npy` (one byte per dimension,
scanned by search; the float32 rows re-score a shortlist) and `passages.offsets.npy` (passages are
read lazily from the memory-mapped JSON lines), plus whatever the builder attaches (`search/`: the
BM25 index and per-passage search features). Their checksums are under `derived_checksums`.

Verification: every file is checked against its sha256 when a version is published (read back
before it is served) and on the first load after any file of it changed (size, mtime or inode
differ from the `.verified` stamp written after a full check). Later loads of an unchanged version
hash files up to FULL_HASH_BYTES whole and, for bigger files, a sample (head, tail and evenly spaced
blocks) against `sampled_checksums`, and check a sample of vector rows: a start stays fast with a
multi-GB index, at the price that silent in-place bit rot in the middle of a huge file goes unseen
until `python -m bot index --verify` (always a full check) runs.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from bot.index.compact import PassageTable, quantize, read_rows
from bot.index.errors import IndexCorrupt, IndexMissing, IndexProblem, ReindexRunning
from bot.models import ArticleMeta, Passage

log = logging.getLogger(__name__)

FORMAT = 1
KEEP_VERSIONS = 2
_FILES = ("vectors.npy", "passages.jsonl", "articles.json")
_DERIVED = ("vectors.q8.npy", "vectors.scale.npy", "passages.offsets.npy")
FULL_HASH_BYTES = 64 << 20  # files up to this size are hashed whole on every load
_SAMPLE_BLOCK = 64 << 10
_SAMPLE_BLOCKS = 32
_STAMP = ".verified"
_VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")  # a folder name of versions/, nothing else
_FULL_DISK_BYTES = 1 << 20  # free space below this after a failed write means the disk filled up
Attach = Callable[[Path, Sequence[Passage], Sequence[ArticleMeta]], None]


@dataclass(frozen=True, slots=True)
class LoadedIndex:
    """One published version, read and checked."""

    version: str
    path: Path
    manifest: dict[str, Any]
    passages: Sequence[Passage]  # a PassageTable: parsed per row from the memory-mapped file
    articles: dict[str, ArticleMeta]
    vectors: np.ndarray  # (count, dimension) float32, rows of length 1, memory-mapped
    codes: np.ndarray | None = None  # (count, dimension) uint8, see bot.index.compact.quantize
    scale: np.ndarray | None = None  # (dimension,) float32

    @property
    def variant(self) -> str:
        """The embedding variant the vectors were made with ("fp32" for indexes that predate it)."""
        return str(self.manifest.get("variant") or "fp32")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sampled_sha256(path: Path) -> str:
    """sha256 of the size, head, tail and evenly spaced blocks: a cheap check for a huge file."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    starts = {0, max(0, size - _SAMPLE_BLOCK)}
    starts.update(size * i // _SAMPLE_BLOCKS for i in range(1, _SAMPLE_BLOCKS))
    with path.open("rb") as handle:
        for start in sorted(starts):
            handle.seek(start)
            digest.update(handle.read(_SAMPLE_BLOCK))
    return digest.hexdigest()


def _stats(path: Path, names: Sequence[str]) -> dict[str, list[int]]:
    result = {}
    for name in ("manifest.json", *names):
        stat = (path / name).stat()
        result[name] = [stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev]
    return result


def _version_files(path: Path) -> list[str]:
    """Every file of a version folder (relative, sorted), minus the manifest and dotfiles."""
    return sorted(
        str(f.relative_to(path))
        for f in path.rglob("*")
        if f.is_file() and f.name != "manifest.json" and not f.name.startswith(".")
    )


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

    def __init__(self, root: Path, *, model: str, dimension: int, variant: str | None = None) -> None:
        self.root = root
        self.model = model
        self.dimension = dimension
        self.variant = variant  # embedding variant to insist on ("fp32"/"int8"); None accepts any
        #: Replaces the file lock when set: processes on several machines share one index folder, and a
        #: file lock is not reliable across machines (the PostgreSQL advisory lock is).
        self.lock_factory: Callable[[], AbstractContextManager[None]] | None = None

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    # ------------------------------------------------------------------ locking

    def _check_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise IndexProblem(f"the index {self.root} is a file, not an index folder; give a folder")

    @contextlib.contextmanager
    def reindex_lock(self) -> Iterator[None]:
        """Exclusive right to build and publish; raises ReindexRunning at once if held elsewhere."""
        self._check_root()
        if self.lock_factory is not None:
            with self.lock_factory():
                yield
            return
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
        """Remove half-written versions a killed build left behind (only when no build is running).

        The lock is taken only when there is something to remove, so an index on read-only storage
        (a read-only mount, an image layer) is served without writing anything."""
        removed: list[Path] = []
        if not self.versions_dir.is_dir() or not self._leftovers():
            return removed
        try:
            with self.reindex_lock():
                for path in self._leftovers():
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
                    removed.append(path)
        except ReindexRunning:
            pass
        except Exception as exc:  # best effort: a read-only folder, an unreachable lock database
            log.info("not removing leftovers of interrupted reindexes now: %s", exc)
        for path in removed:
            log.info("removed leftover %s from an interrupted reindex", path.name)
        return removed

    def _leftovers(self) -> list[Path]:
        return [*self.versions_dir.glob(".building-*"), *self.root.glob(".CURRENT.*")]

    # ------------------------------------------------------------------ reading

    def current_version(self) -> str | None:
        """The version CURRENT names; IndexProblem when it cannot name one of this index's folders
        (a folder, binary or huge file, a path such as `../../etc`)."""
        self._check_root()
        path = self.root / "CURRENT"
        try:
            with path.open("rb") as handle:
                data = handle.read(256)
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise IndexCorrupt(f"{path} is a folder, not the name of a version; rebuild the index") from None
        except OSError as exc:
            raise IndexCorrupt(f"cannot read {path} ({exc.strerror or exc}); rebuild the index") from None
        try:
            name = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            name = None
        if name == "":
            return None
        if name is None or len(data) == 256 or not _VERSION_NAME.fullmatch(name):
            named = _shown(data.strip())
            raise IndexCorrupt(
                f"{path} does not name a version folder of this index ({named}); rebuild the index"
            )
        return name

    def load(self, version: str | None = None, *, verify: bool = True) -> LoadedIndex:
        """Open a version (default: the current one), refusing anything corrupt or foreign."""
        version = version or self.current_version()
        if not version:
            raise IndexMissing(
                f"no index in {self.root}: build one with `python -m bot index` (or /reindex on Discord)"
            )
        return self._load_path(self.versions_dir / version, verify=verify)

    def verify(self, version: str | None = None) -> LoadedIndex:
        """Full check of a version: every file against its sha256, every vector, every passage."""
        version = version or self.current_version()
        if not version:
            raise IndexMissing(f"no index in {self.root}: build one with `python -m bot index`")
        return self._open(self.versions_dir / version, verify=True, full=True)

    def _load_path(self, path: Path, *, verify: bool) -> LoadedIndex:
        """Open one version folder; a version without a matching `.verified` stamp (a new or changed
        one) is checked in full, others cheaply (see the module docstring)."""
        return self._open(path, verify=verify, full=False)

    def _open(self, path: Path, *, verify: bool, full: bool) -> LoadedIndex:
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
        built = manifest.get("version")
        if built is not None and built != name.removeprefix(".building-"):
            raise IndexCorrupt(
                f"index version folder {name} holds version {_shown(str(built).encode())} "
                "(folders swapped or copied?); rebuild the index"
            )
        checksums: dict[str, str] = dict(manifest["checksums"])
        derived = manifest.get("derived_checksums")
        if isinstance(derived, dict):
            checksums.update(derived)
        for file_name in list(_FILES) + [f for f in checksums if f not in _FILES]:
            if not (path / file_name).is_file():
                raise IndexCorrupt(f"index version {name} is missing {file_name}; rebuild the index")
        if verify and not full:
            full = not self._stamp_matches(path, list(checksums))
        if verify:
            sampled = manifest.get("sampled_checksums") or {}
            for file_name, digest in checksums.items():
                file_path = path / file_name
                if full or file_path.stat().st_size <= FULL_HASH_BYTES or file_name not in sampled:
                    ok = file_sha256(file_path) == digest
                else:
                    ok = sampled_sha256(file_path) == sampled[file_name]
                if not ok:
                    raise IndexCorrupt(
                        f"index version {name}: {file_name} does not match its checksum "
                        "(truncated or damaged); rebuild the index"
                    )
        vectors = self._open_matrix(path / "vectors.npy", name, np.float32, int(manifest["count"]))
        check_vectors(vectors if full else _sample_rows(vectors), where=f"index version {name}")
        codes = scale = None
        if (path / "vectors.q8.npy").is_file() and (path / "vectors.scale.npy").is_file():
            codes = self._open_matrix(path / "vectors.q8.npy", name, np.uint8, int(manifest["count"]))
            try:
                scale = np.load(path / "vectors.scale.npy", allow_pickle=False)
            except (ValueError, OSError) as exc:  # pickled objects, or not an array at all
                raise IndexCorrupt(
                    f"index version {name}: vector scale unreadable ({exc}); rebuild the index"
                ) from exc
            if scale.dtype != np.float32 or scale.shape != (self.dimension,):
                raise IndexCorrupt(f"index version {name}: vector scale damaged; rebuild the index")
        try:
            offsets = None
            if (path / "passages.offsets.npy").is_file():
                offsets = np.load(path / "passages.offsets.npy", mmap_mode="r", allow_pickle=False)
            passages = PassageTable.open(path / "passages.jsonl", offsets)
            articles = {
                a["file"]: ArticleMeta.from_dict(a)
                for a in json.loads((path / "articles.json").read_text(encoding="utf-8"))
            }
            count = int(manifest["count"])
            if len(passages) != count:
                raise IndexCorrupt(f"index version {name}: {len(passages)} passages for {count} vectors")
            size = (path / "passages.jsonl").stat().st_size
            if count and (int(passages.offsets[0]) != 0 or int(passages.offsets[-1]) != size):
                raise IndexCorrupt(f"index version {name}: passage offsets do not match passages.jsonl")
            # A full check reads every passage; otherwise the checksums above already vouch for the
            # bytes, so a sample proves the table parses (a cold server library opens in ms).
            rows = range(count) if full else np.unique(np.linspace(0, count - 1, min(count, 64)).astype(int))
            files = {passages[int(row)].file for row in rows}
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(
                f"index version {name}: passage data unreadable ({exc}); rebuild the index"
            ) from exc
        missing = files - articles.keys()
        if missing:
            raise IndexCorrupt(f"index version {name}: passages from unknown articles {sorted(missing)[:3]}")
        if verify and full:
            self._write_stamp(path, list(checksums))
        return LoadedIndex(name, path, manifest, passages, articles, vectors, codes, scale)

    def _open_matrix(self, file: Path, name: str, dtype: type, count: int) -> np.ndarray:
        try:
            matrix = np.load(file, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise IndexCorrupt(
                f"index version {name}: vectors unreadable ({exc}); rebuild the index"
            ) from exc
        if matrix.dtype != dtype or matrix.shape != (count, self.dimension):
            raise IndexCorrupt(
                f"index version {name}: vectors are {matrix.dtype} {matrix.shape}, "
                f"expected {np.dtype(dtype).name} ({count}, {self.dimension}); rebuild the index"
            )
        return matrix

    @staticmethod
    def _stamp_matches(path: Path, names: Sequence[str]) -> bool:
        try:
            stamp = json.loads((path / _STAMP).read_text(encoding="utf-8"))
            return bool(stamp == _stats(path, names))
        except (OSError, ValueError):
            return False

    @staticmethod
    def _write_stamp(path: Path, names: Sequence[str]) -> None:
        """Record that these exact files passed a full check (best effort: read-only folders skip it)."""
        try:
            pending = path / f"{_STAMP}.{uuid.uuid4().hex[:8]}"
            pending.write_text(json.dumps(_stats(path, names)), encoding="utf-8")
            os.replace(pending, path / _STAMP)
        except OSError as exc:
            log.debug("could not record the verified state of %s: %s", path.name, exc)

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
        built = str(manifest.get("variant") or "fp32")
        if self.variant is not None and built != self.variant:
            raise IndexCorrupt(
                f"index version {name} holds {built} vectors of {self.model}, but this bot embeds "
                f"questions as {self.variant} (another backend); rebuild with `python -m bot index`"
            )

    # ------------------------------------------------------------------ writing

    def publish(
        self,
        passages: Sequence[Passage],
        articles: Sequence[ArticleMeta],
        vectors: np.ndarray,
        *,
        fingerprint: str,
        extra: dict[str, Any] | None = None,
        attach: Attach | None = None,
    ) -> LoadedIndex:
        """Write a new version beside the current one, check it, then switch to it atomically.

        The caller must hold `reindex_lock()`. Raises IndexProblem (old index untouched) when the
        data is not publishable, e.g. an empty corpus. `attach(folder, passages, articles)` may write
        more files into the new version (they are checksummed and published with it).
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
            table = PassageTable.from_passages(passages)
            _write_file(building / "passages.jsonl", table.raw_all())
            codes, scale = quantize(vectors)
            for file_name, array in (
                ("vectors.q8.npy", codes),
                ("vectors.scale.npy", scale),
                ("passages.offsets.npy", table.offsets),
            ):
                with (building / file_name).open("wb") as handle:
                    np.save(handle, array, allow_pickle=False)
                    handle.flush()
                    os.fsync(handle.fileno())
            if attach is not None:
                attach(building, passages, articles)
            _write_file(
                building / "articles.json",
                json.dumps([a.to_dict() for a in articles], ensure_ascii=False).encode(),
            )
            others = [f for f in _version_files(building) if f not in _FILES]
            manifest = {
                "format": FORMAT,
                "version": version,
                "model": self.model,
                "variant": self.variant or "fp32",
                "dimension": self.dimension,
                "dtype": "float32",
                "count": len(passages),
                "articles": len(articles),
                "corpus_fingerprint": fingerprint,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "checksums": {name: file_sha256(building / name) for name in _FILES},
                "derived_checksums": {name: file_sha256(building / name) for name in others},
                "sampled_checksums": {
                    name: sampled_sha256(building / name)
                    for name in [*_FILES, *others]
                    if (building / name).stat().st_size > FULL_HASH_BYTES
                },
                **(extra or {}),
            }
            _write_file(building / "manifest.json", json.dumps(manifest, indent=2).encode())
            _fsync_dir(building)
            self._load_path(building, verify=True)  # read back (in full: no stamp yet) before serving it
            final = self.versions_dir / version
            os.rename(building, final)
            _fsync_dir(self.versions_dir)
            try:
                replaced = self.current_version()
            except IndexProblem:  # a damaged CURRENT is what a rebuild repairs
                replaced = None
            self._switch(version)
        except OSError as exc:
            full = exc.errno is None and _disk_full(building)  # before the half-written files go
            shutil.rmtree(building, ignore_errors=True)
            if full:  # numpy reports a short write as "768000 requested and 20448 written", no errno
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(building)) from exc
            raise
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


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path).free < _FULL_DISK_BYTES
    except OSError:
        return False


def _shown(data: bytes) -> str:
    """A short, printable form of untrusted bytes for a one-line message."""
    text = ascii(data[:60].decode("utf-8", "replace"))
    return text + ("…" if len(data) > 60 else "")


def _sample_rows(vectors: np.ndarray, count: int = 1024) -> np.ndarray:
    if len(vectors) <= count:
        return np.asarray(vectors)
    return read_rows(vectors, np.linspace(0, len(vectors) - 1, count).astype(np.int64))


def check_vectors(vectors: np.ndarray, *, where: str) -> None:
    """Refuse NaN, infinite or zero vectors: they would rank garbage or divide by zero."""
    if vectors.size == 0:
        return
    for start in range(0, len(vectors), 65536):  # in blocks: a 1M-row memory map is not copied whole
        block = np.asarray(vectors[start : start + 65536])
        if not np.isfinite(block).all():
            raise IndexCorrupt(f"{where}: vectors contain NaN or infinite values; rebuild the index")
        norms = np.linalg.norm(block, axis=1)
        if (np.abs(norms - 1.0) > 1e-2).any():
            raise IndexCorrupt(
                f"{where}: vectors are not unit length (zero or damaged rows); rebuild the index"
            )
