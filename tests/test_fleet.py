"""Several processes over one index folder and one database: the engine's swap hooks, the fleet
(announcements, the shared reindex lock, heartbeats), `python -m bot status`, and two real bot
processes against one PostgreSQL server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import threading
import time
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from bot.embedder import Embedder
from bot.engine import Engine
from bot.fleet import Fleet, format_shards, format_status, gather_status, shard_of
from bot.index.errors import ReindexRunning
from bot.index.store import IndexStore
from bot.settings_postgres import PostgresSettingsStore, advisory_key, redact_url
from bot.settings_store import ProcessInfo, SettingsStore, SettingsUnavailable

QUESTION = "how does jessica feel after killing kilgrave?"


def _twin(engine: Engine, embedder: Embedder) -> Engine:
    """A second engine over the same folders: what another process on the shared volume is."""
    other = Engine(engine.corpus_dir, engine.store.root, embedder=embedder)
    other.load()
    return other


# ---------------------------------------------------------------------- the engine's hooks


def test_a_version_published_elsewhere_is_served_from_the_next_question(
    engine: Engine, embedder: Embedder
) -> None:
    other = _twin(engine, embedder)
    old = other.version
    assert old == engine.version and not other.stale()
    report = engine.reindex_sync()
    assert other.version == old and other.stale()  # nobody told it yet
    answer = other.ask_sync(QUESTION)
    assert answer.answered and other.version == report.version
    assert not other.stale() and not other.catch_up()


async def test_the_async_ask_catches_up_off_the_loop(engine: Engine, embedder: Embedder) -> None:
    other = _twin(engine, embedder)
    report = await engine.reindex()
    answer = await other.ask(QUESTION)
    assert answer.answered and other.version == report.version


def test_a_published_version_that_fails_to_load_is_refused_once_and_the_old_one_serves(
    engine: Engine, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    other = _twin(engine, embedder)
    old = other.version
    report = engine.reindex_sync()
    vectors = engine.store.versions_dir / report.version / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-64])  # truncated on the shared volume
    with caplog.at_level(logging.ERROR, logger="bot.engine"):
        assert other.ask_sync(QUESTION).answered
        assert other.ask_sync(QUESTION).answered
    assert other.version == old and other.problem is None
    assert caplog.text.count("can't be loaded here") == 1  # not retried on every question
    assert not other.stale()


def test_an_engine_does_not_catch_up_while_it_reindexes_itself(engine: Engine, embedder: Embedder) -> None:
    other = _twin(engine, embedder)
    engine.reindex_sync()
    with other._reindexing:  # its own build swaps it when done
        assert not other.stale() and not other.catch_up()
    assert other.stale()


def test_publish_hooks_run_and_a_failing_one_does_not_fail_the_reindex(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def boom(_index: object) -> None:
        raise ConnectionError("database down")

    engine.on_publish += [lambda index: seen.append(index.version), boom]
    with caplog.at_level(logging.ERROR, logger="bot.engine"):
        report = engine.reindex_sync()
    assert seen == [report.version] and engine.version == report.version
    assert "other processes catch up on their own" in caplog.text


def test_a_lock_factory_replaces_the_file_lock(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index", model="m", dimension=4)
    held: list[str] = []

    @contextlib.contextmanager
    def shared() -> Iterator[None]:
        held.append("taken")
        yield
        held.append("released")

    store.lock_factory = shared
    with store.reindex_lock():
        assert held == ["taken"]
    assert held == ["taken", "released"]
    assert not (tmp_path / "index" / ".reindex.lock").exists()

    @contextlib.contextmanager
    def busy() -> Iterator[None]:
        raise ReindexRunning("held by another machine")
        yield

    store.lock_factory = busy
    with pytest.raises(ReindexRunning), store.reindex_lock():
        pass
    assert store.clean_leftovers() == []  # a held lock means a build is running: leave its files


def test_stale_is_a_cheap_read_of_current(engine: Engine) -> None:
    """The check runs before every question: one small file read, no index work."""
    reads: list[int] = []
    real = engine.store.current_version

    def counted() -> str | None:
        reads.append(threading.get_ident())
        return real()

    engine.store.current_version = counted  # type: ignore[method-assign]
    engine.ask_sync(QUESTION)
    assert len(reads) == 1


# ---------------------------------------------------------------------- the fleet, in one process


async def _eventually(condition: Callable[[], bool], seconds: float = 10.0) -> float:
    """Wait until `condition()`; returns how long it took (fails the test after `seconds`)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "timed out"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@contextlib.asynccontextmanager
