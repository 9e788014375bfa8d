"""This process among the bot's processes: a heartbeat row, and index versions announced to all.

A public bot runs its shards in several processes, often on several machines, over one database and
one shared index folder. Three things keep them in step:

- **One build.** With PostgreSQL the index builder takes an advisory lock instead of the folder's
  file lock, so one process on any machine builds; the others are told a reindex is running.
- **Served everywhere.** After publishing, the builder records the version and NOTIFYs it; every
  process LISTENs and swaps to it within moments. A process that missed the notice (its listener
  was reconnecting) catches up on its next question (`Engine.stale`) or at its next heartbeat.
- **Visible.** Each process refreshes a row (shards, index version, problem) every few seconds;
  `python -m bot status` and `/status` read them, so a process that stopped beating shows up.

With the SQLite default (one process) the same code runs: the file lock stays, there is nothing
to listen to, and the heartbeat row still feeds `python -m bot status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.engine import Engine
from bot.index.store import LoadedIndex
from bot.settings_store import (
    DEFAULT_LIBRARY,
    IndexListener,
    ProcessInfo,
    ProcessRow,
    SettingsStoreBase,
)

__all__ = ["Fleet", "format_shards", "format_status", "gather_status", "new_process_id", "shard_of"]

log = logging.getLogger(__name__)

ANNOUNCE_TIMEOUT = 15.0  # seconds the reindex thread waits for the announcement to commit
FORGET_AFTER = 24 * 3600.0  # rows of processes silent this long are removed by the next heartbeat
SILENT_AFTER = 3  # heartbeats missed before `status` calls a process silent

Shards = Callable[[], tuple[Sequence[int] | None, int | None]]


def new_process_id() -> str:
    """host:pid:random; the random part tells apart a restarted process that got the same pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord routes a server's events through (its documented formula)."""
    return (guild_id >> 22) % max(1, shard_count)


def format_shards(ids: Sequence[int] | None, count: int | None) -> str:
    """ "0-3/8", "1,5/8", "?/8", or "-" (no Discord connection, or automatic sharding not connected yet)."""
    if count is None:
        return "-" if ids is None else ",".join(map(str, ids))
    if not ids:
        return f"?/{count}"
    ordered = sorted(ids)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{ordered[0]}-{ordered[-1]}/{count}"
    return ",".join(map(str, ordered)) + f"/{count}"


