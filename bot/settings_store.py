"""Per-server settings that must survive restarts: spoiler modes, moderator role, leak reports, watch state.

Two backends behind one interface, `SettingsStoreBase`: SQLite (`SettingsStore`, this module), the
embedded default for one process, and PostgreSQL (`bot.settings_postgres`) when `DATABASE_URL` names
one, for several processes sharing one state. Every public method is written once, in the base
class, over three primitives (one row, all rows, a write's row count), so both backends validate,
resolve and order alike. The same database holds what several processes must agree on: the index
version published last, and one heartbeat row per serving process (`python -m bot status` reads them).

Why SQLite through aiosqlite: one small file in the data folder, no server to run, and reads/writes never
block the Discord event loop. Why the care around opening: a bot that refuses to start because its settings
file got mangled is worse than one that starts with defaults, so a corrupt file is set aside (kept for a
human to inspect, never deleted) and a fresh database takes its place. Why "tag" on any read failure: an
unreadable setting must never turn spoiler protection *off*.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict, cast, get_args

import aiosqlite

from bot.text import show_key as text_show_key

if TYPE_CHECKING:
    from bot.config import Config

__all__ = [
    "DEFAULT_LIBRARY",
    "DEFAULT_MODE",
    "GuildStatus",
    "Health",
    "IndexListener",
    "IndexVersion",
    "LeakReport",
    "ProcessInfo",
    "ProcessRow",
    "LibraryEvent",
    "SCHEMA_VERSION",
    "SettingsStore",
    "SettingsStoreBase",
    "SettingsUnavailable",
    "SpoilerMode",
    "open_settings",
    "show_key",
]

log = logging.getLogger(__name__)

SpoilerMode = Literal["tag", "off", "hide"]
DEFAULT_MODE: Final[SpoilerMode] = "tag"
DEFAULT_LIBRARY: Final = "default"  # the one index a bot serves today; the tables are keyed for more
_MODES: Final[frozenset[str]] = frozenset(get_args(SpoilerMode))

_MAX_SNOWFLAKE: Final = 2**63 - 1  # SQLite INTEGER and PostgreSQL BIGINT are signed 64-bit.

# Ordered migrations: index i upgrades user_version i -> i + 1. Append only; never edit a shipped entry.
# Plain CREATE TABLE (no IF NOT EXISTS) so a file in an unexpected state fails loudly instead of half-working.
# bot.settings_postgres keeps the same list in PostgreSQL's dialect: change both together.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE guild_settings (
            guild_id INTEGER PRIMARY KEY,
            mode TEXT CHECK (mode IS NULL OR mode IN ('tag', 'off', 'hide')),
            moderator_role_id INTEGER,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE channel_modes (
            guild_id INTEGER NOT NULL,
            channel_id INTEGER NOT NULL,
            mode TEXT NOT NULL CHECK (mode IN ('tag', 'off', 'hide')),
            updated_at REAL NOT NULL,
            PRIMARY KEY (guild_id, channel_id)
        )""",
        """CREATE TABLE leak_reports (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id INTEGER NOT NULL,
            channel_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            passage_ids TEXT NOT NULL,
            note TEXT,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX leak_reports_by_guild ON leak_reports (guild_id, id)",
        """CREATE TABLE watched (
            user_id INTEGER NOT NULL,
            show_key TEXT NOT NULL,
            season INTEGER NOT NULL CHECK (season >= 1),
            updated_at REAL NOT NULL,
            PRIMARY KEY (user_id, show_key)
        )""",
    ),
    (
        """CREATE TABLE processes (
            process_id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            shard_ids TEXT,
            shard_count INTEGER,
            index_version TEXT,
            index_problem TEXT,
            started_at REAL NOT NULL,
            last_seen REAL NOT NULL
        )""",
        """CREATE TABLE index_versions (
            library TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            published_at REAL NOT NULL,
            published_by TEXT
        )""",
    ),
    (
        # Libraries: whether a server also answers from the shared library, and the audit trail of
        # every change to any library (who, what, when). Portable SQL: PostgreSQL runs it as is
        # (AUTOINCREMENT aside, as in leak_reports).
        """CREATE TABLE library_settings (
            guild_id INTEGER PRIMARY KEY,
            shared_on INTEGER NOT NULL CHECK (shared_on IN (0, 1)),
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE library_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            library TEXT NOT NULL,
            guild_id INTEGER,
            user_id INTEGER NOT NULL,
            action TEXT NOT NULL,
            detail TEXT,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX library_audit_by_library ON library_audit (library, id)",
    ),
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)

