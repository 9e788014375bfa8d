"""Sentence vectors: a passage is as relevant as its best sentence, not only as its average.

A passage is a few sentences, and its one vector blurs them: "Lester flees across a frozen lake and
falls through the ice. Molly is told she will be the next police chief" answers "how does lester
die" with its first sentence only. The retriever blends the passage's cosine with the best cosine
among its sentences. Spoiler warnings and rhetorical questions are left out of that max: they are
short, generic and close to many questions, and never answer one. An FAQ heading ("Does Cassian
escape from prison?") counts as a sentence of every passage under it: it is the question the
passage answers, often in words closer to a fan's than the answer's own ("Yes. In the tenth
episode, Kino Loy leads the prisoners in a mass breakout").

Storage (in the version's `search/` folder, built with the index): one byte per dimension per
sentence (`sentences.q8.npy`, the same quantisation as the passage scan, `bot.index.compact`) with
its per-dimension scale, the first sentence row of every passage (`sentences.start.npy`, n + 1
int64) and whether each sentence may count (`sentences.usable.npy`). About 384 bytes a sentence on
disk, memory-mapped and read with pread only for the passages a question re-ranks; the start
offsets and usable flags (9 bytes a passage and sentence) are held in memory. The sentences'
vectors are the ones the spoiler engine already computed, so building costs model time only for
FAQ headings and pronoun-led sentences read with the sentence before them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bot.index.compact import ZERO, quantize
from bot.models import Passage
from bot.search.intent import is_meta_sentence
from bot.text import is_spoiler_warning

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]
_PRONOUN_START = re.compile(r"^[\"“‘']?(he|she|they|his|her|their|it|its|this|that|him|them)\b", re.I)
_FILES = ("sentences.q8.npy", "sentences.scale.npy", "sentences.start.npy", "sentences.usable.npy")


def _read_blocks(matrix: np.ndarray, first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Rows first[i] .. first[i] + counts[i] of a memory-mapped .npy matrix, block after block, read
    with one pread per block (touching scattered rows through the map would pull whole page-cache
    folios into the process's memory; see bot.index.compact.read_rows)."""
    filename, offset = getattr(matrix, "filename", None), getattr(matrix, "offset", None)
    if not filename or not isinstance(offset, int) or not matrix.flags.c_contiguous:
        rows = np.concatenate([np.arange(f, f + c) for f, c in zip(first, counts, strict=True)])
        return np.asarray(matrix[rows])
    size = int(np.prod(matrix.shape[1:], dtype=np.int64)) * matrix.dtype.itemsize
    fd = os.open(filename, os.O_RDONLY)
    try:
        data = b"".join(
            os.pread(fd, int(c) * size, offset + int(f) * size)
            for f, c in zip(first, counts, strict=True)
            if c
        )
    finally:
        os.close(fd)
    return np.frombuffer(data, dtype=matrix.dtype).reshape((-1, *matrix.shape[1:]))


class SentenceVectors:
    """Compact sentence vectors of one index version, grouped by passage."""

    def __init__(self, codes: np.ndarray, scale: np.ndarray, start: np.ndarray, usable: np.ndarray) -> None:
        self.codes = codes
        self.scale = np.asarray(scale, dtype=np.float32)
        self.start = start
        self.usable = usable

    @property
    def count(self) -> int:
        """Number of passages covered."""
        return len(self.start) - 1

    @classmethod
    def build(cls, passages: Sequence[Passage], embed: Embed) -> SentenceVectors:
        texts: list[str] = []
        usable: list[bool] = []
        start = [0]
        previous: str | None = None
        where: tuple[str, int] | None = None
        for passage in passages:
            heading = (passage.heading or "").strip()
            if heading and not is_spoiler_warning(heading):  # an FAQ question the passage answers
                texts.append(heading)
                usable.append(True)
            if where != (passage.file, passage.paragraph):
                previous, where = None, (passage.file, passage.paragraph)
            for sentence in passage.sentences:
                texts.append(sentence)
                usable.append(not is_meta_sentence(sentence))
                if previous and _PRONOUN_START.match(sentence) and usable[-1]:
                    # "He drives back to Scranton and asks her out": read with the sentence before,
                    # which says who "he" is.
                    texts.append(f"{previous} {sentence}")
                    usable.append(True)
                previous = sentence
            start.append(len(texts))
        vectors = np.asarray(embed(texts), dtype=np.float32) if texts else np.zeros((0, 1), np.float32)
        codes, scale = quantize(vectors) if texts else (np.zeros((0, 0), np.uint8), np.ones(0, np.float32))
        return cls(codes, scale, np.array(start, dtype=np.int64), np.array(usable, dtype=bool))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in zip(_FILES, (self.codes, self.scale, self.start, self.usable), strict=True):
            np.save(folder / name, array, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, count: int, dimension: int) -> SentenceVectors | None:
        """The saved vectors, or None when missing, damaged or not for `count` passages."""
        if not all((folder / name).is_file() for name in _FILES):
            return None
        try:
            codes = np.load(folder / _FILES[0], mmap_mode="r", allow_pickle=False)
            scale = np.load(folder / _FILES[1], allow_pickle=False)
            start = np.load(folder / _FILES[2], allow_pickle=False)  # 8 bytes a passage, in memory
            usable = np.load(folder / _FILES[3], allow_pickle=False)  # 1 byte a sentence
        except (OSError, ValueError) as exc:
            log.warning("sentence vectors in %s unreadable (%s); scoring passages only", folder, exc)
            return None
        rows = len(codes)
        if len(start) != count + 1 or int(start[-1]) != rows or len(usable) != rows:
            return None
        if rows and (codes.shape[1:] != (dimension,) or scale.shape != (dimension,)):
            return None
        return cls(codes, scale, start, usable)

    def best(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """For each passage row, the best cosine of its usable sentences with `query` (NaN for a
        passage with none)."""
        rows = np.asarray(rows, dtype=np.int64)
        result = np.full(rows.size, np.nan, dtype=np.float32)
        if not rows.size or not len(self.codes):
            return result
        first, last = np.asarray(self.start[rows]), np.asarray(self.start[rows + 1])
        counts = last - first
        total = int(counts.sum())
        if not total:
            return result
        owner = np.repeat(np.arange(rows.size), counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        sentence_rows = first[owner] + offsets
        codes = np.empty((total, self.codes.shape[1]), dtype=np.float32)
        codes[:] = _read_blocks(self.codes, first, counts)
        folded = np.asarray(query, dtype=np.float32) * self.scale
        scores = codes @ folded - np.float32(ZERO * folded.sum())
        scores[~np.asarray(self.usable[sentence_rows], dtype=bool)] = np.nan
        np.fmax.at(result, owner, scores)
        return result
