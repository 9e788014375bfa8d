"""Startup and shutdown: setup_hook (index, model, cogs, sync), on_ready, run_bot's exits, token-safe logs."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock

import aiohttp
import discord
import pytest
from test_discord_support import FakeInteraction, command, invoke, make_bot, make_config

from bot.discord_app import main as discord_main
from bot.discord_app.client import FanBot, make_intents
from bot.discord_app.logs import REDACTED, TokenRedactor, setup_logging
from bot.embedder import Embedder
from bot.engine import Engine
from bot.settings_store import SettingsStore

session_loop = pytest.mark.asyncio(loop_scope="session")

# Shaped like a real bot token (base64 id . timestamp . HMAC) but not one.
TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """setup_logging changes the root logger; put it back so other tests' logging is untouched."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    filters = {h: list(h.filters) for h in handlers}
    levels = {name: logging.getLogger(name).level for name in ("", "discord.http", "discord.gateway")}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler, kept in filters.items():
        handler.filters[:] = kept
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


# ---------------------------------------------------------------------- setup_hook / on_ready


@session_loop
async def test_setup_hook_without_an_index_still_starts_and_syncs_to_the_dev_guild(
    embedder: Embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Engine(tmp_path / "corpus", tmp_path / "index", embedder=embedder)
    settings = await SettingsStore.open(tmp_path / "settings.sqlite3")
    bot = await make_bot(engine, settings, make_config(tmp_path, dev_guild_id=123456789), install=False)
    sync = AsyncMock(return_value=[])
    bot.tree.sync = sync  # type: ignore[method-assign]
    try:
        await bot.setup_hook()
        sync.assert_awaited_once()
        assert sync.await_args.kwargs["guild"].id == 123456789
        assert {c.qualified_name for c in bot.tree.get_commands(guild=discord.Object(123456789))} >= {
            "ask",
            "spoilers",
            "reindex",
        }
        assert "Starting without an index" in caplog.text

        fan = FakeInteraction(bot)
        await invoke(bot, command(bot, "ask"), fan, question="why did jessica kill kilgrave?")
        assert (fan.answers[-1].content or "").startswith("I can't answer right now")
    finally:
        await bot.close()
        await settings.close()


@session_loop
async def test_global_sync_and_sync_failure_is_logged_not_fatal(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = await SettingsStore.open(tmp_path / "settings.sqlite3")
    bot = await make_bot(engine, settings, make_config(tmp_path), install=False)
    try:
        bot.tree.sync = AsyncMock(return_value=[])  # type: ignore[method-assign]
        await bot.setup_hook()
        assert bot.tree.sync.await_args.kwargs == {}  # type: ignore[attr-defined]
        response = type("Response", (), {"status": 500, "reason": "boom"})()
        bot.tree.sync = AsyncMock(side_effect=discord.HTTPException(response, "boom"))  # type: ignore[method-assign]
        assert await bot.sync_commands() == []
        assert "Could not sync slash commands" in caplog.text
    finally:
        await bot.close()
        await settings.close()


@session_loop
async def test_on_ready_only_logs_even_when_fired_again_after_a_resume(
    engine: Engine, tmp_path: Path
) -> None:
    settings = await SettingsStore.open(tmp_path / "settings.sqlite3")
    bot = await make_bot(engine, settings, make_config(tmp_path))
    bot.sync_commands = AsyncMock()  # type: ignore[method-assign]
    bot.load_index = AsyncMock()  # type: ignore[method-assign]
    bot.install = AsyncMock()  # type: ignore[method-assign]
    try:
        await bot.on_ready()
        await bot.on_ready()
        bot.sync_commands.assert_not_awaited()
        bot.load_index.assert_not_awaited()
        bot.install.assert_not_awaited()
    finally:
        await bot.close()
        await settings.close()


def test_intents_and_mentions() -> None:
    intents = make_intents()
    assert intents.message_content and intents.guilds and not intents.members and not intents.presences


# ---------------------------------------------------------------------- run_bot


def _args(tmp_path: Path) -> argparse.Namespace:
    return argparse.Namespace(corpus=tmp_path / "corpus", index=tmp_path / "index")


@session_loop
@pytest.mark.parametrize(
    ("error", "code", "says"),
    [
        (discord.LoginFailure("Improper token has been passed."), 2, "the Discord token was rejected"),
        (discord.PrivilegedIntentsRequired(None), 2, "Message Content"),
        (aiohttp.ClientConnectionError("no route to host"), 1, "can't reach Discord"),
    ],
)
async def test_run_bot_explains_setup_mistakes_without_printing_the_token(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    restore_logging: None,
    error: Exception,
    code: int,
    says: str,
) -> None:
    closed: list[str] = []

    async def fake_start(self: FanBot, token: str, **kwargs: Any) -> None:
        assert token == TOKEN
        logging.getLogger("discord.http").info("POST /gateway with Authorization: Bot %s", token)
        raise error

    real_close = SettingsStore.close

    async def tracked_close(self: SettingsStore) -> None:
        closed.append("settings")
        await real_close(self)

    monkeypatch.setattr(FanBot, "start", fake_start)
    monkeypatch.setattr(SettingsStore, "close", tracked_close)
    config = make_config(tmp_path, discord_token=TOKEN, log_level="DEBUG")

    assert await asyncio.to_thread(discord_main.run_bot, config, _args(tmp_path)) == code

    out, err = capsys.readouterr()
    assert says in err
    assert TOKEN not in out + err + caplog.text
    assert REDACTED in caplog.text
    assert closed == ["settings"]
    assert TOKEN not in repr(config)


def test_redactor_scrubs_messages_arguments_tracebacks_and_token_shapes() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TokenRedactor("my-configured-secret"))
    logger = logging.getLogger("tests.discord.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("token=%s", "my-configured-secret")
        logger.warning("found %s in a config dump", TOKEN)
        try:
            raise RuntimeError(f"login with {TOKEN} failed")
        except RuntimeError:
            logger.exception("login failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "my-configured-secret" not in text and TOKEN not in text
    assert text.count(REDACTED) == 3  # the argument, the token-shaped text, the exception in the traceback


def test_debug_logging_keeps_discord_http_at_info(restore_logging: None) -> None:
    stream = io.StringIO()
    setup_logging("DEBUG", TOKEN, stream=stream)
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("discord.http").getEffectiveLevel() == logging.INFO
    logging.getLogger("discord.http").debug("request body with %s", TOKEN)
    logging.getLogger("bot.discord_app").debug("connecting with %s", TOKEN)
    text = stream.getvalue()
    assert "request body" not in text and f"connecting with {REDACTED}" in text
