"""The one function every question goes through: /ask, a mention, a reply, the "More quotes" button.

Why one path: the same question must get the same answer, cooldown, spoiler mode and memory
however it reaches the bot; only the transport (`Responder`) differs.

Follow-ups: ConversationMemory keeps each fan's recent turns per (channel, user). Their questions go
to the engine as `history` ("and what about luke?", "who said that?"). "More" re-asks the last
question with every passage already shown in `exclude`, so it pages to the next best quotes (the
engine's own "more" handling skips by position instead, which would double-skip with `exclude`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.conversation import ConversationMemory, Turn
from bot.discord_app.channels import is_spoiler_channel, settings_channel_id
from bot.discord_app.cooldown import Cooldown, Verdict
from bot.discord_app.respond import Responder
from bot.engine import Engine, is_more
from bot.libraries import Libraries
from bot.models import Answer
from bot.render.reply import SpoilerMode
from bot.settings_store import DEFAULT_MODE, SettingsStoreBase
from bot.text import clean_question, clean_text
from bot.text import show_key as reply_show_key

__all__ = ["Answerer", "Asked", "Reply"]

log = logging.getLogger(__name__)

HISTORY_TURNS = 4
NOTHING_TO_CONTINUE = "Ask me a question first; then say “more” for more quotes about it."
FORGOTTEN = (
    "I no longer remember that question (I forget after a few minutes, or when I restart); "
    "please ask it again."
)
ALL_SHOWN = "That's all I have on that."
SORRY = "Sorry, something went wrong while answering. It has been logged for the bot's admins."


def cooldown_message(verdict: Verdict) -> str:
    seconds = max(1, round(verdict.retry_after))
    return f"You're asking faster than I can keep up. Please try again in {seconds} s."


@dataclass(frozen=True, slots=True)
class Asked:
    """Who asked, where. `owner_id` is whose conversation this continues (a button click by someone
    else continues the asker's); only the owner's own questions are remembered. `private` answers
    (DMs, ephemeral replies) are seen by the asker alone, so only they may honour /watched."""

    user_id: int
    channel: Any  # discord channel (or a test double): id, name, is_nsfw, parent
    guild_id: int | None
    owner_id: int | None = None
    private: bool = False

    @classmethod
    def of(
        cls, interaction: discord.Interaction[Any], owner_id: int | None = None, *, private: bool = False
    ) -> Asked:
        """Who asked through an interaction (slash command or button)."""
        guild_id = interaction.guild.id if interaction.guild is not None else None
        return cls(interaction.user.id, interaction.channel, guild_id, owner_id, private or guild_id is None)

    @property
    def key(self) -> tuple[int, int]:
        channel_id = getattr(self.channel, "id", 0) or 0
        return (channel_id, self.owner_id if self.owner_id is not None else self.user_id)

    @property
    def remember(self) -> bool:
        return self.owner_id is None or self.owner_id == self.user_id


@dataclass(slots=True)
class Reply:
    """What was sent: the messages, the ids of the quotes in them (for the leak button), whose it is."""

    messages: list[str]
    passage_ids: list[str] = field(default_factory=list)
    owner_id: int = 0


ViewFactory = Callable[[Reply], discord.ui.View | None]


def _shown_ids(answer: Answer) -> list[str]:
    """Ids of the quotes the fan was shown (or that `hide` held back): what "more" skips next time
    and what the leak button reports. Quotes left out for lack of room stay for "more"."""
    unshown = set(answer.unshown)
    return [hit.passage.id for hit in answer.hits if hit.passage.id not in unshown]


class Answerer:
    """Turns a question into posted messages; shared by every cog and button (services injected)."""

    def __init__(
        self,
        engine: Engine,
        settings: SettingsStoreBase,
        memory: ConversationMemory,
        cooldown: Cooldown,
        view_for: ViewFactory | None = None,
        libraries: Libraries | None = None,
    ) -> None:
        self.engine = engine
        # Which articles answer: the server's own library and/or the shared one (DMs: shared only).
        self.libraries = libraries
        self.settings = settings
        self.memory = memory
        self.cooldown = cooldown
        self.view_for = view_for

    # ------------------------------------------------------------------ the shared path

    async def handle(
        self, question: str, asked: Asked, responder: Responder, *, private_notices: bool
    ) -> Reply | None:
        """Prompt on empty, refuse politely on cooldown, show "thinking", answer, post. Never raises
        for the engine's sake: a failure is logged and the fan gets an apology."""
        question = clean_text(question)  # Discord JSON can carry lone surrogates ("\\ud800")
        problem = self.engine.resolve(question).problem  # empty / too long: no model, no cooldown
        if problem or not clean_question(question):
            await responder.notice(problem or "Ask me something about the shows.")
            return None
        verdict = self.cooldown.take(asked.user_id)
        if not verdict.allowed:
            if private_notices or verdict.first_refusal:
                await responder.notice(cooldown_message(verdict))
            return None
        await responder.thinking()
        try:
            reply = await self.answer(question, asked)
        except Exception:
            log.exception("answering %r failed", question[:100])
            await responder.notice(SORRY)
            return None
        view = self.view_for(reply) if self.view_for and reply.passage_ids else None
        await responder.send(reply.messages, view)
        return reply

    async def answer(self, question: str, asked: Asked) -> Reply:
        """The answer text for `question`, using and updating the conversation memory."""
        turns = self.memory.recent(asked.key)
        history = [t.question for t in turns][-HISTORY_TURNS:]
        mode = await self.mode_for(asked.channel, asked.guild_id)
        # What one fan has watched must not untag a finale that everyone in the channel can read.
        watched = await self.watched_for(asked.user_id) if asked.private else {}
        owner = asked.key[1]
        if self.is_more(question):
            return await self._more(asked, turns, mode, watched)
        answer = await self._ask(asked, question, history=history, mode=mode, watched=watched)
        ids = _shown_ids(answer)
        if asked.remember and not self.engine.resolve(question, history).who_said_that:
            self.memory.remember(asked.key, question, ids, shown=len(ids))
        return Reply(list(answer.messages), ids, owner)

    async def _more(
        self,
        asked: Asked,
        turns: Sequence[Turn],
        mode: SpoilerMode,
        watched: Mapping[str, int],
    ) -> Reply:
        """The next best quotes for the last question: everything shown so far is excluded."""
        owner = asked.key[1]
        if not turns:
            return Reply([FORGOTTEN if asked.owner_id is not None else NOTHING_TO_CONTINUE], [], owner)
        # A "more" is remembered as the question it continues, carrying every id shown so far, so the
        # question itself never scrolls out of the (short) memory however often the fan says "more".
        last = turns[-1]
        start = len(turns) - 1
        while start > 0 and turns[start - 1].question == last.question:
            start -= 1
        earlier = [t.question for t in turns[:start]][-HISTORY_TURNS:]
        shown = list(last.passage_ids)
        answer = await self._ask(
            asked, last.question, history=earlier, mode=mode, watched=watched, exclude=shown
        )
        ids = _shown_ids(answer)
        if not ids:
            return Reply([ALL_SHOWN], [], owner)
        if asked.remember:
            self.memory.remember(asked.key, last.question, shown + ids, shown=len(shown) + len(ids))
        return Reply(list(answer.messages), ids, owner)

    async def _ask(self, asked: Asked, question: str, **kwargs: Any) -> Answer:
        """The engine call, routed to the libraries this server answers from."""
        if self.libraries is None:
            return await self.engine.ask(question, **kwargs)
        shared_on = await self.settings.shared_library_on(asked.guild_id)
        return await self.libraries.ask(question, guild_id=asked.guild_id, shared_on=shared_on, **kwargs)

    # ------------------------------------------------------------------ per-request settings

    def is_more(self, question: str) -> bool:
        """Whether the engine reads `question` as "more" (it does only when there is a history)."""
        return is_more(question)

    async def mode_for(self, channel: Any, guild_id: int | None) -> SpoilerMode:
        """The channel's spoiler mode; the store itself fails closed to "tag"."""
        try:
            return await self.settings.get_mode(
                guild_id, settings_channel_id(channel), channel_is_spoiler=is_spoiler_channel(channel)
            )
        except Exception:
            log.exception("reading the spoiler mode failed; using %r", DEFAULT_MODE)
            return DEFAULT_MODE

    async def watched_for(self, user_id: int) -> dict[str, int]:
        """The fan's watched seasons, keyed the way the reply composer looks them up."""
        try:
            stored = await self.settings.watched(user_id)
        except Exception:  # fail closed: without watch state every finale stays tagged
            log.exception("reading watched seasons of user %s failed", user_id)
            return {}
        return {reply_show_key(key): season for key, season in stored.items()}
