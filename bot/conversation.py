"""Short-lived memory of each fan's recent questions, so follow-ups work.

Why: "and what about luke?", "who said that?" and "more" only make sense next to the previous turn, and
Discord gives us no conversation state. Why so small and forgetful: it is keyed by (channel, user), kept in
process memory only, expires after a few minutes, and is bounded in turns per key and in keys (LRU), so a
busy bot cannot grow it without limit and nothing a fan asked outlives a restart.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

__all__ = ["ConversationKey", "ConversationMemory", "Turn"]

ConversationKey = tuple[int, int]
"""(channel_id, user_id): a fan's thread in one channel, separate from the same fan elsewhere."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One question and what was retrieved for it; `shown` counts how many passages the fan has seen."""

    question: str
    passage_ids: tuple[str, ...]  # every retrieved id, best first
    shown: int
    at: float  # clock() time of the turn (monotonic by default)

    @property
    def unshown(self) -> tuple[str, ...]:
        """Ranked ids not shown yet: what "more" should page through next."""
        return self.passage_ids[self.shown :]


class ConversationMemory:
    """Recent turns per (channel_id, user_id), expiring after `ttl` seconds, at most `max_turns` per key
    and `max_keys` keys (least recently used evicted first). Not thread-safe; use from the event loop."""

    def __init__(
        self,
        *,
        ttl: float = 600.0,
        max_turns: int = 5,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl must be positive, got {ttl!r}")
        if max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns!r}")
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, got {max_keys!r}")
        self.ttl = ttl
        self.max_turns = max_turns
        self.max_keys = max_keys
        self._clock = clock
        self._turns: OrderedDict[ConversationKey, deque[Turn]] = OrderedDict()

    def __len__(self) -> int:
        """Number of keys currently held (some may hold only expired turns until next touched)."""
        return len(self._turns)

    def _expired(self, turn: Turn, now: float) -> bool:
        return now - turn.at >= self.ttl

    def _live(self, key: ConversationKey, now: float) -> deque[Turn] | None:
        """The key's unexpired turns (dropping expired ones, and the key if none are left), marked as used."""
        turns = self._turns.get(key)
        if turns is None:
            return None
        while turns and self._expired(turns[0], now):
            turns.popleft()
        if not turns:
            del self._turns[key]
            return None
        self._turns.move_to_end(key)
        return turns

    def _sweep(self, now: float) -> None:
        """Drop keys at the cold end whose newest turn has expired; cheap, so memory shrinks when idle."""
        while self._turns:
            key, turns = next(iter(self._turns.items()))
            if turns and not self._expired(turns[-1], now):
                break
            del self._turns[key]

    def remember(
        self, key: ConversationKey, question: str, answer_passage_ids: Sequence[str], shown: int
    ) -> Turn:
        """Record a new turn (ids ranked best first; `shown` clamped to how many there are) and return it."""
        if shown < 0:
            raise ValueError(f"shown must be >= 0, got {shown!r}")
        if isinstance(answer_passage_ids, str):
            raise ValueError("answer_passage_ids must be a list of ids, not one string")
        now = self._clock()
        ids = tuple(answer_passage_ids)
        turn = Turn(question=question, passage_ids=ids, shown=min(shown, len(ids)), at=now)
        self._sweep(now)
        turns = self._live(key, now)
        if turns is None:
            turns = deque(maxlen=self.max_turns)
            self._turns[key] = turns
        turns.append(turn)
        while len(self._turns) > self.max_keys:
            self._turns.popitem(last=False)
        return turn

    def mark_shown(self, key: ConversationKey, shown: int) -> Turn | None:
        """After "more": update how many of the last turn's passages were shown. None if no live turn."""
        if shown < 0:
            raise ValueError(f"shown must be >= 0, got {shown!r}")
        now = self._clock()
        turns = self._live(key, now)
        if turns is None:
            return None
        turn = replace(turns[-1], shown=min(shown, len(turns[-1].passage_ids)), at=now)
        turns[-1] = turn
        return turn

    def recent(self, key: ConversationKey) -> list[Turn]:
        """The key's unexpired turns, oldest first."""
        turns = self._live(key, self._clock())
        return [] if turns is None else list(turns)

    def last(self, key: ConversationKey) -> Turn | None:
        """The key's most recent unexpired turn, if any."""
        turns = self._live(key, self._clock())
        return None if turns is None else turns[-1]

    def forget(self, key: ConversationKey) -> None:
        """Drop everything remembered for one key (e.g. the fan asked to start over)."""
        self._turns.pop(key, None)

    def clear(self) -> None:
        """Drop everything."""
        self._turns.clear()
