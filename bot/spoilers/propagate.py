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
  discounted; warnings, questions, wishes and framing (premise, casting, renewals) never spread;
* anchored: a sentence that places itself at the ending and tells what happens there, to whom
  ("The finale opens with Jake hauled before a hearing") is a reveal whatever the classifier says;
* sections: a heading (or a plain-text heading line) such as "The final", "What happens at the
  end?", or "Episode 22" when the article says the season has 22 episodes puts its section at the
  ending; "The setup", "Episodes 3 and 4" or "What is X about?" put theirs before it;
* focus: in an article about the finale (its title or warning names the finale, the ending or
  the winner: an interview "on the finale", an "ending explained"), any sentence telling what a
  character does or feels, not placed earlier and not framing, is taken to be about the ending.

The thresholds were set on the shared dev set and on fixture articles about other shows
(tests/fixtures/spoilers); none of them names a show or a character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from bot.spoilers.features import cue_flags, is_warning, opens_with_ending

SEED = 0.5  # classifier probability that flags a sentence on its own
SEED_TALK = 0.9  # ...when it only talks about the ending (reported speech, framing, praise)
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
ANCHOR_ANY = 0.05  # a sentence placing itself at the ending and naming someone or an event
OWN_MIDSEASON_PENALTY = 0.5  # the sentence itself says it is mid-season ("in episode 25")
CONTEXT_MIDSEASON_PENALTY = 0.35  # its paragraph is placed mid-season by an earlier sentence
SECTION_MIDSEASON_PENALTY = 0.6  # its heading places the section before the ending ("Episodes 1-9")
SECTION_ANY = 0.05  # any narrative sentence under a heading that puts its section at the ending
FOCUS_ANY = 0.0  # any narrative sentence of an article about the finale
FOCUS_TIMED = 0.3  # ...and any sentence there naming the ending (not only talking about it)
ANSWER_WORDS = 8  # a paragraph's opening answer this short goes with the reveal after it

_SECTION = "in a finale section"
_FOCUS = "in an article about the finale"
_ANCHORED = "placed at the ending"

