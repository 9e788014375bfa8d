"""/status: which shard serves this server, which index answers, whether the database is well.

Why for everyone: a fan who gets no answer can tell "the bot is down" from "this shard is down" and
say which when reporting it. Server admins and bot owners also see every process of the bot (from
the heartbeat rows), which is what they need when one process lags behind or went silent.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.catalog import paginate
from bot.discord_app.respond import send_interaction
from bot.fleet import SILENT_AFTER, format_shards, shard_of

if TYPE_CHECKING:
    from bot.discord_app.client import FanBot

__all__ = ["StatusCog"]

log = logging.getLogger(__name__)

MAX_PROCESS_LINES = 15


class StatusCog(commands.Cog, name="Status"):
    """Health of the bot as this server sees it."""

    def __init__(self, bot: FanBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="status", description="Which shard serves this server, the index, the database"
    )
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        lines = await self.lines(interaction)
        await send_interaction(interaction, paginate(lines)[0], ephemeral=True)

    async def lines(self, interaction: discord.Interaction[Any]) -> list[str]:
        bot = self.bot
        ids, count = bot.shard_info()
        lines: list[str] = []
        if count is None:
            lines.append("Shards: not connected yet (automatic sharding).")
        elif interaction.guild is not None:
            lines.append(f"This server is on **shard {shard_of(interaction.guild.id, count)}** of {count}.")
        else:
            lines.append(f"Direct messages go through **shard 0** of {count}.")
        fleet = bot.fleet
        here = f"`{fleet.process_id}`" if fleet is not None else "this process"
        lines.append(f"Answered by {here}, running shards {format_shards(ids, count)}.")
        engine = bot.engine
        if engine.version:
            lines.append(f"Index: `{engine.version}` ({len(engine.sources())} articles).")
        else:
            lines.append(f"Index: not loaded ({engine.problem or 'unknown reason'}).")
        health = await bot.settings.health()
        if health["ok"]:
            lines.append(f"Database: {health['backend']}, ok ({health['latency_ms']:.1f} ms).")
        else:
            log.error("/status: database unhealthy: %s", health["detail"])
            lines.append(f"Database: {health['backend']}, **unreachable** (details in the bot's log).")
            return lines
        if await self._may_see_processes(interaction):
            lines.extend(await self._processes())
        return lines

    async def _may_see_processes(self, interaction: discord.Interaction[Any]) -> bool:
        """Process names are for the people who run the bot: bot owners, and server admins."""
        if interaction.user.id in self.bot.config.owner_ids:
            return True
        perms = interaction.permissions or discord.Permissions.none()
        return interaction.guild is not None and (perms.administrator or perms.manage_guild)

    async def _processes(self) -> list[str]:
        try:
            rows = await self.bot.settings.processes()
            published = await self.bot.settings.index_versions()
        except Exception:
            log.exception("/status: reading the heartbeat rows failed")
            return ["Processes: could not be read (details in the bot's log)."]
        now = time.time()
        newest = {row["version"] for row in published.values()}
        silent_after = SILENT_AFTER * self.bot.config.heartbeat_seconds
        alive = sum(1 for r in rows if now - r["last_seen"] <= silent_after)
        lines = [f"Processes: {len(rows)} ({alive} alive)"]
        for row in rows[:MAX_PROCESS_LINES]:
            state = "alive" if now - row["last_seen"] <= silent_after else "**silent**"
            version = row["index_version"] or "no index"
            behind = " (behind)" if newest and row["index_version"] not in newest else ""
            lines.append(
                f"• `{row['process_id']}` shards {format_shards(row['shard_ids'], row['shard_count'])}, "
                f"`{version}`{behind}, {state}, heartbeat {int(now - row['last_seen'])} s ago"
            )
        if len(rows) > MAX_PROCESS_LINES:
            lines.append(f"… and {len(rows) - MAX_PROCESS_LINES} more (`python -m bot status` lists all).")
        return lines
