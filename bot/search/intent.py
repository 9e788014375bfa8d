"""What kind of answer a question wants, and which passages look like that kind of answer.

Classic question answering: "when ..." wants a date, "who plays X" wants casting, "how does it
end" wants the ending, "who is X" wants a definition of X. A passage of the wanted kind gets a
small bonus, enough to break ties the embedding cannot, never enough to beat a clearly better match.
Passages that talk about the article itself ("here is everything that happens…", spoiler warnings)
or ask rhetorical questions make poor quotes and get a penalty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.models import Passage
from bot.spoilers.features import is_warning
from bot.text import fold


@dataclass(frozen=True, slots=True)
class Cue:
    """A question pattern and the passage pattern that answers it."""

    question: re.Pattern[str]
    passage: re.Pattern[str]


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


CUES: tuple[Cue, ...] = (
    Cue(
        _re(
            r"^\s*(when|what year|what date|how long ago)\b"
            r"|\b(release|premiere|air|launch) date\b|\b(come|comes|coming) out\b"
        ),
        _re(
            r"\b(1[89]\d\d|20\d\d)\b|\b(january|february|march|april|may|june|july|august|september|october"
            r"|november|december)\b|\b(ago|last year|next year|this year|release date|no date)\b"
        ),
    ),
    Cue(
        _re(
            r"\bwho\s+(plays|played|portrays|portrayed|stars as|starred as|is cast as)\b"
            r"|\b(actor|actress|cast)\b"
        ),
        _re(r"\b(played by|plays|portrayed by|portrays|stars as|starring|cast as|\(\w+ \w+\))"),
    ),
    Cue(
        _re(r"\b(how|what)\b.*\b(end|ends|ended|ending|finale|conclude|concludes|wrap up)\b"),
        _re(
            r"\b(finale|the end\b|ends\b|ending|closing (minutes|scene|moments)|last (shot|scene|episode)"
            r"|final (episode|scene|moments?))"
        ),
    ),
    Cue(
        _re(r"\b(die|dies|died|dead|death|survive|survives|survived|kill|kills|killed|killer|murder\w*)\b"),
        _re(
            r"\b(dies|died|dead|death|kill|kills|killed|killer|killings?|murder\w*|survives?|survived"
            r"|run through|shot|shoots|stabs?|stabbed|strangl\w*|drown\w*|poison\w*|body)\b"
        ),
    ),
    # "who killed X", "who is the killer", "who was behind it": the passage that reveals someone.
    Cue(
        _re(
            r"\bwho\s+(killed|kills|murdered|shot|stabbed|poisoned|took|kidnapped|betrayed|sent|was sending"
            r"|is sending|is behind|was behind|did it|is responsible|was responsible)\b"
            r"|\bwho\s+(is|was|'s)\s+(the\s+)?(killer|murderer|culprit|mole|traitor|villain)\b"
            r"|\bwho\s+(is|was)\s+.{1,40}\breally\b|\bidentity\b"
        ),
        _re(
            r"\b(turns? out|turned out|revealed|reveals?|revealing|is really|was really|is actually"
            r"|was actually|real (killer|culprit|villain)|the killer|names the|behind (the|a|it)|identity"
            r"|unmask\w*|confess\w*)\b"
        ),
    ),
    # "will there be a season 3", "is it renewed", "is X coming back": renewals and production news.
    Cue(
        _re(
            r"\b(renew\w*|cancel\w*|another (season|series)|next (season|series)|new (season|series)"
            r"|(will|is) there (be |going to be )?(a|another)\b|coming back|come back"
            r"|getting a (season|series)"
            r"|(season|series) (\d+|two|three|four|five|six) (happening|confirmed|coming))"
        ),
        _re(
            r"\b(renew\w*|ordered|commissioned|confirmed|picked up|cancel\w*|no plans|in production"
            r"|(begins|starts|started|began) filming|premieres?|will (air|return|premiere)|release date)\b"
        ),
    ),
)
ENDING = 2  # index of the "how does it end" cue
_META = _re(
    r"\b(spoilers? (ahead|follow|below|warning)|consider yourself warned|here is everything|here's everything"
    r"|read on|in this (article|recap|review)|catching up)\b"
)
WHO_IS = _re(r"^\s*(who|what)\s+(is|was|'s)\s+(?P<name>[\w' .-]{2,40}?)\s*\??\s*$")
CUE_BONUS = 0.1
META_PENALTY = 0.5
DEFINITION_BONUS = 0.08


class IntentScorer:
    """Precomputed answer-kind features of one index's passages.

    `cue_hits` (passages x cues, bool) and `meta` (float32) can come precomputed from the index
    (see bot.search.features); passage texts are read only for the few definition candidates.
    """

    def __init__(
        self,
        passages: Sequence[Passage],
        *,
        cue_hits: np.ndarray | None = None,
        meta: np.ndarray | None = None,
    ) -> None:
        self._passages = passages
        if cue_hits is None or meta is None:
            cue_hits, meta = intent_features(passages)
        self._cue_hits = [np.asarray(cue_hits[:, n]) for n in range(len(CUES))]
        self._meta = np.asarray(meta, dtype=np.float32)

    def static_bonus(self, question: str) -> np.ndarray:
        """Bonuses for every passage that do not depend on candidates: cues and the meta penalty."""
        bonus = -META_PENALTY * self._meta
        for cue, hits in zip(CUES, self._cue_hits, strict=True):
            if cue.question.search(question):
                bonus = bonus + CUE_BONUS * hits
        return bonus

    def definition_bonus(self, question: str, candidates: np.ndarray) -> np.ndarray:
        """DEFINITION_BONUS for each candidate that defines the name a "who is X" question asks about."""
        bonus = np.zeros(len(candidates), dtype=np.float32)
        match = WHO_IS.match(question)
        if match:
            name = re.escape(fold(match["name"]).strip())
            define = re.compile(
                rf"\b(known as|called|nicknamed|aka|alias) (the )?{name}\b|\b{name}\b\s*(,|\(| is | was )"
            )
            for position, index in enumerate(candidates):
                if define.search(fold(self._passages[int(index)].text)):
                    bonus[position] = DEFINITION_BONUS
        return bonus

    def adjust(self, question: str, candidates: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """A function adding this question's bonuses to a score vector (only `candidates` get checked
        for definitions, which need the question's own name)."""
        bonus = self.static_bonus(question)
        candidates = np.asarray(candidates, dtype=np.int64)
        if candidates.size:
            bonus[candidates] += self.definition_bonus(question, candidates)
        return lambda scores: scores + bonus