# Primary SQLite result codes that mean "the environment is wrong right now" (locked, full disk, no
# permission...), not "this file is bad". Moving a healthy file aside over one of these would lose settings.
_ENVIRONMENT_ERRORS: Final = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_AUTH,
    }
)


class GuildStatus(TypedDict):
    """What `/spoilers status` shows: the server's mode, whether it was set, overrides and moderator role."""

    guild_id: int
    server_mode: SpoilerMode  # effective server default (DEFAULT_MODE when never set)
    server_mode_set: bool
    channel_overrides: dict[int, SpoilerMode]
    moderator_role_id: int | None


class LeakReport(TypedDict):
    """A fan's report that an answer leaked a spoiler, kept for moderators to review."""

    id: int
    guild_id: int
    channel_id: int
    user_id: int
    message_id: int
    passage_ids: list[str]
    note: str | None
    created_at: float  # Unix time


class ProcessInfo(TypedDict):
    """What a serving process says about itself in its heartbeat row."""

    process_id: str  # host:pid:random, unique per start
    host: str
    pid: int
    shard_ids: list[int] | None  # None until the gateway said (automatic sharding) or without Discord
    shard_count: int | None
    index_version: str | None
    index_problem: str | None
    started_at: float


class ProcessRow(ProcessInfo):
    """A heartbeat row as read back: the process's info and when it last wrote it."""

    last_seen: float


class IndexVersion(TypedDict):
    """The version of a library's index published last, and by which process."""

    library: str
    version: str
    published_at: float
    published_by: str | None


class Health(TypedDict):
    """Whether the database answers, how fast, and at which schema version."""

    backend: str  # "sqlite" or "postgresql"
    ok: bool
    latency_ms: float | None
    schema_version: int | None
    detail: str  # where it is (no password) and, when not ok, why


class SettingsUnavailable(RuntimeError):
    """The settings database cannot be reached or opened; the message says where and why (no password)."""


class IndexListener(abc.ABC):
    """A live subscription to index announcements from other processes; close it on shutdown."""

    @abc.abstractmethod
    async def close(self) -> None: ...


#: Called with (library, version, published_by) when another process announces a new index version.
IndexNotice = Callable[[str, str, str | None], Awaitable[None]]


class LibraryEvent(TypedDict):
    """One change to a library, for `/corpus history`: who did what, when."""

    id: int
    library: str  # "shared" or the server id
    guild_id: int | None  # where the command was run (None: the command line)
    user_id: int  # 0 for the command line
    action: str  # "add", "remove", "reindex", "shared on", "shared off", ...
    detail: str | None
    created_at: float  # Unix time


class _CorruptDatabase(Exception):
    """Internal: the file is unusable as our settings database and should be set aside."""


def show_key(name: str) -> str:
    """Normalise a show name so "Jessica Jones", "jessica-jones" and "ＪＥＳＳＩＣＡ JONES" are one key."""
    if not isinstance(name, str):
        raise ValueError(f"show name must be a string, not {type(name).__name__}")
    key = text_show_key(name)
    if not key:
        raise ValueError(f"show name {name!r} is empty once normalised")
    return key


