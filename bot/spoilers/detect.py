"""Flag the sentences of every passage that reveal a season finale, at index time.

Evidence comes from three places (see `propagate` for how it is combined):

1. each sentence alone: a logistic regression over its MiniLM vector and surface cues
   (`features`), trained on generic finale/non-finale sentences about many shows (`training`);
2. its article: sentences that continue a finale description, or refer back to a confident
   finale event, are part of the reveal; mid-season placement, warnings and questions are not;
3. the admin's finale facts for the article's show (`corpus/shows.yaml`).

Which show and season a passage spoils comes from `scope`. All sentences (and facts) are embedded
in one batched call (vectors are kept per embedder for the next reindex, so only new sentences
are embedded again); the rest is regexes and a few matrix products, deterministic and well under a
second per thousand passages.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from bot.models import Article, Passage, SpoilerInfo
from bot.shows import ShowFacts
from bot.spoilers.classifier import FinaleModel, load_model
from bot.spoilers.features import cue_matrix
from bot.spoilers.propagate import Sentence, annotate, decide
from bot.spoilers.scope import Scope, article_scope, find_facts_show, season_numbers

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Trace:
    """Why one sentence was (not) flagged; for the development benchmark."""

    file: str
    text: str
    probability: float
    flagged: bool
    reason: str
    show: str | None
    season: int | None


def detect_spoilers(
    articles: Sequence[Article],
    passages: Sequence[Passage],
    embed: Embed,
    facts: ShowFacts | None = None,
) -> list[Passage]:
    """The passages (same order) with `spoiler` set: one flag per sentence, plus show/season."""
    return detect_with_trace(articles, passages, embed, facts)[0]


def detect_with_trace(
    articles: Sequence[Article],
    passages: Sequence[Passage],
    embed: Embed,
    facts: ShowFacts | None = None,
) -> tuple[list[Passage], list[Trace]]:
    """`detect_spoilers`, plus one `Trace` per sentence in reading order."""
    if not passages:
        return [], []
    by_file: dict[str, list[int]] = {}
    for number, passage in enumerate(passages):
        by_file.setdefault(passage.file, []).append(number)
    known = {article.meta.file: article for article in articles}

    batch = _Batch()
    plans: list[tuple[list[int], list[Sentence], Scope, list[int]]] = []
    for file, numbers in by_file.items():
        sentences = [
            Sentence(n, i, passages[n].paragraph, text, batch.row(text), heading=passages[n].heading)
            for n in numbers
            for i, text in enumerate(passages[n].sentences)
        ]
        article = known.get(file)
        scope = article_scope(article, [s.text for s in sentences], facts) if article else Scope()
        fact_rows = [batch.row(fact) for fact in _facts_for(scope, facts)]
        plans.append((numbers, sentences, scope, fact_rows))

    model = _model(embed)
    if model is None:  # no weights and no sentences to fit them: leave every passage unknown (tagged)
        return [replace(p, spoiler=None) for p in passages], []
    vectors = _VECTORS.embed(embed, batch.texts)
    probabilities = model.probabilities(vectors, cue_matrix(batch.texts))

    result = list(passages)
    traces: list[Trace] = []
    for numbers, sentences, scope, fact_rows in plans:
        annotate(sentences, probabilities)
        decide(sentences, vectors, fact_rows)
        flags = {n: [False] * len(passages[n].sentences) for n in numbers}
        for s in sentences:
            flags[s.passage][s.index] = s.flagged
        for n in numbers:
            season = _passage_season(passages[n].sentences, flags[n], scope.season)
            result[n] = replace(passages[n], spoiler=SpoilerInfo(tuple(flags[n]), scope.show, season))
        traces.extend(
            Trace(
                passages[s.passage].file, s.text, s.probability, s.flagged, s.reason, scope.show, scope.season
            )
            for s in sentences
        )
    return result, traces


class _VectorCache:
    """Sentence vectors kept between runs in this process, per embedding function's owner, so a
    reindex after editing one article embeds only that article's new sentences. Misses still go
    to the model in one batched call."""

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._by_owner: weakref.WeakKeyDictionary[object, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()

    def embed(self, embed: Embed, texts: list[str]) -> np.ndarray:
        owner = getattr(embed, "__self__", embed)
        try:
            cache = self._by_owner.setdefault(owner, {})
        except TypeError:  # not weak-referenceable: no caching
            cache = {}
        missing = [t for t in texts if t not in cache]
        if missing:
            fresh = np.asarray(embed(missing), dtype=np.float32)
            if len(cache) + len(missing) > self._limit:
                cache.clear()
            cache.update(zip(missing, fresh, strict=True))
            if len(missing) == len(texts):
                return fresh
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)


_VECTORS = _VectorCache()


class _Batch:
    """Unique texts to embed in one call, each with its row."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._rows: dict[str, int] = {}

    def row(self, text: str) -> int:
        if text not in self._rows:
            self._rows[text] = len(self.texts)
            self.texts.append(text)
        return self._rows[text]


def _facts_for(scope: Scope, facts: ShowFacts | None) -> tuple[str, ...]:
    """The admin's finale facts for the article's season (or all seasons when it is unknown)."""
    show = find_facts_show(scope.show, facts)
    if show is None:
        return ()
    return show.finale_facts(scope.season) or show.finale_facts()


def _passage_season(sentences: Sequence[str], flags: list[bool], season: int | None) -> int | None:
    """A flagged sentence that names one season ("the season two finale") overrides the article's."""
    for sentence, flagged in zip(sentences, flags, strict=True):
        named = set(season_numbers(sentence)) if flagged else set()
        if len(named) == 1:
            return named.pop()
    return season


@lru_cache(maxsize=1)
def _shipped_model() -> FinaleModel | None:
    try:
        model = load_model()
    except (OSError, ValueError, KeyError) as exc:
        log.warning("finale model unavailable (%s); fitting it from the shipped sentences", exc)
        return None
    from bot.spoilers.training import TRAINING_PATH, data_sha256

    if TRAINING_PATH.is_file() and model.data_sha256 != data_sha256(TRAINING_PATH):
        log.warning("finale model is older than its training sentences; run python -m bot.spoilers.training")
    return model


def _model(embed: Embed) -> FinaleModel | None:
    """The shipped weights, or (when missing) weights fitted now from the training sentences;
    None when neither is available."""
    model = _shipped_model()
    if model is None:
        from bot.spoilers.training import train

        try:
            model = train(embed)
        except (OSError, ValueError, KeyError) as exc:
            log.error("cannot fit the finale model (%s); spoilers stay unknown and are all tagged", exc)
            return None
    return model
