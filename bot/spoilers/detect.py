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
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from bot.models import Article, Passage, SpoilerInfo
from bot.shows import ShowFacts
from bot.spoilers.classifier import FinaleModel, load_model
from bot.spoilers.features import WARNING, cue_flags, cue_matrix, is_warning, normalise
from bot.spoilers.propagate import Sentence, annotate, decide
from bot.spoilers.scope import _WORD_NUMBERS, Scope, article_scope, find_facts_show, season_numbers

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
    plans: list[tuple[list[int], list[Sentence], Scope, list[int], _ArticleContext]] = []
    for file, numbers in by_file.items():
        headings = _headings([passages[n] for n in numbers])
        sentences = [
            Sentence(
                n,
                i,
                passages[n].paragraph,
                text,
                batch.row(text),
                heading=headings[k],
                is_heading=_is_heading_line(passages[n]),
            )
            for k, n in enumerate(numbers)
            for i, text in enumerate(passages[n].sentences)
        ]
        article = known.get(file)
        texts = [s.text for s in sentences]
        scope = article_scope(article, texts, facts) if article else Scope()
        fact_rows = [batch.row(fact) for fact in _facts_for(scope, facts)]
        title = article.meta.title if article else ""
        context = _ArticleContext(
            season_length=season_length([title, *texts, *(h for h in headings if h)]),
            focus=article_focus(title, texts),
            not_names=frozenset(w.casefold() for w in re.findall(r"[\w'’-]+", scope.show or "")),
            speakers=frozenset(
                w.casefold() for n in numbers for w in (passages[n].speaker or "").split() if len(w) > 1
            ),
        )
        plans.append((numbers, sentences, scope, fact_rows, context))

    model = _model(embed)
    if model is None:  # no weights and no sentences to fit them: leave every passage unknown (tagged)
        return [replace(p, spoiler=None) for p in passages], []
    vectors = _VECTORS.embed(embed, batch.texts)
    probabilities = model.probabilities(vectors, cue_matrix(batch.texts))

    result = list(passages)
    traces: list[Trace] = []
    for numbers, sentences, scope, fact_rows, context in plans:
        annotate(sentences, probabilities, context.season_length, context.not_names, context.speakers)
        decide(sentences, vectors, fact_rows, context.focus)
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


@dataclass(frozen=True)
class _ArticleContext:
    season_length: int | None
    focus: bool
    not_names: frozenset[str]
    speakers: frozenset[str]


# "Episodes 1 and 2", "Episode 22: Charges and Specs", "Does Light die?" (a plain-text FAQ)
_HEADING_LINE = re.compile(r"^[^.!?…:;\"“”]{1,80}(?::[^.!?…\"“”]{1,60})?\??$")


def _is_heading_line(passage: Passage) -> bool:
    """A plain-text paragraph that is a heading: one short line without a full stop ("Episodes 1
    and 2", "Episode 22: Charges and Specs", "The verdict", "What happens at the end?")."""
    if passage.heading is not None and passage.text == passage.heading:
        return True
    text = passage.text.strip()
    return len(passage.sentences) == 1 and len(text.split()) <= 10 and bool(_HEADING_LINE.match(text))


def _headings(passages: Sequence[Passage]) -> list[str | None]:
    """The heading each passage sits under: its own (HTML/Markdown), or the last plain-text
    heading line before it in the article."""
    found: list[str | None] = []
    current: str | None = None
    last_markup: str | None = None
    for passage in passages:
        if passage.heading != last_markup:
            last_markup, current = passage.heading, passage.heading
        if _is_heading_line(passage):
            current = passage.text.strip()
        found.append(current)
    return found


_COUNT = r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_SEASON_LENGTH = re.compile(
    rf"\ball {_COUNT} episodes\b|\b{_COUNT}-episode\b|\b(?:its|these|those|their) {_COUNT} episodes\b"
    rf"|\b{_COUNT} episodes (?:in all|in total|long)\b|\bepisode \d{{1,3}} of {_COUNT}\b",
    re.IGNORECASE,
)


def season_length(texts: Sequence[str]) -> int | None:
    """How many episodes the article says the season (or series) has: "all 22 episodes", "a
    37-episode season", or the highest episode a heading covers ("Episodes 51-64"); None if unsaid."""
    counts: list[int] = []
    for text in texts:
        for match in _SEASON_LENGTH.finditer(text):
            word = next(g for g in match.groups() if g).lower()
            counts.append(int(word) if word.isdigit() else _WORD_NUMBERS.get(word, 0))
    return max(counts) if counts and max(counts) > 1 else None


# Warnings that cover a whole season rather than its finale ("including the ending").
_WHOLE_SEASON = re.compile(
    r"\bincluding (?:the ending|how it ends|the finale)|\b(?:ending|finale) (?:included|and all)\b"
    r"|\b(?:whole|entire|full|every|all|both)(?: \w+){0,2} (?:seasons?|series|episodes?|run|show)\b"
    r"|\bright up to\b|\bup to the end\b"
)
# A warning that announces the finale as its subject: "Spoilers ahead for the X season 2 finale!",
# "this Q&A discusses the X finale in detail", "this recap names the winner" (not "The finale is
# discussed below", said by a whole-season recap).
_FINALE_WARNING = re.compile(
    r"\bspoil\w*\b(?: \w+){0,3} (?:for|about|from|of|on)\b"
    r"|\b(?:this|our) (?:[\w&'-]+ ){0,2}(?:discuss\w*|covers?|reveals?|names?|gives? away|spoils?|contains?"
    r"|goes into)\b"
)
_ABOUT_THE_ENDING = re.compile(
    r"\b(?:we|i) (?:\w+ )?(?:spoke|talked|chatted|caught up|sat down)\b[^.]{0,60}\b(?:about|after|to discuss"
    r"|on)\b"
    r"[^.]{0,60}\b(?:the (?:\w+ )?(?:finale|ending|last episode|final episode)|how (?:it|the \w+) ends)\b"
    r"|\b(?:sat down|spoke|talked) with us (?:to (?:talk|chat) )?about the (?:\w+ )?(?:finale|ending)\b"
)
_WINNER = re.compile(r"\b(?:winner|wins|won|crowned|champion)\b")


def article_focus(title: str, sentences: Sequence[str]) -> bool:
    """The article is about the finale itself: its title, or a warning near the top, names the
    finale, the ending or the winner ("... on the Wrenfield finale", "X ending explained", "this
    recap names the winner"), not a whole season "including the ending"."""
    candidates = [title, *(s for s in sentences[:12] if is_warning(s))]
    # The interviewer says what the talk was about: "We spoke to her about the role and the ending."
    if any(_ABOUT_THE_ENDING.search(normalise(s)) for s in sentences[:12]):
        return True
    for text in candidates:
        if not text:
            continue
        cues = cue_flags(text)
        low = normalise(text)
        names_end = cues["finale"] or cues["ending"] or bool(_WINNER.search(low))
        on_finale = text is title or bool(WARNING.search(low) and _FINALE_WARNING.search(low))
        if names_end and on_finale and not cues["midseason"] and not _WHOLE_SEASON.search(low):
            return True
    return False


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
