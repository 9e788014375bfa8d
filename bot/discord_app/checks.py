"""Who may change what, checked in code on every call.

Why in code as well as `default_permissions`: those are only defaults; a server admin can open a
command to everyone in Integrations settings, and DMs carry no server permissions at all.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.discord_app.errors import Denied

if TYPE_CHECKING:
    from bot.discord_app.client import FanBot

__all__ = ["admin_only", "is_admin", "is_moderator", "is_owner", "moderator_only", "require_owner"]

log = logging.getLogger(__name__)

GUILD_ONLY = "That only works in a server, not in DMs."
NOT_MODERATOR = "Only moderators (Manage Messages, or the server's moderator role) can do that."
NOT_ADMIN = "Only server admins (Manage Server) or the bot owner can do that."
NOT_OWNER = (
    "Only the bot's owners can change the shared library; "
    "this server's admins manage this server's own library (leave `shared` off)."
)


def _bot(interaction: discord.Interaction[Any]) -> FanBot:
    return interaction.client  # type: ignore[no-any-return]


def is_owner(interaction: discord.Interaction[Any]) -> bool:
    """The bot owner(s) from BOT_OWNER_IDS may do everything, in any server."""
    return interaction.user.id in _bot(interaction).config.owner_ids


def _perms(interaction: discord.Interaction[Any]) -> discord.Permissions:
    return interaction.permissions or discord.Permissions.none()


async def is_moderator(interaction: discord.Interaction[Any]) -> bool:
    """Manage Messages (or Manage Server), the configured moderator role, or the bot owner."""
    if interaction.guild is None:
        raise Denied(GUILD_ONLY)
    if is_owner(interaction):
        return True
    perms = _perms(interaction)
    if perms.administrator or perms.manage_guild or perms.manage_messages:
        return True
    bot = _bot(interaction)
    try:
        role_id = await bot.settings.get_moderator_role(interaction.guild.id)
    except Exception:  # an unreadable setting must not grant or crash; fall back to the config
        log.exception("could not read the moderator role of guild %s", interaction.guild.id)
        role_id = None
    role_id = role_id or bot.config.moderator_role_id
    roles = getattr(interaction.user, "roles", ())  # a User (not Member) has no roles
    if role_id is not None and any(role.id == role_id for role in roles):
        return True
    raise Denied(NOT_MODERATOR)


async def is_admin(interaction: discord.Interaction[Any]) -> bool:
    """Manage Server (or Administrator) in this server, or the bot owner."""
    if interaction.guild is None:
        raise Denied(GUILD_ONLY)
    perms = _perms(interaction)
    if is_owner(interaction) or perms.administrator or perms.manage_guild:
        return True
    raise Denied(NOT_ADMIN)


def require_owner(interaction: discord.Interaction[Any]) -> None:
    """Denied unless the user is in BOT_OWNER_IDS: the shared library reaches every server, so
    Manage Server in one of them is not enough (checked in code; no Discord default can grant it)."""
    if not is_owner(interaction):
        raise Denied(NOT_OWNER)


moderator_only = app_commands.check(is_moderator)
admin_only = app_commands.check(is_admin)
