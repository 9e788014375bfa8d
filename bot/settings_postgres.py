"""The PostgreSQL settings backend, for a bot that runs in several processes (shards, machines).

Why PostgreSQL: processes on several machines must agree on spoiler modes and on which index version
they serve; SQLite is one file on one machine. Python Discord's and Red's bots keep shared state in
PostgreSQL for the same reason. Why asyncpg: it never blocks the event loop and pools connections.

Besides the store methods (identical to SQLite's, see `bot.settings_store`) PostgreSQL gives the
processes three things: a transaction-scoped advisory lock so that schema migrations run once
however many processes start together; a session advisory lock so one process at a time builds an
index, on any machine (held by a live connection, so a process that dies releases it); and
LISTEN/NOTIFY, so a process that published a new index version tells the others at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.settings_store import (
    DEFAULT_LIBRARY,
    SCHEMA_VERSION,
    IndexListener,
    IndexNotice,
    SettingsStoreBase,
    SettingsUnavailable,
    _check_text,
)

__all__ = ["CHANNEL", "PostgresSettingsStore", "advisory_key", "redact_url"]

log = logging.getLogger(__name__)

CHANNEL: Final = "tvbot_index"  # NOTIFY channel: a payload per published index version
LOCK_TIMEOUT: Final = 30.0  # seconds a reindex thread waits for the event loop to take or drop the lock

# The same schema as the SQLite migrations (bot.settings_store._MIGRATIONS), in PostgreSQL's dialect.
# Append only; change both lists together. show_key sorts by code point ("C"), as SQLite does.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE guild_settings (
            guild_id BIGINT PRIMARY KEY,
            mode TEXT CHECK (mode IS NULL OR mode IN ('tag', 'off', 'hide')),
            moderator_role_id BIGINT,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE channel_modes (
            guild_id BIGINT NOT NULL,
            channel_id BIGINT NOT NULL,
            mode TEXT NOT NULL CHECK (mode IN ('tag', 'off', 'hide')),
            updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (guild_id, channel_id)
        )""",
        """CREATE TABLE leak_reports (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            guild_id BIGINT NOT NULL,
            channel_id BIGINT NOT NULL,
            user_id BIGINT NOT NULL,
            message_id BIGINT NOT NULL,
            passage_ids TEXT NOT NULL,
            note TEXT,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX leak_reports_by_guild ON leak_reports (guild_id, id)",
        """CREATE TABLE watched (
            user_id BIGINT NOT NULL,
            show_key TEXT COLLATE "C" NOT NULL,
            season BIGINT NOT NULL CHECK (season >= 1),
            updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (user_id, show_key)
        )""",
    ),
    (
        """CREATE TABLE processes (
            process_id TEXT COLLATE "C" PRIMARY KEY,
            host TEXT NOT NULL,
            pid BIGINT NOT NULL,
            shard_ids TEXT,
            shard_count BIGINT,
            index_version TEXT,
            index_problem TEXT,
            started_at DOUBLE PRECISION NOT NULL,
            last_seen DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE index_versions (
            library TEXT COLLATE "C" PRIMARY KEY,
            version TEXT NOT NULL,
            published_at DOUBLE PRECISION NOT NULL,
            published_by TEXT
        )""",
    ),
    (
        """CREATE TABLE library_settings (
            guild_id BIGINT PRIMARY KEY,
            shared_on BIGINT NOT NULL CHECK (shared_on IN (0, 1)),
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE library_audit (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            library TEXT COLLATE "C" NOT NULL,
            guild_id BIGINT,
            user_id BIGINT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX library_audit_by_library ON library_audit (library, id)",
    ),
)
assert len(_MIGRATIONS) == SCHEMA_VERSION, "the SQLite and PostgreSQL schemas must move together"

_PLACEHOLDER = re.compile(r"\?")
_TRANSIENT = (OSError, asyncio.TimeoutError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name (the same on every machine)."""
    return int.from_bytes(hashlib.sha256(f"tvbot:{name}".encode()).digest()[:8], "big", signed=True)


def redact_url(url: str) -> str:
    """The URL without its password, for logs and `bot status`."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
    except ValueError:
        return "postgresql://(unparsable URL)"


class PostgresSettingsStore(SettingsStoreBase):
    """The PostgreSQL backend. Create with `await PostgresSettingsStore.open(url)`."""

    backend = "postgresql"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool: asyncpg.Pool | None = pool
        self.url = url
        self._sql: dict[str, str] = {}

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    async def open(
        cls, url: str, *, min_size: int = 1, max_size: int = 10, wait: float = 30.0
    ) -> PostgresSettingsStore:
        """Connect a pool (retrying for up to `wait` seconds: processes and the database often start
        together), then bring the schema up to date, once, under an advisory lock.

        Raises SettingsUnavailable when the server cannot be reached, and RuntimeError when the
        database was written by a newer schema than this code knows.
        """
        dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        deadline = time.monotonic() + max(0.0, wait)
        delay = 0.25
        while True:
            try:
                pool = await asyncpg.create_pool(
                    dsn,
                    min_size=min(min_size, max_size),
                    max_size=max_size,
                    timeout=10,
                    command_timeout=30,
                    server_settings={"application_name": "tvbot"},
                )
                break
            except _TRANSIENT as exc:
                if time.monotonic() + delay > deadline:
                    raise SettingsUnavailable(
                        f"can't reach PostgreSQL at {redact_url(url)}: {type(exc).__name__}: {exc}"
                    ) from exc
                log.warning("PostgreSQL at %s not reachable yet (%s); retrying", redact_url(url), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except asyncpg.PostgresError as exc:  # bad password, no such database: retrying won't help
                raise SettingsUnavailable(
                    f"PostgreSQL at {redact_url(url)} refused the connection: {type(exc).__name__}: {exc}"
                ) from exc
        store = cls(pool, url)
        try:
            await store._migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def _migrate(self) -> None:
        """Apply missing migrations in one transaction that first takes a transaction advisory lock:
        the first process migrates, the others wait for its commit and find nothing left to do."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key("schema"))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
            )
            version = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"settings database schema version {version} is newer than this bot supports "
                    f"({SCHEMA_VERSION}); refusing to downgrade it"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target - 1]:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", target, time.time()
                )
                log.info("Settings database (PostgreSQL) migrated to schema version %d", target)

    async def close(self, timeout: float = 10.0) -> None:
        """Close the pool, waiting up to `timeout` for connections in use (a reindex holding the lock),
        then cutting them: a shutdown must not hang on a build. Safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), timeout)
        except TimeoutError:
            log.warning("closing the PostgreSQL pool timed out; terminating its connections")
            pool.terminate()

    def where(self) -> str:
        return f"PostgreSQL {redact_url(self.url)}"

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("SettingsStore is closed")
        return self._pool

    # ---------------------------------------------------------------- primitives

    def _dialect(self, sql: str) -> str:
        """`?` placeholders as PostgreSQL's `$1, $2, ...` (our SQL has no `?` inside literals)."""
        converted = self._sql.get(sql)
        if converted is None:
            numbers = iter(range(1, 1_000))
            converted = self._sql[sql] = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
        return converted

    async def _one(
        self, sql: str, params: Sequence[object] = (), *, write: bool = False
    ) -> tuple[Any, ...] | None:
        row = await self.pool.fetchrow(self._dialect(sql), *params)
        return None if row is None else tuple(row)

    async def _all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self.pool.fetch(self._dialect(sql), *params)]

    async def _run(self, sql: str, params: Sequence[object] = ()) -> int:
        status = await self.pool.execute(self._dialect(sql), *params)  # e.g. "DELETE 3", "INSERT 0 1"
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def schema_version(self) -> int:
        return int(await self.pool.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    async def server_version(self) -> str:
        return str(await self.pool.fetchval("SHOW server_version"))

    # ---------------------------------------------------------------- index announcements

    async def announce_index(self, library: str, version: str, published_by: str | None) -> None:
        """Record the published version and NOTIFY in one transaction (listeners hear it at commit)."""
        payload = json.dumps({"library": library, "version": version, "by": published_by})
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                self._dialect(
                    "INSERT INTO index_versions (library, version, published_at, published_by) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (library) DO UPDATE SET version = excluded.version, "
                    "published_at = excluded.published_at, published_by = excluded.published_by"
                ),
                _check_text("library", library),
                _check_text("version", version),
                time.time(),
                _check_text("published_by", published_by, optional=True),
            )
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    async def listen_index(
        self, notice: IndexNotice, on_connect: Callable[[], Awaitable[None]] | None = None
    ) -> IndexListener:
        listener = _Listener(self.url, notice, on_connect)
        await listener.start()
        return listener

    # ---------------------------------------------------------------- the reindex lock

    def reindex_lock(
        self, loop: asyncio.AbstractEventLoop, library: str = DEFAULT_LIBRARY
    ) -> Callable[[], contextlib.AbstractContextManager[None]]:
        """A lock factory for the index builder, which runs on a worker thread: each use takes a session
        advisory lock on a pooled connection through `loop`, and raises ReindexRunning at once when
        another process (on any machine) holds it."""
        key = advisory_key(f"reindex:{library}")

        @contextlib.contextmanager
        def hold() -> Iterator[None]:
            from bot.index.errors import ReindexRunning

            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:  # blocking on the loop from its own thread would never return
                raise ReindexRunning("the database lock can't be taken from the event loop's own thread")
            conn = asyncio.run_coroutine_threadsafe(self._try_lock(key), loop).result(LOCK_TIMEOUT)
            if conn is None:
                raise ReindexRunning("a reindex is already running; try again when it has finished")
            try:
                yield
            finally:
                asyncio.run_coroutine_threadsafe(self._unlock(conn, key), loop).result(LOCK_TIMEOUT)

        return hold

    async def _try_lock(self, key: int) -> asyncpg.Connection | None:
        conn = await self.pool.acquire()
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return conn
        except BaseException:
            await self.pool.release(conn)
            raise
        await self.pool.release(conn)
        return None

    async def _unlock(self, conn: asyncpg.Connection, key: int) -> None:
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
        except Exception as exc:  # the connection died (the server dropped the lock with the session)
            log.warning("releasing the reindex lock: %s (the server released it with the connection)", exc)
            with contextlib.suppress(Exception):
                conn.terminate()
        finally:
            with contextlib.suppress(Exception):
                await self.pool.release(conn)


