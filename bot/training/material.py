"""The fanqa corpus as the bot reads it: articles through the real ingest, sentences matched to labels.

Training sees exactly what index time sees (the same readers, passages and sentence splitter), so
a label is matched to the bot's own sentences, not to the writer's. Vectors are cached by text
under `.cache/train/` (a reproducible cache: deleting it changes nothing but the time).
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from bot.ingest.junk import JunkModel
from bot.ingest.passages import article_passages
from bot.ingest.readers import IngestError, read_article
from bot.ingest.speaker_model import SpeakerModel
from bot.models import Article, Passage
from bot.training.dataset import FanQA

log = logging.getLogger(__name__)

CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "train"
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                         "\u2014": "-", "\u2026": "...", "\u00a0": " "})  # fmt: skip


def norm(text: str) -> str:
    """Loose form for matching labels to sentences (the evaluator's normalisation, in short)."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).lower().split())


def words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in norm(text)).split()


def covers(container: str, sentence: str, share: float = 0.8) -> bool:
    """`sentence` is in `container`: as a substring, or most of its words in order."""
    c, s = norm(container), norm(sentence)
    if s and s in c:
        return True
    sw = words(sentence)
    if len(sw) < 4:
        return False
    blocks = difflib.SequenceMatcher(None, sw, words(container), autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks) / len(sw) >= share


def matches(sentence: str, label: str) -> bool:
    """The bot's sentence and a labelled sentence are (part of) the same text."""
    return covers(label, sentence) or covers(sentence, label)


@dataclass(slots=True)
class Material:
    data: FanQA
    raw: dict[str, Article]  # as the readers return them, junk included (what the junk model learns)
    articles: dict[str, Article]  # junk dropped by the given model, as index time sees them
    passages_of: dict[str, list[Passage]]

    @classmethod
    def read(cls, data: FanQA, junk: JunkModel | None = None) -> Material:
        root = data.root / "articles"
        raw: dict[str, Article] = {}
        for label in data.labels:
            try:
                raw[label["file"]] = read_article(root / label["file"], root)
            except IngestError as exc:
                log.warning("fanqa: %s", exc)
        material = cls(data, raw, {}, {})
        material.clean_with(junk)
        return material

    def clean_with(
        self, junk: JunkModel | None, speakers: SpeakerModel | Literal["shipped"] | None = None
    ) -> None:
        """Cut passages again after dropping what `junk` calls junk (None: keep everything).

        `speakers` None: the format rules alone name speakers (never the shipped artifact's model,
        so that training does not depend on the weights of an earlier run).
        """
        self.articles = {f: junk.clean(a) if junk else a for f, a in self.raw.items()}
        self.passages_of = {f: article_passages(a, speakers) for f, a in self.articles.items()}


class VectorCache:
    """MiniLM vectors by text hash, kept on disk between training runs (float16, like the index).

    The file is named by the embedder's recipe, and a vector depends on its text alone (see
    `OnnxEncoder.encode`), so a cold cache and a warm one give the same artifact.
    """

    def __init__(self, embed, recipe: str, folder: Path = CACHE_DIR) -> None:  # type: ignore[no-untyped-def]
        self._embed = embed
        self._path = folder / f"vectors-{recipe}.npz"
        self._vectors: dict[bytes, np.ndarray] = {}
        if self._path.is_file():
            try:
                with np.load(self._path, allow_pickle=False) as stored:
                    for key, row in zip(stored["keys"], stored["vectors"], strict=True):
                        self._vectors[bytes(key)] = row
            except (OSError, ValueError, KeyError):
                log.warning("training vector cache unreadable; embedding again")
        self._dirty = False

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.sha256(t.encode("utf-8")).digest()[:16] for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}.items(),
            key=lambda kv: len(kv[1]),
        )
        for start in range(0, len(missing), 256):
            chunk = missing[start : start + 256]
            vectors = np.asarray(self._embed([t for _, t in chunk]), dtype=np.float32).astype(np.float16)
            for (key, _), vector in zip(chunk, vectors, strict=True):
                self._vectors[key] = vector
            self._dirty = True
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if not self._dirty:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._vectors)
        tmp = self._path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=np.frombuffer(b"".join(keys), np.uint8).reshape(len(keys), 16),
            vectors=np.stack([self._vectors[k] for k in keys]),
        )
        tmp.replace(self._path)
        self._dirty = False