class Fleet:
    """This process's part: install the shared lock and announcement hooks on the engine, listen for
    other processes' announcements, and keep a heartbeat row. `start()` once the loop runs."""

    def __init__(
        self,
        engine: Engine,
        settings: SettingsStoreBase,
        *,
        shards: Shards | None = None,
        heartbeat_seconds: float = 10.0,
        library: str = DEFAULT_LIBRARY,
        register: bool = True,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.shards: Shards = shards or (lambda: (None, None))
        self.heartbeat_seconds = heartbeat_seconds
        self.library = library
        self.register = register  # False for `python -m bot index`: it builds, it does not serve
        self.process_id = new_process_id()
        self.started_at = time.time()
        self.listener: IndexListener | None = None
        #: (version, time.time()) of the last swap to a version another process published.
        self.last_swap: tuple[str, float] | None = None
        #: (version, time.time()) of the last version this process published, just before announcing.
        self.last_publish: tuple[str, float] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._checking = asyncio.Lock()
        self._background: set[asyncio.Future[Any]] = set()  # spawned tasks, kept until done

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Take over the reindex lock and announcements, start listening, write the first heartbeat."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        lock = self.settings.reindex_lock(self._loop, self.library)
        if lock is not None:
            self.engine.store.lock_factory = lock
        self.engine.on_publish.append(self._published)
        self.engine.on_catch_up.append(self._caught_up)
        self.listener = await self.settings.listen_index(self._noticed, on_connect=self.check)
        if self.register:
            await self.beat()
            self._task = asyncio.create_task(self._beats(), name="tvbot heartbeat")
        log.info(
            "process %s: settings in %s, %s",
            self.process_id,
            self.settings.where(),
            "listening for index announcements" if self.listener else "single process (no announcements)",
        )

    async def stop(self) -> None:
        """Undo `start`; the heartbeat row is removed (a clean stop is not a crash). Safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        listener, self.listener = self.listener, None
        if listener is not None:
            await listener.close()
        if self._published in self.engine.on_publish:
            self.engine.on_publish.remove(self._published)
        if self._caught_up in self.engine.on_catch_up:
            self.engine.on_catch_up.remove(self._caught_up)
        self.engine.store.lock_factory = None
        if self.register and self._loop is not None:
            with contextlib.suppress(Exception):
                await self.settings.forget_process(self.process_id)
        self._loop = None

    # ------------------------------------------------------------------ announcements

    def _published(self, index: LoadedIndex) -> None:
        """Engine hook, on the reindex thread: record and announce the new version before returning."""
        loop = self._loop
        if loop is None:
            return
        self.last_publish = (index.version, time.time())
        coro = self._announce(index.version)
        if threading.get_ident() == self._loop_thread:  # a reindex run on the loop itself: can't wait
            self.spawn(coro)
            return
        asyncio.run_coroutine_threadsafe(coro, loop).result(ANNOUNCE_TIMEOUT)

    async def _announce(self, version: str) -> None:
        await self.settings.announce_index(self.library, version, self.process_id)
        log.info("published index %s and announced it to the other processes", version)
        if self.register:
            await self.beat()

    async def _noticed(self, library: str, version: str, by: str | None) -> None:
        if library != self.library or by == self.process_id:
            return
        log.info("index %s announced by %s", version, by or "another process")
        await self.check()

    async def check(self) -> bool:
        """Swap (off the loop) to the folder's current version if it is not the served one; True if so."""
        async with self._checking:
            if not self.engine.stale():
                return False
            return await asyncio.to_thread(self.engine.catch_up)

    def _caught_up(self, index: LoadedIndex) -> None:
        """Engine hook, on any thread: the engine now serves a version published elsewhere (after a
        notice, or before a question whose process missed it); say so in the heartbeat row now."""
        self.last_swap = (index.version, time.time())
        loop = self._loop
        if loop is not None and self.register and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: self.spawn(self.beat()))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run `coro` in the background on the loop (this thread must be the loop's), keeping a reference."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ heartbeats

    def info(self) -> ProcessInfo:
        ids, count = self.shards()
        return ProcessInfo(
            process_id=self.process_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            shard_ids=None if ids is None else sorted(int(i) for i in ids),
            shard_count=count,
            index_version=self.engine.version,
            index_problem=self.engine.problem,
            started_at=self.started_at,
        )

    async def beat(self) -> None:
        """Refresh this process's row; a database hiccup is logged, never raised."""
        try:
            await self.settings.heartbeat(self.info())
        except Exception as exc:
            log.warning("heartbeat to %s failed: %s", self.settings.where(), exc)

    async def _beats(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self.check()  # the safety net for a notice lost while nobody asks anything
            except Exception:
                log.exception("checking for a newer index failed")
            await self.beat()
            beats += 1
            if beats % 60 == 1:
                with contextlib.suppress(Exception):
                    await self.settings.prune_processes(FORGET_AFTER)


# ---------------------------------------------------------------------- status


async def gather_status(
    settings: SettingsStoreBase, *, heartbeat_seconds: float = 10.0, index_dir: Path | None = None
) -> dict[str, Any]:
    """Everything `python -m bot status` prints, as data (its --json output)."""
    now = time.time()
    health = await settings.health()
    report: dict[str, Any] = {"now": now, "database": dict(health), "published": {}, "processes": []}
    server_version = getattr(settings, "server_version", None)
    if health["ok"] and server_version is not None:
        with contextlib.suppress(Exception):
            report["database"]["server_version"] = await server_version()
    if index_dir is not None:
        with contextlib.suppress(OSError):
            report["index_on_disk"] = (index_dir / "CURRENT").read_text(encoding="utf-8").strip() or None
    if not health["ok"]:
        return report
    published = await settings.index_versions()
    report["published"] = {name: dict(row) for name, row in published.items()}
    newest = {row["version"] for row in published.values()}
    rows: list[ProcessRow] = await settings.processes()
    for row in rows:
        silent = now - row["last_seen"]
        entry: dict[str, Any] = dict(row)
        entry["seconds_since_heartbeat"] = round(silent, 1)
        entry["alive"] = silent <= SILENT_AFTER * heartbeat_seconds
        entry["current"] = not newest or row["index_version"] in newest
        report["processes"].append(entry)
    return report


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def format_status(report: dict[str, Any]) -> str:
    """The human form of `gather_status`'s report."""
    db = report["database"]
    lines = []
    if db["ok"]:
        extra = f", server {db['server_version']}" if db.get("server_version") else ""
        lines.append(
            f"database: {db['detail']}: ok ({db['latency_ms']:.1f} ms, schema {db['schema_version']}{extra})"
        )
    else:
        lines.append(f"database: UNREACHABLE: {db['detail']}")
    if "index_on_disk" in report:
        lines.append(f"index folder CURRENT: {report['index_on_disk'] or '(none)'}")
    for name, row in sorted(report["published"].items()):
        by = f" by {row['published_by']}" if row["published_by"] else ""
        lines.append(f"published index ({name}): {row['version']} at {_when(row['published_at'])}{by}")
    processes = report["processes"]
    if db["ok"]:
        alive = sum(1 for p in processes if p["alive"])
        lines.append(f"processes: {len(processes)} ({alive} alive)")
    if processes:
        table = [("process", "shards", "index", "heartbeat", "state")]
        for p in processes:
            index = p["index_version"] or f"none ({p['index_problem'] or 'not loaded'})"
            if p["index_version"] and not p["current"]:
                index += " (behind)"
            state = "alive" if p["alive"] else "SILENT"
            table.append(
                (
                    p["process_id"],
                    format_shards(p["shard_ids"], p["shard_count"]),
                    index,
                    _ago(p["seconds_since_heartbeat"]),
                    state,
                )
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            lines.append(
                "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
    return "\n".join(lines)
