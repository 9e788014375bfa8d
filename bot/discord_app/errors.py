"""The global app-command error handler: a short private note for the user, the details in the log.

Why one handler: every command fails the same few ways (not allowed, Discord busy, Discord down,
our bug), and the user should get one clear sentence for each, never a traceback and never silence.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.discord_app.respond import send_interaction

__all__ = [
    "BUSY",
    "DISCORD_DOWN",
    "Denied",
    "SORRY",
    "handle_app_command_error",
]

log = logging.getLogger(__name__)

BUSY = "I'm busy right now (Discord is rate-limiting me); please try again in a minute."
DISCORD_DOWN = "Discord is having trouble right now; please try again in a moment."
SORRY = "Sorry, something went wrong on my side. It has been logged for the bot's admins."
NOT_ALLOWED = "You can't use that command here."
#: How long a rate limit we tell the user about; shorter ones the library waits out silently.
LONG_RETRY_AFTER = 5.0


class Denied(app_commands.CheckFailure):
    """A permission check said no; the message is what the user sees."""


def _retry_after(error: BaseException) -> float | None:
    """Seconds Discord asked us to wait, when `error` is a rate limit; None otherwise."""
    if isinstance(error, discord.RateLimited):
        return error.retry_after
    if isinstance(error, discord.HTTPException) and error.status == 429:
        retry = getattr(error, "retry_after", None)
        return float(retry) if isinstance(retry, int | float) else LONG_RETRY_AFTER
    return None


def user_message(error: app_commands.AppCommandError) -> tuple[str, int]:
    """What to tell the user about `error`, and at which level to log it."""
    original: BaseException = error
    if isinstance(error, app_commands.CommandInvokeError):
        original = error.original
    if isinstance(error, Denied):
        return str(error), logging.INFO
    if isinstance(error, app_commands.NoPrivateMessage):
        return "That command only works in a server, not in DMs.", logging.INFO
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little; try again in {error.retry_after:.0f} s.", logging.INFO
    if isinstance(error, app_commands.CheckFailure):
        return NOT_ALLOWED, logging.INFO
    if isinstance(error, app_commands.TransformerError):
        return f"I couldn't understand the value {str(error.value)[:80]!r}.", logging.INFO
    retry = _retry_after(original)
    if retry is not None:
        return (BUSY if retry >= LONG_RETRY_AFTER else "I'm a bit busy; please try again."), logging.WARNING
    if isinstance(original, discord.HTTPException) and original.status >= 500:  # DiscordServerError too
        return DISCORD_DOWN, logging.ERROR
    return SORRY, logging.ERROR


async def handle_app_command_error(
    interaction: discord.Interaction[Any], error: app_commands.AppCommandError
) -> None:
    """Tell the user briefly (ephemeral); log the full traceback for anything that is not a denial."""
    text, level = user_message(error)
    name = getattr(interaction.command, "qualified_name", None) or "?"
    if level >= logging.ERROR:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        log.log(
            level, "command /%s failed", name, exc_info=(type(original), original, original.__traceback__)
        )
    else:
        log.log(level, "command /%s refused for user %s: %s", name, interaction.user.id, error)
    try:
        await send_interaction(interaction, text, ephemeral=True)
    except (discord.HTTPException, discord.RateLimited) as exc:  # expired, Discord down: nothing more to do
        log.warning("could not tell the user about the error in /%s: %s", name, exc)
