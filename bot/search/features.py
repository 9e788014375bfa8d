"""Everything search needs about the passages, computed once per index version at build time.

Written into the version folder (`search/`) by the builder and loaded memory-mapped by the
retriever, so opening a big index does not re-read and re-tokenise every passage, and serving it
holds a few bytes per passage: BM25 postings, the meta share, show and seasons,
whether it has a speaker and which (an index into the corpus-wide speaker list). The vocabulary and
name lists are corpus-wide sets.

`FEATURES_VERSION` hashes the source of the code that computes the features: after an upgrade that
changes it, the retriever recomputes them in memory (correct, just slower to open) until the next
reindex writes them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.models import ArticleMeta, Passage
from bot.search.aliases import candidate_names, show_names
from bot.search.intent import meta_share
from bot.search.lexical import LexicalIndex, tokens
from bot.search.season import SeasonScorer
from bot.search.sentences import Embed, SentenceVectors

log = logging.getLogger(__name__)

FOLDER = "search"
_SOURCES = (
    "search/features.py",
    "search/lexical.py",
    "search/intent.py",
    "search/season.py",
    "search/aliases.py",
    "search/sentences.py",
    "search/retriever.py",
    "spoilers/scope.py",
    "shows.py",
    "text.py",
)


def _features_version() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in _SOURCES:
        try:
            digest.update((root / name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()[:16]


FEATURES_VERSION = _features_version()


def lexical_text(passage: Passage) -> str:
    """Words BM25 sees: the passage with its heading and speaker (the title would match every
    passage of an article equally and drown the passage's own words)."""
    return " ".join(x for x in (passage.heading, passage.speaker, passage.text) if x)


def proper_noun_tokens(passages: Sequence[Passage]) -> frozenset[str]:
    """Stemmed words the corpus writes capitalised mid-sentence, plus speakers: the names a
    question must share with the corpus to be on topic when its meaning alone is a weak match."""
    names: set[str] = set()
    for passage in passages:
        if passage.speaker:
            names.update(tokens(passage.speaker))
        for sentence in passage.sentences:
            words = sentence.split()[1:]
            names.update(t for w in words if w[:1].isupper() for t in tokens(w))
    return frozenset(names)


@dataclass
class SearchFeatures:
    lexical: LexicalIndex
    meta: np.ndarray  # (n,) float32
    speakers: np.ndarray  # (n,) bool
    speaker_of: np.ndarray  # (n,) int32: 1 + index into speaker_names, 0 = no speaker
    speaker_names: list[str]
    show_codes: dict[str, int]
    shows_of: np.ndarray  # (n,) int32
    seasons_of: np.ndarray  # (n,) int64 bitmask
    vocabulary: set[str]
    names: list[str]  # candidate names for abbreviations
    shows: list[str]  # names used as shows
    proper_nouns: frozenset[str]

    @classmethod
    def compute(cls, passages: Sequence[Passage], articles: Mapping[str, ArticleMeta]) -> SearchFeatures:
        passages = list(passages)  # one parse of a lazy table, then plain objects
        texts = [p.text for p in passages]
        titles = [a.title for a in articles.values()]
        declared = [s for a in articles.values() for s in a.shows]
        shows = show_names(declared, titles + texts)
        season = SeasonScorer(passages, dict(articles), shows)
        meta = np.array([meta_share(p) for p in passages], dtype=np.float32)
        speaker_names = sorted({p.speaker for p in passages if p.speaker})
        number = {name: n + 1 for n, name in enumerate(speaker_names)}
        return cls(
            lexical=LexicalIndex([lexical_text(p) for p in passages]),
            meta=meta,
            speakers=np.array([p.speaker is not None for p in passages], dtype=bool),
            speaker_of=np.array([number.get(p.speaker or "", 0) for p in passages], dtype=np.int32),
            speaker_names=speaker_names,
            show_codes=dict(season._codes),
            shows_of=season._shows_of,
            seasons_of=season._seasons_of,
            vocabulary={w for t in texts for w in tokens(t)},
            names=candidate_names(titles, declared, texts),
            shows=shows,
            proper_nouns=proper_noun_tokens(passages),
        )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.lexical.save(folder / "bm25")
        for name in ("meta", "speakers", "speaker_of", "shows_of", "seasons_of"):
            np.save(folder / f"{name}.npy", getattr(self, name), allow_pickle=False)
        data = {
            "features_version": FEATURES_VERSION,
            "count": int(len(self.meta)),
            "show_codes": self.show_codes,
            "vocabulary": sorted(self.vocabulary),
            "names": self.names,
            "shows": self.shows,
            "speaker_names": self.speaker_names,
            "proper_nouns": sorted(self.proper_nouns),
        }
        (folder / "features.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, count: int) -> SearchFeatures | None:
        """The saved features, or None when missing, stale (other code) or not for `count` passages."""
        try:
            data = json.loads((folder / "features.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("features_version") != FEATURES_VERSION or data.get("count") != count:
            log.info("search features in %s are from other code; computing them (reindex to save)", folder)
            return None
        try:
            arrays = {
                name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                for name in ("meta", "speakers", "speaker_of", "shows_of", "seasons_of")
            }
            lexical = LexicalIndex.load(folder / "bm25")
        except (OSError, ValueError, KeyError) as exc:
            log.warning("search features in %s unreadable (%s); computing them", folder, exc)
            return None
        if any(len(a) != count for a in arrays.values()):
            return None
        return cls(
            lexical=lexical,
            meta=arrays["meta"],
            speakers=arrays["speakers"],
            speaker_of=arrays["speaker_of"],
            speaker_names=list(data["speaker_names"]),
            show_codes={str(k): int(v) for k, v in data["show_codes"].items()},
            shows_of=arrays["shows_of"],
            seasons_of=arrays["seasons_of"],
            vocabulary=set(data["vocabulary"]),
            names=list(data["names"]),
            shows=list(data["shows"]),
            proper_nouns=frozenset(data["proper_nouns"]),
        )


def write_features(
    folder: Path,
    passages: Sequence[Passage],
    articles: Sequence[ArticleMeta],
    embed: Embed | None = None,
) -> None:
    """`IndexStore.publish` attachment: compute and save the features into the new version, and,
    given `embed` (the builder's cached sentence embedder), the sentence vectors."""
    SearchFeatures.compute(passages, {a.file: a for a in articles}).save(folder / FOLDER)
    if embed is not None:
        SentenceVectors.build(passages, embed).save(folder / FOLDER)