_HEADING = "under an ending heading"
_STRONG = "continues a finale event"
_RUN = "in a finale paragraph"
_PRONOUN_LED = re.compile(r"^\W*(?:he|she|they|his|her|their|its|him|them)\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"\b[A-Z][a-z][\w'’-]+")
_LOWER_WORD = re.compile(r"\b[a-z][a-z'’-]+\b")
_POSSESSIVE = re.compile(r"['’]s$")
_CASTING = re.compile(
    r"\b(?:plays|played by|stars as|starring|voiced by|portrayed by)\b(?! (?:out|along|with))", re.I
)
_THIRD_PERSON = re.compile(
    r"\b(?:he|she|they|him|her|them|his|hers|their|himself|herself|themselves)\b", re.I
)
# Interview framing: the interviewer and the interviewee talking, not what happened on screen.
_META = re.compile(
    r"\b(?:told (?:us|me|reporters|the \w+)|tells (?:us|me)|according to|in an interview"
    r"|(?:talked|spoke|speaks|chatted|caught up|sat down) (?:to|with)|confirm(?:s|ed)?"
    r"|(?:asks?|asked|asking) (?:(?:me|us|him|her|them) )?(?:about|if|whether|why|how)"
    r"|(?:judges|critics|fans|viewers|producers|writers|showrunners?|creators?|hosts?) (?:say|says|said"
    r"|agree)"
    r")\b",
    re.I,
)
# Reported speech is framing only when an actor, critic or interviewee speaks ("Pennick says she
# knew how it ended"); a character who "says yes" is the story.
_REPORTING = re.compile(
    r"(?P<who>[A-Z][\w'’-]+) (?:says|said|recalls|recalled|admits|admitted|explains|explained|adds|added"
    r"|laughs|laughed|insists|insisted|jokes|joked)\b"
)
# Headings that put their section before the ending: the set-up, the characters, the story so far.
# (Verdicts, "What's next?" or "Who is X?" are no such place: they may tell how things end.)
_EARLY_HEADING = re.compile(
    r"\b(?:setup|set-up|premise|background|so far|how we got here|previously|catching up|the basics"
    r"|what is|what's \w+ about|meet the|the road to|getting here|characters|the cast|first impressions)\b"
    r"|\babout\?$",
    re.I,
)
# Speculation about what comes next (not "what it will cost her", which is the story's present).
_SPECULATION = re.compile(
    r"\bnext (?:season|series|year)\b|\b(?:season|series)\b[^.]{0,40}\b(?:will|would|might|is set to"
    r"|is going to)\b"
    r"|\bwe'll see\b|\b(?:i|we|you)'d (?:love|like)\b|\bwould love\b|\bhopes? (?:to|that)\b"
    r"|\bfind out what happens\b|\bwhat happens next\b"
    r"|\bwill (?:return|be back|come back)\b|\bupcoming\b|\bsequel\b|\bspin-?off\b"
    r"|\bwill\b[^.]*\b(?:rest of the (?:show|series)|from now on|going forward)\b",
    re.I,
)
_EPISODE_SPAN = re.compile(
    r"\bep(?:isode)?s?\.?\s*(\d{1,3})(?:\s*(?:-|–|—|to|and|&|through|thru)\s*(?:episode\s*)?(\d{1,3}))?", re.I
)
_STOP_NAMES = frozenset(
    "The This That These Those There Then When Where What Who Why How And But Season Series Episode "
    "Finale Part Chapter He She They It His Her Their We You In On At By For As So Yes No After Before "
    "While Meanwhile Later Instead Still Even Only Our Its One Two Here Now Not All Both Every Each "
    "Some With From Into Over Under Until Once Also Just Maybe Sometimes Ultimately Finally "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July "
    "August September October November December Christmas".split()
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
    own_midseason: bool = False  # the sentence itself places what it tells mid-season
    section: str | None = None  # "end" or "mid": where its heading puts it; None when unknown
    story: bool = False  # tells what someone does or feels (a name or he/she/they)
    meta: bool = False  # reported speech or interview framing ("she says", "we talked to")
    future: bool = False  # speculation about what comes next
    is_heading: bool = False  # a plain-text heading line
    setup: bool = False  # the premise or the cast: "X follows a detective", "Y plays Z"
    character: bool = False  # names someone who is not an actor, critic or interviewee
    reaches_final: bool = False  # "X made it to the final": placed before it, the next is not
    flagged: bool = False
    seed: bool = False
    reason: str = ""  # why it was flagged: "alone", "fact", "echo", "continues"
    timed: bool = False  # places itself at the ending ("in the finale", "by the end")
    names: frozenset[str] = field(default_factory=frozenset)


def annotate(
    sentences: list[Sentence],
    probabilities: np.ndarray,
    season_length: int | None = None,
    not_names: frozenset[str] = frozenset(),
    speakers: frozenset[str] = frozenset(),
) -> None:
    """Fill cues, names, sections and placement-adjusted odds from the classifier's raw
    probabilities. `season_length`: the number of episodes the article says the season has
    (so "episode 22" of 22 is the finale); `not_names`: words of the show's title; `speakers`:
    names of the people quoted (actors, critics), who are not characters."""
    lower_words = frozenset(w for s in sentences for w in _LOWER_WORD.findall(s.text))
    actors = speakers | _people(sentences)
    numbered = [hi for s in sentences if s.heading for _, hi in [episode_span(s.heading)] if hi is not None]
    last_numbered = max(numbered) if len(set(numbered)) >= 3 else None
    mid_names = frozenset(
        _POSSESSIVE.sub("", m.group()).casefold()
        for s in sentences
        for m in _CAPITALISED.finditer(s.text)
        if m.start() > 0 and not re.match(r"[A-Z]: ?$", s.text[: m.start()])
    )
    previous: Sentence | None = None
    for s in sentences:
        cues = cue_flags(s.text)
        timed = cues["placed_at_end"] and not cues["away"]
        # "before the finale" places the sentence early, unless it tells an outcome of its own
        # ("Peppermint, the first trans contestant to reach the finale, was named runner-up").
        own_mid = cues["mid_marker"] or (cues["away"] and not cues["event"])
        # "Four players reached the final night": itself the semi-final's outcome, but what
        # follows it is the final.
        s.reaches_final = cues["away"] and not cues["mid_marker"]
        if own_mid and not timed and season_length and _last_episode(s.text, season_length):
            timed, own_mid = True, False  # "in episode 22" of a 22-episode season
        s.section = section_of(s.heading, season_length, last_numbered)
        # A paragraph that opens mid-season, or with the premise or the cast ("Kate Winslet plays a
        # detective ..."), goes on setting things up until a sentence places itself at the end.
        inherits = (
            previous is not None
            and previous.paragraph == s.paragraph
            and ((previous.midseason and not previous.reaches_final) or previous.setup)
        )
        s.own_midseason = own_mid and not timed
        s.midseason = (own_mid or inherits or s.section == "mid") and not timed
        s.event = cues["event"]
        s.outcome = cues["event"] or timed
        s.anchored = timed and cues["event"]
        s.blocked = is_warning(s.text) or cues["question"]
        s.hypothetical = cues["hypothetical"]
        s.framing = cues["business"] or cues["premise"]
        s.setup = cues["premise"] or bool(_CASTING.search(s.text))
        s.future = bool(_SPECULATION.search(s.text))
        s.announces = timed and not cues["event"] and not (s.blocked or s.hypothetical or s.framing)
        # Praise or criticism of the show ("the finale is quieter", "the best arc"), not a word of
        # the story ("a great spell", "she slowly realises").
        s.evaluative = bool(_AS_GOOD.search(s.text)) or (
            cues["evaluative"] and bool(_JUDGED.search(s.text) or _OPINION.search(s.text))
        )
        outside = _outside_quotes(s.text)
        s.meta = bool(_META.search(outside)) or any(
            m["who"].casefold() in actors for m in _REPORTING.finditer(outside)
        )
        s.opener = opens_with_ending(s.text) and not (
            s.blocked or s.hypothetical or s.framing or s.evaluative
        )
        if s.own_midseason:
            penalty = OWN_MIDSEASON_PENALTY
        elif s.midseason:
            penalty = SECTION_MIDSEASON_PENALTY if s.section == "mid" else CONTEXT_MIDSEASON_PENALTY
        else:
            penalty = 0.0
        s.probability = max(0.0, float(probabilities[s.row]) - penalty)
        s.names = _names(s.text, lower_words) - not_names
        s.named = bool(s.names)
        s.character = bool(s.names - actors) and not s.setup
        # Someone acts: he/she/they, or a character's name also written mid-sentence somewhere in
        # the article (a capitalised first word such as "Very." or "Nothing!" is no one).
        s.story = bool(_THIRD_PERSON.search(s.text)) or bool((s.names - actors) & mid_names)
        s.timed = timed
        # A sentence naming nobody ("she can't look at him") is about whoever was named just before.
        if not s.names and previous is not None and previous.paragraph == s.paragraph:
            s.names = previous.names
        previous = s


def decide(sentences: list[Sentence], vectors: np.ndarray, fact_rows: list[int], focus: bool = False) -> None:
    """Flag the sentences of one article: seeds, anchored sentences, facts, echoes, then
    continuations. `focus`: the article is about the finale (see `article_focus`)."""
    for s in sentences:
        if not s.blocked and s.probability >= (SEED_TALK if _talk_about_ending(s) else SEED):
            s.seed = s.flagged = True
            s.reason = "alone"
        elif _anchored(s):
            s.seed = s.flagged = True
            s.reason = _ANCHORED
        elif focus and _focus_timed(s):
            s.seed = s.flagged = True
            s.reason = _FOCUS
    if fact_rows:
        _facts(sentences, vectors, vectors[fact_rows])
    _echoes(sentences, vectors)
    _answers(sentences)
    changed = True
    while changed:
        changed = False
        for position, s in enumerate(sentences):
            if s.flagged or s.blocked or s.midseason or s.hypothetical or s.framing:
                continue
            reason = _continuation(sentences, position) or _context(s, focus)
            if reason:
                s.flagged = changed = True
                s.reason = reason


def _answers(sentences: list[Sentence]) -> None:
    """A short answer that opens the paragraph after a question ("Yes.", "Ren, Kiyomi's roommate
    and best friend.") says what the reveal right after it says: "Who is the traitor?" "Ren. In
    the final episode, she opens the gate ..."."""
    for position in range(len(sentences) - 1):
        first, second = sentences[position], sentences[position + 1]
        if not second.flagged or first.flagged or first.paragraph != second.paragraph:
            continue
        before = sentences[position - 1] if position else None
        if before is not None and before.paragraph == first.paragraph:
            continue  # not the paragraph's first sentence
        asked = (first.heading or "").rstrip().endswith("?") or (
            before is not None and before.text.rstrip().endswith("?")
        )
        if (
            asked
            and len(first.text.split()) <= ANSWER_WORDS
            and not (first.blocked or first.own_midseason or first.meta or first.is_heading or first.framing)
        ):
            first.flagged = True
            first.reason = "answers the question the next sentence reveals"


def _talk_about_ending(s: Sentence) -> bool:
    """Names the ending in reported speech, framing, praise or speculation ("She says she knew
    how the season ended", "We talked to him about the finale"): a seed only when the classifier
    is sure; an event it tells still counts through `_anchored`. Naming a character ("Doyle told
    us that the moment in the finale when Owen signs the farm over ...") is telling, not talk."""
    return s.timed and (s.meta or s.framing or s.evaluative or s.future) and not s.character


def _anchored(s: Sentence) -> bool:
    """Places itself at the ending and tells something that happens there to someone: "The
    finale opens with Jake hauled before a hearing", "season one ended with Miguel beating Robby"."""
    if s.blocked or s.hypothetical or s.own_midseason or not s.timed or s.probability < ANCHOR_ANY:
        return False
    if s.future or s.is_heading:
        return False
    if s.event:  # "Chen says the moment in the finale when June floods the quarry was hard to film"
        return s.story or not (s.evaluative or s.framing)
    return s.story and not (s.evaluative or s.meta or s.framing)


def _context(s: Sentence, focus: bool) -> str:
    """Why a narrative sentence is part of the ending by where it stands: under a heading that
    puts its section at the end, or anywhere in an article about the finale; "" otherwise."""
    if s.is_heading or not (s.story or s.event) or s.evaluative or s.future or s.meta:
        return ""
    if s.section == "end" and s.probability >= SECTION_ANY:
        return _SECTION
    if focus and s.story and s.section is None and s.probability >= FOCUS_ANY:
        return _FOCUS
    return ""


def _focus_timed(s: Sentence) -> bool:
    """In an article about the finale, a sentence naming the ending and what it turns on ("The
    finale hinges on a single phone call"), not just talking about it."""
    return (
        s.timed
        and not (s.blocked or s.is_heading or s.hypothetical or _talk_about_ending(s))
        and (s.probability >= FOCUS_TIMED)
    )


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
    # A sentence led by a pronoun ("Her first act as queen is …") carries on the finale's subject.
    narrative = (s.outcome or s.named or _PRONOUN_LED.match(s.text) is not None) and not s.evaluative
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


def episode_span(text: str) -> tuple[int | None, int | None]:
    """The episode numbers a heading covers: "Episode 6: Halloween" -> (6, 6), "Episodes 51-64"
    -> (51, 64); (None, None) when it names none."""
    match = _EPISODE_SPAN.search(text)
    if not match:
        return None, None
    low = int(match[1])
    return low, max(low, int(match[2])) if match[2] else low


def section_of(
    heading: str | None, season_length: int | None, last_numbered: int | None = None
) -> str | None:
    """Where a heading puts its section: "end" (the finale), "mid" (before it) or None."""
    if not heading:
        return None
    cues = cue_flags(heading)
    _, high = episode_span(heading)
    if high is not None:
        last = season_length or last_numbered
        return "end" if (last and high >= last) or cues["finale"] else "mid"
    if cues["finale"] or cues["ending"]:
        return "end"
    if cues["midseason"] or _EARLY_HEADING.search(heading.strip()):
        return "mid"
    return None


def _last_episode(text: str, season_length: int) -> bool:
    """The sentence's mid-season marker is only an episode number that is the season's last."""
    numbers = [int(m[2] or m[1]) for m in _EPISODE_SPAN.finditer(text)]
    if not numbers or min(numbers) < season_length:
        return False
    return not cue_flags(_EPISODE_SPAN.sub(" ", text))["midseason"]


_NAME_RUN = r"[A-Z][\w'’-]+(?: [A-Z][\w'’-]+){0,2}"
# The people of an interview: "Orla Pennick plays ...", "played by Simone Missick", "Kerr told us".
_PERSON = re.compile(
    rf"(?P<a>{_NAME_RUN}),? (?:who )?(?:plays|played|stars|starred|voices|voiced)\b"
    rf"|\b(?:played|voiced|portrayed) by (?P<b>{_NAME_RUN})"
    rf"|(?P<c>{_NAME_RUN}) (?:told|tells) (?:us|me)\b"
    rf"|\b(?:according to|spoke to|talked to|spoke with|talked with|caught up with"
    rf"|sat down with) (?P<d>{_NAME_RUN})"
)


def _people(sentences: list[Sentence]) -> frozenset[str]:
    """Name words of actors, critics and interviewees named in the article: not characters."""
    found: set[str] = set()
    for s in sentences:
        for match in _PERSON.finditer(s.text):
            name = next(g for g in match.groups() if g)
            found.update(_POSSESSIVE.sub("", w).casefold() for w in name.split() if w not in _STOP_NAMES)
    return frozenset(found)


def _outside_quotes(text: str) -> str:
    return re.sub(r"[“\"][^”\"]*[”\"]", " ", text)


_AS_GOOD = re.compile(r"\b(?:as|so|very|really|too) (?:good|bad)\b", re.I)
_JUDGED = re.compile(
    r"\b(?:episodes?|hours?|seasons?|series|show|finale|ending|performances?|writing|script|television|tv"
    r"|scenes?|acting|direction|arcs?|twists?|cast|pacing|fans|critics|viewers|audiences?|it|this|that)\b",
    re.I,
)
_OPINION = re.compile(r"\b(?:i|we) (?:think|thought|loved?|hated?|felt|found|wish|wanted)\b", re.I)


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