def intent_features(passages: Sequence[Passage]) -> tuple[np.ndarray, np.ndarray]:
    """(cue hits: passages x cues bool, meta share: float32) for every passage."""
    cue_hits = np.zeros((len(passages), len(CUES)), dtype=bool)
    meta = np.zeros(len(passages), dtype=np.float32)
    for row, passage in enumerate(passages):
        cue_hits[row], meta[row] = _passage_intent(passage)
    return cue_hits, meta


@lru_cache(maxsize=20_000)  # a reindex sees every unchanged passage again (10k-passage corpora)
def _passage_intent(passage: Passage) -> tuple[tuple[bool, ...], float]:
    text = fold(passage.text)
    hits = [bool(c.passage.search(text)) for c in CUES]
    if passage.spoiler is not None:
        # The spoiler engine has read the passage: it tells how a season ends far better than
        # the word "ending" does ("a mid-season shock rather than the ending").
        hits[ENDING] = passage.spoiler.any
    return tuple(hits), _meta_share(passage)


def is_meta_sentence(sentence: str) -> bool:
    """A sentence about the article rather than the show: a spoiler warning ("Spoilers ahead for
    season 1!"), "here is everything that happens", or a rhetorical question. It never answers a fan."""
    return bool(_META.search(sentence)) or sentence.rstrip().endswith("?") or is_warning(sentence)


def _meta_share(passage: Passage) -> float:
    """Share of the passage's sentences that talk about the article rather than the show."""
    if not passage.sentences:
        return 0.0
    return sum(is_meta_sentence(s) for s in passage.sentences) / len(passage.sentences)
