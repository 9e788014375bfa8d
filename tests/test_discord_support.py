"""Test doubles and fixtures shared by the tests/test_discord_*.py files (this module has no tests).

Slash commands and buttons are driven through discord.py's own objects (the cog's `Command`, its
checks, the bot's `CommandTree.on_error`, the `DynamicItem` classes) with a fake `Interaction` that
records what the bot sends, the way Discord would receive it: one initial response, then follow-ups.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
from discord import app_commands

from bot.config import Config
from bot.conversation import ConversationMemory
from bot.discord_app.client import FanBot
from bot.discord_app.cooldown import Cooldown
from bot.engine import Engine
from bot.settings_store import SettingsStore

GUILD_ID = 700_000_000_000_000_001
#: A bot owner (BOT_OWNER_IDS): the only one who may change the shared library (the shipped corpus).
OWNER_ID = 790_000_000_000_000_001
_ids = itertools.count(710_000_000_000_000_000)


def new_id() -> int:
    return next(_ids)


class FakeClock:
    """A clock tests move by hand (for cooldowns)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Sent:
    """One thing the bot sent through an interaction."""

    via: str  # "response", "followup", "defer" or "edit"
    content: str | None = None
    ephemeral: bool = False
    view: discord.ui.View | None = None
    allowed_mentions: discord.AllowedMentions | None = None
    thinking: bool = False


class FakeChannel:
    """A guild text channel as the bot sees it: id, name, NSFW flag, mention."""

    def __init__(self, name: str = "general", *, nsfw: bool = False, channel_id: int | None = None) -> None:
        self.id = channel_id or new_id()
        self.name = name
        self.nsfw = nsfw

    def is_nsfw(self) -> bool:
        return self.nsfw

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


class FakeResponse:
    """`Interaction.response`: only one initial response is allowed, like on Discord."""

    def __init__(self, interaction: FakeInteraction) -> None:
        self._interaction = interaction
        self._done = False

    def is_done(self) -> bool:
        return self._done

    def _respond(self) -> None:
        if self._done:
            raise discord.InteractionResponded(self._interaction)  # type: ignore[arg-type]
        self._done = True

    async def defer(self, *, thinking: bool = False, ephemeral: bool = False) -> None:
        self._respond()
        self._interaction.sent.append(Sent("defer", ephemeral=ephemeral, thinking=thinking))

    async def autocomplete(self, choices: list[app_commands.Choice[Any]]) -> None:
        self._respond()
        self.choices = choices

    async def send_message(
        self,
        content: str | None = None,
        *,
        ephemeral: bool = False,
        view: discord.ui.View | None = None,
        allowed_mentions: discord.AllowedMentions | None = None,
        **_: Any,
    ) -> None:
        self._respond()
        self._interaction.sent.append(Sent("response", content, ephemeral, view, allowed_mentions))


class FakeFollowup:
    """`Interaction.followup`: a webhook that only works after the initial response."""

    def __init__(self, interaction: FakeInteraction) -> None:
        self._interaction = interaction

    async def send(
        self,
        content: str | None = None,
        *,
        ephemeral: bool = False,
        view: discord.ui.View | None = None,
        allowed_mentions: discord.AllowedMentions | None = None,
        **_: Any,
    ) -> None:
        assert self._interaction.response.is_done(), (
            "a follow-up before the initial response fails on Discord"
        )
        assert content is None or len(content) <= 2000
        self._interaction.sent.append(Sent("followup", content, ephemeral, view, allowed_mentions))