async def _fleets(engine: Engine, embedder: Embedder, url: str) -> AsyncIterator[tuple[Fleet, Fleet, Engine]]:
    """Two 'processes' in this one: engines over one folder, each with its own pool and listener."""
    other = _twin(engine, embedder)
    stores = [await PostgresSettingsStore.open(url), await PostgresSettingsStore.open(url)]
    fleets = [
        Fleet(engine, stores[0], shards=lambda: ([0, 1], 4), heartbeat_seconds=60),
        Fleet(other, stores[1], shards=lambda: ([2, 3], 4), heartbeat_seconds=60),
    ]
    try:
        for fleet in fleets:
            await fleet.start()
        yield fleets[0], fleets[1], other
    finally:
        for fleet in fleets:
            await fleet.stop()
        for store in stores:
            await store.close()


async def test_an_announced_version_is_served_by_the_other_process_without_a_question(
    engine: Engine, embedder: Embedder, pg_url: str
) -> None:
    async with _fleets(engine, embedder, pg_url) as (a, b, other):
        assert a.listener is not None and b.listener is not None
        report = await engine.reindex()
        # the engine swaps first and then tells the fleet (on the swapping thread): wait for both
        await _eventually(lambda: other.version == report.version and b.last_swap is not None, 5)
        assert b.last_swap is not None and b.last_swap[0] == report.version
        assert a.last_swap is None  # its own announcement is not news to it
        published = await b.settings.index_versions()
        assert published["default"]["version"] == report.version
        assert published["default"]["published_by"] == a.process_id
        rows = {r["process_id"]: r for r in await a.settings.processes()}
        assert set(rows) == {a.process_id, b.process_id}
        assert rows[b.process_id]["shard_ids"] == [2, 3] and rows[b.process_id]["shard_count"] == 4
        report_text = format_status(await gather_status(a.settings, heartbeat_seconds=60))
        assert "processes: 2 (2 alive)" in report_text and "2,3/4" in report_text
    async with await PostgresSettingsStore.open(pg_url) as store:
        assert await store.processes() == []  # a clean stop removes the row


async def test_the_database_lock_lets_one_process_build_at_a_time(
    engine: Engine, embedder: Embedder, pg_url: str
) -> None:
    async with _fleets(engine, embedder, pg_url) as (_a, _b, other):
        taken, release = threading.Event(), threading.Event()

        def hold() -> None:
            with engine.store.reindex_lock():
                taken.set()
                release.wait(10)

        holder = asyncio.get_running_loop().run_in_executor(None, hold)
        await asyncio.to_thread(taken.wait, 10)
        with pytest.raises(ReindexRunning):
            await other.reindex()  # another machine would be told the same
        file_lock = FileLock(str(engine.store.root / ".reindex.lock"), timeout=0)
        with file_lock:  # free: the database lock replaced it
            pass
        release.set()
        await holder
        report = await other.reindex()
        await _eventually(lambda: engine.version == report.version, 5)


async def test_the_lock_is_released_when_its_holder_dies(pg_url: str) -> None:
    async with (
        await PostgresSettingsStore.open(pg_url) as first,
        await PostgresSettingsStore.open(pg_url) as second,
    ):
        key = advisory_key("reindex:default")
        conn = await first._try_lock(key)
        assert conn is not None and await second._try_lock(key) is None
        backend_pid = conn.get_server_pid()
        await second.pool.execute("SELECT pg_terminate_backend($1)", backend_pid)  # the process died
        again = None
        for _ in range(500):  # the server ends the session (and frees its locks) moments later
            again = await second._try_lock(key)
            if again is not None:
                break
            await asyncio.sleep(0.01)
        assert again is not None
        await second._unlock(again, key)
        await first._unlock(conn, key)  # the dead connection: logged, not raised


async def test_a_listener_that_lost_its_connection_reconnects_and_catches_up(
    engine: Engine, embedder: Embedder, pg_url: str
) -> None:
    async with _fleets(engine, embedder, pg_url) as (_a, b, other):
        listener = b.listener
        assert listener is not None and listener.connected  # type: ignore[attr-defined]
        await listener.drop_connection()  # type: ignore[attr-defined]
        report = await engine.reindex()
        await _eventually(lambda: other.version == report.version, 10)
        await _eventually(lambda: listener.connected, 10)  # type: ignore[attr-defined]


