"""Shards: SHARD_COUNT/SHARD_IDS reach the AutoShardedBot, log lines and /status name the shard, and the
bot joins the fleet (heartbeat row) when it starts."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock

import discord
import pytest
from discord.ext import commands
from test_discord_support import GUILD_ID, FakeInteraction, command, invoke, make_config

from bot.cli import main
from bot.config import Config, ConfigError, parse_shard_ids
from bot.conversation import ConversationMemory
from bot.discord_app.client import ShardedFanBot
from bot.discord_app.logs import SHARD_TAG, setup_logging
from bot.engine import Engine
from bot.fleet import Fleet, shard_of
from bot.settings_store import SettingsStore

ADMIN = discord.Permissions(manage_guild=True)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers = list(root.handlers)
    filters = {h: list(h.filters) for h in handlers}
    level = root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler, kept in filters.items():
        handler.filters[:] = kept
    root.setLevel(level)
    SHARD_TAG.label = ""


@pytest.fixture
async def settings(tmp_path: Path) -> AsyncIterator[SettingsStore]:
    store = await SettingsStore.open(tmp_path / "data" / "settings.sqlite3")
    yield store
    await store.close()


def _bot(
    engine: Engine, settings: SettingsStore, config: Config, fleet: Fleet | None = None
) -> ShardedFanBot:
    return ShardedFanBot(
        engine=engine, settings=settings, memory=ConversationMemory(), config=config, fleet=fleet
    )


# ---------------------------------------------------------------------- configuration


def test_shard_settings_are_parsed_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_shard_ids("0,1,2") == (0, 1, 2)
    assert parse_shard_ids("4-7") == (4, 5, 6, 7)
    assert parse_shard_ids(" 0-1, 8,8 ") == (0, 1, 8)
    for bad in ("a", "3-1", "-2", "1-"):
        with pytest.raises(ConfigError):
            parse_shard_ids(bad)
    monkeypatch.setenv("SHARD_COUNT", "8")
    monkeypatch.setenv("SHARD_IDS", "4-7")
    config = Config.from_env(env_file=None)
    assert config.shard_count == 8 and config.shard_ids == (4, 5, 6, 7)
    monkeypatch.setenv("SHARD_IDS", "6-9")
    with pytest.raises(ConfigError, match="below SHARD_COUNT"):
        Config.from_env(env_file=None)
    monkeypatch.delenv("SHARD_COUNT")
    monkeypatch.setenv("SHARD_IDS", "1")
    with pytest.raises(ConfigError, match="needs SHARD_COUNT"):
        Config.from_env(env_file=None)
    monkeypatch.setenv("SHARD_COUNT", "0")
    with pytest.raises(ConfigError, match="at least 1"):
        Config.from_env(env_file=None)


def test_a_bad_shard_setting_stops_the_command_line_with_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHARD_IDS", "0,1")
    monkeypatch.delenv("SHARD_COUNT", raising=False)
    assert main(["status"]) == 2
    assert "SHARD_IDS needs SHARD_COUNT" in capsys.readouterr().err


async def test_shard_settings_reach_the_auto_sharded_bot(
    engine: Engine, settings: SettingsStore, tmp_path: Path
) -> None:
    bot = _bot(engine, settings, make_config(tmp_path, shard_count=4, shard_ids=(1, 2)))
    try:
        assert isinstance(bot, commands.AutoShardedBot)
        assert bot.shard_count == 4 and bot.shard_ids == [1, 2]
        assert bot.shard_info() == ([1, 2], 4) and bot.shard_label() == "shards 1,2/4"
    finally:
        await bot.close()  # closing a bot that never connected must not raise
    auto = _bot(engine, settings, make_config(tmp_path))
    try:
        assert auto.shard_count is None and auto.shard_ids is None  # discord.py asks Discord at connect
        assert auto.shard_info() == (None, None) and auto.shard_label() == "shards auto"
        auto.shard_count = 2  # what connect() sets from Discord's recommendation
        assert auto.shard_info() == ([0, 1], 2)
    finally:
        await auto.close()


# ---------------------------------------------------------------------- logs


async def test_log_lines_name_the_shards_once_known(
    engine: Engine, settings: SettingsStore, tmp_path: Path, restore_logging: None
) -> None:
    SHARD_TAG.label = ""
    stream = io.StringIO()
    setup_logging("INFO", stream=stream)
    bot = _bot(engine, settings, make_config(tmp_path, shard_count=8, shard_ids=(4, 5, 6, 7)))
    try:
        logging.getLogger("bot.test").info("before connecting")
        await bot.on_shard_connect(5)
        logging.getLogger("bot.test").info("answering %s", "a question")
    finally:
        await bot.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("bot.test: before connecting")
    assert "[shards 4-7/8] Shard 5 connected" in lines[1]
    assert "[shards 4-7/8] answering a question" in lines[2]
    assert all(line.count("[shards") <= 1 for line in lines)


# ---------------------------------------------------------------------- /status and the fleet


async def test_status_names_the_servers_shard_and_shows_processes_to_admins(
    engine: Engine, settings: SettingsStore, tmp_path: Path
) -> None:
    config = make_config(tmp_path, shard_count=4, shard_ids=(0, 1, 2, 3))
    fleet = Fleet(engine, settings, heartbeat_seconds=60)
    bot = _bot(engine, settings, config, fleet)
    bot.tree.sync = AsyncMock(return_value=[])  # type: ignore[method-assign]
    try:
        await bot.setup_hook()  # loads the index, starts the fleet, installs the cogs
        [row] = await settings.processes()
        assert row["process_id"] == fleet.process_id and row["shard_ids"] == [0, 1, 2, 3]
        assert row["index_version"] == engine.version

        fan = FakeInteraction(bot)
        await invoke(bot, command(bot, "status"), fan)
        text = fan.answers[-1].content or ""
        assert fan.answers[-1].ephemeral
        assert f"shard {shard_of(GUILD_ID, 4)}** of 4" in text
        assert f"`{engine.version}`" in text and "Database: sqlite, ok" in text
        assert "Processes" not in text  # fans don't see process names

        admin = FakeInteraction(bot, permissions=ADMIN)
        await invoke(bot, command(bot, "status"), admin)
        text = admin.answers[-1].content or ""
        assert "Processes: 1 (1 alive)" in text and fleet.process_id in text and "0-3/4" in text

        dm = FakeInteraction(bot, guild=False)
        await invoke(bot, command(bot, "status"), dm)
        assert "Direct messages go through **shard 0** of 4" in (dm.answers[-1].content or "")
    finally:
        await fleet.stop()
        await bot.close()
    assert await settings.processes() == []


async def test_status_says_when_the_database_is_unreachable(
    engine: Engine, settings: SettingsStore, tmp_path: Path
) -> None:
    bot = _bot(engine, settings, make_config(tmp_path))
    await bot.install()
    try:

        async def down(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionRefusedError("database down")

        settings._one = down  # type: ignore[method-assign]
        fan = FakeInteraction(bot, permissions=ADMIN)
        await invoke(bot, command(bot, "status"), fan)
        text = fan.answers[-1].content or ""
        assert "Shards: not connected yet" in text and "**unreachable**" in text
        assert "database down" not in text  # details go to the log, not to the channel
    finally:
        await bot.close()
