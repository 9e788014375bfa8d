"""`FanBot`: the Discord client, with its services handed in (no globals).

Intents: the defaults plus **Message Content**, a privileged intent that must also be switched on
in the developer portal (Bot → Privileged Gateway Intents); without it mentions and replies arrive
with empty text. Startup work (index, model, fleet, cogs, command sync) happens once in
`setup_hook`; `on_ready` fires again after every gateway resume, so it only logs.

Shards: `python -m bot run` starts a `ShardedFanBot`, FanBot on an AutoShardedBot, because Discord
requires sharding from 2,500 servers. SHARD_COUNT and SHARD_IDS choose this process's shards
(several processes then split the bot); without them discord.py asks Discord for the recommended
count and runs every shard here. Log lines carry the process's shards (`SHARD_TAG`), and shard
events name their shard. FanBot itself stays a plain Bot so that dpytest, which refuses sharded
clients, can drive every behaviour; the sharded class adds only the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Config
from bot.conversation import ConversationMemory
from bot.discord_app.answering import Answerer
from bot.discord_app.cooldown import Cooldown
from bot.discord_app.errors import handle_app_command_error
from bot.discord_app.logs import SHARD_TAG
from bot.discord_app.views import LeakReportButton, MoreQuotesButton, answer_view
from bot.engine import Engine
from bot.fleet import Fleet, format_shards
from bot.index.errors import IndexProblem
from bot.libraries import Libraries
from bot.settings_store import SettingsStoreBase

__all__ = ["FanBot", "FanTree", "ShardedFanBot", "make_intents", "shard_options"]

log = logging.getLogger(__name__)

#: Rate limits longer than this raise discord.RateLimited (we say "busy") instead of waiting silently.
MAX_RATELIMIT_WAIT = 30.0


def make_intents() -> discord.Intents:
    """Default intents plus message_content (privileged: enable it in the developer portal)."""
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


class FanTree(app_commands.CommandTree):
    """The command tree, with one error handler for every slash command."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await handle_app_command_error(interaction, error)


def shard_options(config: Config) -> dict[str, Any]:
    """AutoShardedBot's shard arguments: none (automatic), a count, or a count and this process's ids."""
    options: dict[str, Any] = {}
    if config.shard_count is not None:
        options["shard_count"] = config.shard_count
    if config.shard_ids is not None:
        options["shard_ids"] = list(config.shard_ids)
    return options


