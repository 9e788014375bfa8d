"""Per-server settings that must survive restarts: spoiler modes, moderator role, leak reports, watch state.

Why SQLite through aiosqlite: one small file in the data folder, no server to run, and reads/writes never
block the Discord event loop. Why the care around opening: a bot that refuses to start because its settings
file got mangled is worse than one that starts with defaults, so a corrupt file is set aside (kept for a
human to inspect, never deleted) and a fresh database takes its place. Why "tag" on any read failure: an
unreadable setting must never turn spoiler protection *off*.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, TypedDict, cast, get_args

import aiosqlite

from bot.text import show_key as text_show_key

__all__ = [
    "DEFAULT_MODE",
    "GuildStatus",
    "LeakReport",
    "LibraryEvent",
    "SCHEMA_VERSION",
    "SettingsStore",
    "SpoilerMode",
    "show_key",
]

log = logging.getLogger(__name__)

SpoilerMode = Literal["tag", "off", "hide"]
DEFAULT_MODE: Final[SpoilerMode] = "tag"
_MODES: Final[frozenset[str]] = frozenset(get_args(SpoilerMode))

_MAX_SNOWFLAKE: Final = 2**63 - 1  # SQLite INTEGER is signed 64-bit; Discord ids fit well inside.

# Ordered migrations: index i upgrades user_version i -> i + 1. Append only; never edit a shipped entry.
# Plain CREATE TABLE (no IF NOT EXISTS) so a file in an unexpected state fails loudly instead of half-working.
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

# Whitespace, underscores and any dash (hyphen, en/em dash, minus...) all separate words in a show key.


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


class SettingsStore:
    """Async access to the settings database. Create with `await SettingsStore.open(path)`."""

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
    async def _prepare(db: aiosqlite.Connection) -> None:
        try:
            await db.execute("PRAGMA busy_timeout=5000")  # wait for another writer rather than fail at once
            async with db.execute("PRAGMA integrity_check") as cur:
                rows = [str(row[0]) for row in await cur.fetchall()]
            if rows != ["ok"]:
                raise _CorruptDatabase("integrity_check: " + "; ".join(rows[:5]))
            async with db.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            version = int(row[0]) if row else 0
        except sqlite3.Error as exc:
            if _is_environment_error(exc):
                raise
            raise _CorruptDatabase(f"{type(exc).__name__}: {exc}") from exc

        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"settings database schema version {version} is newer than this bot supports "
                f"({SCHEMA_VERSION}); refusing to downgrade it"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            try:
                await db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _MIGRATIONS[target - 1]:
                        await db.execute(statement)
                    await db.execute(f"PRAGMA user_version = {target:d}")
                    await db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        await db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                if _is_environment_error(exc):
                    raise
                raise _CorruptDatabase(f"migration to version {target} failed: {exc}") from exc
            log.info("Settings database migrated to schema version %d", target)

        # WAL only once the file is known good: switching rewrites the header; bad files are kept as found.
        async with db.execute("PRAGMA journal_mode=WAL") as cur:
            row = await cur.fetchone()
        if row is None or str(row[0]).lower() != "wal":
            log.warning("Settings database could not switch to WAL mode (got %r)", row)
        await db.execute("PRAGMA synchronous=NORMAL")

    async def close(self) -> None:
        """Close the connection. Safe to call twice."""
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    async def __aenter__(self) -> SettingsStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("SettingsStore is closed")
        return self._db

    async def _write(self, sql: str, params: Sequence[object]) -> tuple[int, int | None]:
        """Run one write statement under the lock; returns (rowcount, lastrowid)."""
        async with self._write_lock, self._conn.execute(sql, params) as cur:
            return cur.rowcount, cur.lastrowid

    async def schema_version(self) -> int:
        """The `PRAGMA user_version` recorded in the file."""
        async with self._conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # ---------------------------------------------------------------- spoiler modes

    async def set_mode(self, guild_id: int, mode: SpoilerMode, channel_id: int | None = None) -> None:
        """Set the server default (channel_id None) or a channel override. Raises ValueError on bad input."""
        guild_id = _check_id("guild_id", guild_id)
        mode = _check_mode(mode)
        now = time.time()
        if channel_id is None:
            await self._write(
                "INSERT INTO guild_settings (guild_id, mode, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at",
                (guild_id, mode, now),
            )
        else:
            channel_id = _check_id("channel_id", channel_id)
            await self._write(
                "INSERT INTO channel_modes (guild_id, channel_id, mode, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (guild_id, channel_id) DO UPDATE "
                "SET mode = excluded.mode, updated_at = excluded.updated_at",
                (guild_id, channel_id, mode, now),
            )

    async def clear_channel_mode(self, guild_id: int, channel_id: int) -> bool:
        """Drop a channel override so the channel follows the server again. True if one existed."""
        removed, _ = await self._write(
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
            async with self._conn.execute(
                "SELECT (SELECT mode FROM channel_modes WHERE guild_id = ? AND channel_id = ?), "
                "(SELECT mode FROM guild_settings WHERE guild_id = ?)",
                (guild_id, channel, guild_id),
            ) as cur:
                row = await cur.fetchone()
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
        async with self._conn.execute(
            "SELECT mode, moderator_role_id FROM guild_settings WHERE guild_id = ?", (guild_id,)
        ) as cur:
            row = await cur.fetchone()
        async with self._conn.execute(
            "SELECT channel_id, mode FROM channel_modes WHERE guild_id = ? ORDER BY channel_id", (guild_id,)
        ) as cur:
            overrides = {int(r[0]): _check_mode(r[1]) for r in await cur.fetchall()}
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
        await self._write(
            "INSERT INTO guild_settings (guild_id, moderator_role_id, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE "
            "SET moderator_role_id = excluded.moderator_role_id, updated_at = excluded.updated_at",
            (guild_id, role, time.time()),
        )

    async def get_moderator_role(self, guild_id: int) -> int | None:
        """The moderator role id for a server, or None if none is set."""
        async with self._conn.execute(
            "SELECT moderator_role_id FROM guild_settings WHERE guild_id = ?",
            (_check_id("guild_id", guild_id),),
        ) as cur:
            row = await cur.fetchone()
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
        _, report_id = await self._write(
            "INSERT INTO leak_reports "
            "(guild_id, channel_id, user_id, message_id, passage_ids, note, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _check_id("guild_id", guild_id),
                _check_id("channel_id", channel_id),
                _check_id("user_id", user_id),
                _check_id("message_id", message_id),
                json.dumps(ids),
                note,
                time.time(),
            ),
        )
        if report_id is None:  # pragma: no cover - an INSERT always sets it
            raise RuntimeError("SQLite did not report the new leak report id")
        return report_id

    async def leak_reports(self, guild_id: int, limit: int = 20) -> list[LeakReport]:
        """The server's most recent leak reports, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        async with self._conn.execute(
            "SELECT id, guild_id, channel_id, user_id, message_id, passage_ids, note, created_at "
            "FROM leak_reports WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (_check_id("guild_id", guild_id), limit),
        ) as cur:
            rows = await cur.fetchall()
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
        if isinstance(season, bool) or not isinstance(season, int) or season < 1:
            raise ValueError(f"season must be an int >= 1, got {season!r}")
        await self._write(
            "INSERT INTO watched (user_id, show_key, season, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id, show_key) DO UPDATE "
            "SET season = excluded.season, updated_at = excluded.updated_at",
            (_check_id("user_id", user_id), show_key(show), season, time.time()),
        )

    async def watched(self, user_id: int) -> dict[str, int]:
        """Show key -> highest season the fan has watched."""
        async with self._conn.execute(
            "SELECT show_key, season FROM watched WHERE user_id = ? ORDER BY show_key",
            (_check_id("user_id", user_id),),
        ) as cur:
            return {str(r[0]): int(r[1]) for r in await cur.fetchall()}

    async def clear_watched(self, user_id: int, show: str | None = None) -> int:
        """Forget one show's progress (or, with None, all of it); returns how many shows were forgotten."""
        user_id = _check_id("user_id", user_id)
        if show is None:
            removed, _ = await self._write("DELETE FROM watched WHERE user_id = ?", (user_id,))
        else:
            removed, _ = await self._write(
                "DELETE FROM watched WHERE user_id = ? AND show_key = ?", (user_id, show_key(show))
            )
        return max(removed, 0)

    # ---------------------------------------------------------------- libraries

    async def set_shared_library(self, guild_id: int, on: bool) -> None:
        """Whether the server's answers also come from the shared library (default: on)."""
        await self._write(
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
            async with self._conn.execute(
                "SELECT shared_on FROM library_settings WHERE guild_id = ?",
                (_check_id("guild_id", guild_id),),
            ) as cur:
                row = await cur.fetchone()
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
        """Record a change to a library; returns the event id."""
        if not isinstance(library, str) or not library or not isinstance(action, str) or not action:
            raise ValueError("library and action must be non-empty strings")
        _, event_id = await self._write(
            "INSERT INTO library_audit (library, guild_id, user_id, action, detail, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                library,
                None if guild_id is None else _check_id("guild_id", guild_id),
                _check_id("user_id", user_id),
                action,
                None if detail is None else str(detail)[:500],
                time.time() if at is None else float(at),
            ),
        )
        if event_id is None:  # pragma: no cover - an INSERT always sets it
            raise RuntimeError("SQLite did not report the new event id")
        return event_id

    async def library_events(self, library: str, limit: int = 20) -> list[LibraryEvent]:
        """The library's most recent changes, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        async with self._conn.execute(
            "SELECT id, library, guild_id, user_id, action, detail, created_at "
            "FROM library_audit WHERE library = ? ORDER BY id DESC LIMIT ?",
            (library, limit),
        ) as cur:
            rows = await cur.fetchall()
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
        async with self._conn.execute(
            "SELECT COUNT(*) FROM library_audit WHERE library = ? AND action = ? AND created_at >= ?",
            (library, action, float(since)),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0
