"""Which show and season an article spoils: for the visible hint ("Jessica Jones S1 finale:") and
for fans who told the bot which seasons they have watched.

The show is the one ingest gave the article (front matter, or the name its title and body share,
see `bot.ingest.topic`), spelled as the admin's facts spell it; the season is the one a spoiler
warning near the top or the title names ("Spoilers ahead for season 1", "... season two recap").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.models import Article
from bot.shows import Show, ShowFacts
from bot.text import is_spoiler_warning, season_numbers

__all__ = ["Scope", "article_scope", "canonical_show", "find_facts_show", "season_numbers"]


@dataclass(frozen=True)
class Scope:
    """What an article (or sentence) spoils, when it can be told; None fields are unknown."""

    show: str | None = None
    season: int | None = None


def article_scope(article: Article, sentences: Sequence[str], facts: ShowFacts | None = None) -> Scope:
    declared = [s for s in article.meta.shows if s.strip()]
    show = declared[0] if declared else None
    season = None
    for sentence in sentences[:12]:
        if is_spoiler_warning(sentence):
            named = set(season_numbers(sentence))
            if len(named) == 1:
                season = named.pop()
                break
    if season is None:
        named = season_numbers(article.meta.title)
        season = named[0] if named else None
    if show is None and facts is not None:
        mentioned = {s.name for s in facts.shows if facts.find_show(s.name) and _names(s, sentences[:20])}
        show = mentioned.pop() if len(mentioned) == 1 else None
    return Scope(canonical_show(show, facts), season)


def _names(show: Show, sentences: Sequence[str]) -> bool:
    text = " ".join(sentences).casefold()
    return any(name.casefold() in text for name in (show.name, *show.aliases) if len(name) > 2)


def canonical_show(name: str | None, facts: ShowFacts | None) -> str | None:
    """The admin's spelling of a show when the facts know it; the name as found otherwise."""
    if name is None:
        return None
    show = facts.find_show(name) if facts is not None else None
    return show.name if show else name


def find_facts_show(name: str | None, facts: ShowFacts | None) -> Show | None:
    return facts.find_show(name) if facts is not None and name else None
