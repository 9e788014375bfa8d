"""Text clean-up shared by ingestion, search and rendering."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from urllib.parse import urlsplit

# Zero-width and bidirectional control characters: invisible, and able to disguise names or
# reorder what a reader sees.
_INVISIBLE = dict.fromkeys(
    [*range(0x200B, 0x2010), *range(0x2028, 0x202F), *range(0x2060, 0x206A), 0xFEFF, 0x00AD]
)


def drop_invisible(text: str) -> str:
    return text.translate(_INVISIBLE)


# Control characters (line breaks included), and lone surrogates: a file name with bytes that are
# not UTF-8 reaches Python as "\udcff", which no UTF-8 stream can print.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` that can be encoded: surrogate pairs joined, lone surrogates replaced by U+FFFD.

    Why: a lone surrogate ("\\ud800" in JSON, an undecodable byte on the command line or in the
    console, which Python keeps as "\\udcff") makes the tokenizer raise TypeError and SQLite and
    every UTF-8 stream raise UnicodeEncodeError. Every entry point of outside text calls this."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def one_line(text: str) -> str:
    """`text` with control characters shown as escapes (`\\n`, `\\x1b`) and lone surrogates too,
    so a file name cannot split, forge or break a line of a report."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


def clean_question(text: str) -> str:
    """A fan's question with width variants folded (NFKC), invisible characters gone, one-line."""
    text = unicodedata.normalize("NFKC", clean_text(text))
    text = drop_invisible(text)
    return " ".join(text.split())


def show_key(name: str) -> str:
    """One key per show however it is typed: "Jessica Jones", "jessica-jones", "ＪＥＳＳＩＣＡ JONES".

    NFKC folds full-width and compatibility letters, casefold folds case (NFKC again because
    casefolding can produce characters NFKC would change), invisible characters are dropped (a
    zero-width space inside a word must not split it), and anything else becomes "-".
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", drop_invisible(name)).casefold())
    return "-".join("".join(c if c.isalnum() else " " for c in folded).split())


def fold(text: str) -> str:
    """Casefolded, NFKC, with curly quotes made straight: the form names are compared in."""
    text = unicodedata.normalize("NFKC", drop_invisible(text)).casefold()
    return text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')


# ----------------------------------------------------------------------------- seasons and warnings

WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
    "final": 0, "last": 0,
}  # fmt: skip
NUMBER_PATTERN = r"(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
ORDINAL_PATTERN = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
    r"|\d{1,2}(?:st|nd|rd|th))"
)
_SEASON = re.compile(
    rf"\b(?:season|series)[\s-]+(?P<n1>{NUMBER_PATTERN})\b|\b(?P<n2>{ORDINAL_PATTERN})[\s-]+(?:season|series)\b|\bs(?P<n3>\d{{1,2}})(?:e\d{{1,2}})?\b",
    re.IGNORECASE,
)


def season_numbers(text: str) -> list[int]:
    """Season numbers named in `text` ("season two", "S2", "second season"), in order."""
    found: list[int] = []
    for match in _SEASON.finditer(unicodedata.normalize("NFKC", text)):
        word = (match["n1"] or match["n2"] or match["n3"] or "").lower()
        digits = word[:-2] if word[:-2].isdigit() and word[-2:] in ("st", "nd", "rd", "th") else word
        number = int(digits) if digits.isdigit() else WORD_NUMBERS.get(word, 0)
        if number:
            found.append(number)
    return found


def is_spoiler_warning(text: str) -> bool:
    """A short line that warns of spoilers ("Spoilers ahead for season 1!"): a label, never a reveal."""
    folded = fold(text)
    return "spoiler" in folded and len(folded.split()) <= 16


def phrase_starts(text: str, phrase: str) -> Iterator[int]:
    """Where `phrase` occurs in `text` as whole words ("st" is not in "first"), left to right."""
    start = text.find(phrase) if phrase else -1
    while start >= 0:
        end = start + len(phrase)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            yield start
        start = text.find(phrase, start + 1)


def find_phrase(text: str, phrase: str) -> int:
    """The first whole-word occurrence of `phrase` in `text`, or -1."""
    return next(phrase_starts(text, phrase), -1)


def slug_words(url: str | None) -> str | None:
    """The last path segment of a URL as words ("...-finale-kendall-loses/" -> "finale kendall loses")."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    path = parts.path
    segments = [s for s in path.split("/") if s]
    if not segments:
        return None
    words = segments[-1].rsplit(".", 1)[0].replace("-", " ").replace("_", " ").strip()
    return words if len(words.split()) >= 2 else None
