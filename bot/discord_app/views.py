"""The buttons under each answer: "More quotes" and "This leaked a spoiler".

Why DynamicItem: everything a click needs is in the button's custom_id (whose question to continue,
which passages to report), so buttons keep working after a restart and the bot keeps no per-message
view objects in memory. Passage ids are too long for the 100-character custom_id, so the button
carries a short hash of each and the click maps it back through the index being served.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_app.answering import Asked, Reply
from bot.discord_app.respond import InteractionResponder, send_interaction

if TYPE_CHECKING:
    from bot.discord_app.client import FanBot

__all__ = ["LeakReportButton", "MoreQuotesButton", "answer_view", "passage_token"]

log = logging.getLogger(__name__)

MAX_REPORTED = 9  # 11 + 9 * 9 - 1 = 91 characters: inside the 100 Discord allows


def passage_token(passage_id: str) -> str:
    """8 hex characters naming a passage inside a custom_id (collisions: ~1 in 4 billion per pair)."""
    return hashlib.blake2b(passage_id.encode("utf-8"), digest_size=4).hexdigest()


def _bot(interaction: discord.Interaction[Any]) -> FanBot:
    return interaction.client  # type: ignore[no-any-return]


class MoreQuotesButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"tvbot:more:(?P<owner>[0-9]{1,20})"
):
    """Shows the next best quotes for the question this answer was for."""

    def __init__(self, owner_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="More quotes", style=discord.ButtonStyle.secondary, custom_id=f"tvbot:more:{owner_id}"
            )
        )
        self.owner_id = owner_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MoreQuotesButton:
        return cls(int(match["owner"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """The asker gets the next quotes in the channel; anyone else sees them privately."""
        bot = _bot(interaction)
        is_owner = interaction.user.id == self.owner_id
        asked = Asked.of(interaction, owner_id=self.owner_id, private=not is_owner)
        responder = InteractionResponder(interaction, ephemeral=not is_owner)
        await bot.answerer.handle("more", asked, responder, private_notices=True)


class LeakReportButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"tvbot:leak:(?P<tokens>[0-9a-f]{8}(?:\.[0-9a-f]{8}){0,8})",
):
    """Lets any fan tell the moderators that this answer showed a spoiler in clear."""

    def __init__(self, tokens: list[str]) -> None:
        super().__init__(
            discord.ui.Button(
                label="This leaked a spoiler",
                style=discord.ButtonStyle.danger,
                custom_id="tvbot:leak:" + ".".join(tokens),
            )
        )
        self.tokens = tokens

    @classmethod
    def for_passages(cls, passage_ids: list[str]) -> LeakReportButton:
        return cls([passage_token(pid) for pid in passage_ids[:MAX_REPORTED]])

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> LeakReportButton:
        return cls(match["tokens"].split("."))

    def passage_ids(self, bot: FanBot) -> list[str]:
        """The reported passages' ids in the index being served; "#<token>" for any no longer in it."""
        snapshot = bot.engine.snapshot
        known = {passage_token(p.id): p.id for p in snapshot.index.passages} if snapshot else {}
        return [known.get(token, f"#{token}") for token in self.tokens]

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild is None:
            await send_interaction(
                interaction,
                "Thanks. Leak reports go to a server's moderators, and there are none in DMs.",
                ephemeral=True,
            )
            return
        bot = _bot(interaction)
        message_id = interaction.message.id if interaction.message else 0
        try:
            report_id = await bot.settings.add_leak_report(
                interaction.guild.id,
                interaction.channel.id if interaction.channel else 0,
                interaction.user.id,
                message_id,
                self.passage_ids(bot),
                None,
            )
        except Exception:
            log.exception("saving a leak report for message %s failed", message_id)
            await send_interaction(interaction, "Sorry, I couldn't save that report.", ephemeral=True)
            return
        log.info("leak report %s on message %s by user %s", report_id, message_id, interaction.user.id)
        await send_interaction(
            interaction,
            f"Thanks, I've sent this to the server's moderators (report #{report_id}).",
            ephemeral=True,
        )


def answer_view(reply: Reply) -> discord.ui.View | None:
    """Both buttons for an answer that quoted something; no view for prompts or refusals."""
    if not reply.passage_ids:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(MoreQuotesButton(reply.owner_id))
    view.add_item(LeakReportButton.for_passages(reply.passage_ids))
    return view
