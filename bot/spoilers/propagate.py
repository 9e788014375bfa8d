"""Decide, for the sentences of one article, which reveal a finale, from per-sentence odds.

A sentence is judged with its neighbours, the way a reader does:

* alone: the classifier is confident (or it says the same as an admin's finale fact);
* finale paragraph: a recap paragraph that opens "In the finale, ..." / "The last episode ..."
  goes on telling the finale, so each following narrative sentence is part of it until the run
  breaks (praise, casting or renewal news, a mid-season marker);
* continuation: right after a finale sentence (or under a heading like "What happens at the
  end?"), the next sentence usually goes on describing the ending, so an outcome ("he is
  arrested") needs only modest odds;
* echo: elsewhere in the article, a sentence close in meaning to a confident finale event and
  naming the same people ("the win against X" after "she kills X in the finale") refers to it;
* placement: a sentence placed mid-season ("in episode six", or right after one that is) is
  discounted; warnings, questions, wishes and framing (premise, casting, renewals) never spread.

The thresholds were set on the shared dev set and on fixture articles about other shows
(tests/fixtures/spoilers); none of them names a show or a character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from bot.spoilers.features import cue_flags, is_warning, opens_with_ending

SEED = 0.5  # classifier probability that flags a sentence on its own
MIDSEASON_PENALTY = 0.25  # subtracted when a sentence is placed mid-season with no ending cue
STRONG_OUTCOME = 0.1  # after a finale event or an announcement of the ending, same paragraph: an outcome...
STRONG_OTHER = 0.45  # ...or any other sentence
RUN_ANY = 0.0  # any narrative sentence (names someone or an outcome) in a paragraph opening "In the finale,"
HEADING_ANY = 0.08  # any sentence of a paragraph under a heading such as "What happens at the end?"
NEXT_OUTCOME = 0.2  # right after any flagged sentence (also across a paragraph break): an outcome...
NEXT_OTHER = 0.45  # ...or any other sentence
NEAR_OUTCOME = 0.35  # an outcome a few sentences on in the same paragraph
NEAR_REACH = 3
ECHO_SIMILARITY = 0.45  # cosine to a confident finale event of the same article, sharing a name...
ECHO_PROBABILITY = 0.15  # ...for an outcome sentence with at least these odds
FACT_SIMILARITY = 0.62  # cosine to one of the admin's finale facts for the show (names inflate it)...
FACT_PROBABILITY = 0.2  # ...for a sentence naming an outcome or with at least these odds
FACT_ALONE = 0.8  # cosine to a fact that is enough on its own

_HEADING = "under an ending heading"
_STRONG = "continues a finale event"
_RUN = "in a finale paragraph"
_CAPITALISED = re.compile(r"\b[A-Z][a-z][\w'’-]+")
_LOWER_WORD = re.compile(r"\b[a-z][a-z'’-]+\b")
_POSSESSIVE = re.compile(r"['’]s$")
_STOP_NAMES = frozenset(
    "The This That These Those There Then When Where What Who Why How And But Season Series Episode "
    "Finale Part Chapter He She They It His Her Their We You In On At By For As So Yes No After Before "
    "While Meanwhile Later Instead Still Even Only Our Its One Two Here Now Not All Both Every Each "
    "Some With From Into Over Under Until Once Also Just Maybe Sometimes Ultimately Finally".split()
)


@dataclass
class Sentence:
    """One sentence of one passage, with the evidence the decision reads."""

    passage: int
    index: int
    paragraph: int
    text: str
    row: int  # row of its vector in the embedding batch
    heading: str | None = None
    probability: float = 0.0
    blocked: bool = False  # a warning or a question: never a reveal
    outcome: bool = False  # names an event or an ending ("kills", "wins", "by the end")
    event: bool = False  # names an event
    anchored: bool = False  # names an event *and* puts it at the ending ("she dies in the finale")
    midseason: bool = False  # placed mid-season with no ending cue
    framing: bool = False  # premise, casting, renewal or release news: context, not story
    announces: bool = False  # names the ending but no event: "The last two episodes answer it all."
    opener: bool = False  # starts a recap's finale paragraph: "In the finale, ...", "The last episode ..."
    evaluative: bool = False  # praise or criticism
    named: bool = False  # names someone itself (not through a pronoun)
    hypothetical: bool = False  # a wish or counterfactual: says what did not happen
    flagged: bool = False
    seed: bool = False
    reason: str = ""  # why it was flagged: "alone", "fact", "echo", "continues"
    names: frozenset[str] = field(default_factory=frozenset)


def annotate(sentences: list[Sentence], probabilities: np.ndarray) -> None:
    """Fill cues, names and placement-adjusted odds from the classifier's raw probabilities."""
    lower_words = frozenset(w for s in sentences for w in _LOWER_WORD.findall(s.text))
    previous: Sentence | None = None
    for s in sentences:
        cues = cue_flags(s.text)
        timed = cues["finale"] or cues["ending"]
        inherits = previous is not None and previous.paragraph == s.paragraph and previous.midseason
        s.midseason = (cues["midseason"] or inherits) and not timed
        s.event = cues["event"]
        s.outcome = cues["event"] or timed
        s.anchored = cues["finale_or_ending_and_event"]
        s.blocked = is_warning(s.text) or cues["question"]
        s.hypothetical = cues["hypothetical"]
        s.framing = cues["business"] or cues["premise"]
        s.announces = timed and not cues["event"] and not (s.blocked or s.hypothetical or s.framing)
        s.evaluative = cues["evaluative"]
        s.opener = opens_with_ending(s.text) and not (
            s.blocked or s.hypothetical or s.framing or s.evaluative
        )
        penalty = MIDSEASON_PENALTY if s.midseason else 0.0
        s.probability = max(0.0, float(probabilities[s.row]) - penalty)
        s.names = _names(s.text, lower_words)
        s.named = bool(s.names)
        # A sentence naming nobody ("she can't look at him") is about whoever was named just before.
        if not s.names and previous is not None and previous.paragraph == s.paragraph:
            s.names = previous.names
        previous = s


