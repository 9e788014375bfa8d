"""Who speaks a quote the format does not name: a learned choice among the article's people.

The format rules of `bot.ingest.speakers` settle what the page spells out (`NAME:` prefixes, a
name beside the quote with a speech verb: "…," Cox said).
Everything else is a choice: a pronoun ("she told me"), a quote paragraph after an introduction
("Farrant says she still thinks about it." then three paragraphs of quote), a name in the same
sentence that may be a place, a show or a character. Each quote run (a paragraph with speech and
the paragraphs its open quotation mark carries on to) gets one row per person the article names,
with features of where and how that person is mentioned; a conditional logit trained on fanqa's
speaker labels (`python -m bot train`) gives one softmax over them and "nobody" (a title or a
scare quote has no speaker), and the best one speaks when its probability clears the trained
threshold. The rules' own pick is one of the features, so the model keeps what the rules get
right and learns where they fail.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bot.learned import Logistic, built, choice_of

if TYPE_CHECKING:
    from bot.ingest.speakers import NameBook

log = logging.getLogger(__name__)

FEATURES = (
    "rule_pick",
    "explicit_here",
    "outside_here",
    "first_outside_here",
    "before_quote_here",
    "inside_only_here",
    "recent_mention",
    "recent_introduction",
    "named_before_colon",
    "last_named_before_quote",
    "second_named_before_quote",
    "most_mentioned_rank",
    "in_title",
    "is_author",
    "pronoun_agrees",
    "speaker_elsewhere",
    "first_named_order",
    "one_word",
    "mentioned_again",
    "recent_mention_unattributed",
    "last_named_with_pronoun",
    "common_words",
    "pronouns_follow",
    "after_preposition",
    "longest_quote",
    "quoted_share",
)
MAX_CANDIDATES = 60
_WINDOW = 40  # characters around a mention searched for a speech verb
_MALE = frozenset({"he", "him", "his", "himself"})
_FEMALE = frozenset({"she", "her", "hers", "herself"})
_SUBJECTS = frozenset({"he", "she", "they"})
# a place or an institution is written "in Harbor Point", "at the Calyx Studios"; a person rarely is
_PLACE_WORDS = frozenset(
    {"in", "at", "from", "on", "to", "of", "into", "near", "across", "the", "outside", "around"}
)
_PUNCTUATION = ".,;:!?\"'“”‘’()[]{}—–-*_"


def tokens(text: str) -> Iterator[tuple[int, str]]:
    """Offset and word of each whitespace-separated token, punctuation stripped (case kept)."""
    start: int | None = None
    for i, ch in enumerate(f"{text} "):
        if ch.isspace():
            if start is not None:
                word = text[start:i].strip(_PUNCTUATION)
                if word:
                    yield start, word
                start = None
        elif start is None:
            start = i


@dataclass(frozen=True, slots=True)
class SpeakerModel:
    scorer: Logistic
    threshold: float


@dataclass(slots=True)
class Choice:
    """One quote run's opening paragraph, its candidate people and their feature rows."""

    paragraph: int
    names: list[str]
    rows: np.ndarray  # len(names) x len(FEATURES)


@dataclass(slots=True)
class _Mention:
    person: int
    start: int
    end: int
    inside: bool
    introduces: bool  # a speech verb or a closing colon right by it


def quote_runs(  # type: ignore[no-untyped-def]
    texts: Sequence[str], prefixed: Sequence[bool], leaves_open, closes
) -> list[int | None]:
    """For each paragraph, the paragraph whose speech it belongs to (itself when it opens one).

    None: no speech here (narration). A prefixed paragraph always opens its own run.
    """
    runs: list[int | None] = []
    open_from: int | None = None
    for i, text in enumerate(texts):
        if open_from is not None and not prefixed[i]:
            runs.append(open_from)
            if closes(text):
                open_from = None
            continue
        if prefixed[i] or has_speech(text):
            runs.append(i)
            open_from = i if leaves_open(text) else None
        else:
            runs.append(None)
            open_from = None
    return runs


def has_speech(text: str) -> bool:
    return any(mark in text for mark in '“”"') or "according to" in text.lower()


def _quote_spans(text: str) -> list[tuple[int, int]]:
    spans, start, depth = [], 0, 0
    straight: int | None = None
    for i, ch in enumerate(text):
        if ch == "“":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "”" and depth:
            depth -= 1
            if depth == 0:
                spans.append((start, i + 1))
        elif ch == '"' and not depth:
            if straight is None:
                straight = i
            else:
                spans.append((straight, i + 1))
                straight = None
    if depth:
        spans.append((start, len(text)))
    if straight is not None:
        spans.append((straight, len(text)))
    return spans


