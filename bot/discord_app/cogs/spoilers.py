"""Moderators: spoiler mode per server or channel, the moderator role, and leak reports.

Guild-only, Manage Messages by default; the same rule is checked in code (`moderator_only`) because
server admins can change who sees a command, and the moderator role lives only in our settings.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.catalog import paginate
from bot.discord_app.channels import is_spoiler_channel, settings_channel_id
from bot.discord_app.checks import admin_only, moderator_only
from bot.discord_app.respond import send_interaction

if TYPE_CHECKING:
    from bot.discord_app.client import FanBot

__all__ = ["SpoilersCog"]

log = logging.getLogger(__name__)

MODE_HELP = {
    "tag": "finale sentences inside spoiler tags",
    "off": "finale sentences shown plain",
    "hide": "finale passages left out",
}
SettableChannel = discord.TextChannel | discord.VoiceChannel | discord.ForumChannel | discord.StageChannel


@app_commands.guild_only()
@app_commands.default_permissions(manage_messages=True)
class SpoilersCog(
    commands.GroupCog, group_name="spoilers", group_description="Spoiler settings for this server"
):
    """Everything a moderator can do."""

    def __init__(self, bot: FanBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="mode", description="How finale spoilers show: server default, or one channel")
    @app_commands.describe(
        mode="tag, off or hide", channel="Only this channel (leave empty for the server default)"
    )
    @moderator_only
    async def mode(
        self,
        interaction: discord.Interaction[Any],
        mode: Literal["tag", "off", "hide"],
        channel: SettableChannel | None = None,
    ) -> None:
        assert interaction.guild is not None  # the check guarantees it
        await self.bot.settings.set_mode(interaction.guild.id, mode, channel.id if channel else None)
        where = f"in {channel.mention}" if channel else "as this server's default"
        log.info("guild %s: spoiler mode %s %s by %s", interaction.guild.id, mode, where, interaction.user.id)
        note = ""
        if channel is None:
            note = (
                "\n-# Channels with their own mode, and channels named “spoiler” or marked NSFW, keep theirs."
            )
        await send_interaction(
            interaction, f"Spoiler mode is now **{mode}** {where} ({MODE_HELP[mode]}).{note}", ephemeral=True
        )

    @app_commands.command(name="reset", description="Make a channel follow the server's spoiler mode again")
    @app_commands.describe(channel="The channel whose own mode to drop")
    @moderator_only
    async def reset(self, interaction: discord.Interaction[Any], channel: SettableChannel) -> None:
        assert interaction.guild is not None
        removed = await self.bot.settings.clear_channel_mode(interaction.guild.id, channel.id)
        text = (
            f"{channel.mention} now follows the server's spoiler mode."
            if removed
            else f"{channel.mention} had no mode of its own."
        )
        await send_interaction(interaction, text, ephemeral=True)

    @app_commands.command(name="status", description="The spoiler settings of this server")
    @moderator_only
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        assert interaction.guild is not None
        status = await self.bot.settings.status(interaction.guild.id)
        default = "" if status["server_mode_set"] else " (default)"
        lines = [f"Server mode: **{status['server_mode']}**{default}"]
        here = await self.bot.answerer.mode_for(interaction.channel, interaction.guild.id)
        reason = " (spoiler or NSFW channel)" if is_spoiler_channel(interaction.channel) else ""
        channel_id = settings_channel_id(interaction.channel)
        if channel_id in status["channel_overrides"]:
            reason = " (set for this channel)"
        lines.append(f"This channel: **{here}**{reason}")
        role = status["moderator_role_id"] or self.bot.config.moderator_role_id
        lines.append(f"Moderator role: {f'<@&{role}>' if role else 'none (Manage Messages only)'}")
        if status["channel_overrides"]:
            lines.append("Channel overrides:")
            lines.extend(f"• <#{cid}>: {mode}" for cid, mode in status["channel_overrides"].items())
        await send_interaction(interaction, paginate(lines)[0], ephemeral=True)

    @app_commands.command(
        name="modrole", description="Set the role that may change spoiler settings (empty: none)"
    )
    @app_commands.describe(role="The moderator role; leave empty to have none")
    @admin_only
    async def modrole(self, interaction: discord.Interaction[Any], role: discord.Role | None = None) -> None:
        assert interaction.guild is not None
        if role is not None and role.is_default():
            await send_interaction(interaction, "@everyone can't be the moderator role.", ephemeral=True)
            return
        await self.bot.settings.set_moderator_role(interaction.guild.id, role.id if role else None)
        text = (
            f"Members with {role.mention} can now change spoiler settings."
            if role
            else "No moderator role: only members with Manage Messages can change spoiler settings."
        )
        await send_interaction(interaction, text, ephemeral=True)

    @app_commands.command(name="reports", description="Recent reports that an answer leaked a spoiler")
    @moderator_only
    async def reports(self, interaction: discord.Interaction[Any]) -> None:
        assert interaction.guild is not None
        reports = await self.bot.settings.leak_reports(interaction.guild.id, limit=15)
        if not reports:
            await send_interaction(interaction, "No leak reports. 🎉", ephemeral=True)
            return
        guild_id = interaction.guild.id
        lines = [f"**{len(reports)}** most recent leak report(s), newest first:"]
        for report in reports:
            link = f"https://discord.com/channels/{guild_id}/{report['channel_id']}/{report['message_id']}"
            passages = ", ".join(f"`{p.replace('`', '')}`" for p in report["passage_ids"]) or "?"
            lines.append(
                f"• #{report['id']} <t:{int(report['created_at'])}:R> by <@{report['user_id']}> "
                f"in <#{report['channel_id']}>: {link}\n  passages: {passages}"
            )
        await send_interaction(interaction, paginate(lines)[0], ephemeral=True)