async def test_without_a_database_server_the_fleet_keeps_the_file_lock(
    engine: Engine, tmp_path: Path
) -> None:
    async with await SettingsStore.open(tmp_path / "settings.sqlite3") as settings:
        fleet = Fleet(engine, settings, heartbeat_seconds=60)
        await fleet.start()
        try:
            assert fleet.listener is None and engine.store.lock_factory is None
            report = await engine.reindex()
            assert (await settings.index_versions())["default"]["version"] == report.version
            [row] = await settings.processes()
            assert row["index_version"] == report.version and row["shard_ids"] is None
        finally:
            await fleet.stop()
        assert await settings.processes() == []


def test_format_shards() -> None:
    assert format_shards(None, None) == "-"
    assert format_shards([0, 1, 2, 3], 8) == "0-3/8"
    assert format_shards([5, 1], 8) == "1,5/8"
    assert format_shards([2], 4) == "2/4"
    assert format_shards(None, 4) == "?/4"
    assert shard_of(81384788765712384, 4) == (81384788765712384 >> 22) % 4


def test_redact_url() -> None:
    assert redact_url("postgresql://bot:s3cret@db:5432/tvbot") == "postgresql://bot:***@db:5432/tvbot"
    assert redact_url("postgresql://bot@db/tvbot") == "postgresql://bot@db/tvbot"


async def test_an_unreachable_database_is_reported_without_its_password() -> None:
    with pytest.raises(SettingsUnavailable) as caught:
        await PostgresSettingsStore.open("postgresql://bot:hunter2@127.0.0.1:9/tvbot", wait=0.3)
    assert "hunter2" not in str(caught.value) and "127.0.0.1:9" in str(caught.value)


# ---------------------------------------------------------------------- python -m bot status


def _status(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from bot.cli import main

    code = main(["status", *args])
    return code, capsys.readouterr().out


def test_status_of_the_one_process_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "index"))
    code, _ = _status(capsys)
    assert code == 1  # no bot has run here: nothing to report, and no file is created
    assert not (tmp_path / "data").exists()

    async def one_process() -> None:
        async with await SettingsStore.open(tmp_path / "data" / "settings.sqlite3") as store:
            await store.heartbeat(
                ProcessInfo(process_id="here:1:abc", host="here", pid=1, shard_ids=[0], shard_count=1,
                            index_version="v1", index_problem=None, started_at=time.time())
            )  # fmt: skip

    asyncio.run(one_process())
    code, out = _status(capsys)
    assert code == 0
    assert "database: SQLite" in out and "processes: 1 (1 alive)" in out and "here:1:abc" in out
    code, out = _status(capsys, "--json")
    report = json.loads(out)
    assert report["database"]["ok"] and report["processes"][0]["shard_ids"] == [0]


def test_status_when_the_database_is_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:hunter2@127.0.0.1:9/tvbot")
    code, out = _status(capsys)
    assert code == 1 and "UNREACHABLE" in out and "hunter2" not in out


# ---------------------------------------------------------------------- two real bot processes

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("fleet_worker.py")
ARTICLES = ROOT / "datasets" / "fanqa" / "articles"  # the folded-in fixtures: fx-alpha-*
GUILD, CHANNEL = 900_000_000_000_000_001, 900_000_000_000_000_002