def choices(
    texts: Sequence[str],
    book: NameBook,
    runs: Sequence[int | None],
    rule_speakers: Sequence[str | None],
    explicit: Sequence[set[str]],
    speech_verbs: frozenset[str],
    fixed: Sequence[bool],
) -> list[Choice]:
    """Candidate rows for every paragraph that opens a quote run the format leaves open."""
    openers = [i for i, run in enumerate(runs) if run == i and not fixed[i]]
    if not openers:
        return []
    people = _people(book, explicit, rule_speakers)
    if not people:
        return []
    mentions = _find_mentions(texts, people, speech_verbs)
    count = len(people)
    totals = np.zeros(count)
    gender = np.zeros((count, 2))  # she, he words after the person's mentions
    after_preposition = np.zeros(count)
    first_seen = np.full(count, math.inf)
    for i, found in enumerate(mentions):
        text = texts[i]
        for m in found:
            totals[m.person] += 1
            first_seen[m.person] = min(first_seen[m.person], i + m.start / (len(text) + 1))
            after_preposition[m.person] += bool(
                any(
                    w.casefold() in _PLACE_WORDS
                    for _, w in list(tokens(text[max(0, m.start - 12) : m.start]))[-1:]
                )
            )
            if not m.inside:
                window = text[m.end : m.end + 150]
                words = [bare_word(w) for _, w in tokens(window)]
                gender[m.person] += (sum(w in _FEMALE for w in words), sum(w in _MALE for w in words))
    order = np.argsort(np.argsort(first_seen, kind="stable"), kind="stable")
    # ranks, not counts: an article's length must not change what a feature means
    by_count = np.argsort(np.argsort(-totals, kind="stable"), kind="stable")
    lean = (gender[:, 0] - gender[:, 1]) / (gender.sum(axis=1) + 1.0)  # + she, - he
    title = book.meta.title or ""
    author = book.meta.author or ""
    # the paragraphs each name speaks in, by the format or the rules: "speaks elsewhere" must not
    # count the paragraph being decided, or the rules' own guess would vouch for itself
    speaks_in: dict[str, set[int]] = {}
    for j, names in enumerate(explicit):
        for name in (*names, rule_speakers[j]):
            if name:
                speaks_in.setdefault(name, set()).add(j)

    in_title = [_names_in(name, title) for name in people]
    common = [sum(w.casefold() in book.lowercase for w in n.split()) / len(n.split()) for n in people]
    continued = {run for j, run in enumerate(runs) if run is not None and run != j}
    wanted = set(openers)
    # the last paragraph naming each person outside quotes (before this one), and the last that
    # introduces them (up to this one): kept as the paragraphs go by, so the pass stays linear
    last_out: list[int | None] = [None] * count
    last_intro: list[int | None] = [None] * count
    result = []
    for i in range(len(texts)):
        for m in mentions[i]:
            if m.introduces:
                last_intro[m.person] = i
        if i not in wanted:
            for m in mentions[i]:
                if not m.inside:
                    last_out[m.person] = i
            continue
        text = texts[i]
        spans = _quote_spans(text)
        first_quote = min((a for a, _ in spans), default=len(text))
        # a title or a scare quote is a few words; speech runs on (and a run's later paragraphs count)
        longest = max((len(text[a:b].split()) for a, b in spans), default=0)
        if i in continued:
            longest = max(longest, 20)
        quoted_share = sum(b - a for a, b in spans) / max(1, len(text))
        here = mentions[i]
        outside = {m.person for m in here if not m.inside}
        inside = {m.person for m in here if m.inside}
        first_outside = next((m.person for m in here if not m.inside), None)
        before_quote = [m.person for m in here if not m.inside and m.start < first_quote]
        recent = _recent_before(mentions, i, before_quote)
        colon = i > 0 and texts[i - 1].rstrip().endswith(":")
        colon_people = {m.person for m in mentions[i - 1] if not m.inside} if colon else set()
        pronoun = _pronoun(text)
        unattributed = not explicit[i]
        rows = np.zeros((count, len(FEATURES)), dtype=np.float32)
        for p, name in enumerate(people):
            d_out = i - last_out[p] if last_out[p] is not None else None
            d_intro = i - last_intro[p] if last_intro[p] is not None else None
            agrees = 0.0
            if pronoun == "she":
                agrees = lean[p]
            elif pronoun == "he":
                agrees = -lean[p]
            recent_mention = 1.0 / (1 + d_out) if d_out is not None else 0.0
            last_named = float(bool(recent) and recent[0] == p)
            rows[p] = (
                float(rule_speakers[i] == name),
                float(name in explicit[i]),
                float(p in outside),
                float(first_outside == p),
                float(p in before_quote),
                float(p in inside and p not in outside),
                recent_mention,
                1.0 / (1 + d_intro) if d_intro is not None else 0.0,
                float(p in colon_people),
                last_named,
                float(len(recent) > 1 and recent[1] == p),
                1.0 / (1 + by_count[p]) if totals[p] else 0.0,
                float(in_title[p]),
                float(bool(author) and name == author),
                agrees,
                float(bool(speaks_in.get(name, set()) - {i})),
                1.0 / (1 + order[p]) if math.isfinite(first_seen[p]) else 0.0,
                float(len(name.split()) == 1),
                float(totals[p] >= 2),
                recent_mention * unattributed,
                last_named * float(pronoun is not None),
                common[p],
                min(1.0, gender[p].sum() / max(1.0, totals[p])),
                after_preposition[p] / max(1.0, totals[p]),
                min(1.0, longest / 20),
                quoted_share,
            )
        result.append(Choice(i, list(people), rows))
        for m in mentions[i]:
            if not m.inside:
                last_out[m.person] = i
    return result


