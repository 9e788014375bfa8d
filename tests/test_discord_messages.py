"""Mentions and replies, driven through dpytest's fake gateway and HTTP (what Discord would deliver/receive).

dpytest records the content it is sent but drops allowed_mentions, message_reference and components,
so the payload discord.py builds for each send is captured as well and checked for "no pings".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import factories
from test_discord_support import make_bot, make_config

from bot.discord_app.client import FanBot
from bot.engine import EMPTY_QUESTION, Engine
from bot.settings_store import SettingsStore

FINALE_QUESTION = "why did jessica kill kilgrave?"
RITTER_QUESTION = "what did krysten ritter say about kilgrave"

# The fixtures (engine, services, the bot) live on the session loop; so must the tests.
pytestmark = pytest.mark.asyncio(loop_scope="session")


class Payloads:
    """Every message payload discord.py built (content, allowed_mentions, message_reference, components)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def last(self) -> dict[str, Any]:
        return self.sent[-1]


@pytest.fixture
async def dbot(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FanBot, Payloads]]:
    settings = await SettingsStore.open(tmp_path / "data" / "settings.sqlite3")
    config = make_config(tmp_path, corpus_dir=engine.corpus_dir, cooldown_questions=2, cooldown_seconds=60.0)
    bot = await make_bot(engine, settings, config, install=False)
    mentions = bot.allowed_mentions
    assert mentions is not None and not any(
        (mentions.everyone, mentions.users, mentions.roles, mentions.replied_user)
    )
    await (
        bot._async_setup_hook()
    )  # what login() would do: bind the client to the running loop (dpytest's recipe)
    # dpytest creates members through the member cache, which needs the members intent; the bot itself
    # never reads members, so widening the intents here changes nothing it does.
    test_intents = bot.intents
    test_intents.members = True
    bot._connection._intents = test_intents
    bot._connection.member_cache_flags = discord.MemberCacheFlags.from_intents(test_intents)
    dpytest.configure(
        bot, text_channels=["general", "jj-spoilers"], voice_channels=0, members=["fan", "other"]
    )
    bot._connection.allowed_mentions = mentions  # dpytest swaps in its own state without the client's options
    await bot.install()  # after configure: dynamic buttons live in the (new) connection state

    payloads = Payloads()
    real = discord.abc.handle_message_parameters

    def spy(*args: Any, **kwargs: Any) -> Any:
        params = real(*args, **kwargs)
        payloads.sent.append(dict(params.payload or {}))
        return params

    monkeypatch.setattr(discord.abc, "handle_message_parameters", spy)
    yield bot, payloads
    await dpytest.empty_queue()
    await settings.close()


def _channel(name: str) -> discord.TextChannel:
    return next(c for c in dpytest.get_config().channels if c.name == name)


def _member(name: str) -> discord.Member:
    return next(m for m in dpytest.get_config().members if m.name == name)


def _mention(bot: FanBot) -> str:
    assert bot.user is not None
    return f"<@{bot.user.id}>"


async def _reply_to(target: discord.Message, content: str, author: discord.Member) -> None:
    """A fan uses Discord's Reply on one of the bot's messages (ping off: no mention in the content)."""
    channel = target.channel
    data = factories.make_message_dict(channel, author, content=content)
    data["type"] = discord.MessageType.reply.value
    data["message_reference"] = {
        "message_id": target.id,
        "channel_id": channel.id,
        "guild_id": channel.guild.id,
    }
    data["referenced_message"] = factories.dict_from_message(target)
    author._state.parse_message_create(data)  # type: ignore[attr-defined]
    await dpytest.run_all_events()


def _assert_no_pings(payload: dict[str, Any]) -> None:
    allowed = payload["allowed_mentions"]
    assert allowed["parse"] == [] and allowed.get("replied_user", False) is False
    assert not allowed.get("users") and not allowed.get("roles")


