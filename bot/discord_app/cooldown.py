"""Per-user question cooldown shared by /ask, mentions, replies and the "More quotes" button.

Why our own instead of `app_commands.checks.cooldown`: mentions and replies are not app commands,
and one fan must not get N questions per window through each door separately.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Cooldown", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """`retry_after` is 0 when the question may go ahead; `first_refusal` says whether to tell the fan
    (in a channel we say it once per window, so a spammer cannot make the bot spam back)."""

    retry_after: float
    first_refusal: bool = False

    @property
    def allowed(self) -> bool:
        return self.retry_after <= 0


class Cooldown:
    """At most `limit` questions per `per` seconds for each user (a sliding window)."""

    def __init__(self, limit: int, per: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or per <= 0:
            raise ValueError(f"cooldown needs limit >= 1 and per > 0, got {limit!r}/{per!r}")
        self.limit = limit
        self.per = per
        self._clock = clock
        self._stamps: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}  # user -> window end we already told them about

    def take(self, user_id: int) -> Verdict:
        """Spend one question for `user_id` if the window allows; otherwise say how long to wait."""
        now = self._clock()
        stamps = self._stamps.setdefault(user_id, deque())
        while stamps and now - stamps[0] >= self.per:
            stamps.popleft()
        if len(stamps) < self.limit:
            stamps.append(now)
            self._warned.pop(user_id, None)
            self._prune(now)
            return Verdict(0.0)
        until = stamps[0] + self.per
        first = self._warned.get(user_id) != until
        self._warned[user_id] = until
        return Verdict(max(until - now, 0.01), first)

    def _prune(self, now: float) -> None:
        """Forget idle users once the table grows, so a busy bot's memory stays flat."""
        if len(self._stamps) < 4096:
            return
        for user_id in [u for u, s in self._stamps.items() if not s or now - s[-1] >= self.per]:
            del self._stamps[user_id]
            self._warned.pop(user_id, None)
