"""Prefer passages about the show and season a question names.

"how does luke cage season 1 end" should land on the Luke Cage season-one recap, not on an
interview that mentions Luke Cage in passing while spoiling another show. A passage's show and
season come from its article's scope (set by the spoiler engine: warnings, title, front matter),
and seasons the passage itself names override the article's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from bot.models import ArticleMeta, Passage
from bot.shows import show_key
from bot.spoilers.scope import season_numbers
from bot.text import fold

SHOW_BONUS = 0.05
SEASON_BONUS = 0.05


class SeasonScorer:
    """Per-passage show and seasons, matched against the show and season a question names."""

    def __init__(
        self, passages: Sequence[Passage], articles: dict[str, ArticleMeta], shows: Sequence[str]
    ) -> None:
        self._shows = sorted({fold(s) for s in shows if s.strip()}, key=len, reverse=True)
        keys: list[str] = []
        seasons: list[frozenset[int]] = []
        for passage in passages:
            info = passage.spoiler
            declared = articles[passage.file].shows
            show = info.show if info and info.show else (declared[0] if declared else "")
            keys.append(show_key(show) if show.strip() else "")
            named = frozenset(n for n in season_numbers(passage.text) if n > 0)
            scoped = frozenset({info.season}) if info and info.season else frozenset()
            seasons.append(named or scoped)
        self._keys = np.array(keys, dtype=object)
        self._seasons = seasons

    def question_scope(self, question: str) -> tuple[set[str], set[int]]:
        text = fold(question)
        named = {
            show_key(s) for s in self._shows if re.search(rf"(?<![a-z0-9]){re.escape(s)}(?![a-z0-9])", text)
        }
        return named, {n for n in season_numbers(question) if n > 0}

    def bonus(self, question: str) -> np.ndarray | None:
        """Score additions for this question, or None when it names no show and no season."""
        shows, seasons = self.question_scope(question)
        if not shows and not seasons:
            return None
        bonus = np.zeros(len(self._seasons), dtype=np.float32)
        if shows:
            bonus += SHOW_BONUS * np.isin(self._keys, list(shows))
        if seasons:
            show_ok = np.isin(self._keys, list(shows)) if shows else np.ones(len(bonus), dtype=bool)
            in_season = np.array([bool(s & seasons) for s in self._seasons])
            bonus += SEASON_BONUS * (in_season & show_ok)
        return bonus
