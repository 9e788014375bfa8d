"""Text clean-up shared by ingestion, search and rendering."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and bidirectional control characters: invisible, and able to disguise names or
# reorder what a reader sees.
INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\u00ad]")
_SPACE = re.compile(r"\s+")
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