async def test_mention_gets_the_engines_answer_as_a_reply_with_spoiler_tags_and_no_pings(
    dbot: tuple[FanBot, Payloads], engine: Engine
) -> None:
    bot, payloads = dbot
    asked = await dpytest.message(
        f"{_mention(bot)} {FINALE_QUESTION}", channel=_channel("general"), member=_member("fan")
    )
    expected = await engine.ask(FINALE_QUESTION, mode="tag")

    reply = dpytest.get_message()
    assert reply.content == expected.messages[0] and len(expected.messages) == 1
    assert "||" in reply.content
    assert dpytest.verify().message().nothing()
    payload = payloads.last()
    _assert_no_pings(payload)
    assert payload["message_reference"]["message_id"] == asked.id
    buttons = [c for row in payload["components"] for c in row["components"]]
    assert [b["label"] for b in buttons] == ["More quotes", "This leaked a spoiler"]
    assert buttons[0]["custom_id"] == f"tvbot:more:{_member('fan').id}"


async def test_spoiler_channel_answers_without_tags(dbot: tuple[FanBot, Payloads], engine: Engine) -> None:
    bot, _ = dbot
    await dpytest.message(
        f"{_mention(bot)} {FINALE_QUESTION}", channel=_channel("jj-spoilers"), member=_member("fan")
    )
    expected = await engine.ask(FINALE_QUESTION, mode="off")
    reply = dpytest.get_message()
    assert reply.content == expected.messages[0]
    assert "||" not in reply.content and "kills Kilgrave" in reply.content


async def test_replies_to_the_bot_follow_up(dbot: tuple[FanBot, Payloads], engine: Engine) -> None:
    bot, payloads = dbot
    general, fan = _channel("general"), _member("fan")
    await dpytest.message(f"{_mention(bot)} {RITTER_QUESTION}", channel=general, member=fan)
    first = dpytest.get_message()
    shown = [h.passage.id for h in (await engine.ask(RITTER_QUESTION)).hits]

    await _reply_to(first, "more", fan)
    more = dpytest.get_message()
    assert more.content == (await engine.ask(RITTER_QUESTION, exclude=shown)).messages[0]
    assert more.content != first.content
    _assert_no_pings(payloads.last())

    bot.cooldown._stamps.clear()  # this test is about follow-ups, not the cooldown (limit 2)
    await _reply_to(more, "who said that?", fan)
    who = dpytest.get_message()
    assert who.content.startswith("That was **Krysten Ritter**")


async def test_ignores_messages_not_for_the_bot_and_prompts_on_an_empty_mention(
    dbot: tuple[FanBot, Payloads], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot, _ = dbot
    await dpytest.message(FINALE_QUESTION, channel=_channel("general"), member=_member("fan"))
    assert dpytest.verify().message().nothing()

    async def no_model(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an empty question must not reach the model")

    monkeypatch.setattr(engine.embedder, "embed_async", no_model)
    await dpytest.message(f"{_mention(bot)}   ", channel=_channel("general"), member=_member("fan"))
    assert dpytest.get_message().content == EMPTY_QUESTION


async def test_cooldown_on_mentions_is_said_once_then_silent(dbot: tuple[FanBot, Payloads]) -> None:
    bot, _ = dbot
    general, fan = _channel("general"), _member("fan")
    for _ in range(2):
        await dpytest.message(f"{_mention(bot)} {FINALE_QUESTION}", channel=general, member=fan)
        assert "Jessica Jones S1 finale" in dpytest.get_message().content
    await dpytest.message(f"{_mention(bot)} {FINALE_QUESTION}", channel=general, member=fan)
    assert "try again in 60 s" in dpytest.get_message().content
    await dpytest.message(f"{_mention(bot)} {FINALE_QUESTION}", channel=general, member=fan)
    assert dpytest.verify().message().nothing()  # no answer, and no second warning to spam the channel
    await dpytest.message(f"{_mention(bot)} {FINALE_QUESTION}", channel=general, member=_member("other"))
    assert "Jessica Jones S1 finale" in dpytest.get_message().content


async def test_dm_questions_need_no_mention_and_honour_watched(
    dbot: tuple[FanBot, Payloads], engine: Engine
) -> None:
    bot, _ = dbot
    fan = _member("fan")
    await bot.settings.set_watched(fan.id, "Jessica Jones", 1)
    dm = await fan.create_dm()
    await dpytest.message(FINALE_QUESTION, channel=dm, member=fan)
    expected = await engine.ask(FINALE_QUESTION, mode="tag", watched={"jessica-jones": 1})
    reply = dpytest.get_message()
    assert reply.content == expected.messages[0] and "||" not in reply.content
