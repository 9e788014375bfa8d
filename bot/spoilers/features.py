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
    r"|\b(?:location|photo|night|press|fashion|re)[- ]?shoots?\b"  # a film shoot is no shooting
    # calendar ends: "by the end of the year" dates a bet, not the season's ending
    r"|\b(?:by |at |until |before |towards? )?the (?:very )?end of (?:the |this |that |next |last )?"
    r"(?:year|month|week|decade|century|summer|winter|spring|autumn|fall|term|semester|school year)\b"
)
# "rather than the ending", "before the finale": the sentence is placed *away* from the ending.
_NOT_ENDING = re.compile(
    r"\b(?:rather than|not|isn't|wasn't|instead of)(?: at| in| until)? (?:the|an|its) (?:very )?(?:ending"
    r"|finale|end)\b"
    r"|\b(?:before|ahead of|leading up to|prior to|long before|until) the (?:grand )?"
    r"(?:finale|final|end|ending|last episode)\b"
    # reaching the final is the semi-final's outcome: "Three bakers made it to the final."
    r"|\b(?:made it|makes it|make it|reach(?:ed|es)?|advanc\w+|went through|go through|goes through"
    r"|qualif\w+)"
    r" (?:to |into |for )?the (?:grand )?finale?\b"
)
# A mid-season marker that only points back ("as he promised in the very first episode",
# "ever since the pilot") does not place the sentence mid-season.
_BACK_REFERENCE = re.compile(
    r"\b(?:as (?:he|she|they|it|we|you|i)\b|ever since|since|back in|way back|promised|foreshadow\w*|"
    r"hinted|planted|seeded|set up|knew|known|always)\b[^,.;:]*$"
)
# "The finale opens with ...": the opening of the *finale*, not of the season.
_FINALE_OPENS = re.compile(
    r"\b(?:finale|final episode|last episode|final hour|last hour)(?:'s)? (?:\w+ )?(?:opens|begins|starts"
    r"|kicks off)\b"
)
# "The second episode ends with ...": the ending of one episode mid-season, not the season's.

