"""Split paragraphs into whole sentences.

pysbd handles abbreviations ("Dr.", "U.S.", "p.m.") well but stumbles on an opening quotation
mark that never closes inside the paragraph (multi-paragraph interview quotes), so callers strip
the outer quote marks first, and stray quote-mark fragments are glued back to their sentence.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd

_ONLY_PUNCT = re.compile(r"^[\s\"'“”‘’)\]…]*$")
_LEADING_CLOSE = re.compile(r"^[”’»\"]+\s+")  # closing marks pysbd left at a sentence's start


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`, stripped, with no empty or punctuation-only pieces."""
    text = text.strip()
    if not text:
        return []
    sentences: list[str] = []
    for piece in _segmenter().segment(text):
        piece = piece.strip()
        if not piece:
            continue
        if _ONLY_PUNCT.match(piece) and sentences:
            sentences[-1] += piece
            continue
        marks = _LEADING_CLOSE.match(piece)
        if marks and sentences:  # `glue.” She laughed`: the mark ends the sentence before
            sentences[-1] += marks.group().rstrip()
            piece = piece[marks.end() :]
        sentences.append(piece)
    return sentences
