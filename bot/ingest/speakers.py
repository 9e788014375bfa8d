"""Who says each paragraph's quote: interview prefixes, reported speech, quotes over several paragraphs.

Formats parsed (the ones real interview pages use):
- transcript and Q&A prefixes: `MARA QUINTERO: …`, `Quintero: …`, `**Quintero:** …`, `Q: …`;
  a prefix counts when it is in capitals, or names a person the article names elsewhere; an
  interviewer's prefix (the outlet's name, `Q`, `Interviewer`) is attributed to the article's
  author where it has one, else to the outlet, never to the guest;
- reported speech: `"…," Quintero said`, `says Ramirez`, `according to the showrunner Ben Alder`,
  `she told the outlet` (a pronoun means the last person quoted);
- a quote that runs over several paragraphs (an opening mark and no closing one) keeps its
  speaker until it closes; a paragraph that is only a quote continues the previous speaker.
Short names are resolved to the first full name the article uses ("Cox" -> "Charlie Cox").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.models import ArticleMeta

_WORD = r"[A-Z][\w'’.\-]*"
_PREFIX = re.compile(
    rf"^\s*(?:\*\*)?(?P<name>{_WORD}(?:\s+{_WORD}){{0,3}})(?:\s*\([^)]{{1,60}}\))?(?:\*\*)?\s*[:：](?:\*\*)?\s+"
)
_FULL_NAME = re.compile(rf"\b{_WORD}(?:\s+(?:de|da|van|von|del|la|le|{_WORD})){{1,3}}")
_VERBS = (
    r"(?:said|says|told|tells|explained|added|noted|recalled|joked|admitted|insisted|continued|laughed|wrote"
    r"|explains|adds|notes|recalls|put it(?: \w+)?|summed (?:it )?up)"
)  # noqa: E501
_ATTRIBUTION = re.compile(
    rf"[”\"’],?\s+(?P<after>{_WORD}(?:\s+{_WORD}){{0,2}}|he|she|they)\s+{_VERBS}\b"
    rf"|[”\"’],?\s+{_VERBS}\s+(?P<before>{_WORD}(?:\s+{_WORD}){{0,2}})"
    rf"|\b(?P<subject>{_WORD}(?:\s+{_WORD}){{0,2}}|[Hh]e|[Ss]he|[Tt]hey)(?:,\s+[a-z][^,“\"]{{0,90}})?,?\s+{_VERBS}\b"
    rf"|\b[Aa]ccording to (?:the )?(?:\w+ )?(?P<according>{_WORD}(?:\s+{_WORD}){{0,2}})"
)
_OPEN, _CLOSE = '“"', '”"'
INTERVIEWER_PREFIXES = frozenset({"q", "question", "interviewer"})
ANSWER_PREFIXES = frozenset({"a", "answer"})
PRONOUNS = frozenset({"he", "she", "they"})
# Capitalised words that start sentences but never name anyone.
NOT_NAMES = frozenset(
    {
        "i",
        "we",
        "you",
        "it",
        "what",
        "that",
        "this",
        "there",
        "then",
        "but",
        "and",
        "so",
        "when",
        "if",
        "the",
        "a",
        "an",
        "everyone",
        "nobody",
        "people",
        "fans",
        "critics",
    }
)


@dataclass(frozen=True, slots=True)
class Attributed:
    speaker: str | None
    strip: int  # characters of speaker prefix to drop from the paragraph's text
    quoted: bool = False  # the paragraph is the speaker's quote (prefix or continuation): drop outer marks


def _title(word: str) -> str:
    return (
        "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-")) if word.isupper() else word
    )


def _clean_name(name: str) -> str:
    return " ".join(_title(w) for w in name.rstrip(".,").split())


class NameBook:
    """The full names an article uses, to resolve short and capitalised forms."""

    def __init__(self, texts: Sequence[str], meta: ArticleMeta) -> None:
        self.full: list[str] = []
        for text in (meta.title, *texts):
            for name in self.people_in(text):
                if name not in self.full:
                    self.full.append(name)
        self.meta = meta
        self.capitalised = {w.casefold() for t in texts for w in re.findall(rf"(?<=[a-z,] ){_WORD}", t)}

    def resolve(self, name: str) -> str | None:
        words = _clean_name(name).split()
        while words and words[0].casefold() in NOT_NAMES:
            words.pop(0)
        if not words or len(words[0]) < 2:
            return None
        if len(words) >= 2:
            longer = next(
                (f for f in self.full if f.endswith(" ".join(words)) and f != " ".join(words)), None
            )
            return longer or " ".join(words)
        word = words[0].casefold()
        for full in self.full:
            parts = [p.casefold() for p in full.split()]
            if word in (parts[0], parts[-1]) and len(parts) >= 2:
                return full
        return words[0] if words[0].casefold() in self.capitalised else None

    @staticmethod
    def people_in(text: str) -> list[str]:
        """Full names (two to four capitalised words) in `text`, in order."""
        found = []
        for match in _FULL_NAME.finditer(text):
            words = _clean_name(match.group()).split()
            while words and words[0].casefold() in NOT_NAMES:
                words.pop(0)
            if len(words) >= 2:
                found.append(" ".join(words))
        return found

    def interviewer(self) -> str | None:
        return self.meta.author or self.meta.outlet

    def is_outlet(self, name: str) -> bool:
        outlet = {w.casefold() for w in (self.meta.outlet or "").split()}
        return bool(outlet) and {w.casefold() for w in name.split()} <= outlet


def attribute(paragraphs: Sequence[str], meta: ArticleMeta) -> list[Attributed]:
    """One Attributed per paragraph, in order."""
    book = NameBook(paragraphs, meta)
    prefixes = [_PREFIX.match(p) for p in paragraphs]
    counts: dict[str, int] = {}
    for match in prefixes:
        if match:
            counts[match["name"].casefold()] = counts.get(match["name"].casefold(), 0) + 1
    result: list[Attributed] = []
    mentioned: str | None = None  # the last person the article named before this paragraph
    guest: str | None = None
    open_quote: str | None = None
    for text, match in zip(paragraphs, prefixes, strict=True):
        speaker, strip = None, 0
        if match:
            speaker, strip = _prefix_speaker(match, book, counts, guest)
            if (
                speaker
                and not book.is_outlet(match["name"])
                and match["name"].casefold() not in INTERVIEWER_PREFIXES
            ):
                guest = speaker
        body = text[strip:]
        continues = speaker is None and open_quote is not None
        if continues:
            speaker = open_quote
        if speaker is None:
            speaker = _reported(body, book, mentioned)
        if speaker is None and body.lstrip()[:1] in _OPEN and mentioned is not None:
            speaker = mentioned  # a paragraph that is only a quote: the person just introduced
        still_open = not _closes(body) if continues else _leaves_open(body)
        open_quote = speaker if speaker and still_open else None
        people = [] if continues or match else book.people_in(_outside_quotes(body))
        if speaker and speaker != book.interviewer():
            mentioned = speaker
        if people:
            mentioned = book.resolve(people[-1]) or people[-1]
        result.append(Attributed(speaker, strip, quoted=bool(strip) or continues))
    return result


def _outside_quotes(text: str) -> str:
    """The narration of a paragraph: quoted speech left out (names inside quotes are not speakers)."""
    out, depth = [], 0
    for ch in text:
        if ch in "“":
            depth += 1
        elif ch in "”":
            depth = max(0, depth - 1)
        elif not depth:
            out.append(ch)
    return "".join(out)


def _prefix_speaker(
    match: re.Match[str], book: NameBook, counts: dict[str, int], guest: str | None
) -> tuple[str | None, int]:
    raw = match["name"].strip("* ")
    key = raw.casefold()
    if key in INTERVIEWER_PREFIXES or book.is_outlet(raw):
        return book.interviewer() or _clean_name(raw), match.end()
    if key in ANSWER_PREFIXES:
        return guest, match.end()
    capitals = raw.replace(" ", "").replace("-", "").replace(".", "").isupper()
    resolved = book.resolve(raw)
    if capitals and len(raw) > 1:
        if resolved is None and counts.get(key, 0) >= 2 and book.interviewer():
            return resolved or _clean_name(raw), match.end()
        return resolved or _clean_name(raw), match.end()
    if resolved is not None and (
        len(raw.split()) >= 2 or resolved != raw or raw.casefold() in book.capitalised
    ):
        return resolved, match.end()
    return None, 0


def _reported(text: str, book: NameBook, mentioned: str | None) -> str | None:
    if not any(mark in text for mark in '“"”') and "according to" not in text:
        return None
    for match in _ATTRIBUTION.finditer(text):
        name = match["after"] or match["before"] or match["subject"] or match["according"]
        if name.casefold() in PRONOUNS:
            earlier = book.people_in(_outside_quotes(text[: match.start()]))
            person = book.resolve(earlier[-1]) if earlier else mentioned
            if person:
                return person
            continue
        resolved = book.resolve(name)
        if resolved:
            return resolved
    return None


def _closes(text: str) -> bool:
    """A continuation paragraph ends its speaker's quote: a closing mark that is not reopened."""
    stripped = text.rstrip()
    return stripped.endswith(("”", '"', "”)", '")')) or ("”" in text and text.rfind("”") > text.rfind("“"))


def _leaves_open(text: str) -> bool:
    """An opening quotation mark whose quote does not close by the end of the paragraph."""
    depth = 0
    for ch in text:
        if ch == "“":
            depth += 1
        elif ch == "”":
            depth = max(0, depth - 1)
    if depth:
        return True
    return text.count('"') % 2 == 1 and text.lstrip().startswith('"')
