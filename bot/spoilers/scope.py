"""Which show and season an article (or one of its sentences) is about.

Sources, most specific first: a spoiler warning's scope ("Spoilers ahead for Season 1 of Jessica
Jones!"), the title ("Luke Cage season one recap"), the front matter `shows`, and show names from
the admin's facts. Show names are read from Title-Case runs next to the word "season", so shows the
bot has never heard of still get a name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.models import Article
from bot.shows import Show, ShowFacts, show_key
from bot.spoilers.features import WARNING, is_warning

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
    "final": 0, "last": 0,
}  # fmt: skip
_NUMBER = r"(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_ORDINAL = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
    r"|\d{1,2}(?:st|nd|rd|th))"
)
_SEASON = re.compile(
    rf"\b(?:season|series)[\s-]+(?P<n1>{_NUMBER})\b|\b(?P<n2>{_ORDINAL})[\s-]+(?:season|series)\b|\bs(?P<n3>\d{{1,2}})(?:e\d{{1,2}})?\b",
    re.IGNORECASE,
)
# A Title-Case name: capitalised words, allowing short joiners ("Game of Thrones", "The Handmaid's Tale").
_CAP = r"(?:[A-Z0-9][\w'’.&-]*)"
_NAME = rf"{_CAP}(?:\s+(?:(?:of|the|and|in|on|a|an|&|de|la)\s+)*{_CAP})*"
_SEASON_WORD = (
    rf"(?:[Ss]eason|[Ss]eries)[\s-]+(?:{_NUMBER})|(?:{_ORDINAL}|final|last)[\s-]+[Ss](?:eason|eries)"
    r"|S\d{1,2}(?:E\d{1,2})?"
)
_NAME_BEFORE = re.compile(rf"(?P<name>{_NAME})(?:['’]s)?\s+(?:in\s+)?(?:{_SEASON_WORD})\b")
_NAME_AFTER = re.compile(rf"(?:{_SEASON_WORD})\s+of\s+(?P<name>{_NAME})")
# "Mare of Easttown recap", "all seven episodes of Mare of Easttown": shows named without a season.
_NAME_GENRE = re.compile(
    rf"(?P<name>{_NAME})(?:['’]s)?\s+(?:recap|review|finale|ending|explained|episode guide)\b"
)
_NAME_EPISODES = re.compile(rf"\b(?:episodes?|seasons?|finale|ending)\s+of\s+(?P<name>{_NAME})")
_NAME_FOR = re.compile(
    rf"\b(?:[Ss]poilers?|[Ff]inale)\s+(?:\w+\s+){{0,3}}(?:for|of|from|about)\s+(?:the\s+)?(?P<name>{_NAME})"
)
_LEADING = {"a", "an", "in", "on", "for", "of", "and", "but", "so", "as", "spoilers", "spoiler", "warning",
            "major", "heavy", "full", "minor", "mild", "recap", "review", "marvel's", "marvel’s", "netflix's",
            "hbo's", "whole", "entire", "all"}  # fmt: skip
_NOT_SHOWS = {"season", "series", "episode", "finale", "spoilers", "spoiler", "netflix", "hbo", "hulu",
              "warning", "it", "this", "that", "our", "my", "your", "full", "the", "a", "an", "its",
              "every", "each", "all", "first", "last", "final", "weekly", "recap", "review"}  # fmt: skip


@dataclass(frozen=True)
class Scope:
    """What an article (or sentence) spoils, when it can be told; None fields are unknown."""

    show: str | None = None
    season: int | None = None


def season_numbers(text: str) -> list[int]:
    """Season numbers named in `text` ("season two", "S2", "second season"), in order."""
    found: list[int] = []
    for match in _SEASON.finditer(unicodedata.normalize("NFKC", text)):
        word = (match["n1"] or match["n2"] or match["n3"] or "").lower()
        digits = re.sub(r"(?<=\d)(?:st|nd|rd|th)$", "", word)
        number = int(digits) if digits.isdigit() else _WORD_NUMBERS.get(word, 0)
        if number:
            found.append(number)
    return found


def show_names(text: str, facts: ShowFacts | None = None) -> list[str]:
    """Shows named in `text`: known names/aliases from the facts first, then Title-Case names
    next to "season N" or after "spoilers for"."""
    text = unicodedata.normalize("NFKC", text)
    names: list[str] = []
    if facts is not None and facts.shows:
        key_text = f"-{show_key(text)}-"
        for show in facts.shows:
            keys = [k for k in (show_key(n) for n in (show.name, *show.aliases)) if len(k) > 2]
            if any(f"-{k}-" in key_text for k in keys):
                names.append(show.name)
    for pattern in (_NAME_AFTER, _NAME_BEFORE, _NAME_FOR, _NAME_GENRE, _NAME_EPISODES):
        for match in pattern.finditer(text):
            name = _trim(match["name"])
            if name and name not in names:
                names.append(name)
    return names


def warning_scope(sentence: str, facts: ShowFacts | None = None) -> Scope | None:
    """The scope a spoiler warning announces, or None when `sentence` is not a warning."""
    if not is_warning(sentence):
        return None
    names = show_names(sentence, facts) if WARNING.search(sentence.lower()) else []
    seasons = season_numbers(sentence)
    return Scope(names[0] if names else None, seasons[0] if len(set(seasons)) == 1 else None)


def title_scope(title: str, facts: ShowFacts | None = None) -> Scope:
    """Show and season named in a title ("Luke Cage season one recap" -> Luke Cage, 1)."""
    names = show_names(title, facts)
    seasons = season_numbers(title)
    return Scope(names[0] if names else None, seasons[0] if seasons else None)


def article_scope(article: Article, sentences: Sequence[str], facts: ShowFacts | None = None) -> Scope:
    """The article's show and season: warning scope, then title, then front matter, then facts."""
    warning = next((s for s in (warning_scope(x, facts) for x in sentences[:12]) if s), None)
    title = title_scope(article.meta.title, facts)
    declared = [s for s in article.meta.shows if s.strip()]
    show = (warning.show if warning else None) or _pick(title.show, declared)
    show = show or (declared[0] if declared else None)
    season = (warning.season if warning else None) or title.season
    if show is None and facts is not None:
        mentioned = show_names(" ".join(sentences[:20]), facts)
        show = mentioned[0] if len(mentioned) == 1 else None
    return Scope(canonical_show(show, facts), season)


