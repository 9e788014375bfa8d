"""`run_bot`: what `python -m bot run` calls when a Discord token is set.

Builds the services, runs the bot until Ctrl-C, closes everything. A rejected token and a missing
Message Content intent are the two setup mistakes everyone makes, so each gets a plain explanation
and exit code 2 instead of a traceback (and the token is never printed). The settings store is the
SQLite file in the data folder, or PostgreSQL when DATABASE_URL is set (several processes); the
process joins the others through `bot.fleet` (heartbeat, shared reindex lock, announcements).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sqlite3
import sys
from pathlib import Path

import aiohttp
import discord

from bot.config import Config
from bot.conversation import ConversationMemory
from bot.discord_app.client import FanBot, ShardedFanBot
from bot.discord_app.logs import setup_logging
from bot.engine import Engine
from bot.fleet import Fleet
from bot.settings_store import SettingsUnavailable, open_settings

__all__ = ["run_bot"]

log = logging.getLogger(__name__)

BAD_TOKEN = (
    "error: the Discord token was rejected. Copy a fresh one from "
    "https://discord.com/developers/applications → your app → Bot → Reset Token, "
    "and put it in .env as DISCORD_TOKEN=…"
)
NO_INTENT = (
    "error: Discord refused the Message Content intent. Enable it at "
    "https://discord.com/developers/applications → your app → Bot → Privileged Gateway Intents → "
    "Message Content Intent, save, and start the bot again (the bot reads mentions and replies)."
)


def run_bot(config: Config, args: argparse.Namespace) -> int:
    """Run the Discord bot; returns the process exit code."""
    setup_logging(config.log_level, config.discord_token)
    if not config.discord_token:
        print("error: DISCORD_TOKEN is not set", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(config, args))
    except KeyboardInterrupt:
        return 130


def _close_on_sigterm(bot: FanBot) -> None:
    """`docker stop` and systemd send SIGTERM: log out cleanly (start() returns) instead of dying."""
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows / not main thread
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGTERM, lambda: asyncio.ensure_future(bot.close())
        )


async def _run(config: Config, args: argparse.Namespace) -> int:
    corpus = Path(getattr(args, "corpus", None) or config.corpus_dir)
    index = Path(getattr(args, "index", None) or config.index_dir)
    try:
        settings = await open_settings(config)
    except (sqlite3.Error, OSError, SettingsUnavailable, RuntimeError) as exc:
        where = "DATABASE_URL" if config.database_url else config.data_dir / "settings.sqlite3"
        print(f"error: can't open the settings database ({where}): {exc}", file=sys.stderr)
        return 1
    if settings.recovered_from is not None:
        log.warning("The settings file was corrupt; it was moved to %s", settings.recovered_from)
    engine = Engine(corpus, index)
    fleet = Fleet(engine, settings, heartbeat_seconds=config.heartbeat_seconds)
    try:
        bot = ShardedFanBot(
            engine=engine, settings=settings, memory=ConversationMemory(), config=config, fleet=fleet
        )
        async with bot:
            _close_on_sigterm(bot)
            await bot.start(config.discord_token or "")
        return 0
    except discord.LoginFailure:
        print(BAD_TOKEN, file=sys.stderr)
        return 2
    except discord.PrivilegedIntentsRequired:
        print(NO_INTENT, file=sys.stderr)
        return 2
    except (aiohttp.ClientError, OSError) as exc:
        print(f"error: can't reach Discord ({type(exc).__name__}: {exc}); check the network", file=sys.stderr)
        return 1
    finally:
        await fleet.stop()
        await settings.close()
        engine.embedder.close()
