"""Shared fixtures. The embedding model is loaded once per test session (it takes seconds)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pgserver import PgServer, find_bindir, missing_message  # noqa: E402
from test_discord_support import Services, open_services  # noqa: E402

from bot.embedder import Embedder  # noqa: E402
from bot.engine import Engine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEED_CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def embedder() -> Iterator[Embedder]:
    model = Embedder()
    model.warm_up()
    yield model
    model.close()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[Path, Path]:
    """(corpus_dir, index_dir) of the shipped corpus, built once; copy before changing either."""
    base = tmp_path_factory.mktemp("seed")
    corpus = base / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    index = base / "index"
    Engine(corpus, index, embedder=embedder).reindex_sync()
    return corpus, index


@pytest.fixture
def engine(seed_index: tuple[Path, Path], embedder: Embedder, tmp_path: Path) -> Engine:
    """An engine over a private copy of the seed corpus and index, free to reindex or break."""
    corpus, index = seed_index
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index")
    loaded = Engine(tmp_path / "corpus", tmp_path / "index", embedder=embedder)
    loaded.load()
    return loaded


@pytest.fixture
async def services(engine: Engine, tmp_path: Path) -> AsyncIterator[Services]:
    """The Discord bot over a private engine, with its own settings file; reindex progress is
    reported every 0.05 s so tests see the edits without waiting."""
    async with open_services(engine, tmp_path) as ready:
        ready.bot.get_cog("Admin").progress_interval = 0.05  # type: ignore[union-attr]
        yield ready


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for the whole session. Missing binaries fail the tests in CI
    (CI=true: the PostgreSQL backend must be tested there) and skip them elsewhere."""
    bindir = find_bindir()
    if bindir is None:
        if running_in_ci():
            pytest.fail(f"{missing_message()}; CI=true, so the PostgreSQL tests fail instead of skipping")
        pytest.skip(missing_message())
    server = PgServer.start(bindir)
    yield server
    server.stop()


@pytest.fixture
async def pg_url(pg_server: PgServer) -> AsyncIterator[str]:
    """A fresh, empty database on the session's server, dropped afterwards."""
    url = await pg_server.create_database()
    yield url
    await pg_server.drop_database(url)