def canonical_show(name: str | None, facts: ShowFacts | None) -> str | None:
    """The admin's spelling of a show when the facts know it; the name as found otherwise."""
    if name is None:
        return None
    show = facts.find_show(name) if facts is not None else None
    return show.name if show else name


def find_facts_show(name: str | None, facts: ShowFacts | None) -> Show | None:
    return facts.find_show(name) if facts is not None and name else None


def _pick(title_show: str | None, declared: list[str]) -> str | None:
    """The title's show, unless the front matter declares shows and the title names none of them."""
    if title_show is None:
        return None
    if declared and show_key(title_show) not in {show_key(d) for d in declared}:
        return next((d for d in declared if show_key(d) in show_key(title_show)), title_show)
    return title_show


def _trim(name: str) -> str | None:
    words = name.replace("’", "'").split()
    while words and (words[0].lower() in _LEADING or words[0] == "the"):
        words.pop(0)
    while words and words[-1].lower() in {"of", "the", "and", "in", "on", "a", "an", "&"}:
        words.pop()
    cleaned = " ".join(words).strip(" :.,!-")
    if cleaned.endswith("'s"):
        cleaned = cleaned[:-2]
    if not cleaned or cleaned.lower() in _NOT_SHOWS or not cleaned[0].isupper() or season_numbers(cleaned):
        return None
    return cleaned
