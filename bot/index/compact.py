"""Compact forms of an index for serving large corpora in little memory.

- Vectors: one byte per dimension ("offset binary": int8 code + 128, as uint8) with a float32
  scale per dimension, 384 bytes a passage instead of 1,536. Search scans these codes and re-scores
  a shortlist with the exact float32 rows, so rankings match a float32 scan.
- Passages: `passages.jsonl` stays on disk and is read one line at a time (`pread`) through an
  offsets array (8 bytes a passage), so a million passages are not a million Python objects, and
  lines once read stay in the page cache rather than in the process.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from bot.models import Passage

ZERO = 128  # code of 0.0


def quantize(vectors: np.ndarray, chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """(codes uint8 (n, d), scale float32 (d,)): vectors[i, j] ~= (codes[i, j] - 128) * scale[j]."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.size == 0:
        return np.zeros(vectors.shape, dtype=np.uint8), np.ones(vectors.shape[1], dtype=np.float32)
    peak = np.zeros(vectors.shape[1], dtype=np.float32)
    for start in range(0, len(vectors), chunk):
        np.maximum(peak, np.abs(vectors[start : start + chunk]).max(axis=0), out=peak)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.empty(vectors.shape, dtype=np.uint8)
    for start in range(0, len(vectors), chunk):
        block = np.rint(vectors[start : start + chunk] / scale) + ZERO
        codes[start : start + chunk] = np.clip(block, 1, 255)
    return codes, scale


def dequantize(codes: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return (codes.astype(np.float32) - ZERO) * scale


def read_rows(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows of a memory-mapped .npy matrix read with pread (pass them sorted).

    Touching rows through the map makes the kernel map whole page-cache folios (hundreds of KB per
    fault), so a scattered sample of a 1.5 GB file would put most of it in the process's RSS.
    """
    rows = np.asarray(rows, dtype=np.int64)
    filename, offset = getattr(matrix, "filename", None), getattr(matrix, "offset", None)
    if not filename or not isinstance(offset, int) or not matrix.flags.c_contiguous:
        return np.asarray(matrix[rows])
    size = int(np.prod(matrix.shape[1:], dtype=np.int64)) * matrix.dtype.itemsize
    fd = os.open(filename, os.O_RDONLY)
    try:
        data = b"".join(os.pread(fd, size, offset + int(r) * size) for r in rows)
    finally:
        os.close(fd)
    return np.frombuffer(data, dtype=matrix.dtype).reshape((len(rows), *matrix.shape[1:]))


def line_offsets(data: bytes | memoryview) -> np.ndarray:
    """Start of every line plus the end of the data: (count + 1,) int64."""
    raw = np.frombuffer(data, dtype=np.uint8) if len(data) else np.zeros(0, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10) + 1
    if raw.size and (ends.size == 0 or ends[-1] != raw.size):
        ends = np.append(ends, raw.size)
    return np.concatenate([[0], ends]).astype(np.int64)


class PassageTable(Sequence[Passage]):
    """The passages of one index version, parsed on access from a JSON-lines file.

    Behaves as a read-only list of `Passage` (equality with a list included). Iterating parses every
    line, so code on the answer path should index single rows. The open file descriptor keeps the
    file readable after a newer version replaced (and pruned) it.
    """

    def __init__(self, data: bytes | int, offsets: np.ndarray) -> None:
        self._data = data  # the bytes themselves, or a file descriptor to pread from
        self._offsets = offsets

    @classmethod
    def open(cls, path: Path, offsets: np.ndarray | None = None) -> PassageTable:
        fd = os.open(path, os.O_RDONLY)
        if offsets is None:
            offsets = line_offsets(path.read_bytes())
        table = cls(fd, offsets)
        weakref.finalize(table, os.close, fd)
        return table

    def _read(self, start: int, end: int) -> bytes:
        if isinstance(self._data, int):
            return os.pread(self._data, end - start, start)
        return self._data[start:end]

    @classmethod
    def from_passages(cls, passages: Sequence[Passage]) -> PassageTable:
        data = "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in passages).encode()
        return cls(data, line_offsets(data))

    def __len__(self) -> int:
        return max(0, len(self._offsets) - 1)

    def raw_all(self) -> bytes:
        return self._read(0, int(self._offsets[-1])) if len(self._offsets) else b""

    def raw(self, row: int) -> bytes:
        return self._read(int(self._offsets[row]), int(self._offsets[row + 1]))

    @overload
    def __getitem__(self, index: int) -> Passage: ...
    @overload
    def __getitem__(self, index: slice) -> list[Passage]: ...
    def __getitem__(self, index: int | slice) -> Passage | list[Passage]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        count = len(self)
        row = int(index)
        if row < 0:
            row += count
        if not 0 <= row < count:
            raise IndexError("passage row out of range")
        return Passage.from_dict(json.loads(self.raw(row)))

    def __iter__(self) -> Iterator[Passage]:
        for row in range(len(self)):
            yield self[row]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PassageTable({len(self)} passages)"

    @property
    def offsets(self) -> np.ndarray:
        return self._offsets
