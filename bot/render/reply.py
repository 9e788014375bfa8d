"""Turn retrieved passages into the exact Discord message(s) the bot posts.

One code path for Discord and the local console: quotes escaped, finale sentences tagged per the
channel's spoiler mode, attribution under each quote, and every message within Discord's 2,000
characters with balanced spoiler tags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from bot.models import Answer, Hit, Passage, SpoilerInfo
from bot.render.markdown import escape_text, render_sentences, split_message
from bot.text import show_key

SpoilerMode = Literal["tag", "off", "hide"]
MESSAGE_LIMIT = 2000
MAX_QUOTES_SHOWN = 3
DECLINE = "I couldn't find anything about that in my articles."
_SAFE_URL = re.compile(r"^https?://[^\s<>|\\`]+$")


def is_spoiler(passage: Passage) -> bool:
    """Fail closed: a passage whose status is unknown counts as a spoiler."""
    return passage.spoiler is None or passage.spoiler.any


def watched_covers(spoiler: SpoilerInfo | None, watched: Mapping[str, int]) -> bool:
    """True when the fan has seen the season this passage spoils (so it may show plain)."""
    if spoiler is None or spoiler.show is None or spoiler.season is None:
        return False
    return watched.get(show_key(spoiler.show), 0) >= spoiler.season


def spoiler_hint(spoiler: SpoilerInfo | None) -> str:
    if spoiler is None or spoiler.show is None:
        return "Finale spoiler:"
    season = f" S{spoiler.season}" if spoiler.season else ""
    return f"{spoiler.show}{season} finale:"


def render_quote(hit: Hit, mode: SpoilerMode, watched: Mapping[str, int], *, cautious: bool = False) -> str:
    """One quote as a block quote plus an attribution line.

    `cautious` is for answers to questions about an outcome: whatever the detector missed there
    is exactly what the fan must not see by accident, so every sentence of the quote is tagged.
    """
    passage = hit.passage
    plain = mode == "off" or watched_covers(passage.spoiler, watched)
    flags = passage.spoiler.flags if passage.spoiler is not None else None
    hint = spoiler_hint(passage.spoiler)
    if cautious and not plain:
        if flags is not None and not any(flags):
            hint = "May reveal what happens:"
        flags = None  # tag every sentence
    body = render_sentences(
        passage.sentences,
        flags,
        mode="off" if plain else "tag",
        hint=None if plain else hint,
    )
    return f"> {body}\n{attribution(hit, plain=plain)}"


def attribution(hit: Hit, *, plain: bool = False) -> str:
    """`— **Speaker**, in *Title* (by Author, Date) · [Outlet](<url>)`.

    A headline that gives a finale away is tagged like the quote; the link is masked (its text
    is the outlet), so a URL slug that spoils is never shown bare and Discord adds no embed.
    """
    article = hit.article
    who = f"**{escape_text(hit.passage.speaker)}**, in " if hit.passage.speaker else ""
    title = f"*{escape_text(article.title)}*"
    if article.title_spoils and not plain:
        title = f"||{title}||"
    details = [f"by {escape_text(article.author)}" if article.author else "", escape_text(article.date or "")]
    details = [d for d in details if d]
    line = f"— {who}{title}"
    if details:
        line += " (" + ", ".join(details) + ")"
    outlet = escape_text(article.outlet) if article.outlet else None
    if article.url and _SAFE_URL.match(article.url):
        label = outlet or "source"
        if article.slug_spoils and not plain:
            line += f" · ||[{label}](<{article.url}>)||"
        else:
            line += f" · [{label}](<{article.url}>)"
    elif outlet:
        line += f" · {outlet}"
    if hit.library:
        line += f" · {escape_text(hit.library)}"
    return line


def compose(
    answer: Answer,
    hits: Sequence[Hit],
    *,
    mode: SpoilerMode = "tag",
    watched: Mapping[str, int] | None = None,
    max_quotes: int = MAX_QUOTES_SHOWN,
    cautious: bool = False,
) -> list[str]:
    """The message(s) for an answer; fills `answer.held_back` in `hide` mode and `answer.unshown`
    with the hits left out for lack of room (beyond `max_quotes`, or past the first message)."""
    watched = watched or {}
    shown: list[Hit] = []
    for hit in hits:
        if mode == "hide" and is_spoiler(hit.passage) and not watched_covers(hit.passage.spoiler, watched):
            answer.held_back += 1
            continue
        shown.append(hit)
    if not shown:
        text = (
            DECLINE
            if not answer.held_back
            else (
                "Everything I found about that reveals a season finale, "
                "and this channel hides finale spoilers."
            )
        )
        return [text]
    blocks: list[str] = []
    used = 0
    for hit in shown[:max_quotes]:
        block = render_quote(hit, mode, watched, cautious=cautious)
        if blocks and used + len(block) + 2 > MESSAGE_LIMIT - 120:
            break
        blocks.append(block)
        used += len(block) + 2
    answer.unshown = [hit.passage.id for hit in shown[len(blocks) :]]
    if answer.held_back:
        blocks.append(
            f"-# {answer.held_back} more result(s) held back: they reveal a season finale "
            "and this channel hides finale spoilers."
        )
    return split_message("\n\n".join(blocks), MESSAGE_LIMIT)