def _check_id(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_SNOWFLAKE:
        raise ValueError(f"{what} must be a Discord id (non-negative 64-bit int), got {value!r}")
    return value


def _check_mode(mode: object) -> SpoilerMode:
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(f"spoiler mode must be one of {sorted(_MODES)}, got {mode!r}")
    return cast(SpoilerMode, mode)


def _check_text(what: str, value: object, *, optional: bool = False) -> str | None:
    """Text as both backends can store it: PostgreSQL's text cannot hold NUL, so NUL is dropped in both."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string{' or None' if optional else ''}, got {value!r}")
    return value.replace("\x00", "")


def _shards_json(shard_ids: object) -> str | None:
    if shard_ids is None:
        return None
    ids = list(shard_ids)  # type: ignore[call-overload]
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
        raise ValueError(f"shard ids must be non-negative ints, got {shard_ids!r}")
    return json.dumps(sorted(ids))


def _is_environment_error(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _ENVIRONMENT_ERRORS


def _aside_path(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while candidate.exists() or Path(f"{candidate}-wal").exists():
        candidate = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    return candidate


def _move_aside(path: Path) -> Path:
    """Rename the bad file and its sidecars out of the way (a fresh file would replay a stale WAL/journal)."""
    target = _aside_path(path)
    os.replace(path, target)
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = Path(f"{path}{suffix}")
        if sidecar.exists():
            os.replace(sidecar, Path(f"{target}{suffix}"))
    return target


class SettingsStoreBase(abc.ABC):
    """Every store method, over three primitives a backend provides. SQL uses `?` placeholders."""

    backend: str = "?"
    #: Where a corrupt database was moved when this store was opened (SQLite only), or None.
    recovered_from: Path | None = None

    # ---------------------------------------------------------------- what a backend provides

    @abc.abstractmethod
    async def _one(
        self, sql: str, params: Sequence[object] = (), *, write: bool = False
    ) -> tuple[Any, ...] | None:
        """The first row of a query (`write`: a statement that changes rows, e.g. INSERT ... RETURNING)."""

    @abc.abstractmethod
    async def _all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query."""

    @abc.abstractmethod
    async def _run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one write statement; returns how many rows it changed."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The schema version recorded in the database."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connection(s). Safe to call twice."""

    @abc.abstractmethod
    def where(self) -> str:
        """Where the database is, for people (never a password)."""

    async def announce_index(self, library: str, version: str, published_by: str | None) -> None:
        """Record the version just published (PostgreSQL also tells every listening process)."""
        await self._record_index(library, version, published_by)

    async def listen_index(
        self, notice: IndexNotice, on_connect: Callable[[], Awaitable[None]] | None = None
    ) -> IndexListener | None:
        """Subscribe to other processes' announcements; None where the backend has no channel (SQLite:
        one process, which catches up by checking the index folder instead)."""
        return None

    def reindex_lock(
        self, loop: asyncio.AbstractEventLoop, library: str = DEFAULT_LIBRARY
    ) -> Callable[[], contextlib.AbstractContextManager[None]] | None:
        """A lock factory for `IndexStore.lock_factory` that works across machines, or None to keep the
        index folder's file lock (SQLite: one machine)."""
        return None

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> SettingsStoreBase:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def health(self) -> Health:
        """Ping the database; never raises (a dead database is what this reports)."""
        started = time.perf_counter()
        try:
            await self._one("SELECT 1")
            latency = 1000 * (time.perf_counter() - started)
            version = await self.schema_version()
        except Exception as exc:
            return Health(
                backend=self.backend,
                ok=False,
                latency_ms=None,
                schema_version=None,
                detail=f"{self.where()}: {type(exc).__name__}: {exc}",
            )
        return Health(
            backend=self.backend, ok=True, latency_ms=latency, schema_version=version, detail=self.where()
        )

    # ---------------------------------------------------------------- spoiler modes

    async def set_mode(self, guild_id: int, mode: SpoilerMode, channel_id: int | None = None) -> None:
        """Set the server default (channel_id None) or a channel override. Raises ValueError on bad input."""
        guild_id = _check_id("guild_id", guild_id)
        mode = _check_mode(mode)
        now = time.time()
        if channel_id is None:
            await self._run(
                "INSERT INTO guild_settings (guild_id, mode, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at",
                (guild_id, mode, now),
            )
        else:
            channel_id = _check_id("channel_id", channel_id)
            await self._run(
                "INSERT INTO channel_modes (guild_id, channel_id, mode, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (guild_id, channel_id) DO UPDATE "
                "SET mode = excluded.mode, updated_at = excluded.updated_at",
                (guild_id, channel_id, mode, now),
            )

    async def clear_channel_mode(self, guild_id: int, channel_id: int) -> bool:
        """Drop a channel override so the channel follows the server again. True if one existed."""
        removed = await self._run(
            "DELETE FROM channel_modes WHERE guild_id = ? AND channel_id = ?",
            (_check_id("guild_id", guild_id), _check_id("channel_id", channel_id)),
        )
        return removed > 0

    async def get_mode(
        self, guild_id: int | None, channel_id: int | None, *, channel_is_spoiler: bool = False
    ) -> SpoilerMode:
        """The mode to apply: channel override > spoiler/NSFW channel ("off") > server default > "tag".

        DMs (guild_id None) get "tag". Never raises: any failure reading the database logs and returns "tag".
        """
        if guild_id is None:
            return DEFAULT_MODE
        try:
            guild_id = _check_id("guild_id", guild_id)
            channel = -1 if channel_id is None else _check_id("channel_id", channel_id)
            row = await self._one(
                "SELECT (SELECT mode FROM channel_modes WHERE guild_id = ? AND channel_id = ?), "
                "(SELECT mode FROM guild_settings WHERE guild_id = ?)",
                (guild_id, channel, guild_id),
            )
            channel_mode, server_mode = (row[0], row[1]) if row else (None, None)
            if channel_mode is not None:
                return _check_mode(channel_mode)
            if channel_is_spoiler:
                return "off"
            if server_mode is not None:
                return _check_mode(server_mode)
            return DEFAULT_MODE
        except Exception:
            log.exception(
                "Reading spoiler mode for guild %s channel %s failed; failing closed to %r",
                guild_id,
                channel_id,
                DEFAULT_MODE,
            )
            return DEFAULT_MODE

    async def status(self, guild_id: int) -> GuildStatus:
        """Everything `/spoilers status` needs to show for one server."""
        guild_id = _check_id("guild_id", guild_id)
        row = await self._one(
            "SELECT mode, moderator_role_id FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        rows = await self._all(
            "SELECT channel_id, mode FROM channel_modes WHERE guild_id = ? ORDER BY channel_id", (guild_id,)
        )
        overrides = {int(r[0]): _check_mode(r[1]) for r in rows}
        server_mode = row[0] if row else None
        return GuildStatus(
            guild_id=guild_id,
            server_mode=DEFAULT_MODE if server_mode is None else _check_mode(server_mode),
            server_mode_set=server_mode is not None,
            channel_overrides=overrides,
            moderator_role_id=None if row is None or row[1] is None else int(row[1]),
        )

    # ---------------------------------------------------------------- moderator role

    async def set_moderator_role(self, guild_id: int, role_id: int | None) -> None:
        """Set (or with None, clear) the role allowed to change spoiler settings besides Manage Server."""
        guild_id = _check_id("guild_id", guild_id)
        role = None if role_id is None else _check_id("role_id", role_id)
        await self._run(
            "INSERT INTO guild_settings (guild_id, moderator_role_id, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE "
            "SET moderator_role_id = excluded.moderator_role_id, updated_at = excluded.updated_at",
            (guild_id, role, time.time()),
        )

    async def get_moderator_role(self, guild_id: int) -> int | None:
        """The moderator role id for a server, or None if none is set."""
        row = await self._one(
            "SELECT moderator_role_id FROM guild_settings WHERE guild_id = ?",
            (_check_id("guild_id", guild_id),),
        )
        return None if row is None or row[0] is None else int(row[0])

    # ---------------------------------------------------------------- leak reports

    async def add_leak_report(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        message_id: int,
        passage_ids: list[str],
        note: str | None,
    ) -> int:
        """Record that an answer leaked a spoiler; returns the report id."""
        ids = list(passage_ids)
        if not all(isinstance(p, str) for p in ids):
            raise ValueError("passage_ids must be strings")
        if note is not None and not isinstance(note, str):
            raise ValueError("note must be a string or None")
        row = await self._one(
            "INSERT INTO leak_reports "
            "(guild_id, channel_id, user_id, message_id, passage_ids, note, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                _check_id("guild_id", guild_id),
                _check_id("channel_id", channel_id),
                _check_id("user_id", user_id),
                _check_id("message_id", message_id),
                json.dumps(ids),
                _check_text("note", note, optional=True),
                time.time(),
            ),
            write=True,
        )
        if row is None:  # pragma: no cover - an INSERT ... RETURNING always returns the row
            raise RuntimeError("the database did not report the new leak report id")
        return int(row[0])

    async def leak_reports(self, guild_id: int, limit: int = 20) -> list[LeakReport]:
        """The server's most recent leak reports, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_SNOWFLAKE:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        rows = await self._all(
            "SELECT id, guild_id, channel_id, user_id, message_id, passage_ids, note, created_at "
            "FROM leak_reports WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (_check_id("guild_id", guild_id), limit),
        )
        return [
            LeakReport(
                id=int(r[0]),
                guild_id=int(r[1]),
                channel_id=int(r[2]),
                user_id=int(r[3]),
                message_id=int(r[4]),
                passage_ids=[str(p) for p in json.loads(r[5])],
                note=r[6],
                created_at=float(r[7]),
            )
            for r in rows
        ]

    # ---------------------------------------------------------------- watch progress

    async def set_watched(self, user_id: int, show: str, season: int) -> None:
        """Record that a fan has seen `show` up to and including `season` (replaces, so it can be lowered)."""
        if isinstance(season, bool) or not isinstance(season, int) or not 1 <= season <= _MAX_SNOWFLAKE:
            raise ValueError(f"season must be an int >= 1, got {season!r}")
        await self._run(
            "INSERT INTO watched (user_id, show_key, season, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id, show_key) DO UPDATE "
            "SET season = excluded.season, updated_at = excluded.updated_at",
            (_check_id("user_id", user_id), show_key(show), season, time.time()),
        )

    async def watched(self, user_id: int) -> dict[str, int]:
        """Show key -> highest season the fan has watched."""
        rows = await self._all(
            "SELECT show_key, season FROM watched WHERE user_id = ? ORDER BY show_key",
            (_check_id("user_id", user_id),),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    async def clear_watched(self, user_id: int, show: str | None = None) -> int:
        """Forget one show's progress (or, with None, all of it); returns how many shows were forgotten."""
        user_id = _check_id("user_id", user_id)
        if show is None:
            removed = await self._run("DELETE FROM watched WHERE user_id = ?", (user_id,))
        else:
            removed = await self._run(
                "DELETE FROM watched WHERE user_id = ? AND show_key = ?", (user_id, show_key(show))
            )
        return max(removed, 0)

    # ---------------------------------------------------------------- processes (heartbeats)

    async def heartbeat(self, info: ProcessInfo) -> None:
        """Write (or refresh) this process's row: its shards, the index version it serves, now."""
        pid = info["pid"]
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid <= _MAX_SNOWFLAKE:
            raise ValueError(f"pid must be a non-negative int, got {pid!r}")
        count = info["shard_count"]
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ValueError(f"shard_count must be an int >= 1 or None, got {count!r}")
        await self._run(
            "INSERT INTO processes (process_id, host, pid, shard_ids, shard_count, index_version, "
            "index_problem, started_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (process_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
            "shard_ids = excluded.shard_ids, shard_count = excluded.shard_count, "
            "index_version = excluded.index_version, index_problem = excluded.index_problem, "
            "started_at = excluded.started_at, last_seen = excluded.last_seen",
            (
                _check_text("process_id", info["process_id"]),
                _check_text("host", info["host"]),
                pid,
                _shards_json(info["shard_ids"]),
                count,
                _check_text("index_version", info["index_version"], optional=True),
                _check_text("index_problem", info["index_problem"], optional=True),
                float(info["started_at"]),
                time.time(),
            ),
        )

    async def processes(self) -> list[ProcessRow]:
        """Every heartbeat row, oldest start first."""
        rows = await self._all(
            "SELECT process_id, host, pid, shard_ids, shard_count, index_version, index_problem, "
            "started_at, last_seen FROM processes ORDER BY started_at, process_id"
        )
        return [
            ProcessRow(
                process_id=str(r[0]),
                host=str(r[1]),
                pid=int(r[2]),
                shard_ids=None if r[3] is None else [int(i) for i in json.loads(r[3])],
                shard_count=None if r[4] is None else int(r[4]),
                index_version=r[5],
                index_problem=r[6],
                started_at=float(r[7]),
                last_seen=float(r[8]),
            )
            for r in rows
        ]

    async def forget_process(self, process_id: str) -> bool:
        """Remove a process's row (it is shutting down cleanly). True if it was there."""
        return await self._run("DELETE FROM processes WHERE process_id = ?", (process_id,)) > 0

    async def prune_processes(self, silent_for: float) -> int:
        """Remove rows of processes not heard from in `silent_for` seconds (they died long ago)."""
        return await self._run("DELETE FROM processes WHERE last_seen < ?", (time.time() - silent_for,))

    # ---------------------------------------------------------------- index versions

    async def _record_index(self, library: str, version: str, published_by: str | None) -> None:
        await self._run(
            "INSERT INTO index_versions (library, version, published_at, published_by) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (library) DO UPDATE SET version = excluded.version, "
            "published_at = excluded.published_at, published_by = excluded.published_by",
            (
                _check_text("library", library),
                _check_text("version", version),
                time.time(),
                _check_text("published_by", published_by, optional=True),
            ),
        )

    async def index_versions(self) -> dict[str, IndexVersion]:
        """Library -> the version published last."""
        rows = await self._all(
            "SELECT library, version, published_at, published_by FROM index_versions ORDER BY library"
        )
        return {
            str(r[0]): IndexVersion(
                library=str(r[0]), version=str(r[1]), published_at=float(r[2]), published_by=r[3]
            )
            for r in rows
        }

    # ---------------------------------------------------------------- libraries

    async def set_shared_library(self, guild_id: int, on: bool) -> None:
        """Whether the server's answers also come from the shared library (default: on)."""
        await self._run(
            "INSERT INTO library_settings (guild_id, shared_on, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE "
            "SET shared_on = excluded.shared_on, updated_at = excluded.updated_at",
            (_check_id("guild_id", guild_id), 1 if on else 0, time.time()),
        )

    async def shared_library_on(self, guild_id: int | None) -> bool:
        """True unless the server switched the shared library off (DMs: always on). A read failure
        answers True: the shared library is the curated default, never a server's own uploads."""
        if guild_id is None:
            return True
        try:
            row = await self._one(
                "SELECT shared_on FROM library_settings WHERE guild_id = ?",
                (_check_id("guild_id", guild_id),),
            )
        except Exception:
            log.exception("reading the shared-library setting of guild %s failed; using on", guild_id)
            return True
        return row is None or bool(row[0])

    async def add_library_event(
        self,
        library: str,
        user_id: int,
        action: str,
        detail: str | None = None,
        *,
        guild_id: int | None = None,
        at: float | None = None,
    ) -> int:
        """Record a change to a library (the audit trail); returns the event id."""
        if not isinstance(library, str) or not library or not isinstance(action, str) or not action:
            raise ValueError("library and action must be non-empty strings")
        row = await self._one(
            "INSERT INTO library_audit (library, guild_id, user_id, action, detail, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (
                library,
                None if guild_id is None else _check_id("guild_id", guild_id),
                _check_id("user_id", user_id),
                action,
                None if detail is None else str(detail)[:500],
                time.time() if at is None else float(at),
            ),
            write=True,
        )
        if row is None:  # pragma: no cover - an INSERT ... RETURNING always returns the row
            raise RuntimeError("the database did not report the new event id")
        return int(row[0])

    async def library_events(self, library: str, limit: int = 20) -> list[LibraryEvent]:
        """The library's most recent changes, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        rows = await self._all(
            "SELECT id, library, guild_id, user_id, action, detail, created_at "
            "FROM library_audit WHERE library = ? ORDER BY id DESC LIMIT ?",
            (library, limit),
        )
        return [
            LibraryEvent(
                id=int(r[0]),
                library=str(r[1]),
                guild_id=None if r[2] is None else int(r[2]),
                user_id=int(r[3]),
                action=str(r[4]),
                detail=r[5],
                created_at=float(r[6]),
            )
            for r in rows
        ]

    async def count_library_events(self, library: str, action: str, since: float) -> int:
        """How many `action` events the library had since `since` (Unix time): rate limits that
        survive a restart and hold across processes sharing the store."""
        row = await self._one(
            "SELECT COUNT(*) FROM library_audit WHERE library = ? AND action = ? AND created_at >= ?",
            (library, action, float(since)),
        )
        return int(row[0]) if row else 0


class SettingsStore(SettingsStoreBase):
    """The SQLite backend. Create with `await SettingsStore.open(path)`."""

    backend = "sqlite"

    def __init__(self, db: aiosqlite.Connection, path: Path, recovered_from: Path | None) -> None:
        self._db: aiosqlite.Connection | None = db
        self.path = path
        #: Where a corrupt database was moved when this store was opened, or None if none was.
        self.recovered_from = recovered_from
        self._write_lock = asyncio.Lock()

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    async def open(cls, path: Path) -> SettingsStore:
        """Open (creating folders and schema as needed) the database at `path`, recovering from corruption.

        Raises sqlite3.Error for environment problems (locked, read-only, disk full) without touching the
        file, and RuntimeError if the file was written by a newer schema than this code knows.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        recovered_from: Path | None = None
        try:
            db = await cls._connect(path)
        except _CorruptDatabase as exc:
            recovered_from = _move_aside(path)
            log.warning(
                "Settings database %s is corrupt (%s); moved it to %s and starting a fresh one",
                path,
                exc,
                recovered_from,
            )
            db = await cls._connect(path)
        return cls(db, path, recovered_from)

    @classmethod
    async def _connect(cls, path: Path) -> aiosqlite.Connection:
        pending = aiosqlite.connect(path, isolation_level=None)  # autocommit; transactions are explicit
        try:
            db = await pending
        except BaseException:
            # aiosqlite stops its worker thread without waiting; let it finish while our loop is still alive,
            # or it reports "Event loop is closed" from the thread when the caller exits right after.
            worker = getattr(pending, "_thread", None)
            if isinstance(worker, threading.Thread) and worker.is_alive():
                await asyncio.to_thread(worker.join, 5.0)
            raise
        try:
            await cls._prepare(db)
        except BaseException:
            await db.close()
            raise
        return db

    @staticmethod
    async def _user_version(db: aiosqlite.Connection) -> int:
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    @classmethod
    async def _prepare(cls, db: aiosqlite.Connection) -> None:
        try:
            await db.execute("PRAGMA busy_timeout=5000")  # wait for another writer rather than fail at once
            async with db.execute("PRAGMA integrity_check") as cur:
                rows = [str(row[0]) for row in await cur.fetchall()]
            if rows != ["ok"]:
                raise _CorruptDatabase("integrity_check: " + "; ".join(rows[:5]))
            version = await cls._user_version(db)
        except sqlite3.Error as exc:
            if _is_environment_error(exc):
                raise
            raise _CorruptDatabase(f"{type(exc).__name__}: {exc}") from exc

        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"settings database schema version {version} is newer than this bot supports "
                f"({SCHEMA_VERSION}); refusing to downgrade it"
            )
        if version < SCHEMA_VERSION:
            await cls._migrate(db)

        # WAL only once the file is known good: switching rewrites the header; bad files are kept as found.
        row = await cls._switch_to_wal(db)
        if row is None or str(row[0]).lower() != "wal":
            log.warning("Settings database could not switch to WAL mode (got %r)", row)
        await db.execute("PRAGMA synchronous=NORMAL")

    @staticmethod
    async def _switch_to_wal(db: aiosqlite.Connection) -> Any:
        """Switch to WAL, waiting while another connection holds the file (the switch needs it alone
        and SQLite's busy timeout does not cover it): processes that open a new file together."""
        deadline = time.monotonic() + 5.0
        while True:
            try:
                async with db.execute("PRAGMA journal_mode=WAL") as cur:
                    return await cur.fetchone()
            except sqlite3.OperationalError as exc:
                if not _is_environment_error(exc) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)

    @classmethod
    async def _migrate(cls, db: aiosqlite.Connection) -> None:
        """Apply the missing migrations in one write transaction. The version is read again inside it,
        so a second process opening the same file at the same moment waits and then finds nothing to do."""
        try:
            await db.execute("BEGIN IMMEDIATE")
            try:
                version = await cls._user_version(db)
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[target - 1]:
                        await db.execute(statement)
                    await db.execute(f"PRAGMA user_version = {target:d}")
                    log.info("Settings database migrated to schema version %d", target)
                await db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if _is_environment_error(exc):
                raise
            raise _CorruptDatabase(f"migration to version {SCHEMA_VERSION} failed: {exc}") from exc

    async def close(self) -> None:
        """Close the connection. Safe to call twice."""
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    def where(self) -> str:
        return f"SQLite {self.path}"

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("SettingsStore is closed")
        return self._db

    async def _one(
        self, sql: str, params: Sequence[object] = (), *, write: bool = False
    ) -> tuple[Any, ...] | None:
        async with contextlib.AsyncExitStack() as stack:
            if write:  # INSERT ... RETURNING: under the same lock as every other write
                await stack.enter_async_context(self._write_lock)
            cur = await stack.enter_async_context(self._conn.execute(sql, params))
            row = await cur.fetchone()
        return None if row is None else tuple(row)

    async def _all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        async with self._conn.execute(sql, params) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def _run(self, sql: str, params: Sequence[object] = ()) -> int:
        """One write statement under the lock (one connection: writes must not interleave)."""
        async with self._write_lock, self._conn.execute(sql, params) as cur:
            return cur.rowcount

    async def schema_version(self) -> int:
        """The `PRAGMA user_version` recorded in the file."""
        return await self._user_version(self._conn)


async def open_settings(config: Config) -> SettingsStoreBase:
    """The store `config` asks for: PostgreSQL when DATABASE_URL is a postgres URL, else the SQLite file
    (DATABASE_URL=sqlite:///path, or `settings.sqlite3` in the data folder)."""
    url = (config.database_url or "").strip()
    if url.startswith(("postgres://", "postgresql://", "postgresql+asyncpg://")):
        from bot.settings_postgres import PostgresSettingsStore

        return await PostgresSettingsStore.open(
            url, max_size=config.database_pool_size, wait=config.database_wait_seconds
        )
    if url.startswith("sqlite:"):
        return await SettingsStore.open(sqlite_path(url))
    if url:
        raise SettingsUnavailable("DATABASE_URL must start with postgresql:// or sqlite:")
    return await SettingsStore.open(config.data_dir / "settings.sqlite3")


def sqlite_path(url: str) -> Path:
    """The file of a SQLAlchemy-style URL: `sqlite:///relative.db`, `sqlite:////absolute.db`."""
    rest = url[len("sqlite:") :]
    for prefix in ("///", "//"):
        if rest.startswith(prefix):
            return Path(rest[len(prefix) :])
    return Path(rest)
