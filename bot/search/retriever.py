"""Hybrid retrieval: MiniLM cosine plus BM25, with dedupe and an abstention threshold.

The dense score carries meaning ("how does the season end" ~ "in the finale ..."), BM25 carries
rare names the embedding blurs. A question whose best passage is not close enough in meaning is
declined rather than answered with a random quote.

Scale: every question scores all passages once with a compact scan (one byte per dimension, see
bot.search.dense) plus BM25 and the precomputed bonuses, keeps a shortlist of the best SHORTLIST,
and re-scores those exactly in float32; small indexes are scored exactly throughout. The question,
the question without show names and the earlier turn are mixed into one query vector first (the
dense score is linear in them), so the matrix is read once per question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.index.store import LoadedIndex
from bot.models import Hit, Passage
from bot.search.aliases import AliasResolver
from bot.search.dense import DenseScorer
from bot.search.features import FOLDER, SearchFeatures, lexical_text, proper_noun_tokens
from bot.search.intent import IntentScorer
from bot.search.lexical import tokens
from bot.search.season import SeasonScorer

__all__ = [
    "Retriever",
    "SearchSettings",
    "embedding_text",
    "lexical_text",
    "proper_noun_tokens",
    "top_indices",
]

SHORTLIST = 256  # passages re-scored exactly per question (of a big index)
CANDIDATES = 50  # passages checked for definitions ("who is X")


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


def top_indices(scores: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` highest scores, best first, without sorting everything (1M passages)."""
    if count >= scores.size:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, count)[:count]
    return part[np.argsort(-scores[part], kind="stable")]


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
        self._dense = DenseScorer(index.vectors, index.codes, index.scale)
        features = SearchFeatures.load(index.path / FOLDER, len(index.passages)) if index.path else None
        if features is None:
            features = SearchFeatures.compute(index.passages, index.articles)
        self.features = features
        self._lexical = features.lexical
        self._intent = IntentScorer(index.passages, cue_hits=features.cue_hits, meta=features.meta)
        self.aliases = AliasResolver(features.names, nicknames or {}, features.vocabulary, features.shows)
        self._season = SeasonScorer(
            index.passages,
            index.articles,
            features.shows,
            precomputed=(features.show_codes, features.shows_of, features.seasons_of),
        )
        self._speakers = features.speakers
        self._names = features.proper_nouns

    def expand(self, question: str) -> str:
        return self.aliases.expand(question)

    def query_vector(
        self,
        query_vector: np.ndarray,
        *,
        context_vector: np.ndarray | None = None,
        context_weight: float = 0.0,
        focus_vector: np.ndarray | None = None,
    ) -> np.ndarray:
        """The one vector whose cosines are the dense scores (they are a weighted sum of cosines)."""
        vector = np.asarray(query_vector, dtype=np.float32)
        if focus_vector is not None:
            weight = self.settings.focus_weight
            vector = (1 - weight) * vector + weight * np.asarray(focus_vector, dtype=np.float32)
        if context_vector is not None and context_weight > 0:
            vector = (1 - context_weight) * vector + context_weight * np.asarray(context_vector, np.float32)
        return vector.astype(np.float32)

    def _scored(
        self,
        query_vector: np.ndarray,
        query_text: str,
        *,
        context_vector: np.ndarray | None = None,
        context_weight: float = 0.0,
        prefer_speakers: bool = False,
        focus_vector: np.ndarray | None = None,
        shortlist: int = SHORTLIST,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
        """(rows, final scores, dense scores of those rows, best dense score of all, approximate
        final scores of all): rows are every passage of a small index, or the shortlist."""
        vector = self.query_vector(
            query_vector,
            context_vector=context_vector,
            context_weight=context_weight,
            focus_vector=focus_vector,
        )
        scanned = self._dense.scores(vector)
        extra = self.settings.lexical_weight * self._lexical.scores(query_text)
        if prefer_speakers:
            extra = extra + self.settings.speaker_bonus * self._speakers
        scope = self._season.bonus(query_text)
        if scope is not None:
            extra = extra + scope
        static = self._intent.static_bonus(query_text)
        approximate = scanned + extra + static
        if self._dense.approximate:
            rows = top_indices(approximate, min(shortlist, scanned.size))
            dense = self._dense.exact(rows, vector)
            best = self._best_dense(scanned, vector)
        else:
            rows = np.arange(scanned.size)
            dense = scanned
            best = float(dense.max()) if dense.size else 0.0
        before = dense + extra[rows]  # the score the definition check picks its candidates by
        candidates = top_indices(before, CANDIDATES)
        final = before + static[rows]
        final[candidates] += self._intent.definition_bonus(query_text, rows[candidates])
        return rows, final, dense, best, approximate

    def _best_dense(self, scanned: np.ndarray, vector: np.ndarray) -> float:
        """The exact best cosine: every row whose scanned score could be the best is re-scored."""
        if not scanned.size:
            return 0.0
        margin = 2 * self._dense.error_bound(vector)
        close = np.flatnonzero(scanned >= scanned.max() - margin)
        if close.size > 4 * SHORTLIST:
            close = close[top_indices(scanned[close], 4 * SHORTLIST)]
        return float(self._dense.exact(close, vector).max())

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
        `focus_vector` embeds it without show names (see AliasResolver.without_shows). In a big
        index, passages outside the shortlist carry their scanned (approximate) scores."""
        rows, final, dense, _best, approximate = self._scored(
            query_vector,
            query_text,
            context_vector=context_vector,
            context_weight=context_weight,
            prefer_speakers=prefer_speakers,
            focus_vector=focus_vector,
        )
        full_final = approximate.copy()
        full_final[rows] = final
        vector = self.query_vector(
            query_vector,
            context_vector=context_vector,
            context_weight=context_weight,
            focus_vector=focus_vector,
        )
        full_dense = self._dense.scores(vector)
        full_dense[rows] = dense
        return full_final, full_dense

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
        if not len(self.index.passages):
            return []
        if prefer_speakers is None:
            prefer_speakers = wants_quote(query_text)
        excluded = set(exclude)
        wanted = max(200, 4 * (k + skip) + len(excluded))
        rows, score, _dense, best, _scanned = self._scored(
            query_vector,
            query_text,
            context_vector=context_vector,
            context_weight=context_weight,
            prefer_speakers=prefer_speakers,
            focus_vector=focus_vector,
            shortlist=max(SHORTLIST, wanted + 56),
        )
        if not self.is_on_topic(np.array([best], dtype=np.float32), query_text):
            return []
        chosen: list[int] = []
        scores: dict[int, float] = {}
        passages: dict[int, Passage] = {}
        for position in top_indices(score, min(wanted, score.size)):
            row = int(rows[position])
            passage = self.index.passages[row]
            if passage.id in excluded or self._duplicate(row, chosen):
                continue
            chosen.append(row)
            scores[row], passages[row] = float(score[position]), passage
            if len(chosen) >= k + skip:
                break
        return [Hit(passages[i], self.index.articles[passages[i].file], scores[i]) for i in chosen[skip:]]

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
        sims = self._dense.rows(np.asarray(chosen)) @ self._dense.rows(np.asarray([candidate]))[0]
        return bool((sims >= self.settings.duplicate_cosine).any())
