"""Hybrid retrieval: MiniLM cosine plus BM25, with dedupe and an abstention threshold.

The dense score carries meaning ("how does the season end" ~ "in the finale ..."), BM25 carries
rare names the embedding blurs. A question whose best passage is not close enough in meaning is
declined rather than answered with a random quote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.index.store import LoadedIndex
from bot.models import Hit, Passage
from bot.search.aliases import AliasResolver, candidate_names, show_names
from bot.search.intent import IntentScorer
from bot.search.lexical import LexicalIndex, tokens
from bot.search.season import SeasonScorer


@dataclass(frozen=True, slots=True)
class SearchSettings:
    lexical_weight: float = 0.3  # share of the normalised BM25 score in the final score
    min_dense: float = 0.35  # below this cosine the best passage is not about the question
    min_dense_with_names: float = 0.22  # ...unless the question names someone or something the corpus names
    duplicate_cosine: float = 0.92  # two passages closer than this are the same quote
    speaker_bonus: float = 0.08  # who-said questions prefer attributed quotes
    focus_weight: float = 0.5  # share of the show-name-free question in the dense score


_QUOTE_INTENT = re.compile(
    r"\bwho\s+(said|says|say|told|claimed|thinks|called|compared)\b|\bwho\b.*\bsaid\b"
    r"|\b(say|said|says|quote|quoted|talk|talked|think|thinks|feel|feels)\b",
    re.I,
)


def wants_quote(text: str) -> bool:
    """True for questions after what someone said or thinks, which attributed quotes answer best."""
    return bool(_QUOTE_INTENT.search(text))


def embedding_text(passage: Passage) -> str:
    """What the model sees for a passage: its words and speaker. Headings stay out: an FAQ question
    heading would outweigh a short answer under it (BM25 still sees the heading)."""
    return f"{passage.speaker}: {passage.text}" if passage.speaker else passage.text


def lexical_text(passage: Passage) -> str:
    """Words BM25 sees: the passage with its heading and speaker (the title would match every
    passage of an article equally and drown the passage's own words)."""
    return " ".join(x for x in (passage.heading, passage.speaker, passage.text) if x)


def top_indices(scores: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` highest scores, best first, without sorting everything (1M passages)."""
    if count >= scores.size:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, count)[:count]
    return part[np.argsort(-scores[part], kind="stable")]


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


class Retriever:
    """Ranks one index version's passages for a question. Immutable once built; thread-safe reads."""

    def __init__(
        self,
        index: LoadedIndex,
        nicknames: Mapping[str, str] | None = None,
        settings: SearchSettings | None = None,
    ) -> None:
        self.index = index
        self.settings = settings or SearchSettings()
        self._vectors = index.vectors
        self._lexical = LexicalIndex([lexical_text(p) for p in index.passages])
        self._intent = IntentScorer(index.passages)
        vocabulary = {w for p in index.passages for w in tokens(p.text)}
        names = candidate_names(
            [a.title for a in index.articles.values()],
            [s for a in index.articles.values() for s in a.shows],
            [p.text for p in index.passages],
        )
        shows = show_names(
            [s for a in index.articles.values() for s in a.shows],
            [a.title for a in index.articles.values()] + [p.text for p in index.passages],
        )
        self.aliases = AliasResolver(names, nicknames or {}, vocabulary, shows)
        self._season = SeasonScorer(index.passages, index.articles, shows)
        self._speakers = np.array([p.speaker is not None for p in index.passages])
        self._names = proper_noun_tokens(index.passages)

    def expand(self, question: str) -> str:
        return self.aliases.expand(question)

    def rank(
        self,
        query_vector: np.ndarray,
        query_text: str,
        *,
        context_vector: np.ndarray | None = None,
        context_weight: float = 0.0,
        prefer_speakers: bool = False,
        focus_vector: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Final and dense scores for every passage. `query_text` should already be expanded;
        `focus_vector` embeds it without show names (see AliasResolver.without_shows)."""
        dense = self._vectors @ query_vector.astype(np.float32)
        if focus_vector is not None:
            dense = (1 - self.settings.focus_weight) * dense + self.settings.focus_weight * (
                self._vectors @ focus_vector.astype(np.float32)
            )
        if context_vector is not None and context_weight > 0:
            dense = (1 - context_weight) * dense + context_weight * (self._vectors @ context_vector)
        lexical = self._lexical.scores(query_text)
        score = dense + self.settings.lexical_weight * lexical
        if prefer_speakers:
            score = score + self.settings.speaker_bonus * self._speakers
        scope = self._season.bonus(query_text)
        if scope is not None:
            score = score + scope
        candidates = top_indices(score, 50)
        return self._intent.adjust(query_text, candidates)(score), dense

    def search(
        self,
        query_vector: np.ndarray,
        query_text: str,
        *,
        k: int = 5,
        skip: int = 0,
        context_vector: np.ndarray | None = None,
        context_weight: float = 0.0,
        exclude: Sequence[str] = (),
        prefer_speakers: bool | None = None,
        focus_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """Best `k` distinct passages after the first `skip`; empty when nothing is on topic."""
        if not self.index.passages:
            return []
        if prefer_speakers is None:
            prefer_speakers = wants_quote(query_text)
        score, dense = self.rank(
            query_vector,
            query_text,
            context_vector=context_vector,
            context_weight=context_weight,
            prefer_speakers=prefer_speakers,
            focus_vector=focus_vector,
        )
        if not self.is_on_topic(dense, query_text):
            return []
        excluded = set(exclude)
        chosen: list[int] = []
        for position in top_indices(score, max(200, 4 * (k + skip) + len(excluded))):
            passage = self.index.passages[int(position)]
            if passage.id in excluded or self._duplicate(int(position), chosen):
                continue
            chosen.append(int(position))
            if len(chosen) >= k + skip:
                break
        return [
            Hit(self.index.passages[i], self.index.articles[self.index.passages[i].file], float(score[i]))
            for i in chosen[skip:]
        ]

    def is_on_topic(self, dense: np.ndarray, query_text: str) -> bool:
        best = float(dense.max()) if dense.size else 0.0
        if best >= self.settings.min_dense:
            return True
        if best < self.settings.min_dense_with_names:
            return False
        return any(word in self._names for word in tokens(query_text))

    def _duplicate(self, candidate: int, chosen: list[int]) -> bool:
        if not chosen:
            return False
        sims = self._vectors[chosen] @ self._vectors[candidate]
        return bool((sims >= self.settings.duplicate_cosine).any())
