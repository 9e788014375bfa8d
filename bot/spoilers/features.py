"""Surface cues that tell a finale reveal from talk about a finale, for any show.

The embedding says what a sentence is about; these cues say *when* in the season it happens
("in the finale", "in episode two", "by the end") and whether it is a warning, business news or a
question. They are generic English patterns: no show, character or actor names, so they carry
over to shows the bot has never seen.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

import numpy as np

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})

_NUM = (
    r"(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen"
    r"|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
    r"|\d{1,2}(?:st|nd|rd|th))"
)

# Idioms that contain ending words but say nothing about an ending.
_IDIOMS = re.compile(
    r"\bat the end of the day\b|\bin the end,? it'?s\b|\bend of the world\b|\bend credits? (?:song|music)\b"
    r"|\bend of an era\b|\bno end\b|\bdeep end\b|\bwits' end\b"
    r"|\bleaves? (?:the door|room|things|it|plenty of \w+|threads) open\b|\bleaves? room for\b"
)
# "rather than the ending", "before the finale": the sentence is placed *away* from the ending.
_NOT_ENDING = re.compile(
    r"\b(?:rather than|not|isn't|wasn't|instead of) (?:the|an|its) (?:ending|finale|end)\b"
    r"|\b(?:before|ahead of|leading up to|prior to|long before) the (?:finale|end|ending|last episode)\b"
)

FINALE = re.compile(
    r"\bfinale\b|\b(?:final|last|closing|concluding)"
    r" (?:episodes?|hour|chapter|instal?lment|two|three|act|stretch)\b"
    r"|\bseason closer\b|\bseries closer\b"
)
ENDING = re.compile(
    r"\bthe ending\b|\bends? (?:with|on|as|when|in|by)\b"
    r"|\bends (?:the|its|their|his|her) (?:season|series|run|story)"
    r"|\b(?:season|series|show|story|episode) (?:ends|closes|wraps|concludes|finishes)\b"
    r"|\b(?:by|at|in|toward|towards|near) the (?:very )?end\b|\bin the end\b"
    r"|\b(?:closing|final|last|dying),? (?:[a-z'-]+,? ){0,3}?"
    r"(?:minutes?|moments?|seconds|scenes?|shots?|images?|frames?|lines?|sequence|twist)\b"
    r"|\bfinal (?:showdown|confrontation|battle|reveal|fight|standoff|act)\b"
    r"|\bwhen we (?:last see|left off|leave)\b"
    r"|\bwhere (?:\w+ ){0,3}(?:left|leaves) (?:off|the|them|him|her|things)\b"
    r"|\bleft off\b|\bpost-credits?\b|\bcredits roll\b|\bcliffhanger\b|\bultimately\b"
    r"|\b(?:season|series)'s (?:end|conclusion|climax|last)\b|\bclimax\b|\bcomes to a close\b"
    r"|\bcloses (?:out )?(?:the|its) (?:season|series)\b|\b(?:goes|cuts?|fades?) to (?:black|white)\b"
    r"|\b(?:season|series|show|story)(?:'s)? end(?:s|ing)?\b|\bhow (?:does|did) (?:it|the \w+) end\b"
    r"|\bend(?:s|ed)? up\b|\bending explained\b"
)
EVENT = re.compile(
    r"\b(?:kill|kills|killed|killing|murder\w*|dies|died|dying|dead|death|shoots?|shot|stab\w*|execut\w*"
    r"|arrest\w*|jail\w*|prison|sentenced|wins?|won|victory|victorious|triumph\w*|defeat\w*|beats?|beaten"
    r"|survives?|survived|escapes?|escaped|sacrific\w*|betray\w*|reveal\w*|turns out|confess\w*|marr\w*"
    r"|wedding|propos\w*|leaves|left|returns?|returned|good-?bye|kiss\w*|breaks? up|reunit\w*|rescu\w*"
    r"|saves?|saved|destroy\w*|blows? up|explo\w*|crown\w*|takes? over|took over|becomes?|became|elected"
    r"|fired|resign\w*|quits?|captur\w*|kidnap\w*|wakes?|woke|awoke|coma|unconscious|vanish\w*"
    r"|disappear\w*|gone|alone|free|freed|cleared|acquitted|pardon\w*|poison\w*|hanged|drown\w*"
    r"|suicide|funeral|bod(?:y|ies)|burn\w*|fall|falls|fell|lose|loses|losing|lost|split"
    r"|finds?|finding|found (?:out|dead|alive)|discover\w*"
    r"|reali[sz]\w*|alive|home|learns?|learned|truth|unmask\w*|expos\w*|turns? back|gives? up|stays?"
    r"|strangl\w*|attack\w*|handcuff\w*|led away|joins?|joined|(?:is|are|was|were|gets?) sent"
    r"|takes? the blame|taking the blame"
    r"|names? the (?:killer|culprit|traitor|mole)|identity|culprit|killer)\b"
)
MIDSEASON = re.compile(
    rf"\bepisodes? {_NUM}\b|\b{_NUM} episodes?\b|\bep\.? ?\d|\bmid-?season\b|\bmiddle of\b"
    # "midway through the season", "halfway through," -- not "halfway through his interview"
    r"|\b(?:mid|half)-?way\b"
    r"(?! (?:through|into|across) (?:his|her|their|its|an?|the (?!season|series|run|show)))"
    r"|\bfirst half\b|\bopening (?:episodes?|hour|minutes|scenes?|moments)\b|\bpremiere\b"
    r"|\bpilot\b|\bearly (?:on|in|episodes)\b|\bearlier in the season\b"
    r"|\b(?:show|season|series|story) (?:opens|begins|starts)\b|\bopens (?:with|in|on)\b"
    r"|\b(?:starts|begins|opens) the (?:season|series|show)\b"
)
WARNING = re.compile(
    r"\bspoilers?\b|\bspoiler-free\b|\bconsider yoursel(?:f|ves) warned\b|\byou(?:'ve| have) been warned\b"
    r"|\bif you haven't (?:seen|watched|finished|caught up)\b|\bstop reading\b|\bturn back now\b"
    r"|\bbe warned\b|\beverything that happens\b"
    r"|\b(?:including|discusses|discussing|covers|covering) the (?:ending|finale)\b"
    r"|\b(?:ending|finale) (?:and all|included)\b|\bread no further\b"
)
BUSINESS = re.compile(
    r"\brenew\w*|\bpicked up\b|\bpick-?up\b|\breleas\w*|\bavailable (?:now|to stream|on)\b|\bstreaming\b"
    r"|\bcast\b|\bcasting\b|\bplayed by\b|\bplays\b|\bstarring\b|\bstars as\b|\bshowrunner\w*|\btrailer\b"
    r"|\bannounc\w*|\bratings\b|\bviewers\b|\bnetflix\b|\bhbo\b|\bhulu\b|\bamazon\b|\bdisney\b|\bapple tv\b"
    r"|\bpremieres?\b|\bpremiered\b|\bairs?\b|\baired\b|\bfilming\b|\bfilmed\b|\bset to\b|\bcancel\w*"
    r"|\breturns? as\b|\breturning as\b|\breprises?\b|\breprising\b"
    r"|\bwe (?:shot|filmed)\b|\bshot (?:in|on|at) (?:a|the|location)\b|\bon (?:set|location)\b|\bthe set\b"
)
FUTURE = re.compile(
    r"\bwill\b|\bwon't\b|\bwould\b|\bmight\b|\bcould\b|\bhopes?\b|\bgoing to\b|\bnext season\b|\bnext year\b"
    r"|\bwe'll\b|\bwe'll see\b|\bupcoming\b"
)
# What the show is about: setup, never an ending ("X follows a chemistry teacher who...").
PREMISE = re.compile(
    r"\b(?:show|series|season|drama|comedy|thriller)? ?(?:follows|centres on|centers on|revolves around)\b"
    r"|\bis (?:about(?! to)|set in|set on|based on)\b|\btells the story of\b|\bthe story of\b|\bstars as\b"
)
# Counterfactuals and wishes describe what did *not* happen.
HYPOTHETICAL = re.compile(
    r"\b(?:it|that|this) (?:would|could|might) have been\b|\bwould have (?:liked|loved|preferred)\b"
    r"|\bwish(?:ed)?\b|\bif only\b|\bif \w+ had\b|\b(?:could|should) have (?:ended|gone|let|given|been)\b"
    r"|\bhad hoped\b"
)
EVALUATIVE = re.compile(
    r"\bsatisf\w*|\bdeliver\w*|\bquiet\w*|\bdisappoint\w*|\bdivisive\b|\bdivided\b|\bworth\b|\bbest\b|\bworst\b"
    r"|\bgreat\b|\bbrilliant\b|\bstrong\w*|\bweak\w*|\bdoor open\b|\bopen-ended\b|\bteas\w*|\bmasterpiece\b"
    r"|\bfans\b|\bcritics?\b|\bpraise\w*|\bfavou?rite\b|\bslow\w*|\bpaced?\b|\bpacing\b"
)

CUE_NAMES: tuple[str, ...] = (
    "finale",
    "ending",
    "event",
    "midseason",
    "warning",
    "business",
    "premise",
    "future",
    "evaluative",
    "question",
    "hypothetical",
    "short",
    "finale_or_ending_and_event",
    "finale_or_ending_without_event",
)


def normalise(text: str) -> str:
    """Lower-cased, NFKC, straight quotes and dashes, idioms removed: the form cues match on."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    return _IDIOMS.sub(" ", text)