FINALE = re.compile(
    r"\bfinale\b|\b(?:final|last|closing|concluding)"
    r" (?:episodes?|hour|chapter|instal?lment|two|three|four|five|six|act|stretch)\b"
    r"|\bseason closer\b|\bseries closer\b|\bseason[- ]ender\b"
    # competitions: "In the final, ...", "Nadiya wins the final" (not "the final season", not "semi-final")
    r"|(?<![-\w])(?:the|this|that|its|tonight's|last night's|grand) final"
    r"(?=\s*(?:$|[,.;:!?)\"”']|(?:of|in|on|at|was|is|were|are|saw|sees|came|comes|itself|tonight|and|but|with"
    r"|where|when|after|by|to|against|between|round)\b))"
    r"|\bfinal (?:challenges?|tasks?|rounds?|runway|showstoppers?|bakes?|cook-?off|performances?|lip[- ]?sync"
    r"|vote|tribal(?: council)?|immunity|rose ceremony|ceremony|dance|game|match|race|leg|test|judging"
    r"|verdict)\b"
)
ENDING = re.compile(
    r"\bthe ending\b|\b(?:ends?|ended) (?:with|on|as|when|in|by|at)\b"
    r"|\b(?:ends|ended|closes|closed|concludes|concluded) (?:the|its|their|his|her)(?: \w+)? (?:season|series"
    r"|run|story)"
    r"|\b(?:ends|ended|closes|closed) (?:season|series) (?:one|two|three|four|five|six|seven|eight|nine|ten"
    r"|\d{1,2})\b"
    r"|\b(?:season|series|show|story|episode|run|saga)(?: (?:one|two|three|four|five|six|seven|eight|nine|ten"
    r"|\d{1,2}))?"
    r" (?:ends|ended|closes|closed|wraps|concludes|concluded|finishes|finished)\b"
    r"|\b(?:comes?|came) to an end\b"
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
    r"|\bhow (?:it|the (?:season|series|show|story)) (?:ends|ended)\b"
    r"|\bend(?:s|ed)? up\b|\bending explained\b"
)
# Timing words that also mean "eventually" ("his soul ends up bound to a suit of armour"): they
# lean towards the ending but do not outweigh a mid-season heading or marker.
WEAK_ENDING = re.compile(r"\bend(?:s|ed|ing)? up\b|\bultimately\b")
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
    r"|names? the (?:killer|culprit|traitor|mole)|identity|culprit|killer"
    r"|fights?|fought|brawl\w*|battl\w*|winners?|runners?-up|came (?:first|second|third|last)|eaten|suspended"
    r"|collaps\w*"
    r"|finish(?:ed|es)? (?:first|second|third|last|as))\b"
)
MIDSEASON = re.compile(
    rf"\bepisodes? {_NUM}\b|\b{_NUM} episodes?\b|\bep\.? ?\d|\bmid-?season\b|\bmiddle of\b"
    # "midway through the season", "halfway through," -- not "halfway through his interview"
    r"|\b(?:mid|half)-?way\b"
    r"(?! (?:through|into|across) (?:his|her|their|its|an?|the (?!season|series|run|show)))"
    r"|\bfirst half\b|\bopening (?:episodes?|hour|minutes|scenes?|moments)\b|\bpremiere\b"
    r"|\bpilot\b|\bearly (?:on|in|episodes)\b|\bearlier in the season\b"
    r"|\b(?:show|season|series|story) (?:opens|begins|starts|opened|began|started)\b|\bopens (?:with|in|on)\b"
    r"|\b(?:starts|begins|opens) the (?:season|series|show)\b"
    # competitions and placement relative to the end
    rf"|\bweek {_NUM}\b|\b{_NUM} week\b|\bsemi-?finals?\b|\bsemifinal\w*|\bquarter-?finals?\b"
    r"|\b(?:penultimate|second-to-last|next-to-last) (?:episode|hour|chapter|week|round)\b"
    r"|\bprevious episode\b|\b(?:last|previous|earlier) (?:week|episode)'s\b|\ba few episodes (?:earlier"
    r"|before|later|back|in)\b"
    r"|\b(?:most|much|the bulk|the rest|the remainder|the first half|the second half) of the (?:season|series"
    r"|run)\b"
    r"|\bmidpoint\b|\bearlier (?:this|that) season\b"
    r"|\bearly (?:favou?rite|front-?runner|leader|weeks|rounds|challenges|stages|going)\b"
)
# "The second episode ends with ...": the ending of one episode mid-season, not the season's.
_EPISODE_ENDING = re.compile(
    rf"\b(?:episode {_NUM}|{_NUM} episode|ep\.? ?\d{{1,2}}|premiere|pilot|opening (?:episode|hour)"
    rf"|{_NUM} hour)(?:'s)?"
    r" (?:\w+ ){0,2}?(?:ends|ended|closes|closed|concludes|concluded|wraps|finishes|finished|cliffhanger"
    r"|ending|climax)\b"
)
WARNING = re.compile(
    r"\bspoilers?\b|\bspoiler-free\b|\bconsider yoursel(?:f|ves) warned\b|\byou(?:'ve| have) been warned\b"
    r"|\bif you haven't (?:seen|watched|finished|caught up)\b|\bstop reading\b|\bturn back now\b"
    r"|\bbe warned\b|\beverything that happens\b"
    r"|\b(?:including|discusses|discussing|covers|covering) the (?:ending|finale)\b"
    r"|\b(?:ending|finale) (?:and all|included)\b|\bread no further\b"
    # the article describing itself: "this Q&A discusses the ... finale in detail",
    # "this recap names the winner"
    r"|\b(?:this|our|the following|the (?:final |last |next )?section)"
    r" (?:recap|review|article|piece|post|guide|interview|q&a|q and a|conversation|explainer|faq|podcast"
    r"|video"
    r"|section|page|breakdown|rundown)?\b[^.!?]{0,40}?\b(?:discuss\w*|covers?|covering|reveals?|revealing"
    r"|names?|naming"
    r"|gives? away|giving away|spoils?|contains?|goes into)\b[^.!?;:]{0,60}"
    r"|\blook away now\b|\b(?:is|are|gets?|will be) spoiled\b|\bright up to the (?:very )?(?:end|last|finale"
    r"|final)\b"
    r"|\bhere(?: is|'s| are) (?:what|everything|how|all|the answers?|our|a (?:full )?(?:recap|rundown"
    r"|breakdown))\b"
)
# Words that are business news only in context: "released" (on Netflix, not from prison or "a
# shower of petals"), "announced" (by a network, not by the hospital's management), "cancelled" (a
# show, not a wedding), "picked up" (for a season, not by the police), "cast" (not "cast out").
_OUTLET = (
    r"(?:netflix|hbo|hulu|amazon|prime video|disney\+?|apple tv\+?|peacock|paramount\+?|bbc|itv|channel 4|fx"
    r"|amc|nbc|cbs|abc|fox|the network|the channel|the streamer|the studio|youtube|crunchyroll|showtime"
    r"|starz)"
)
BUSINESS = re.compile(
    r"\brenew\w*|\bpick-?up\b|\bavailable (?:now|to stream|on)\b|\bstreaming\b"
    r"|\bpicked up (?:for|by " + _OUTLET + r")\b|\b(?:season|series|show)\b[^.]{0,30}\b(?:picked up"
    r"|got picked)\b"
    r"|\brelease date\b|\b(?:is|are|was|were|will be|be|being|gets?|got|been) released\b(?! from)"
    r"|\breleas(?:es|ed|ing) (?:on|in|to|this|next|last|early|later|worldwide"
    r"|everywhere)\b(?! (?:the )?(?:wild|sea))"
    r"|\breleases? (?:the|its|their|a|all) (?:\w+ )?(?:season|series|episodes?|trailer|teaser|first|second"
    r"|third"
    r"|final|new)\b"
    r"|\bcast\b(?! (?:out|off|aside|away|adrift|a spell|into|him|her|them|doubt|a shadow|light|his|her))"
    r"|\bcasting\b|\bplayed by\b|\bplays\b(?! (?:out|along|with|dead|it|a game|chess|the game"
    r"|games))|\bstarring\b|\bstars as\b|\bshowrunner\w*|\btrailer\b"
    r"|\b(?:" + _OUTLET[3:-1] + r"|showrunners?|creators?|producers?|writers|it|was|were|has been|have been"
    r"|officially|just|recently) (?:\w+ )?announc\w*"
    r"|\bannounce(?:d|ment)\b[^.]{0,20}\b(?:season|series|renewal|cast|premiere|release|date|spin-?off|sequel"
    r"|trailer)\b"
    r"|\bratings\b|\bviewers\b|\bnetflix\b|\bhbo\b|\bhulu\b|\bamazon\b|\bdisney\b|\bapple tv\b"
    r"|\bpremieres?\b|\bpremiered\b|\bairs\b|\baired\b|\bair (?:on|in|at|next|this|every|from|tonight)\b"
    r"|\bfilming\b|\bfilmed\b|\bset to (?:return|premiere|air|debut|arrive|begin|start|film|launch|stream)\b"
    r"|\b(?:show|series|season|it) (?:was|has been|got|is) cancel\w*|\bcancel\w* (?:after|by|the show"
    r"|the series)\b"
    r"|\bcancell?ation\b"
    r"|\breturns? as\b|\breturning as\b|\breprises?\b|\breprising\b"
    r"|\bwe (?:shot|filmed)\b|\bshot (?:in|on|at) (?:a|the|location)\b|\bon (?:set|location)\b|\bthe set\b"
    r"|\bwrapped (?:its|their|the|his|her) (?:\w+ )?(?:season|series|run)\b|\bfan theor\w*|\bscripts?\b"
    r"|\baudition\w*"
    r"|\b(?:start|starts|started|begin|begins|began) (?:shooting|filming)\b|\bconfirmed for\b|\bordered\b"
    r"|\b(?:is|are) expected (?:next|later|in|to (?:return|arrive|air|premiere))\b"
    r"|\bcredited\b|\bproducers?\b|\bexecutive produc\w*|\b(?:directed|written) by\b|\badapt(?:ed|ing"
    r"|ations?)\b"
)
FUTURE = re.compile(
    r"\bwill\b|\bwon't\b|\bwould\b|\bmight\b|\bcould\b|\bhopes?\b|\bgoing to\b|\bnext season\b|\bnext year\b"
    r"|\bwe'll\b|\bwe'll see\b|\bupcoming\b|\b(?:i|we|you|he|she|they)'d (?:love|like|hope)\b"
)
# What the show is about: setup, never an ending ("X follows a chemistry teacher who...").
PREMISE = re.compile(
    r"\b(?:show|series|season|drama|comedy|thriller)? ?(?:follows|centres on|centers on|revolves around)\b"
    r"|\bis (?:about(?! to)|set in|set on|based on)\b|\btells the story of\b|\bthe story of\b|\bstars as\b"
    # competitions: "Outpost drops sixteen strangers on an island", "Fourteen queens competed for the crown"
    r"|\b(?:drops|dropped|puts|put|sends|sent|strands|stranded|pits|pitted|brings|brought)"
    r" (?:\w+ ){0,2}(?:strangers|contestants|players|bakers|chefs|cooks|designers|couples|singles|queens"
    r"|teams|hopefuls|amateurs|competitors|castaways|sewers|potters)\b"
    r"|\b(?:strangers|contestants|players|bakers|chefs|cooks|designers|couples|singles|queens|teams|hopefuls"
    r"|amateurs|competitors|castaways|sewers|potters) (?:\w+ )?(?:compete|competed|competing|battle|battled"
    r"|vie|vied)"
    r" (?:for|to|in|over)\b"
)
# Counterfactuals and wishes describe what did *not* happen.
HYPOTHETICAL = re.compile(
    r"\b(?:it|that|this) (?:would|could|might) have been\b|\bwould have (?:liked|loved|preferred)\b"
    r"|\bwish(?:ed)?\b|\bif only\b|\bif \w+ had\b|\b(?:could|should) have (?:ended|gone|let|given|been)\b"
    r"|\bhad hoped\b|\b(?:season|show|series|finale|episode|story|it) (?:could|should|might)(?: not"
    r"|n't)? have\b"
)
EVALUATIVE = re.compile(
    r"\bsatisf\w*|\bdeliver\w*|\bquiet\w*|\bdisappoint\w*|\bdivisive\b|\bdivided\b|\bworth\b|\bbest\b"
    r"|\bworst\b"
    r"|\bgreat\b|\bbrilliant\b|\bstrong\w*|\bweak\w*|\bdoor open\b|\bopen-ended\b|\bteas\w*|\bmasterpiece\b"
    r"|\bfans\b|\bcritics?\b|\bpraise\w*|\bfavou?rite\b|\bslow\w*|\bpaced?\b|\bpacing\b|\bearns?\b|\bearned\b"
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
    episode_end = bool(_EPISODE_ENDING.search(text))
    if episode_end:  # "the second episode ends with": that episode's ending, placed mid-season
        text = _EPISODE_ENDING.sub(" ", text)
    finale = bool(FINALE.search(text))
    ending = bool(ENDING.search(text))
    # Events are read outside the timing phrase: "left" in "where we left off" is no event.
    event = bool(EVENT.search(ENDING.sub(" ", FINALE.sub(" ", text))))
    timed = finale or ending
    return MappingProxyType(
        {
            "away": away,  # placed before the ending ("before the finale"): not a classifier column
            # a marker of its own other than "before the finale": not a classifier column
            "mid_marker": episode_end or has_midseason_marker(text),
            # placed at the ending by more than "ends up" / "ultimately": not a classifier column
            "placed_at_end": finale or bool(ENDING.search(WEAK_ENDING.sub(" ", text))),
            "finale": finale,
            "ending": ending,
            "event": event,
            "midseason": away or episode_end or has_midseason_marker(text),
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


def has_midseason_marker(text: str) -> bool:
    """A mid-season marker in normalised `text` that places the sentence: not one that only
    points back ("as he promised in the first episode"), nor the finale's own opening."""
    text = _FINALE_OPENS.sub(" ", text)
    return any(
        not _BACK_REFERENCE.search(text[max(0, m.start() - 60) : m.start()]) for m in MIDSEASON.finditer(text)
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


_IF_YOU = re.compile(r"\bif you\b[^.,;:!?]*")


def is_warning(sentence: str) -> bool:
    """A spoiler warning or its scope ("Spoilers ahead for season 1!"), which never reveals anything.

    A long sentence that merely contains "spoiler" next to an event is not treated as a warning.
    """
    text = normalise(sentence)
    if not WARNING.search(text):
        return False
    rest = _IF_YOU.sub(" ", WARNING.sub(" ", text))  # "if you have the final saved" is the reader's, no event
    return len(text.split()) <= 16 or not EVENT.search(rest)
