"""Fans: /ask, mentions, replies to the bot, /sources, /help and /watched.

Why mentions and replies as well as /ask: in a busy channel fans talk to the bot the way they talk
to each other, and a reply is the natural way to follow up ("more", "who said that?").
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.answering import Asked
from bot.discord_app.catalog import ShowCatalog, paginate, source_line
from bot.discord_app.respond import InteractionResponder, MessageResponder, send_interaction
from bot.engine import MAX_QUESTION_CHARS
from bot.render.markdown import escape_text
from bot.text import clean_text

if TYPE_CHECKING:
    from bot.discord_app.client import FanBot

__all__ = ["AskCog"]

log = logging.getLogger(__name__)

HELP = """\
**Ask me about the shows** and I answer with quotes from the articles I've read.
• `/ask question`, mention me, or reply to one of my messages.
• Follow up in the same channel: “and what about luke?”, “who said that?”, “more” (or **More quotes**).
• Season-finale spoilers are hidden in `||spoiler tags||` unless this channel is set otherwise.
• `/watched set show season`: finales of seasons you've seen show untagged in `/ask private:True` and DMs.
• `/sources`: the articles I quote. **This leaked a spoiler** under an answer tells the moderators.
• `/status`: which shard serves this server, which index answers, whether my database is well.
Moderators: `/spoilers mode|status|reports|modrole`. Admins: `/corpus add|remove|list|history`, `/reindex`
(this server's own library), `/library shared on|off`, `/library status`."""

MAX_SEASON = 100


class AskCog(commands.Cog, name="Ask"):
    """Everything a fan can do."""

    watched = app_commands.Group(name="watched", description="Tell me which seasons you have seen")

    def __init__(self, bot: FanBot) -> None:
        self.bot = bot
        self.shows = ShowCatalog(bot.engine)

    # ------------------------------------------------------------------ questions

    @app_commands.command(name="ask", description="Ask about the shows; I answer with quotes from articles")
    @app_commands.describe(
        question="e.g. why did Jessica kill Kilgrave?",
        private="Only you see the answer (and finales of seasons you've /watched show untagged)",
    )
    async def ask(
        self,
        interaction: discord.Interaction[Any],
        question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
        private: bool = False,
    ) -> None:
        await self.bot.answerer.handle(
            question,
            Asked.of(interaction, private=private),
            InteractionResponder(interaction, ephemeral=private),
            private_notices=True,
        )

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer when mentioned, when someone replies to one of my messages, or in DMs."""
        question = await self.question_in(message)
        if question is None:
            return
        guild_id = message.guild.id if message.guild else None
        asked = Asked(message.author.id, message.channel, guild_id, private=guild_id is None)
        try:
            await self.bot.answerer.handle(question, asked, MessageResponder(message), private_notices=False)
        except (discord.HTTPException, discord.RateLimited) as exc:  # e.g. no Send Messages permission
            log.warning("could not answer message %s in channel %s: %s", message.id, message.channel.id, exc)

    async def question_in(self, message: discord.Message) -> str | None:
        """The question a message puts to the bot, without the mention; None if it is not for us."""
        me = self.bot.user
        if me is None or message.author.bot or message.webhook_id is not None:
            return None
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return None
        addressed = (
            message.guild is None
            or any(user.id == me.id for user in message.mentions)
            or await self._replies_to_me(message, me.id)
        )
        if not addressed:
            return None
        return message.content.replace(f"<@!{me.id}>", " ").replace(f"<@{me.id}>", " ").strip()

    async def _replies_to_me(self, message: discord.Message, my_id: int) -> bool:
        reference = message.reference
        if reference is None or reference.message_id is None:
            return False
        target = reference.resolved or reference.cached_message
        if target is None and reference.channel_id == message.channel.id:
            try:
                target = await message.channel.fetch_message(reference.message_id)
            except (discord.HTTPException, discord.RateLimited):
                return False
        return isinstance(target, discord.Message) and target.author.id == my_id

    # ------------------------------------------------------------------ what I know

    @app_commands.command(name="sources", description="The articles I quote from")
    @app_commands.describe(page="Page number, when there are many articles")
    async def sources(
        self, interaction: discord.Interaction[Any], page: app_commands.Range[int, 1] = 1
    ) -> None:
        await self.shows.refresh()
        guild_id = interaction.guild.id if interaction.guild is not None else None
        shared_on = await self.bot.settings.shared_library_on(guild_id)
        names = self.bot.libraries.libraries_for(guild_id, shared_on)
        own = [n for n in names if n != "shared"]
        mine = (await asyncio.to_thread(self.bot.libraries.engine, own[0])).sources() if own else []
        shared = self.bot.engine.sources() if "shared" in names else []
        articles = [*mine, *shared]
        if not articles:
            problem = self.bot.engine.problem or "no articles are indexed"
            await send_interaction(
                interaction, f"I have no articles to quote yet ({problem}).", ephemeral=True
            )
            return
        shows = self.shows.shows()
        header = [f"I quote from **{len(articles)}** article(s)."]
        if own:
            header.append(
                f"This server's library: {len(mine)}; shared library: "
                + (f"{len(shared)}" if shared_on else "off")
                + "."
            )
        if shows:
            header.append("Shows: " + ", ".join(escape_text(s) for s in shows))
        pages = paginate([*header, *(source_line(a) for a in articles)])
        number = min(page, len(pages))
        text = pages[number - 1]
        if len(pages) > 1:
            text += f"\n-# Page {number}/{len(pages)}"
            if number < len(pages):
                text += f": `/sources page:{number + 1}` for more"
        await send_interaction(interaction, text, ephemeral=True)

    @app_commands.command(name="help", description="How to ask me things")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        await send_interaction(interaction, HELP, ephemeral=True)

    # ------------------------------------------------------------------ watch progress

    @watched.command(
        name="set", description="Seasons you have seen show their finale spoilers untagged for you"
    )
    @app_commands.describe(show="The show", season="The last season you have finished")
    async def watched_set(
        self,
        interaction: discord.Interaction[Any],
        show: app_commands.Range[str, 1, 100],
        season: app_commands.Range[int, 1, MAX_SEASON],
    ) -> None:
        show = clean_text(show)  # echoed and stored: a lone surrogate breaks both
        await self.shows.refresh()
        name = self.shows.canonical(show)
        if name is None:
            known = ", ".join(self.shows.shows()) or "none yet"
            await send_interaction(
                interaction,
                f"I don't know a show called “{escape_text(show[:100])}”. "
                f"Shows I know: {escape_text(known)}.",
                ephemeral=True,
            )
            return
        await self.bot.settings.set_watched(interaction.user.id, name, season)
        await send_interaction(
            interaction,
            f"Got it: you've seen **{escape_text(name)}** up to season {season}. Finale spoilers of those "
            "seasons will show without tags in answers only you see (`/ask private:True`, DMs); answers "
            "in channels stay tagged for everyone else's sake.",
            ephemeral=True,
        )

    @watched_set.autocomplete("show")
    async def _show_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        await self.shows.refresh()
        return self._choices(current)

    def _choices(self, current: str) -> list[app_commands.Choice[str]]:
        """Show names for autocomplete (choices show in clear: never put spoiler text in them)."""
        return [
            app_commands.Choice(name=name[:100], value=name[:100])
            for name in self.shows.choices(clean_text(current))
        ]

    @watched.command(name="clear", description="Forget what you told me you have seen (one show or all)")
    @app_commands.describe(show="Only this show (leave empty to forget all)")
    async def watched_clear(
        self, interaction: discord.Interaction[Any], show: app_commands.Range[str, 1, 100] | None = None
    ) -> None:
        show = None if show is None else clean_text(show)
        await self.shows.refresh()
        name = None if show is None else (self.shows.canonical(show) or show)
        try:
            removed = await self.bot.settings.clear_watched(interaction.user.id, name)
        except ValueError:
            removed = 0
        what = (
            "everything you told me you've watched"
            if name is None
            else f"your progress in {escape_text(name)}"
        )
        note = "" if removed else " (there was nothing to forget)"
        await send_interaction(
            interaction, f"Forgot {what}{note}. Finale spoilers stay tagged.", ephemeral=True
        )

    @watched_clear.autocomplete("show")
    async def _clear_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        await self.shows.refresh()
        return self._choices(current)

    @watched.command(name="list", description="What you told me you have seen")
    async def watched_list(self, interaction: discord.Interaction[Any]) -> None:
        seen = await self.bot.settings.watched(interaction.user.id)
        if not seen:
            text = "You haven't told me about any show yet; every finale spoiler stays tagged for you."
        else:
            await self.shows.refresh()
            names = {key: self.shows.canonical(key) or key for key in seen}
            text = "\n".join(f"• {escape_text(names[k])}: up to season {s}" for k, s in seen.items())
        await send_interaction(interaction, text, ephemeral=True)