@lru_cache(maxsize=65_536)
def cue_flags(sentence: str) -> Mapping[str, bool]:
    """Every cue of one sentence by name (see CUE_NAMES); cached, read-only."""
    text = normalise(sentence)
    away = bool(_NOT_ENDING.search(text))
    if away:
        text = _NOT_ENDING.sub(" ", text)
    finale = bool(FINALE.search(text))
    ending = bool(ENDING.search(text))
    # Events are read outside the timing phrase: "left" in "where we left off" is no event.
    event = bool(EVENT.search(ENDING.sub(" ", FINALE.sub(" ", text))))
    timed = finale or ending
    return MappingProxyType(
        {
            "finale": finale,
            "ending": ending,
            "event": event,
            "midseason": away or bool(MIDSEASON.search(text)),
            "warning": bool(WARNING.search(text)),
            "business": bool(BUSINESS.search(text)),
            "premise": bool(PREMISE.search(text)),
            "future": bool(FUTURE.search(text)),
            "evaluative": bool(EVALUATIVE.search(text)),
            "question": text.rstrip().endswith("?"),  # a quoted question (…?") is speech, not a question
            "hypothetical": bool(HYPOTHETICAL.search(text)),
            "short": len(text.split()) <= 6,
            "finale_or_ending_and_event": timed and event,
            "finale_or_ending_without_event": timed and not event,
        }
    )


