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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bot.index.store import LoadedIndex
from bot.models import Hit, Passage
from bot.search.aliases import AliasResolver
from bot.search.dense import DenseScorer
from bot.search.features import FOLDER, SearchFeatures, lexical_text, proper_noun_tokens
from bot.search.features import lexical_text as lexical_text_of
from bot.search.lexical import generic_tokens, tokens
from bot.search.question import wants_quote
from bot.search.rerank import CANDIDATES as CANDIDATE_COUNT
from bot.search.rerank import RANK_FEATURES, Candidates, LearnedRanker, load_ranker
from bot.search.season import SeasonScorer
from bot.search.sentences import SentenceVectors

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
RERANK = 100  # passages whose sentences are scored per question


@dataclass(frozen=True, slots=True)
class SearchSettings:
    lexical_weight: float = 0.15  # weight of the BM25 share (see LexicalIndex.scores) in the final score
    # Abstention: the best passage's cosine a question needs to be answered, by what it names.
    min_dense: float = 0.32  # its specific words are all words the corpus uses
    min_dense_unknown: float = 0.45  # it names something the corpus never mentions ("succession")
    min_dense_generic: float = 0.55  # it has only generic words ("is netflix down", "a good show")
    min_dense_follow_up: float = 0.25  # a follow-up, scored with the turn it follows
    duplicate_cosine: float = 0.92  # two passages closer than this are the same quote
    speaker_bonus: float = 0.08  # who-said questions prefer attributed quotes
    named_speaker_bonus: float = 0.12  # ...and "what did X say" prefers X's own words
    focus_weight: float = 0.4  # share of the show-name-free question in the dense score
    sentence_weight: float = 0.5  # share of the best sentence's cosine in a passage's dense score
    # share of the earlier turn's vector in a follow-up's query; out of fold by show, hit@1 0.532 /
    # 0.541 / 0.545 / 0.538 at 0.2 / 0.35 / 0.5 / 0.65 (first writer's gold: 0.482 / 0.492 / 0.494 /
    # 0.487): flat past 0.35, so not worth a fitted value
    follow_up_weight: float = 0.35


def embedding_text(passage: Passage) -> str:
    """What the model sees for a passage: its words and speaker. Headings stay out: an FAQ question
    heading would outweigh a short answer under it (BM25 still sees the heading)."""
    return f"{passage.speaker}: {passage.text}" if passage.speaker else passage.text


class _Scores(NamedTuple):
    """One question's scoring pass (see Retriever._score_parts)."""

    rows: np.ndarray
    final: np.ndarray
    dense: np.ndarray
    best: float
    approximate: np.ndarray
    vector: np.ndarray  # the mixed query vector the dense scores are cosines with
    lexical_query: str  # the question without show names, as BM25 read it
    lexical: np.ndarray  # BM25 shares of every passage (before lexical_weight)