def decide(sentences: list[Sentence], vectors: np.ndarray, fact_rows: list[int]) -> None:
    """Flag the sentences of one article: seeds, facts, echoes, then continuations."""
    for s in sentences:
        if not s.blocked and s.probability >= SEED:
            s.seed = s.flagged = True
            s.reason = "alone"
    if fact_rows:
        _facts(sentences, vectors, vectors[fact_rows])
    _echoes(sentences, vectors)
    changed = True
    while changed:
        changed = False
        for position, s in enumerate(sentences):
            if s.flagged or s.blocked or s.midseason or s.hypothetical or s.framing:
                continue
            reason = _continuation(sentences, position)
            if reason:
                s.flagged = changed = True
                s.reason = reason


def _facts(sentences: list[Sentence], vectors: np.ndarray, facts: np.ndarray) -> None:
    for s in sentences:
        similarity = float(np.max(facts @ vectors[s.row]))
        if s.blocked or s.midseason or s.hypothetical:
            continue
        plausible = s.outcome or s.probability >= FACT_PROBABILITY
        if similarity >= FACT_ALONE or (similarity >= FACT_SIMILARITY and plausible):
            s.reason = s.reason or f"fact {similarity:.2f}"
            s.seed = s.flagged = True


def _echoes(sentences: list[Sentence], vectors: np.ndarray) -> None:
    """Sentences that refer back (or ahead) to a confident finale event of the same article."""
    sources = [s for s in sentences if s.seed and s.event]
    if not sources:
        return
    source_vectors = vectors[[s.row for s in sources]]
    for s in sentences:
        if s.flagged or s.blocked or s.midseason or s.hypothetical or s.framing or not s.outcome:
            continue
        if s.probability < ECHO_PROBABILITY:
            continue
        similarity = source_vectors @ vectors[s.row]
        matches = [
            (float(sim), src) for sim, src in zip(similarity, sources, strict=True) if src.names & s.names
        ]
        best = max(matches, key=lambda pair: pair[0], default=None)
        if best is not None and best[0] >= ECHO_SIMILARITY:
            s.flagged = True
            s.reason = f"echo {best[0]:.2f} of {best[1].text[:40]!r}"


def _continuation(sentences: list[Sentence], position: int) -> str:
    """Why sentence `position` continues a finale description, or "" when it does not."""
    s = sentences[position]
    previous = sentences[position - 1] if position else None
    same_paragraph = previous is not None and previous.paragraph == s.paragraph
    after_flagged = previous is not None and previous.flagged
    if (
        _announces_ending(s.heading)
        and (not same_paragraph or after_flagged)
        and s.probability >= HEADING_ANY
    ):
        return _HEADING
    start = _run_start(sentences, position) if same_paragraph else None
    narrative = (s.outcome or s.named) and not s.evaluative
    if start is not None and start.opener and narrative and s.probability >= RUN_ANY:
        return _RUN
    strong = start is not None and (start.announces or start.anchored)
    if strong and s.probability >= (STRONG_OUTCOME if s.outcome else STRONG_OTHER):
        return _STRONG
    if (
        after_flagged
        and (same_paragraph or s.outcome)
        and s.probability >= (NEXT_OUTCOME if s.outcome else NEXT_OTHER)
    ):
        return "continues"
    near = [o for o in sentences[max(0, position - NEAR_REACH) : position] if o.paragraph == s.paragraph]
    if s.outcome and s.probability >= NEAR_OUTCOME and any(o.flagged for o in near):
        return "near a finale sentence"
    return ""


def _run_start(sentences: list[Sentence], position: int) -> Sentence | None:
    """Where the unbroken run of flagged sentences just before `position` (same paragraph) starts:
    the first of them, or an unflagged sentence announcing the ending right before them."""
    paragraph = sentences[position].paragraph
    start: Sentence | None = None
    for earlier in reversed(sentences[:position]):
        if earlier.paragraph != paragraph:
            break
        if earlier.flagged:
            start = earlier
            continue
        if earlier.announces or earlier.opener:
            start = earlier
        break
    return start


def _announces_ending(heading: str | None) -> bool:
    """A heading such as "What happens at the end?" or "The finale" puts its paragraph at the end."""
    if not heading:
        return False
    cues = cue_flags(heading)
    return cues["finale"] or cues["ending"]


def _names(text: str, lower_words: frozenset[str]) -> frozenset[str]:
    """Capitalised words that are names: not function words, and never written in lower case in
    the article (so a sentence-initial "Meanwhile" is no name, but "Luke" is)."""
    found = set()
    for match in _CAPITALISED.finditer(text):
        word = _POSSESSIVE.sub("", match.group())
        if word not in _STOP_NAMES and word.lower() not in lower_words:
            found.add(word.casefold())
    return frozenset(found)