def cue_vector(sentence: str) -> np.ndarray:
    """The cues of `sentence` as a float vector in CUE_NAMES order (1.0 = present)."""
    flags = cue_flags(sentence)
    return np.array([1.0 if flags[name] else 0.0 for name in CUE_NAMES], dtype=np.float32)


def cue_matrix(sentences: list[str]) -> np.ndarray:
    """Stacked `cue_vector`s, shape (len(sentences), len(CUE_NAMES))."""
    if not sentences:
        return np.zeros((0, len(CUE_NAMES)), dtype=np.float32)
    return np.stack([cue_vector(s) for s in sentences])


_LEAD_IN = frozenset(
    "in the at by on during of a and then but so its this that whole entire first second third fourth fifth "
    "sixth seventh eighth season series show season's series' show's one two three finally ultimately".split()
)


def opens_with_ending(sentence: str) -> bool:
    """The sentence *starts* by placing itself at the ending ("In the finale, ...", "The last
    episode ...", "By the end, ..."): how recaps open the paragraph that tells the finale."""
    text = normalise(sentence)
    for pattern in (FINALE, ENDING):
        match = pattern.search(text)
        if match and set(re.findall(r"[a-z']+", text[: match.start()])) <= _LEAD_IN:
            return True
    return False


def is_warning(sentence: str) -> bool:
    """A spoiler warning or its scope ("Spoilers ahead for season 1!"), which never reveals anything.

    A long sentence that merely contains "spoiler" next to an event is not treated as a warning.
    """
    text = normalise(sentence)
    if not WARNING.search(text):
        return False
    return len(text.split()) <= 16 or not EVENT.search(WARNING.sub(" ", text))
