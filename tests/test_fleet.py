"""Several processes over one index folder and one database: the engine's swap hooks, the fleet
(announcements, the shared reindex lock, heartbeats), `python -m bot status`, and two real bot
processes against one PostgreSQL server.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.embedder import Embedder
from bot.engine import Engine
from bot.index.errors import ReindexRunning
from bot.index.store import IndexStore

QUESTION = "who plays jessica jones?"


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
