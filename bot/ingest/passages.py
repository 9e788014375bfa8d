"""Cut an article into passages: a few whole sentences from one paragraph, with their speaker.

Interview articles print quotes as `Krysten Ritter: “…` and carry the quote on over several
paragraphs until a closing mark; every passage of such a quote keeps the speaker so the bot can say
who said it. Passages stay small (a few sentences) so a fan's question lands on the exact lines.
"""

from __future__ import annotations

import math
from typing import Literal

from bot.ingest.sentences import split_sentences
from bot.ingest.speaker_model import SpeakerModel
from bot.ingest.speakers import attribute
from bot.models import Article, Passage

MAX_SENTENCES = 3
MAX_CHARS = 420
GROUP_BLOCK = 30  # sentences grouped at once: a try costs the block's length, so grouping stays linear
_OPEN = '"“«'
_CLOSE = '"”»'


def article_passages(
    article: Article, speakers: SpeakerModel | None | Literal["shipped"] = "shipped"
) -> list[Passage]:
    """All passages of an article, in reading order, with stable ids and their speakers.

    `speakers`: the learned speaker model ("shipped": the artifact's; None: the format rules alone).
    """
    passages: list[Passage] = []
    texts = [p.text for p in article.paragraphs]
    headings = [p.heading for p in article.paragraphs]
    for number, (paragraph, said) in enumerate(
        zip(
            article.paragraphs,
            attribute(texts, article.meta, speakers, headings, article.furniture),
            strict=True,
        )
    ):
        text = paragraph.text[said.strip :]
        if said.quoted:
            text = _strip_outer_quotes(text)
        for group in _group(split_sentences(text)):
            passages.append(
                Passage(
                    id=f"{article.meta.file}#{len(passages)}",
                    file=article.meta.file,
                    text=" ".join(group),
                    sentences=tuple(group),
                    # reported speech names the speaker of the passage that holds the quote only
                    speaker=said.speaker if said.quoted or _has_quote(" ".join(group)) else None,
                    heading=paragraph.heading,
                    paragraph=number,
                )
            )
    return passages


def _has_quote(text: str) -> bool:
    """The passage holds quoted or attributed speech ("…," she said; according to X)."""
    return any(mark in text for mark in '“”"') or "according to" in text.lower()


def _strip_outer_quotes(text: str) -> str:
    text = text.strip()
    if text[:1] in _OPEN and text.count(text[0]) >= 1 and not _balanced_after_strip(text):
        text = text[1:]
    if text[-1:] in _CLOSE:
        body = text[:-1]
        if body.count("“") <= body.count("”") or text[-1] == '"' and body.count('"') % 2 == 0:
            text = body
    return text.strip()


def _balanced_after_strip(text: str) -> bool:
    """True when the leading mark opens an inner quote that also closes inside the paragraph."""
    return text[0] == "“" and text.count("“") == text.count("”") and not text.endswith("”")


def _group(sentences: list[str]) -> list[list[str]]:
    """Split a paragraph's sentences into even groups of at most MAX_SENTENCES / MAX_CHARS.

    Even groups read better than greedy ones (no lonely last sentence); when an even split still
    leaves a group too long, one more group is tried, down to one sentence per group. A paragraph
    of more than GROUP_BLOCK sentences is first cut into even blocks, grouped one by one.
    """
    if not sentences:
        return []
    if len(sentences) > GROUP_BLOCK:
        blocks = _even_split(sentences, math.ceil(len(sentences) / GROUP_BLOCK))
        return [group for block in blocks for group in _group(block)]
    total = sum(len(s) + 1 for s in sentences)
    count = max(math.ceil(len(sentences) / MAX_SENTENCES), math.ceil(total / MAX_CHARS))
    for tries in range(min(count, len(sentences)), len(sentences) + 1):
        groups = _even_split(sentences, tries)
        if all(len(g) == 1 or len(" ".join(g)) <= MAX_CHARS for g in groups):
            return groups
    return [[s] for s in sentences]


def _even_split(sentences: list[str], count: int) -> list[list[str]]:
    size = len(sentences) / count
    groups: list[list[str]] = []
    for index in range(count):
        start, end = round(index * size), round((index + 1) * size)
        if start < end:
            groups.append(sentences[start:end])
    return groups
