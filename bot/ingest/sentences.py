"""Split paragraphs into whole sentences, as verbatim slices of the paragraph.

pysbd handles abbreviations ("Dr.", "U.S.", "p.m.") well but stumbles on an opening quotation
mark that never closes inside the paragraph (multi-paragraph interview quotes), so callers strip
the outer quote marks first, and stray quote-mark fragments are glued back to their sentence.

Two things pysbd does not promise are enforced here:

- Time linear in the paragraph: pysbd's cost grows with the square of its input (a 10,000-line
  paragraph took minutes), so it reads a window of WINDOW characters at a time and the next
  window starts at the last sentence it found whole.
- Quotes stay verbatim: pysbd only proposes where sentences end; every sentence is a slice of the
  input, and a cut is kept only where the input has whitespace (pysbd also cuts inside `a..b` and
  `<@!42>`, and joining such pieces with a space changed what the quote said). So for text whose
  whitespace is single spaces, `" ".join(split_sentences(text)) == text.strip()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import pysbd

WINDOW = 1_000  # characters pysbd reads at once (about 5 ms each); it is quadratic beyond that
_MIN_STEP = WINDOW // 4  # a window whose last whole sentence ends before this is cut at a space

_ONLY_PUNCT = re.compile(r"[\s\"'“”‘’)\]…]*")
_LEADING_CLOSE = re.compile(r"[”’»\"]+\s+")  # closing marks pysbd cut off their sentence
_SPACE = re.compile(r"\s")


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`, stripped, with no empty or punctuation-only pieces."""
    text = text.strip()
    if not text:
        return []
    sentences: list[tuple[int, int]] = []  # (start, end) slices of `text`
    start = 0
    for proposed in (*_cuts(text), len(text)):
        cut = _at_space(text, proposed)
        if cut is None or cut <= start:
            continue
        piece = text[start:cut]
        if sentences and _ONLY_PUNCT.fullmatch(piece):
            sentences[-1] = (sentences[-1][0], cut)
        else:
            sentences.append((start, cut))
        start = cut
    return [text[a:b].strip() for a, b in sentences]


def _at_space(text: str, cut: int) -> int | None:
    """Past the closing marks that pysbd leaves at the start of the next sentence (`glue.” She
    laughed`), else `cut` where whitespace comes before it, else None (no cut inside `a..b`)."""
    marks = _LEADING_CLOSE.match(text, cut)
    if marks:
        return marks.end()
    return cut if cut >= len(text) or text[cut - 1].isspace() else None


def _cuts(text: str) -> Iterator[int]:
    """Offsets where pysbd starts a sentence (after the first), in order. Window by window, each
    starting where the one before found its last sentence start, so each moves on by at least
    _MIN_STEP characters."""
    start = 0
    while True:
        end = start + WINDOW
        starts = _piece_starts(text[start:end])
        if end >= len(text):
            yield from (start + s for s in starts)
            return
        if starts and starts[-1] >= _MIN_STEP:
            following = start + starts.pop()  # that piece may run on past the window: read it again
        else:  # one sentence fills the window: cut it at a space
            following = _after_space(text, start + _MIN_STEP, end)
        yield from (start + s for s in starts if start + s < following)
        yield following
        if following >= len(text):
            return
        start = following


def _after_space(text: str, low: int, high: int) -> int:
    """The offset just after the last whitespace in text[low:high], else after the first one from
    `high` on (a long run without any is never handed to pysbd), else the end of the text."""
    last = None
    for last in _SPACE.finditer(text, low, high):  # noqa: B007 (only the last one is wanted)
        pass
    if last is None:
        last = _SPACE.search(text, high)
    return last.end() if last else len(text)


def _piece_starts(chunk: str) -> list[int]:
    """Where pysbd's sentences of `chunk` begin, after the first. Its processor returns them as
    slices of the input, stripped; each is looked up from where the previous one ended. (Its
    `segment` does the same lookup with one new regex per sentence, which cost a third of the
    time and evicted pysbd's own patterns from the `re` cache.) A sentence it altered is not found
    and so leaves no cut."""
    starts: list[int] = []
    position = 0
    for piece in _segmenter().processor(chunk).process():
        found = chunk.find(piece, position) if piece else -1
        if found < 0:
            continue
        if found > 0:
            starts.append(found)
        position = found + len(piece)
    return starts
