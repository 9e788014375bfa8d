"""Sending to Discord by the rules: one initial response per interaction, follow-ups after it, no pings.

Why a module of its own: "respond, or follow up if already responded" and "never ping anyone" must be
the same everywhere, including in the error handler, where a second response would itself fail.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import discord

__all__ = ["NO_PINGS", "InteractionResponder", "MessageResponder", "Responder", "send_interaction"]

log = logging.getLogger(__name__)

#: Quotes are escaped already; this is the second lock on the door (and no reply pings either).
NO_PINGS = discord.AllowedMentions.none()


async def send_interaction(
    interaction: discord.Interaction[Any],
    content: str,
    *,
    ephemeral: bool = False,
    view: discord.ui.View | None = None,
) -> None:
    """Answer an interaction: the initial response if none was sent yet, a follow-up otherwise."""
    extra: dict[str, Any] = {} if view is None else {"view": view}
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=ephemeral, allowed_mentions=NO_PINGS, **extra)
    else:
        await interaction.response.send_message(
            content, ephemeral=ephemeral, allowed_mentions=NO_PINGS, **extra
        )


class Responder(Protocol):
    """Where an answer goes: an interaction (slash command, button) or a channel message."""

    async def notice(self, text: str) -> None:
        """A short note for the asker only where possible (prompt, cooldown, apology)."""

    async def thinking(self) -> None:
        """Show that an answer is coming; must happen before slow work (interactions expire in 3 s)."""

    async def send(self, messages: Sequence[str], view: discord.ui.View | None) -> None:
        """Post the answer; `view` goes under the last message."""


class InteractionResponder:
    """Answers through an interaction: defer (thinking) first, then follow-ups."""

    def __init__(self, interaction: discord.Interaction[Any], *, ephemeral: bool = False) -> None:
        self.interaction = interaction
        self.ephemeral = ephemeral

    async def notice(self, text: str) -> None:
        await send_interaction(self.interaction, text, ephemeral=True)

    async def thinking(self) -> None:
        if not self.interaction.response.is_done():
            await self.interaction.response.defer(thinking=True, ephemeral=self.ephemeral)

    async def send(self, messages: Sequence[str], view: discord.ui.View | None) -> None:
        for number, text in enumerate(messages, 1):
            extra: dict[str, Any] = {"view": view} if view is not None and number == len(messages) else {}
            await self.interaction.followup.send(
                text, ephemeral=self.ephemeral, allowed_mentions=NO_PINGS, **extra
            )


class MessageResponder:
    """Answers a mention or a reply: the first message replies to the fan (without pinging them)."""

    def __init__(self, message: discord.Message) -> None:
        self.message = message

    async def notice(self, text: str) -> None:
        await self.message.reply(text, allowed_mentions=NO_PINGS, mention_author=False)

    async def thinking(self) -> None:
        try:
            await self.message.channel.typing()
        except (discord.HTTPException, discord.RateLimited) as exc:  # a nicety: never fail an answer over it
            log.debug("could not show typing in %s: %s", self.message.channel.id, exc)

    async def send(self, messages: Sequence[str], view: discord.ui.View | None) -> None:
        for number, text in enumerate(messages, 1):
            extra: dict[str, Any] = {"view": view} if view is not None and number == len(messages) else {}
            if number == 1:
                await self.message.reply(text, allowed_mentions=NO_PINGS, mention_author=False, **extra)
            else:
                await self.message.channel.send(text, allowed_mentions=NO_PINGS, **extra)