class Worker:
    """One `tests/fleet_worker.py` process: the engine, store and fleet as `python -m bot run` wires them."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log
        self.ready: dict[str, Any] = {}

    @classmethod
    async def start(cls, env: dict[str, str], log: Path) -> Worker:
        with log.open("wb") as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(WORKER), stdin=PIPE, stdout=PIPE, stderr=err, env=env, cwd=ROOT
            )
        worker = cls(process, log)
        worker.ready = await worker.receive(120)
        assert worker.ready.get("ready"), worker.ready
        return worker

    async def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()

    async def receive(self, timeout: float = 120) -> dict[str, Any]:
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            raise AssertionError(f"worker silent for {timeout} s; its log:\n{self.tail()}") from None
        assert line, f"worker exited; its log:\n{self.tail()}"
        answer: dict[str, Any] = json.loads(line)
        assert "error" not in answer, f"{answer['error']}\n{self.tail()}"
        return answer

    async def call(self, **command: Any) -> dict[str, Any]:
        await self.send(**command)
        return await self.receive()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                await self.send(op="quit")
                await asyncio.wait_for(self.process.wait(), 20)
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def _versions(index: Path) -> set[str]:
    return {p.name for p in (index / "versions").iterdir() if not p.name.startswith(".")}


async def test_two_bot_processes_share_settings_and_every_index_version(
    tmp_path: Path, pg_url: str, embedder: Embedder
) -> None:
    """Two processes (shards 0 and 1 of 2), one PostgreSQL, one index folder: a mode set through one
    is read by the other; a reindex through either is served by both; both reindexing at once build
    once; one that missed the announcement catches up on its next question; `bot status` lists both.
    (`embedder` makes sure the ONNX model is exported before two processes need it.)"""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name in ("100-stranger-things-s1-recap.txt", "103-severance-interview.txt"):
        shutil.copy(ARTICLES / f"fx-alpha-{name}", corpus / name)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("SHARD_IDS", "SHARD_COUNT", "DISCORD_TOKEN")},
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "DATABASE_URL": pg_url,
        "CORPUS_DIR": str(corpus),
        "INDEX_DIR": str(index),
        "DATA_DIR": str(tmp_path / "data"),
        "HEARTBEAT_SECONDS": "300",  # so only announcements and questions move a process on
        "SHARD_COUNT": "2",
    }
    # Started together on an empty database: both run the migrations, which must apply once.
    a, b = await asyncio.gather(
        Worker.start({**env, "SHARD_IDS": "0"}, tmp_path / "a.log"),
        Worker.start({**env, "SHARD_IDS": "1"}, tmp_path / "b.log"),
    )
    try:
        assert a.ready["version"] is None and b.ready["version"] is None  # no index yet

        # A spoiler mode set through one process is read by the other.
        await a.call(op="set_mode", guild=GUILD, channel=CHANNEL, mode="off")
        assert (await b.call(op="mode", guild=GUILD, channel=CHANNEL))["mode"] == "off"
        await b.call(op="set_mode", guild=GUILD, mode="hide")
        assert (await a.call(op="mode", guild=GUILD, channel=CHANNEL + 1))["mode"] == "hide"
        assert (await a.call(op="mode", guild=GUILD, channel=CHANNEL))["mode"] == "off"

        # A reindex through A is served by B, announced (B asks nothing meanwhile).
        first = await a.call(op="reindex")
        assert first["built"]
        seen = await b.call(op="wait_version", version=first["version"], timeout=10)
        assert seen["version"] == first["version"] and seen["swapped_at"] is not None
        assert seen["swapped_at"] - first["published_at"] < 5  # "within seconds"
        joyce_a = await a.call(op="ask", question="who plays joyce in stranger things")
        joyce_b = await b.call(op="ask", question="who plays joyce in stranger things")
        assert joyce_a["messages"] == joyce_b["messages"] and "Winona Ryder" in joyce_a["messages"][0]

        # A new article, reindexed through B: A serves it.
        shutil.copy(
            ARTICLES / "fx-alpha-105-copper-valley-interview.txt", corpus / "105-copper-valley-interview.txt"
        )
        second = await b.call(op="reindex")
        await a.call(op="wait_version", version=second["version"], timeout=10)
        shaft = await a.call(op="ask", question="what happened in the north shaft collapse in copper valley?")
        assert shaft["version"] == second["version"]
        assert any(p.startswith("105-copper-valley") for p in shaft["passage_ids"])

        # Both reindex at once: one builds, the other is told a reindex is running; both serve it.
        shutil.copy(ARTICLES / "fx-alpha-101-punisher-s1-review.md", corpus / "101-punisher-s1-review.md")
        before = _versions(index)
        await asyncio.gather(a.send(op="reindex"), b.send(op="reindex"))
        results = await asyncio.gather(a.receive(), b.receive())
        assert sorted(bool(r.get("built")) for r in results) == [False, True], results
        built = next(r for r in results if r.get("built"))
        assert next(r for r in results if not r.get("built"))["running"]
        assert _versions(index) - before == {built["version"]}  # built once
        for worker in (a, b):
            assert (await worker.call(op="wait_version", version=built["version"]))["version"] == built[
                "version"
            ]

        # B stops hearing announcements; its next question still comes from the new version.
        await b.call(op="deafen")
        (corpus / "101-punisher-s1-review.md").unlink()
        fourth = await a.call(op="reindex")
        assert (await b.call(op="state"))["version"] == built["version"]  # missed it
        answer = await b.call(op="ask", question="who plays joyce in stranger things")
        assert answer["version"] == fourth["version"] and "Winona Ryder" in answer["messages"][0]

        # `python -m bot status` reads both heartbeat rows from the database.
        status = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "status", "--json", stdout=PIPE, stderr=PIPE, env=env, cwd=ROOT
        )
        out, err = await asyncio.wait_for(status.communicate(), 60)
        assert status.returncode == 0, err.decode()
        report = json.loads(out)
        assert report["database"]["ok"] and report["database"]["backend"] == "postgresql"
        assert report["published"]["default"]["version"] == fourth["version"]
        rows = {p["process_id"]: p for p in report["processes"]}
        assert set(rows) == {a.ready["process"], b.ready["process"]}
        assert rows[a.ready["process"]]["shard_ids"] == [0] and rows[b.ready["process"]]["shard_ids"] == [1]
        assert all(p["alive"] and p["shard_count"] == 2 for p in rows.values())
        assert all(p["index_version"] == fourth["version"] for p in rows.values())
    finally:
        await asyncio.gather(a.stop(), b.stop())


async def test_the_index_command_builds_under_the_database_lock_and_announces(
    engine: Engine, embedder: Embedder, pg_url: str, tmp_path: Path
) -> None:
    """`python -m bot index` run anywhere with DATABASE_URL: refused while a bot process builds, and
    otherwise announced, so running processes swap without a restart."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("SHARD_IDS", "SHARD_COUNT")},
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "DATABASE_URL": pg_url,
        "DATA_DIR": str(tmp_path / "data"),
    }
    command = [sys.executable, "-m", "bot", "index", "--corpus", str(engine.corpus_dir), "--index",
               str(engine.store.root)]  # fmt: skip

    async def run_index() -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(*command, stdout=PIPE, stderr=PIPE, env=env, cwd=ROOT)
        _, err = await asyncio.wait_for(process.communicate(), 120)
        return process.returncode or 0, err.decode()

    async with await PostgresSettingsStore.open(pg_url) as settings:
        fleet = Fleet(engine, settings, heartbeat_seconds=60)
        await fleet.start()
        try:
            taken, release = threading.Event(), threading.Event()

            def hold() -> None:
                with engine.store.reindex_lock():  # this bot process is building
                    taken.set()
                    release.wait(60)

            holder = asyncio.get_running_loop().run_in_executor(None, hold)
            await asyncio.to_thread(taken.wait, 10)
            code, err = await run_index()
            release.set()
            await holder
            assert code == 3 and "already running" in err, err

            before = engine.version
            code, err = await run_index()
            assert code == 0, err
            current = engine.store.current_version()
            assert current != before
            await _eventually(lambda: engine.version == current, 10)  # announced: no question needed
            published = (await settings.index_versions())["default"]
            assert published["version"] == current and published["published_by"] != fleet.process_id
            assert [r["process_id"] for r in await settings.processes()] == [fleet.process_id]
        finally:
            await fleet.stop()


