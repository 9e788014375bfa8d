"""Prefer passages about the show and season a question names.

"how does luke cage season 1 end" should land on the Luke Cage season-one recap, not on an
interview that mentions Luke Cage in passing while spoiling another show. A passage's show and
season come from its article's scope (set by the spoiler engine: warnings, title, front matter),
and seasons the passage itself names override the article's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.models import ArticleMeta, Passage
from bot.shows import show_key
from bot.text import find_phrase, fold, season_numbers

SHOW_BONUS = 0.2
SEASON_BONUS = 0.05


class SeasonScorer:
    """Per-passage show and seasons, matched against the show and season a question names."""

    def __init__(
        self,
        passages: Sequence[Passage],
        articles: dict[str, ArticleMeta],
        shows: Sequence[str],
        *,
        precomputed: tuple[dict[str, int], np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self._shows = sorted({fold(s) for s in shows if s.strip()}, key=len, reverse=True)
        self._codes: dict[str, int] = {}
        if precomputed is not None:  # (show codes, show of each passage, season bits of each passage)
            self._codes, self._shows_of, self._seasons_of = precomputed
            return
        shows_of = np.zeros(len(passages), dtype=np.int32)  # 0 = unknown show
        seasons_of = np.zeros(len(passages), dtype=np.int64)  # bit n set = about season n
        for row, passage in enumerate(passages):
            info = passage.spoiler
            declared = articles[passage.file].shows
            show = info.show if info and info.show else (declared[0] if declared else "")
            if show.strip():
                shows_of[row] = self._codes.setdefault(show_key(show), len(self._codes) + 1)
            named = [n for n in season_numbers(passage.text) if 0 < n < 63]
            scoped = [info.season] if info and info.season and 0 < info.season < 63 else []
            for number in named or scoped:
                seasons_of[row] |= 1 << number
        self._shows_of = shows_of
        self._seasons_of = seasons_of

    def question_scope(self, question: str) -> tuple[set[str], set[int]]:
        text = fold(question)
        # Substring test first: a big corpus names thousands of shows, and a regex per show per
        # question (beyond re's cache of 512) would cost more than the whole search.
        named = {show_key(s) for s in self._shows if s in text and find_phrase(text, s) >= 0}
        return named, {n for n in season_numbers(question) if n > 0}

    def match(self, question: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: +1 when the passage is about the show (season) the question names, -1 when it is
        about another one, 0 when the question names none (or the passage's is unknown)."""
        rows = np.asarray(rows, dtype=np.int64)
        shows, seasons = self.question_scope(question)
        show_state = np.zeros(rows.size, dtype=np.float32)
        season_state = np.zeros(rows.size, dtype=np.float32)
        of = self._shows_of[rows]
        if shows:
            codes = [self._codes[s] for s in shows if s in self._codes]
            show_state = np.where(np.isin(of, codes), 1.0, np.where(of > 0, -1.0, 0.0)).astype(np.float32)
        if seasons:
            wanted = sum(1 << n for n in seasons if 0 < n < 63)
            bits = self._seasons_of[rows]
            season_state = np.where((bits & wanted) != 0, 1.0, np.where(bits != 0, -1.0, 0.0)).astype(
                np.float32
            )
        return show_state, season_state

    def bonus(self, question: str) -> np.ndarray | None:
        """Score additions for this question, or None when it names no show and no season."""
        shows, seasons = self.question_scope(question)
        if not shows and not seasons:
            return None
        codes = [self._codes[s] for s in shows if s in self._codes]
        show_ok = np.isin(self._shows_of, codes) if shows else np.ones(self._shows_of.size, dtype=bool)
        bonus = SHOW_BONUS * show_ok.astype(np.float32) if shows else np.zeros(show_ok.size, dtype=np.float32)
        if seasons:
            wanted = sum(1 << n for n in seasons if 0 < n < 63)
            bonus += SEASON_BONUS * (((self._seasons_of & wanted) != 0) & show_ok)
        return bonus