def _names_in(name: str, text: str) -> bool:
    words = {w.casefold() for _, w in tokens(text)}
    return any(w.casefold() in words for w in name.split() if len(w) > 2)


def _people(book: NameBook, explicit: Sequence[set[str]], rule_speakers: Sequence[str | None]) -> list[str]:
    """The article's full names, and the names the rules attribute speech to, most mentioned first."""
    names: list[str] = []
    for name in (*book.full, *(n for s in explicit for n in sorted(s)), *(s for s in rule_speakers if s)):
        if name and name not in names:
            names.append(name)
    return names[:MAX_CANDIDATES]


def _find_mentions(
    texts: Sequence[str], people: Sequence[str], speech_verbs: frozenset[str]
) -> list[list[_Mention]]:
    forms: dict[str, set[int]] = {}
    for index, name in enumerate(people):
        words = name.split()
        for form in {name, words[-1], words[0]}:
            if len(form) >= 3:
                forms.setdefault(form, set()).add(index)
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + r")(?!\w)"
    )
    out: list[list[_Mention]] = []
    for text in texts:
        spans = _quote_spans(text)
        found = []
        stripped = text.rstrip()
        for match in pattern.finditer(text):
            start, end = match.span()
            inside = any(a <= start < b for a, b in spans)
            near = text[end : end + _WINDOW] + " " + text[max(0, start - _WINDOW) : start]
            introduces = not inside and (
                any(w.casefold() in speech_verbs for _, w in tokens(near))
                or stripped.endswith(":")
                and end > len(stripped) - 200
            )
            for person in sorted(forms[match.group(1)]):
                found.append(_Mention(person, start, end, inside, introduces))
        out.append(found)
    return out


def _recent_before(mentions: Sequence[Sequence[_Mention]], i: int, here: Sequence[int]) -> list[int]:
    """People named outside quotes, most recent first, up to the quote of paragraph `i`."""
    order: list[int] = []
    for person in reversed(here):
        if person not in order:
            order.append(person)
    for j in range(i - 1, max(-1, i - 12), -1):
        for m in reversed(mentions[j]):
            if not m.inside and m.person not in order:
                order.append(m.person)
        if len(order) >= 2:
            break
    return order


def bare_word(word: str) -> str:
    """A word without its contraction or possessive ("she's", "he’d" -> "she", "he"), folded."""
    return word.replace("’", "'").split("'", 1)[0].casefold()


def _pronoun(text: str) -> str | None:
    """The first he/she/they of the narration (outside quotes): who "she told me" points back to."""
    spans = _quote_spans(text)
    for start, word in tokens(text):
        if bare_word(word) in _SUBJECTS and not any(a <= start < b for a, b in spans):
            return bare_word(word)
    return None


def pick(choice: Choice, model: SpeakerModel) -> str | None:
    """The best candidate when the model is sure enough, else nobody."""
    if not choice.names:
        return None
    best, probability = choice_of(model.scorer.logits(choice.rows))
    return choice.names[best] if probability >= model.threshold else None


def load_speaker_model() -> SpeakerModel | None:
    return built("speakers", _build)


def _build(data: dict) -> SpeakerModel | None:
    try:
        scorer = Logistic.from_dict(data["scorer"])
        if scorer.weights.size != len(FEATURES):
            raise ValueError(f"{scorer.weights.size} weights for {len(FEATURES)} features")
        return SpeakerModel(scorer, float(data["threshold"]))
    except (KeyError, TypeError, ValueError) as exc:
        log.error("speaker weights unreadable (%s); the format rules alone decide", exc)
        return None