class FakeInteraction:
    """Just what the bot uses of `discord.Interaction`, recording everything sent in `sent`."""

    def __init__(
        self,
        client: FanBot,
        *,
        user_id: int | None = None,
        guild: bool = True,
        channel: FakeChannel | None = None,
        permissions: discord.Permissions | None = None,
        roles: tuple[int, ...] = (),
        message_id: int | None = None,
    ) -> None:
        self.client = client
        self.user = SimpleNamespace(id=user_id or new_id(), roles=[SimpleNamespace(id=r) for r in roles])
        self.guild = SimpleNamespace(id=GUILD_ID) if guild else None
        self.guild_id = self.guild.id if self.guild else None
        self.channel = channel or FakeChannel()
        self.channel_id = self.channel.id
        self.permissions = permissions or discord.Permissions.none()
        self.message = SimpleNamespace(id=message_id) if message_id else None
        self.command: app_commands.Command[Any, Any, Any] | None = None
        self.response = FakeResponse(self)
        self.followup = FakeFollowup(self)
        self.sent: list[Sent] = []

    async def edit_original_response(self, *, content: str | None = None, **_: Any) -> None:
        assert self.response.is_done(), "there is no original response to edit yet"
        self.sent.append(Sent("edit", content))

    @property
    def texts(self) -> list[str]:
        """Message contents sent or edited, in order."""
        return [s.content for s in self.sent if s.content is not None]

    @property
    def answers(self) -> list[Sent]:
        return [s for s in self.sent if s.via in ("response", "followup")]


async def invoke(bot: FanBot, command: Any, interaction: FakeInteraction, **params: Any) -> None:
    """Run a slash command the way `CommandTree` does: checks, callback, errors to the tree's handler."""
    cog = command.binding
    interaction.command = command
    try:
        if not await command._check_can_run(interaction):
            raise app_commands.CheckFailure(f"checks for {command.qualified_name} failed")
        await command.callback(cog, interaction, **params)
    except app_commands.AppCommandError as error:
        await bot.tree.on_error(interaction, error)  # type: ignore[arg-type]
    except Exception as error:
        await bot.tree.on_error(interaction, app_commands.CommandInvokeError(command, error))  # type: ignore[arg-type]


def command(bot: FanBot, name: str) -> Any:
    """An app command by qualified name ("ask", "spoilers mode")."""
    for found in bot.tree.walk_commands():
        if found.qualified_name == name:
            return found
    raise KeyError(name)


def make_config(tmp_path: Path, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "corpus_dir": tmp_path / "corpus",
        "index_dir": tmp_path / "index",
        "data_dir": tmp_path / "data",
        "cooldown_questions": 100,
        "cooldown_seconds": 30.0,
        "max_upload_bytes": 10_000,
        "owner_ids": frozenset({OWNER_ID}),
        **overrides,
    }
    return Config(**values)


async def make_bot(
    engine: Engine,
    settings: SettingsStore,
    config: Config,
    *,
    clock: FakeClock | None = None,
    install: bool = True,
) -> FanBot:
    cooldown = Cooldown(config.cooldown_questions, config.cooldown_seconds, clock=clock or FakeClock())
    bot = FanBot(
        engine=engine, settings=settings, memory=ConversationMemory(), config=config, cooldown=cooldown
    )
    if install:
        await bot.install()
    return bot


@dataclass
class Services:
    """A bot over the shared test engine, with its settings file, for slash-command tests."""

    bot: FanBot
    engine: Engine
    settings: SettingsStore
    config: Config
    clock: FakeClock
    path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def interaction(self, **kwargs: Any) -> FakeInteraction:
        return FakeInteraction(self.bot, **kwargs)


@contextlib.asynccontextmanager
async def open_services(engine: Engine, tmp_path: Path, **config_overrides: Any) -> AsyncIterator[Services]:
    """A bot over `engine` with a settings file in `tmp_path`; each test module wraps it in a fixture."""
    config = make_config(tmp_path, corpus_dir=engine.corpus_dir, **config_overrides)
    path = tmp_path / "data" / "settings.sqlite3"
    settings = await SettingsStore.open(path)
    clock = FakeClock()
    bot = await make_bot(engine, settings, config, clock=clock)
    yield Services(bot, engine, settings, config, clock, path)
    await bot.close()
    await settings.close()


MODERATOR = discord.Permissions(manage_messages=True)
ADMIN = discord.Permissions(manage_guild=True)
