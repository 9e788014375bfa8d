"""The settings store: persistence, mode resolution, corruption recovery, concurrency, watch progress,
reports, heartbeats and index versions.

Every behaviour test runs against both backends (the `backend` fixture: SQLite, and PostgreSQL on the
session's throwaway server), so "the same behaviour as SQLite for every store method" is checked, not
assumed. File-level tests (corruption, WAL, sidecars) are SQLite's own.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.settings_postgres import PostgresSettingsStore
from bot.settings_store import (
    _MIGRATIONS,
    DEFAULT_MODE,
    SCHEMA_VERSION,
    ProcessInfo,
    SettingsStore,
    SettingsStoreBase,
    _move_aside,
    show_key,
)

GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
CHANNEL = 333_333_333_333_333_333
USER = 444_444_444_444_444_444


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "nested" / "settings.db"


@dataclass
class Backend:
    """One database of one backend: `open()` opens a store on it (again: the same data)."""

    name: str
    open: Callable[[], Awaitable[SettingsStoreBase]]
    set_raw_schema_version: Callable[[int], Awaitable[None]]


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, db_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":

        async def sqlite_version(version: int) -> None:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(db_path) as raw:
                raw.execute(f"PRAGMA user_version = {version:d}")
            raw.close()

        yield Backend("sqlite", lambda: SettingsStore.open(db_path), sqlite_version)
        return
    server = request.getfixturevalue("pg_server")
    url = await server.create_database()

    async def pg_version(version: int) -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
            )
            await conn.execute("INSERT INTO schema_migrations VALUES ($1, 0)", version)
        finally:
            await conn.close()

    yield Backend("postgresql", lambda: PostgresSettingsStore.open(url, wait=2), pg_version)
    await server.drop_database(url)


async def test_open_creates_folders_and_records_schema_version(db_path: Path) -> None:
    async with await SettingsStore.open(db_path) as store:
        assert store.recovered_from is None
        assert await store.schema_version() == SCHEMA_VERSION
    assert db_path.is_file()
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


async def test_open_records_schema_version(backend: Backend) -> None:
    async with await backend.open() as store:
        assert await store.schema_version() == SCHEMA_VERSION
        assert store.backend == backend.name
    async with await backend.open() as store:  # reopening migrates nothing and keeps the version
        assert await store.schema_version() == SCHEMA_VERSION


async def test_many_stores_opening_a_new_database_at_once_migrate_it_once(backend: Backend) -> None:
    """Processes started together (a deploy, a restart after a crash) race to create the schema."""
    stores = await asyncio.gather(*(backend.open() for _ in range(6)))
    try:
        assert {await s.schema_version() for s in stores} == {SCHEMA_VERSION}
        await stores[0].set_mode(GUILD, "hide")
        assert {await s.get_mode(GUILD, CHANNEL) for s in stores} == {"hide"}
        if isinstance(stores[0], PostgresSettingsStore):
            rows = await stores[0].pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
            assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
    finally:
        for store in stores:
            await store.close()


async def test_a_version_1_database_is_migrated_keeping_its_settings(db_path: Path, pg_url: str) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as raw:
        for statement in _MIGRATIONS[0]:
            raw.execute(statement)
        raw.execute("INSERT INTO guild_settings VALUES (?, 'off', NULL, 0)", (GUILD,))
        raw.execute("PRAGMA user_version = 1")
    raw.close()
    from bot.settings_postgres import _MIGRATIONS as PG_MIGRATIONS

    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at FLOAT8)")
        for statement in PG_MIGRATIONS[0]:
            await conn.execute(statement)
        await conn.execute("INSERT INTO schema_migrations VALUES (1, 0)")
        await conn.execute("INSERT INTO guild_settings VALUES ($1, 'off', NULL, 0)", GUILD)
    finally:
        await conn.close()
    for opened in (SettingsStore.open(db_path), PostgresSettingsStore.open(pg_url)):
        async with await opened as store:
            assert await store.schema_version() == SCHEMA_VERSION
            assert await store.get_mode(GUILD, CHANNEL) == "off"
            assert await store.processes() == []


async def test_settings_persist_across_close_and_reopen(backend: Backend) -> None:
    store = await backend.open()
    await store.set_mode(GUILD, "hide")
    await store.set_mode(GUILD, "off", CHANNEL)
    await store.set_moderator_role(GUILD, 42)
    await store.set_watched(USER, "Jessica Jones", 2)
    await store.close()
    await store.close()  # idempotent

    async with await backend.open() as store:
        assert store.recovered_from is None
        assert await store.get_mode(GUILD, CHANNEL) == "off"
        assert await store.get_mode(GUILD, CHANNEL + 1) == "hide"
        assert await store.get_moderator_role(GUILD) == 42
        assert await store.watched(USER) == {"jessica-jones": 2}
        assert await store.schema_version() == SCHEMA_VERSION


async def test_resolution_order(backend: Backend) -> None:
    async with await backend.open() as store:
        # nothing set -> "tag"; a spoiler/NSFW channel -> "off"
        assert await store.get_mode(GUILD, CHANNEL) == DEFAULT_MODE == "tag"
        assert await store.get_mode(GUILD, CHANNEL, channel_is_spoiler=True) == "off"
        assert await store.get_mode(GUILD, None) == "tag"

        # server default beats the built-in default, but a spoiler channel still beats the server default
        await store.set_mode(GUILD, "hide")
        assert await store.get_mode(GUILD, CHANNEL) == "hide"
        assert await store.get_mode(GUILD, None) == "hide"
        assert await store.get_mode(GUILD, CHANNEL, channel_is_spoiler=True) == "off"

        # a channel override beats everything, including the spoiler-channel rule
        await store.set_mode(GUILD, "tag", CHANNEL)
        assert await store.get_mode(GUILD, CHANNEL) == "tag"
        assert await store.get_mode(GUILD, CHANNEL, channel_is_spoiler=True) == "tag"
        assert await store.get_mode(GUILD, CHANNEL + 1) == "hide"

        # overrides are per guild
        assert await store.get_mode(OTHER_GUILD, CHANNEL) == "tag"

        # updating is an upsert, clearing falls back again
        await store.set_mode(GUILD, "off", CHANNEL)
        assert await store.get_mode(GUILD, CHANNEL) == "off"
        assert await store.clear_channel_mode(GUILD, CHANNEL) is True
        assert await store.clear_channel_mode(GUILD, CHANNEL) is False
        assert await store.get_mode(GUILD, CHANNEL) == "hide"


async def test_dm_is_always_tag(backend: Backend) -> None:
    async with await backend.open() as store:
        await store.set_mode(GUILD, "off")
        assert await store.get_mode(None, CHANNEL) == "tag"
        assert await store.get_mode(None, None, channel_is_spoiler=True) == "tag"


async def test_read_failure_fails_closed(
    db_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await SettingsStore.open(db_path)
    await store.set_mode(GUILD, "off")
    await store.set_mode(GUILD, "off", CHANNEL)

    def broken_execute(*args: object, **kwargs: object) -> object:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store._conn, "execute", broken_execute)
    with caplog.at_level(logging.ERROR, logger="bot.settings_store"):
        assert await store.get_mode(GUILD, CHANNEL) == "tag"
        assert await store.get_mode(GUILD, CHANNEL, channel_is_spoiler=True) == "tag"
    assert "failing closed" in caplog.text
    monkeypatch.undo()

    await store.close()
    assert await store.get_mode(GUILD, CHANNEL) == "tag"  # closed store: still no exception


async def test_any_read_failure_fails_closed(
    backend: Backend, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await backend.open()
    await store.set_mode(GUILD, "off")
    await store.set_mode(GUILD, "off", CHANNEL)

    async def broken(*args: object, **kwargs: object) -> object:
        raise ConnectionResetError("the database went away")

    monkeypatch.setattr(store, "_one", broken)
    with caplog.at_level(logging.ERROR, logger="bot.settings_store"):
        assert await store.get_mode(GUILD, CHANNEL) == "tag"
        assert await store.get_mode(GUILD, CHANNEL, channel_is_spoiler=True) == "tag"
    assert "failing closed" in caplog.text
    monkeypatch.undo()
    assert await store.get_mode(GUILD, CHANNEL) == "off"
    await store.close()
    assert await store.get_mode(GUILD, CHANNEL) == "tag"  # closed store: still no exception
    health = await store.health()
    assert health["ok"] is False and health["backend"] == backend.name


async def test_invalid_values_rejected(backend: Backend) -> None:
    async with await backend.open() as store:
        for bad in ("TAG", "spoil", "", None, 1):
            with pytest.raises(ValueError):
                await store.set_mode(GUILD, bad)  # type: ignore[arg-type]
            with pytest.raises(ValueError):
                await store.set_mode(GUILD, bad, CHANNEL)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            await store.set_mode(-1, "tag")
        with pytest.raises(ValueError):
            await store.set_mode(True, "tag")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            await store.set_watched(USER, "Daredevil", 0)
        with pytest.raises(ValueError):
            await store.set_watched(USER, " - _ ", 1)
        with pytest.raises(ValueError):
            await store.leak_reports(GUILD, limit=0)
        with pytest.raises(ValueError):
            await store.set_watched(USER, "Daredevil", 2**63)  # past both backends' integers
        with pytest.raises(ValueError):
            await store.set_mode(GUILD, "tag", 2**63)
        assert (await store.status(GUILD))["server_mode_set"] is False
        assert await store.watched(USER) == {}


async def test_status(backend: Backend) -> None:
    async with await backend.open() as store:
        assert await store.status(GUILD) == {
            "guild_id": GUILD,
            "server_mode": "tag",
            "server_mode_set": False,
            "channel_overrides": {},
            "moderator_role_id": None,
        }
        await store.set_mode(GUILD, "hide")
        await store.set_mode(GUILD, "off", 2)
        await store.set_mode(GUILD, "tag", 1)
        await store.set_mode(OTHER_GUILD, "off", 3)
        await store.set_moderator_role(GUILD, 77)
        assert await store.status(GUILD) == {
            "guild_id": GUILD,
            "server_mode": "hide",
            "server_mode_set": True,
            "channel_overrides": {1: "tag", 2: "off"},
            "moderator_role_id": 77,
        }


async def test_moderator_role_does_not_clobber_mode(backend: Backend) -> None:
    async with await backend.open() as store:
        assert await store.get_moderator_role(GUILD) is None
        await store.set_moderator_role(GUILD, 5)  # creates the guild row without a mode
        assert await store.get_mode(GUILD, None) == "tag"
        await store.set_mode(GUILD, "hide")
        await store.set_moderator_role(GUILD, 6)
        assert await store.get_mode(GUILD, None) == "hide"
        await store.set_moderator_role(GUILD, None)
        assert await store.get_moderator_role(GUILD) is None
        assert await store.get_mode(GUILD, None) == "hide"


async def test_concurrent_set_mode_loses_nothing(backend: Backend) -> None:
    modes = ("tag", "off", "hide")
    async with await backend.open() as store:
        await asyncio.gather(
            *(store.set_mode(GUILD, modes[i % 3], channel_id=i) for i in range(50)),  # type: ignore[arg-type]
            store.set_mode(GUILD, "hide"),
            store.set_moderator_role(GUILD, 99),
        )
        status = await store.status(GUILD)
    assert status["channel_overrides"] == {i: modes[i % 3] for i in range(50)}
    assert status["server_mode"] == "hide" and status["moderator_role_id"] == 99

    async with await backend.open() as store:  # and they are stored
        assert len((await store.status(GUILD))["channel_overrides"]) == 50


async def _assert_recovers(db_path: Path, caplog: pytest.LogCaptureFixture) -> Path:
    bad_bytes = db_path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="bot.settings_store"):
        store = await SettingsStore.open(db_path)
    try:
        aside = store.recovered_from
        assert aside is not None
        assert aside.parent == db_path.parent and aside.name.startswith("settings.db.corrupt-")
        assert aside.read_bytes() == bad_bytes  # kept, untouched
        assert "corrupt" in caplog.text
        # the fresh database works
        assert await store.schema_version() == SCHEMA_VERSION
        await store.set_mode(GUILD, "hide", CHANNEL)
        assert await store.get_mode(GUILD, CHANNEL) == "hide"
    finally:
        await store.close()
    async with await SettingsStore.open(db_path) as again:
        assert again.recovered_from is None
        assert await again.get_mode(GUILD, CHANNEL) == "hide"
    return aside


async def test_not_sqlite_file_is_set_aside(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database, it is a grocery list\n" * 200)
    await _assert_recovers(db_path, caplog)


async def test_damaged_sqlite_file_is_set_aside(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with await SettingsStore.open(db_path) as store:
        for channel in range(200):
            await store.set_mode(GUILD, "off", channel)
    data = bytearray(db_path.read_bytes())
    assert len(data) > 8192
    data[4096 : 4096 + 256] = b"\xab" * 256  # scribble over page 2
    db_path.write_bytes(bytes(data))
    await _assert_recovers(db_path, caplog)


async def test_failed_migration_is_set_aside(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as raw:  # valid SQLite, version 0, but a clashing table
        raw.execute("CREATE TABLE channel_modes (x TEXT)")
    raw.close()
    await _assert_recovers(db_path, caplog)


async def test_corrupt_file_with_stale_wal_recovers(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"garbage" * 1000)
    Path(f"{db_path}-wal").write_bytes(b"stale wal")
    async with await SettingsStore.open(db_path) as store:
        assert store.recovered_from is not None
        await store.set_mode(GUILD, "off")
    async with await SettingsStore.open(db_path) as store:
        assert store.recovered_from is None
        assert await store.get_mode(GUILD, None) == "off"


def test_move_aside_takes_sidecars_along(tmp_path: Path) -> None:
    db = tmp_path / "settings.db"
    for name, data in (("settings.db", b"main"), ("settings.db-wal", b"wal"), ("settings.db-shm", b"shm")):
        (tmp_path / name).write_bytes(data)
    aside = _move_aside(db)
    assert not db.exists() and not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    assert aside.read_bytes() == b"main"
    assert Path(f"{aside}-wal").read_bytes() == b"wal"
    assert Path(f"{aside}-shm").read_bytes() == b"shm"


async def test_two_recoveries_keep_both_files(db_path: Path) -> None:
    asides = []
    for _ in range(2):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        db_path.write_bytes(b"garbage" * 1000)
        async with await SettingsStore.open(db_path) as store:
            asides.append(store.recovered_from)
    assert asides[0] != asides[1]
    assert all(p is not None and p.exists() for p in asides)


async def test_newer_schema_is_refused_not_discarded(backend: Backend, db_path: Path) -> None:
    await backend.set_raw_schema_version(SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError, match="newer"):
        await backend.open()
    if backend.name == "sqlite":
        assert [p.name for p in db_path.parent.iterdir() if "corrupt" in p.name] == []


async def test_unopenable_path_raises_without_moving_anything(tmp_path: Path) -> None:
    path = tmp_path / "settings.db"
    path.mkdir()  # a folder where the file should be: an environment problem, not corruption
    with pytest.raises(sqlite3.Error):
        await SettingsStore.open(path)
    assert path.is_dir() and list(tmp_path.iterdir()) == [path]


def test_show_key_normalisation() -> None:
    assert show_key("Jessica Jones") == "jessica-jones"
    assert show_key("jessica-jones") == "jessica-jones"
    assert show_key("ＪＥＳＳＩＣＡ\u3000ＪＯＮＥＳ") == "jessica-jones"  # full-width letters and space
    assert show_key("ＪＥＳＳＩＣＡ JONES") == "jessica-jones"
    assert show_key("  jessica__ -- JONES ") == "jessica-jones"
    assert show_key("Jessica\u2013Jones") == "jessica-jones"  # en dash
    assert show_key("STRASSE") == show_key("straße")


@given(st.text(max_size=30))
def test_show_key_is_idempotent(name: str) -> None:
    try:
        key = show_key(name)
    except ValueError:
        return
    assert show_key(key) == key


async def test_watched_seasons(backend: Backend) -> None:
    async with await backend.open() as store:
        await store.set_watched(USER, "Jessica Jones", 1)
        await store.set_watched(USER, "ＪＥＳＳＩＣＡ JONES", 3)  # same show, full-width
        await store.set_watched(USER, "Luke_Cage", 2)
        await store.set_watched(USER + 1, "jessica-jones", 1)
        assert await store.watched(USER) == {"jessica-jones": 3, "luke-cage": 2}
        await store.set_watched(USER, "jessica jones", 2)  # a fan can correct it downwards
        assert await store.watched(USER) == {"jessica-jones": 2, "luke-cage": 2}

        assert await store.clear_watched(USER, "LUKE CAGE") == 1
        assert await store.watched(USER) == {"jessica-jones": 2}
        assert await store.clear_watched(USER, None) == 1
        assert await store.watched(USER) == {}
        assert await store.watched(USER + 1) == {"jessica-jones": 1}


async def test_leak_reports_round_trip(backend: Backend) -> None:
    async with await backend.open() as store:
        first = await store.add_leak_report(GUILD, CHANNEL, USER, 1001, ["a#1", "b#7"], "finale spoiler!")
        second = await store.add_leak_report(GUILD, CHANNEL, USER + 1, 1002, [], None)
        await store.add_leak_report(OTHER_GUILD, CHANNEL, USER, 1003, ["c#2"], None)
        assert second > first

    async with await backend.open() as store:
        reports = await store.leak_reports(GUILD)
        assert [r["id"] for r in reports] == [second, first]  # newest first
        assert reports[1]["passage_ids"] == ["a#1", "b#7"]
        assert reports[1]["note"] == "finale spoiler!"
        assert reports[1]["user_id"] == USER and reports[1]["message_id"] == 1001
        assert reports[1]["guild_id"] == GUILD and reports[1]["channel_id"] == CHANNEL
        assert isinstance(reports[1]["created_at"], float)
        assert reports[0]["passage_ids"] == [] and reports[0]["note"] is None
        assert [r["id"] for r in await store.leak_reports(GUILD, limit=1)] == [second]
        assert len(await store.leak_reports(OTHER_GUILD)) == 1
        assert await store.leak_reports(123) == []


async def test_text_is_stored_alike_in_both_backends(backend: Backend) -> None:
    """PostgreSQL text cannot hold NUL; both backends drop it, so a report reads back the same."""
    async with await backend.open() as store:
        report = await store.add_leak_report(
            GUILD, CHANNEL, USER, 1, ["a\x00b", "ü#1"], "nul\x00 and ünïcödé"
        )
        [row] = await store.leak_reports(GUILD)
        assert row["id"] == report
        assert row["note"] == "nul and ünïcödé"
        assert row["passage_ids"] == ["a\x00b", "ü#1"]  # JSON escapes it
        big = 2**63 - 1
        await store.set_mode(big, "hide", big)
        await store.set_moderator_role(big, big)
        assert await store.get_mode(big, big) == "hide"
        assert await store.get_moderator_role(big) == big
        for show in ("Zeta", "alpha", "Über", "beta-2", "_b_"):
            await store.set_watched(USER, show, 1)
        assert list(await store.watched(USER)) == sorted(await store.watched(USER))  # code-point order


def _process(process_id: str, **overrides: object) -> ProcessInfo:
    info = ProcessInfo(
        process_id=process_id,
        host="host-a",
        pid=1234,
        shard_ids=[0, 1],
        shard_count=4,
        index_version="v1",
        index_problem=None,
        started_at=1000.0,
    )
    info.update(overrides)  # type: ignore[typeddict-item]
    return info


async def test_heartbeats(backend: Backend) -> None:
    async with await backend.open() as store:
        assert await store.processes() == []
        before = time.time()
        await store.heartbeat(_process("a:1:x"))
        await store.heartbeat(_process("b:2:y", host="host-b", pid=2, shard_ids=[3, 2], started_at=2000.0))
        await store.heartbeat(_process("c:3:z", shard_ids=None, shard_count=None, index_version=None,
                                       index_problem="no index yet", started_at=3000.0))  # fmt: skip
        rows = await store.processes()
        assert [r["process_id"] for r in rows] == ["a:1:x", "b:2:y", "c:3:z"]  # oldest start first
        assert rows[1]["shard_ids"] == [2, 3] and rows[1]["host"] == "host-b" and rows[1]["pid"] == 2
        assert rows[2]["shard_ids"] is None and rows[2]["shard_count"] is None
        assert rows[2]["index_version"] is None and rows[2]["index_problem"] == "no index yet"
        assert all(r["last_seen"] >= before for r in rows)

        await store.heartbeat(_process("a:1:x", index_version="v2"))  # a refresh replaces the row
        rows = await store.processes()
        assert len(rows) == 3 and rows[0]["index_version"] == "v2"

        assert await store.forget_process("b:2:y") is True
        assert await store.forget_process("b:2:y") is False
        assert await store.prune_processes(silent_for=3600) == 0
        assert await store.prune_processes(silent_for=-60) == 2  # "silent for a minute in the future"
        assert await store.processes() == []
        with pytest.raises(ValueError):
            await store.heartbeat(_process("d", shard_count=0))
        with pytest.raises(ValueError):
            await store.heartbeat(_process("d", shard_ids=[-1]))


async def test_index_versions_and_health(backend: Backend) -> None:
    async with await backend.open() as store:
        assert await store.index_versions() == {}
        await store.announce_index("default", "v1", "a:1:x")
        await store.announce_index("default", "v2", None)
        await store.announce_index("other", "v9", "b:2:y")
        versions = await store.index_versions()
        assert list(versions) == ["default", "other"]
        assert versions["default"]["version"] == "v2" and versions["default"]["published_by"] is None
        assert versions["other"]["published_by"] == "b:2:y"
        assert versions["other"]["published_at"] >= time.time() - 60
        health = await store.health()
        assert health["ok"] is True and health["backend"] == backend.name
        assert health["schema_version"] == SCHEMA_VERSION and health["latency_ms"] is not None
        assert "password" not in health["detail"]