class _Listener(IndexListener):
    """LISTEN on its own connection (a pooled one would be reset), reconnecting with back-off: while
    it is down, notices are lost, so `on_connect` runs after every (re)connect to catch up."""

    def __init__(
        self, url: str, notice: IndexNotice, on_connect: Callable[[], Awaitable[None]] | None
    ) -> None:
        self._dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._url = url
        self._notice = notice
        self._on_connect = on_connect
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Connect once before returning (so a notice sent right after is heard), then keep it up."""
        self._task = asyncio.create_task(self._run(), name="tvbot index listener")
        waiter = asyncio.create_task(self._connected.wait())
        await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED, timeout=15)
        waiter.cancel()

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=10, server_settings={"application_name": "tvbot listener"}
                )
            except (asyncpg.PostgresError, *_TRANSIENT) as exc:
                log.warning("index listener: can't connect to %s (%s); retrying", redact_url(self._url), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            self._lost.clear()
            conn.add_termination_listener(lambda _conn: self._lost.set())
            try:
                await conn.add_listener(CHANNEL, self._heard)
                self._conn = conn
                self._connected.set()
                if self._on_connect is not None:
                    await self._on_connect()
                await self._lost.wait()
                log.warning("index listener: connection lost; reconnecting")
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.warning("index listener: %s; reconnecting", exc)
            finally:
                self._conn = None
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
            await asyncio.sleep(delay)

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            library, version = str(data["library"]), str(data["version"])
            by = None if data.get("by") is None else str(data["by"])
        except (ValueError, KeyError, TypeError):
            log.warning("index listener: ignoring a malformed notice %r", payload[:200])
            return
        task = asyncio.ensure_future(self._deliver(library, version, by))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, library: str, version: str, by: str | None) -> None:
        try:
            await self._notice(library, version, by)
        except Exception:
            log.exception("handling the notice of index %s %s failed", library, version)

    async def drop_connection(self) -> None:
        """Close the connection as a network failure would (tests: notices sent meanwhile are lost)."""
        if self._conn is not None:
            self._conn.terminate()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for pending in list(self._pending):
            pending.cancel()