async def test_cleaning_up_after_dead_builds_respects_another_machines_build(
    engine: Engine, embedder: Embedder, pg_url: str, tmp_path: Path
) -> None:
    """A starting process removes `.building-*` folders only when no process anywhere is building:
    under the database lock, which the fleet installs before the index is loaded."""
    leftover = engine.store.versions_dir / ".building-v0-from-another-machine"
    async with _fleets(engine, embedder, pg_url) as (_a, _b, other):
        leftover.mkdir()
        taken, release = threading.Event(), threading.Event()

        def build_elsewhere() -> None:
            with other.store.reindex_lock():
                taken.set()
                release.wait(10)

        holder = asyncio.get_running_loop().run_in_executor(None, build_elsewhere)
        try:
            await asyncio.to_thread(taken.wait, 10)
            assert await asyncio.to_thread(engine.store.clean_leftovers) == []
            assert leftover.is_dir()  # someone is building: it may be theirs
        finally:
            release.set()
            await holder
        assert await asyncio.to_thread(engine.store.clean_leftovers) == [leftover]

    # A command-line `ask` with DATABASE_URL holds no database lock: it never cleans up (or builds).
    leftover.mkdir()
    from bot.cli import _engine
    from bot.config import Config

    args = argparse.Namespace(corpus=engine.corpus_dir, index=engine.store.root)
    reader = _engine(args, Config(database_url=pg_url))
    await asyncio.to_thread(reader.load)
    assert reader.version == engine.version and leftover.is_dir()
    with pytest.raises(ReindexRunning):
        await reader.reindex()