def top_indices(scores: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` highest scores, best first, without sorting everything (1M passages)."""
    if count >= scores.size:
        return np.argsort(-scores, kind="stable")
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(scores, scores.size - count)[scores.size - count :]  # no negated copy
    return part[np.argsort(-scores[part], kind="stable")]


class Retriever:
    """Ranks one index version's passages for a question. Immutable once built; thread-safe reads."""

    def __init__(
        self,
        index: LoadedIndex,
        nicknames: Mapping[str, str] | None = None,
        settings: SearchSettings | None = None,
        learned: LearnedRanker | bool | None = None,
    ) -> None:
        self.index = index
        self.settings = settings or SearchSettings()
        self.learned = load_ranker() if learned is None else (learned or None)
        self._vectors = index.vectors
        self._dense = DenseScorer(index.vectors, index.codes, index.scale)
        features = SearchFeatures.load(index.path / FOLDER, len(index.passages)) if index.path else None
        if features is None:
            features = SearchFeatures.compute(index.passages, index.articles)
        self.features = features
        self._lexical = features.lexical
        self._meta = np.asarray(features.meta, dtype=np.float32)
        self.aliases = AliasResolver(features.names, nicknames or {}, features.vocabulary, features.shows)
        self._season = SeasonScorer(
            index.passages,
            index.articles,
            features.shows,
            precomputed=(features.show_codes, features.shows_of, features.seasons_of),
        )
        self._speakers = features.speakers
        self._speaker_of = features.speaker_of
        self._speaker_words = [frozenset(tokens(name)) for name in features.speaker_names]
        self._names = features.proper_nouns
        self._sentences = (
            SentenceVectors.load(index.path / FOLDER, len(index.passages), index.vectors.shape[1])
            if index.path
            else None
        )

    def expand(self, question: str) -> str:
        return self.aliases.expand(question)

    def query_vector(
        self,
        query_vector: np.ndarray,
        *,
        context_vector: np.ndarray | None = None,
        focus_vector: np.ndarray | None = None,
    ) -> np.ndarray:
        """The one vector whose cosines are the dense scores (they are a weighted sum of cosines)."""
        vector = np.asarray(query_vector, dtype=np.float32)
        if focus_vector is not None:
            weight = self.settings.focus_weight
            vector = (1 - weight) * vector + weight * np.asarray(focus_vector, dtype=np.float32)
        if context_vector is not None:
            weight = self.settings.follow_up_weight
            vector = (1 - weight) * vector + weight * np.asarray(context_vector, dtype=np.float32)
        return vector.astype(np.float32)

    def _scored(
        self,
        query_vector: np.ndarray,
        query_text: str,
        *,
        context_vector: np.ndarray | None = None,
        prefer_speakers: bool = False,
        focus_vector: np.ndarray | None = None,
        shortlist: int = SHORTLIST,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
        """(rows, final scores, dense scores of those rows, best dense score of all, approximate
        final scores of all): rows are every passage of a small index, or the shortlist."""
        parts = self._score_parts(
            query_vector,
            query_text,
            context_vector=context_vector,
            prefer_speakers=prefer_speakers,
            focus_vector=focus_vector,
            shortlist=shortlist,
        )
        return parts.rows, parts.final, parts.dense, parts.best, parts.approximate

    def _score_parts(
        self,
        query_vector: np.ndarray,
        query_text: str,
        *,
        context_vector: np.ndarray | None,
        prefer_speakers: bool,
        focus_vector: np.ndarray | None,
        shortlist: int,
    ) -> _Scores:
        """`_scored`, keeping what the learned short list reuses: the mixed query vector, the
        show-free lexical query and its BM25 shares (computed once per question)."""
        vector = self.query_vector(
            query_vector,
            context_vector=context_vector,
            focus_vector=focus_vector,
        )
        scanned = self._dense.scores(vector)
        lexical_query = self.aliases.without_shows(query_text) or query_text
        lexical = self._lexical.scores(lexical_query)
        extra = self.settings.lexical_weight * lexical
        if prefer_speakers:
            extra = extra + self.settings.speaker_bonus * self._speakers
            named = self._named_speakers(query_text)
            if named:
                extra = extra + self.settings.named_speaker_bonus * np.isin(self._speaker_of, named)
        scope = self._season.bonus(query_text)
        if scope is not None:
            extra = extra + scope
        approximate = scanned + extra
        if self._dense.approximate:
            rows = top_indices(approximate, min(shortlist, scanned.size))
            dense = self._dense.exact(rows, vector)
            best = self._best_dense(scanned, vector)
        else:
            rows = np.arange(scanned.size)
            dense = scanned
            best = float(dense.max()) if dense.size else 0.0
        final = dense + extra[rows]
        self._add_sentences(rows, final, dense, vector)
        if focus_vector is not None and rows.size:
            # The show-name-free mix ranks better, but whether the corpus is about the question is
            # judged on the whole question too: "is the punisher too long" is about the Punisher.
            plain = self._dense.exact(rows[top_indices(final, min(CANDIDATES, final.size))], query_vector)
            best = max(best, float(plain.max()))
        return _Scores(rows, final, dense, best, approximate, vector, lexical_query, lexical)

    def candidate_table(
        self,
        query_vector: np.ndarray,
        query_text: str,
        *,
        context_vector: np.ndarray | None = None,
        prefer_speakers: bool = False,
        focus_vector: np.ndarray | None = None,
        count: int = CANDIDATE_COUNT,
        exclude: Sequence[str] = (),
    ) -> Candidates:
        """The best `count` passages by the blended score, with the features the learned ranker
        and abstention read (see bot.search.rerank)."""
        parts = self._score_parts(
            query_vector,
            query_text,
            context_vector=context_vector,
            prefer_speakers=prefer_speakers,
            focus_vector=focus_vector,
            shortlist=max(SHORTLIST, count + len(exclude) + 56),
        )
        rows, final, dense, best = parts.rows, parts.final, parts.dense, parts.best
        specific, unknown = self.specific_words(query_text)
        words = len(tokens(query_text))
        follow_up = float(context_vector is not None)
        if not rows.size:
            empty = np.zeros((0, len(RANK_FEATURES)), dtype=np.float32)
            query = {
                "best_dense": 0.0,
                "specific": len(specific),
                "unknown": len(unknown),
                "follow_up": follow_up,
                "words": words,
                "question_alone": 0.0,
                "coverage": 0.0,
                "names_show": 0.0,
            }
            return Candidates(np.zeros(0, dtype=np.int64), empty, query)
        picked = self._distinct(rows, final, count, set(exclude))
        cand_rows = rows[picked]
        lexical_query = parts.lexical_query
        lexical = parts.lexical[cand_rows]
        show_state, season_state = self._season.match(query_text, cand_rows)
        cues = self._meta[cand_rows]
        passages = [self.index.passages[int(r)] for r in cand_rows]  # parsed once, used twice
        wanted = {t for t in tokens(lexical_query) if t not in generic_tokens()}
        coverage = np.array(
            [len(wanted & set(tokens(lexical_text_of(p)))) / max(1, len(wanted)) for p in passages],
            dtype=np.float32,
        )
        plain = self._dense.exact(cand_rows, np.asarray(query_vector, dtype=np.float32))
        sentence = self._sentences.best(cand_rows, parts.vector) if self._sentences is not None else None
        dense_c = dense[picked]
        if sentence is None:
            sentence = dense_c.copy()
        sentence = np.where(np.isnan(sentence), dense_c, sentence)
        named = self._named_speakers(query_text)
        has_speaker = np.asarray(self._speakers, dtype=np.float32)[cand_rows]
        named_match = (
            np.isin(self._speaker_of[cand_rows], named).astype(np.float32)
            if named
            else np.zeros(cand_rows.size)
        )
        features = np.column_stack(
            [
                final[picked],
                dense_c,
                plain,
                sentence,
                lexical,
                show_state,
                season_state,
                coverage,
                cues,
                has_speaker,
                named_match,
                np.log1p(np.arange(cand_rows.size, dtype=np.float32)),
                np.array([min(len(p.text) / 400.0, 2.0) for p in passages], dtype=np.float32),
                np.array([float(p.heading is not None) for p in passages], dtype=np.float32),
                dense_c - dense_c.max(),
                lexical - lexical.max(),
                sentence - sentence.max(),
            ]
        ).astype(np.float32)
        query = {
            "best_dense": float(best),
            "specific": float(len(specific)),
            "unknown": float(len(unknown)),
            "follow_up": follow_up,
            "words": float(words),
            "question_alone": float(plain.max()),
            "coverage": float(coverage.max()),
            "names_show": float(bool(self._season.question_scope(query_text)[0])),
        }
        return Candidates(cand_rows, features, query)

    def _distinct(self, rows: np.ndarray, final: np.ndarray, count: int, excluded: set[str]) -> np.ndarray:
        """Positions of the best `count` rows, skipping excluded passages and near-duplicates of a
        better one. The vectors of the leading rows are read once, in one pass (not per pair)."""
        chosen: list[int] = []
        order = top_indices(final, final.size)
        block = 4 * count
        for start in range(0, order.size, block):
            positions = order[start : start + block]
            block_rows = rows[positions]
            sort = np.argsort(block_rows, kind="stable")  # sequential reads
            vectors = np.empty((positions.size, self._vectors.shape[1]), dtype=np.float32)
            vectors[sort] = self._dense.rows(block_rows[sort])
            kept_vectors = [vectors[i] for i in range(0)]
            if chosen:
                kept_vectors = list(self._dense.rows(rows[np.asarray(chosen)]))
            for i, position in enumerate(positions):
                row = int(rows[position])
                if excluded and self.index.passages[row].id in excluded:
                    continue
                if (
                    kept_vectors
                    and (np.stack(kept_vectors) @ vectors[i] >= self.settings.duplicate_cosine).any()
                ):
                    continue
                chosen.append(int(position))
                kept_vectors.append(vectors[i])
                if len(chosen) >= count:
                    return np.asarray(chosen, dtype=np.int64)
        return np.asarray(chosen, dtype=np.int64)

    def _named_speakers(self, query_text: str) -> list[int]:
        """Codes (see SearchFeatures.speaker_of) of the speakers the question names ("colter")."""
        words = set(tokens(query_text))
        return [n + 1 for n, name in enumerate(self._speaker_words) if name & words]

    def _add_sentences(
        self, rows: np.ndarray, final: np.ndarray, dense: np.ndarray, vector: np.ndarray
    ) -> None:
        """Blend the best sentence's cosine into the dense part of the leading RERANK scores."""
        weight = self.settings.sentence_weight
        if self._sentences is None or weight <= 0 or not rows.size:
            return
        top = top_indices(final, min(RERANK, final.size))
        best = self._sentences.best(rows[top], vector)
        found = ~np.isnan(best)
        final[top[found]] += weight * (best[found] - dense[top[found]])

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
            prefer_speakers=prefer_speakers,
            focus_vector=focus_vector,
        )
        full_final = approximate.copy()
        full_final[rows] = final
        vector = self.query_vector(
            query_vector,
            context_vector=context_vector,
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
        exclude: Sequence[str] = (),
        prefer_speakers: bool | None = None,
        focus_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """Best `k` distinct passages after the first `skip`; empty when nothing is on topic."""
        if not len(self.index.passages):
            return []
        if prefer_speakers is None:
            prefer_speakers = wants_quote(query_text)
        if self.learned is not None:  # the learned path scores once, in candidate_table
            return self._learned_search(
                query_vector,
                query_text,
                k=k,
                skip=skip,
                context_vector=context_vector,
                exclude=exclude,
                prefer_speakers=prefer_speakers,
                focus_vector=focus_vector,
            )
        excluded = set(exclude)
        wanted = max(200, 4 * (k + skip) + len(excluded))
        rows, score, _dense, best, _scanned = self._scored(
            query_vector,
            query_text,
            context_vector=context_vector,
            prefer_speakers=prefer_speakers,
            focus_vector=focus_vector,
            shortlist=max(SHORTLIST, wanted + 56),
        )
        follow_up = context_vector is not None
        if not self.is_on_topic(np.array([best], dtype=np.float32), query_text, follow_up=follow_up):
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

    def _learned_search(
        self,
        query_vector: np.ndarray,
        query_text: str,
        *,
        k: int,
        skip: int,
        context_vector: np.ndarray | None,
        exclude: Sequence[str],
        prefer_speakers: bool,
        focus_vector: np.ndarray | None,
    ) -> list[Hit]:
        """The short list re-ordered by the learned ranker; empty when the abstention model says
        the corpus does not answer the question."""
        assert self.learned is not None
        candidates = self.candidate_table(
            query_vector,
            query_text,
            context_vector=context_vector,
            prefer_speakers=prefer_speakers,
            focus_vector=focus_vector,
            exclude=exclude,
        )
        order, logits, answerable = self.learned.order(candidates)
        if answerable < self.learned.threshold:
            return []
        hits = []
        for position, logit in zip(order[skip : skip + k], logits[skip : skip + k], strict=True):
            passage = self.index.passages[int(candidates.rows[int(position)])]
            hits.append(Hit(passage, self.index.articles[passage.file], float(logit)))
        return hits

    def is_on_topic(self, dense: np.ndarray, query_text: str, *, follow_up: bool = False) -> bool:
        """Whether the corpus answers the question, from the best passage's cosine and what the
        question names. A question made only of generic TV words ("is netflix down right now")
        or naming things no article mentions ("is succession worth watching") shares meaning
        with many passages without being about any of them, so it needs a much closer match."""
        best = float(dense.max()) if dense.size else 0.0
        if follow_up:
            return best >= self.settings.min_dense_follow_up
        specific, unknown = self.specific_words(query_text)
        if not specific:
            return best >= self.settings.min_dense_generic
        if unknown:
            return best >= self.settings.min_dense_unknown
        return best >= self.settings.min_dense

    def specific_words(self, query_text: str) -> tuple[list[str], list[str]]:
        """(the question's words that are not generic TV words, those of them the corpus never
        uses): misspellings that `LexicalIndex.correct` resolves and the resolver's nicknames and
        abbreviations count as used."""
        generic = generic_tokens()
        specific = [w for w in tokens(query_text) if w not in generic]
        aliases = set(tokens(self.aliases.alias_words(query_text)))
        unknown = [w for w in specific if w not in aliases and not self._lexical.known([w])]
        return specific, unknown

    def _duplicate(self, candidate: int, chosen: list[int]) -> bool:
        if not chosen:
            return False
        sims = self._dense.rows(np.asarray(chosen)) @ self._dense.rows(np.asarray([candidate]))[0]
        return bool((sims >= self.settings.duplicate_cosine).any())