class FanBot(commands.Bot):
    """The TV-show quote bot. Slash commands and mentions only (no prefix commands)."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: SettingsStoreBase,
        memory: ConversationMemory,
        config: Config,
        cooldown: Cooldown | None = None,
        fleet: Fleet | None = None,
        libraries: Libraries | None = None,
    ) -> None:
        # The bot never joins voice: skip the library's "PyNaCl/davey is not installed" start-up warnings.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        owners: dict[str, Any] = {"owner_ids": set(config.owner_ids)} if config.owner_ids else {}
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=make_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=FanTree,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
            **self._gateway_options(config),
            **owners,
        )
        self.engine = engine  # the shared library's engine (the shipped corpus and index)
        self.libraries = libraries or Libraries(
            engine,
            corpus_root=config.data_dir / "libraries",
            cache_size=config.library_cache_size,
            limits=config.library_limits(),
        )
        self.settings = settings
        self.memory = memory
        self.config = config
        self.fleet = fleet
        if fleet is not None:
            fleet.shards = self.shard_info
        self.cooldown = cooldown or Cooldown(config.cooldown_questions, config.cooldown_seconds)
        self.answerer = Answerer(
            engine, settings, memory, self.cooldown, view_for=answer_view, libraries=self.libraries
        )
        self._installed = False

    # ------------------------------------------------------------------ startup (once)

    @staticmethod
    def _gateway_options(config: Config) -> dict[str, Any]:
        return {}

    async def setup_hook(self) -> None:
        if self.fleet is not None:
            # First: loading cleans up after interrupted builds, which needs the lock every process
            # shares (with PostgreSQL, not the file lock), or it could delete another machine's build.
            await self.fleet.start()
        await self.load_index()
        await self.warm_up()
        if self.fleet is not None:
            await self.fleet.beat()  # with the index version now
        await self.install()
        await self.sync_commands()

    # ------------------------------------------------------------------ shards

    def shard_info(self) -> tuple[list[int] | None, int | None]:
        """(this process's shard ids, the bot's shard count); (None, None) until automatic sharding
        has asked Discord for the count."""
        count = self.shard_count
        ids = getattr(self, "shard_ids", None)
        if ids is None and self.shard_id is not None:
            ids = [self.shard_id]
        if count is None:
            return None, None
        return (sorted(ids) if ids is not None else list(range(count))), count

    def shard_label(self) -> str:
        ids, count = self.shard_info()
        if count is None:
            return "shards auto"
        return ("shard " if ids is not None and len(ids) == 1 else "shards ") + format_shards(ids, count)

    def _shards_known(self) -> None:
        """Name the shards in every log line from now on (once known), and tell `status` at once."""
        if self.shard_count is not None:
            SHARD_TAG.label = self.shard_label()
        if self.fleet is not None and self.fleet.register:
            self.fleet.spawn(self.fleet.beat())

    async def load_index(self) -> None:
        """Open the index off the event loop; a missing or broken one is reported, not fatal."""
        if self.fleet is not None and self.engine.version is not None and not self.engine.stale():
            # The fleet's first check already loaded the current version; still tidy up after builds
            # that died (when no process is building now).
            await asyncio.to_thread(self.engine.store.clean_leftovers)
            return
        try:
            await asyncio.to_thread(self.engine.load)
        except IndexProblem as exc:
            log.error(
                "Starting without an index: %s. Fans are told answers are unavailable; "
                "an admin can run /reindex (or `python -m bot index`).",
                exc,
            )
        else:
            log.info("Index %s loaded (%d articles)", self.engine.version, len(self.engine.sources()))

    async def warm_up(self) -> None:
        """Load the embedding model now, off the loop, so the first question isn't slow."""
        try:
            await asyncio.to_thread(self.engine.embedder.warm_up)
        except Exception:
            log.exception("Could not load the embedding model; questions will fail until this is fixed")

    async def install(self) -> None:
        """Add the cogs and the persistent buttons (idempotent)."""
        if self._installed:
            return
        from bot.discord_app.cogs.admin import AdminCog, LibraryCog
        from bot.discord_app.cogs.ask import AskCog
        from bot.discord_app.cogs.spoilers import SpoilersCog
        from bot.discord_app.cogs.status import StatusCog

        for cog in (AskCog(self), SpoilersCog(self), AdminCog(self), StatusCog(self), LibraryCog(self)):
            await self.add_cog(cog)
        self.add_dynamic_items(MoreQuotesButton, LeakReportButton)
        self._installed = True

    async def sync_commands(self) -> list[app_commands.AppCommand]:
        """Register slash commands with Discord: to the dev server at once, or globally (slow to appear)."""
        try:
            if self.config.dev_guild_id:
                guild = discord.Object(id=self.config.dev_guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("Synced %d commands to dev server %s", len(synced), self.config.dev_guild_id)
            else:
                synced = await self.tree.sync()
                log.info("Synced %d global commands (they can take up to an hour to appear)", len(synced))
            return synced
        except discord.Forbidden as exc:
            log.error(
                "Could not sync slash commands (%s). Invite the bot with the applications.commands scope%s.",
                exc,
                " to DEV_GUILD_ID's server" if self.config.dev_guild_id else "",
            )
        except discord.HTTPException as exc:
            log.error("Could not sync slash commands: %s; the previously synced ones stay", exc)
        return []

    # ------------------------------------------------------------------ events

    async def on_ready(self) -> None:
        """Log only: this fires again after every reconnect, so nothing here may resync or reload."""
        user = self.user
        self._shards_known()
        log.info(
            "Ready as %s (id %s) in %d server(s), %s; index %s",
            user,
            user.id if user else "?",
            len(self.guilds),
            self.shard_label(),
            self.engine.version or f"not loaded ({self.engine.problem})",
        )

    async def on_shard_connect(self, shard_id: int) -> None:
        self._shards_known()
        log.info("Shard %d connected", shard_id)

    async def on_shard_ready(self, shard_id: int) -> None:
        guilds = sum(1 for g in self.guilds if g.shard_id == shard_id)
        log.info("Shard %d ready in %d server(s)", shard_id, guilds)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        log.warning("Shard %d disconnected; discord.py reconnects it", shard_id)

    async def on_shard_resumed(self, shard_id: int) -> None:
        log.info("Shard %d resumed", shard_id)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: questions by mention or reply are handled by AskCog's listener."""
        return


class ShardedFanBot(FanBot, commands.AutoShardedBot):
    """FanBot on discord.py's AutoShardedBot: the shards of SHARD_COUNT/SHARD_IDS, or automatic."""

    @staticmethod
    def _gateway_options(config: Config) -> dict[str, Any]:
        return shard_options(config)

    async def close(self) -> None:
        """Close, also when never connected. AutoShardedClient.close() puts a "closed" event on a
        queue that only connect() creates, so a bot closed after a rejected token would raise
        AttributeError instead of closing; give it the queue first."""
        if not hasattr(self, "_AutoShardedClient__queue"):
            self._AutoShardedClient__queue: asyncio.PriorityQueue[Any] = asyncio.PriorityQueue()
        await super().close()
