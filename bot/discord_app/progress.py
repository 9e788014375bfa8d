"""Reindex progress shown by editing one message, at most once every couple of seconds.

Why: the engine reports progress from its worker thread, possibly hundreds of times a second;
Discord allows a handful of edits per message per few seconds. The callback only records the
latest state (thread-safely, through the loop); one task turns it into throttled edits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import discord

__all__ = ["ProgressReporter", "describe"]

log = logging.getLogger(__name__)

STAGES = {
    "reading": "reading articles",
    "spoilers": "finding finale spoilers",
    "embedding": "embedding passages",
    "publishing": "publishing the new index",
}


def describe(stage: str, done: int, total: int) -> str:
    """One progress line, e.g. "Reindexing: embedding passages 120/400 (30%)"."""
    what = STAGES.get(stage, stage)
    if total > 1:
        return f"Reindexing: {what} {done}/{total} ({100 * done // total}%)…"
    return f"Reindexing: {what}…"


class ProgressReporter:
    """Collects (stage, done, total) from any thread; edits via `edit` no more than every `interval` s."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        edit: Callable[[str], Awaitable[object]],
        *,
        interval: float = 2.0,
    ) -> None:
        self._loop = loop
        self._edit = edit
        self.interval = interval
        self._latest: tuple[str, int, int] | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.edits = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        """The engine's progress callback; safe to call from the worker thread."""
        with contextlib.suppress(RuntimeError):  # the loop closed while shutting down
            self._loop.call_soon_threadsafe(self._record, stage, done, total)

    def _record(self, stage: str, done: int, total: int) -> None:
        self._latest = (stage, done, total)
        self._changed.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reindex-progress")

    async def stop(self) -> None:
        """Stop editing (the caller writes the final message)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        last = 0.0
        while True:
            await self._changed.wait()
            wait = self.interval - (time.monotonic() - last)
            if wait > 0:
                await asyncio.sleep(wait)
            self._changed.clear()
            if self._latest is None:
                continue
            last = time.monotonic()
            try:
                await self._edit(describe(*self._latest))
                self.edits += 1
            except (discord.HTTPException, discord.RateLimited) as exc:  # a missed progress edit is harmless
                log.debug("progress edit failed: %s", exc)
