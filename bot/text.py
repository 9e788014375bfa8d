"""Text clean-up shared by ingestion, search and rendering."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and bidirectional control characters: invisible, and able to disguise names or
# reorder what a reader sees.
INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\u00ad]")
_SPACE = re.compile(r"\s+")


def clean_question(text: str) -> str:
    """A fan's question with width variants folded (NFKC), invisible characters gone, one-line."""
    text = unicodedata.normalize("NFKC", text)
    text = INVISIBLE.sub("", text)
    return _SPACE.sub(" ", text).strip()


_NON_ALNUM = re.compile(r"[\W_]+")


def show_key(name: str) -> str:
    """One key per show however it is typed: "Jessica Jones", "jessica-jones", "ＪＥＳＳＩＣＡ JONES".

    NFKC folds full-width and compatibility letters, casefold folds case (NFKC again because
    casefolding can produce characters NFKC would change), invisible characters are dropped (a
    zero-width space inside a word must not split it), and anything else becomes "-".
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", INVISIBLE.sub("", name)).casefold())
    return _NON_ALNUM.sub("-", folded).strip("-")


def fold(text: str) -> str:
    """Casefolded, NFKC, with curly quotes made straight: the form names are compared in."""
    text = unicodedata.normalize("NFKC", INVISIBLE.sub("", text)).casefold()
    return text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
