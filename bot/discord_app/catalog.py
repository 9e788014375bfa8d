"""What the bot knows about, for fans: the articles (/sources) and the shows (/watched).

Why shows come from three places: articles declare `shows` only when their front matter does, the
spoiler engine names the show each finale passage spoils (the name `/watched` must match for a
spoiler to show plain), and `corpus/shows.yaml` lists the shows and nicknames an admin cares about.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from bot.engine import Engine
from bot.models import ArticleMeta
from bot.render.markdown import escape_text
from bot.settings_store import show_key
from bot.text import fold

__all__ = ["ShowCatalog", "paginate", "source_line"]

log = logging.getLogger(__name__)

PAGE_LIMIT = 1900  # under Discord's 2,000 with room for a page footer


def _key(name: str) -> str | None:
    try:
        return show_key(name)
    except ValueError:
        return None


class ShowCatalog:
    """Known show names, rebuilt whenever the engine serves a new index version."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._version: object = object()
        self._by_key: dict[str, str] = {}  # show_key(name or alias) -> canonical name

    def _refresh(self) -> None:
        version = self.engine.version
        if version == self._version:
            return
        names: dict[str, str] = {}
        aliases: list[tuple[str, str]] = []
        for article in self.engine.sources():
            for show in article.shows:
                names.setdefault(_key(show) or "", show)
        snapshot = self.engine.snapshot
        for passage in snapshot.index.passages if snapshot else ():
            if passage.spoiler is not None and passage.spoiler.show:
                names.setdefault(_key(passage.spoiler.show) or "", passage.spoiler.show)
        try:
            from bot.shows import load_show_facts

            facts, _problems = load_show_facts(self.engine.corpus_dir)
            for described in facts.shows:
                names.setdefault(_key(described.name) or "", described.name)
                aliases.extend((alias, described.name) for alias in described.aliases)
        except ImportError:
            pass
        except Exception:  # a broken facts file must not break /watched
            log.exception("could not read the show facts in %s", self.engine.corpus_dir)
        names.pop("", None)
        for alias, name in aliases:
            key = _key(alias)
            if key:
                names.setdefault(key, name)
        self._by_key = names
        self._version = version

    async def refresh(self) -> None:
        """Rebuild off the event loop if the served index changed: it reads every passage of the
        index and the show facts file, which takes seconds for a big corpus."""
        if self.engine.version != self._version:
            await asyncio.to_thread(self._refresh)

    def shows(self) -> list[str]:
        """Canonical show names, sorted."""
        self._refresh()
        return sorted(set(self._by_key.values()), key=str.casefold)

    def canonical(self, value: str) -> str | None:
        """The known show `value` names (any case, spacing, dashes or a known nickname), or None."""
        self._refresh()
        key = _key(value)
        return self._by_key.get(key) if key else None

    def choices(self, current: str, limit: int = 25) -> list[str]:
        """Autocomplete: shows whose name contains what the fan typed so far (Discord allows 25)."""
        typed = fold(current).strip()  # full-width, case and invisible characters folded
        return [name for name in self.shows() if typed in fold(name)][:limit]


def source_line(article: ArticleMeta) -> str:
    """One article as a fan wants it listed: title, outlet, date."""
    details = ", ".join(escape_text(x) for x in (article.outlet, article.date) if x)
    line = f"• **{escape_text(article.title)}**"
    return f"{line} — {details}" if details else line


def paginate(lines: Iterable[str], limit: int = PAGE_LIMIT) -> list[str]:
    """Join lines into pages of at most `limit` characters, never splitting a line (long ones are cut)."""
    pages: list[str] = []
    current = ""
    for line in lines:
        if len(line) > limit:
            line = line[: limit - 1] + "…"
        if current and len(current) + 1 + len(line) > limit:
            pages.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        pages.append(current)
    return pages
