"""Cut an article into passages: a few whole sentences from one paragraph, with their speaker.

Interview articles print quotes as `Krysten Ritter: “…` and carry the quote on over several
paragraphs until a closing mark; every passage of such a quote keeps the speaker so the bot can say
who said it. Passages stay small (a few sentences) so a fan's question lands on the exact lines.
"""

from __future__ import annotations

import math
import re

from bot.ingest.sentences import split_sentences
from bot.models import Article, Passage

MAX_SENTENCES = 3
MAX_CHARS = 420
GROUP_BLOCK = 30  # sentences grouped at once: a try costs the block's length, so grouping stays linear

_NAME = r"[A-Z][\w'’.-]+(?:\s+(?:[A-Z][\w'’.-]+|de|da|van|von|del|la|le)){0,3}"
_OPEN = '"“«'
_CLOSE = '"”»'
# "Krysten Ritter: “…", "Mike Colter (Luke Cage): "…"
_SPEAKER_PREFIX = re.compile(rf"^(?P<name>{_NAME})(?:\s*\([^)]{{1,60}}\))?\s*[:：]\s*(?P<open>[{_OPEN}])")
# "Our critic, Noor Haddad, summed up …: "…"", "Noor Haddad said: "…""
_INLINE_SPEAKER = re.compile(
    rf"(?:^|[,\s])(?P<name>{_NAME})(?:,[^,]{{0,60}},|,)?\s+(?:said|says|told \w+|added|explained|summed up"
    rf"|put it|noted|recalled|joked|admitted)\b[^{_OPEN}]{{0,60}}[:,]\s*[{_OPEN}]"
)
_SAID_AFTER = re.compile(rf"[{_CLOSE}],?\s*(?:said|says)\s+(?P<name>{_NAME})")


def article_passages(article: Article) -> list[Passage]:
    """All passages of an article, in reading order, with stable ids."""
    passages: list[Passage] = []
    speaker: str | None = None
    in_quote = False
    for number, paragraph in enumerate(article.paragraphs):
        text = paragraph.text
        prefix = _SPEAKER_PREFIX.match(text)
        if prefix:
            speaker, in_quote = prefix["name"].strip(), True
            text = text[prefix.end() :]
        elif not in_quote:
            speaker = None
        closes = in_quote and _quote_closes(text, reopened=not prefix)
        if in_quote:
            text = _strip_outer_quotes(text)
        sentences = split_sentences(text)
        for group in _group(sentences):
            # An inline quote ("Our critic, Noor Haddad, summed it up: “…”") names the speaker of
            # its own sentences only, not of the critic's words around it in the same paragraph.
            speaker_here = speaker if in_quote else _inline_speaker(" ".join(group))
            passages.append(
                Passage(
                    id=f"{article.meta.file}#{len(passages)}",
                    file=article.meta.file,
                    text=" ".join(group),
                    sentences=tuple(group),
                    speaker=speaker_here,
                    heading=paragraph.heading,
                    paragraph=number,
                )
            )
        if closes:
            in_quote = False
    return passages


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


def _quote_closes(text: str, *, reopened: bool) -> bool:
    """True when the speaker's quote, open at the start of `text`, is closed inside it: at the
    end or mid-paragraph, but not by the end of a quote nested in it (`He asked, “Why?”`).
    `reopened`: a continuation paragraph, which may repeat the opening mark."""
    text = text.strip()
    if reopened and text[:1] in _OPEN:
        text = text[1:]
    depth = 1
    for i, ch in enumerate(text):
        if ch in "“«":
            depth += 1
        elif ch in "”»":
            depth -= 1
        elif ch == '"':
            before = text[i - 1] if i else " "
            after = text[i + 1] if i + 1 < len(text) else " "
            opens = (before.isspace() or before in "([—–-") and not after.isspace()
            depth += 1 if opens else -1
        if depth <= 0:
            return True
    return False


def _inline_speaker(text: str) -> str | None:
    for pattern in (_INLINE_SPEAKER, _SAID_AFTER):
        match = pattern.search(text)
        if match:
            return _trim_name(match["name"])
    return None


def _trim_name(name: str) -> str:
    """`“…,” said Elden Henson.` names Elden Henson: drop a sentence's full stop, keep "Jr."."""
    name = name.strip()
    if name.endswith(".") and not re.search(r"(?:\b[A-Z]|\bJr|\bSr|\bSt)\.$", name):
        name = name[:-1]
    return name


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
