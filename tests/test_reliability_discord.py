"""Reliability suite, Discord side: permissions under concurrency, rate limits, server errors,
floods and reconnects. Faults are injected at the HTTP boundary: discord.py's own HTTP client and
webhook adapter run for real over a scripted transport, so retries and RateLimited come from the
library configured the way the bot configures it.

See docs/reliability.md for the whole list and which tests (here and elsewhere) cover each item.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from test_discord_messages import Payloads, _channel, _member, _mention, dbot  # noqa: F401
from test_discord_support import (
    ADMIN,
    MODERATOR,
    OWNER_ID,
    FakeChannel,
    Services,
    command,
    invoke,
    make_bot,
    make_config,
    open_services,
)

from bot.discord_app.client import MAX_RATELIMIT_WAIT, FanBot
from bot.discord_app.cooldown import Cooldown
from bot.discord_app.errors import BUSY, DISCORD_DOWN
from bot.discord_app.progress import ProgressReporter
from bot.engine import Engine
from bot.settings_store import SettingsStore

QUESTION = "why did jessica kill kilgrave?"
BOT_ID = 999_000_000_000_000_001
CHANNEL_ID = 720_000_000_000_000_001

session_loop = pytest.mark.asyncio(loop_scope="session")


# ---------------------------------------------------------------------- a scripted Discord


class FakeResponse:
    """What aiohttp returns; enough for discord.py's HTTP client and webhook adapter."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = "scripted"
        self.body = body
        self.headers = {"content-type": "application/json", **(headers or {})}

    async def text(self, encoding: str = "utf-8") -> str:
        return json.dumps(self.body)

    async def __aenter__(self) -> FakeResponse:
        return self

    async def __aexit__(self, *exc: object) -> bool:
        return False


def rate_limited(retry_after: float, *, cloudflare: bool = False) -> FakeResponse:
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    return FakeResponse(429, body, {} if cloudflare else {"Via": "1.1 google"})


def server_error(status: int) -> FakeResponse:
    return FakeResponse(status, {"message": "upstream", "code": 0})


def message_json(channel_id: int, content: str = "") -> dict[str, Any]:
    return {
        "id": "730000000000000001",
        "channel_id": str(channel_id),
        "content": content,
        "author": {"id": str(BOT_ID), "username": "bot", "discriminator": "0", "avatar": None},
        "timestamp": "2024-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
    }


class FakeDiscord:
    """A scripted transport: per URL fragment, a queue of responses (then a default success);
    records every request as (method, url, json body)."""

    closed = False

    def __init__(self) -> None:
        self.script: dict[str, list[FakeResponse]] = {}
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        data = kwargs.get("data")
        body = json.loads(data) if isinstance(data, str) else data
        self.calls.append((method, url, body))
        for fragment, queue in self.script.items():
            if fragment in url and queue:
                return queue.pop(0)
        if url.endswith("/callback"):
            return FakeResponse(200, {"interaction": {"id": "1", "type": 2}})
        if "/typing" in url:
            return FakeResponse(204, None)
        return FakeResponse(200, message_json(CHANNEL_ID, (body or {}).get("content", "")))

    def sent(self, fragment: str) -> list[dict[str, Any]]:
        return [body for method, url, body in self.calls if method == "POST" and fragment in url]


def wire(bot: FanBot) -> FakeDiscord:
    """Point the bot's real HTTP client (and so its webhooks) at a scripted Discord."""
    transport = FakeDiscord()
    bot.http._HTTPClient__session = transport  # type: ignore[attr-defined]
    bot.http._global_over = asyncio.Event()
    bot.http._global_over.set()
    bot._connection.user = discord.ClientUser(
        state=bot._connection,
        data={"id": str(BOT_ID), "username": "bot", "discriminator": "0", "avatar": None, "bot": True},
    )
    return transport


def real_interaction(bot: FanBot, question: str, user_id: int = 4242) -> discord.Interaction[Any]:
    """A discord.py Interaction for `/ask question`, as the gateway would deliver it (in a DM)."""
    payload = {
        "id": "740000000000000001",
        "application_id": str(BOT_ID),
        "type": 2,
        "token": "interaction-token",
        "version": 1,
        "attachment_size_limit": 8_000_000,
        "locale": "en-US",
        "channel_id": str(CHANNEL_ID),
        "user": {"id": str(user_id), "username": "fan", "discriminator": "0", "avatar": None},
        "data": {
            "id": "750000000000000001",
            "name": "ask",
            "type": 1,
            "options": [{"name": "question", "type": 3, "value": question}],
        },
    }
    return discord.Interaction(data=payload, state=bot._connection)  # type: ignore[arg-type]


def mention(bot: FanBot, text: str, author_id: int = 4343) -> Any:
    """A fan's message mentioning the bot, whose reply and typing go through the real HTTP client."""
    channel = bot.get_partial_messageable(CHANNEL_ID)
    partial = channel.get_partial_message(760_000_000_000_000_001)
    return SimpleNamespace(
        id=partial.id,
        content=f"<@{BOT_ID}> {text}",
        author=SimpleNamespace(id=author_id, bot=False),
        webhook_id=None,
        type=discord.MessageType.default,
        guild=None,
        mentions=[bot.user],
        reference=None,
        channel=channel,
        reply=partial.reply,
    )


@pytest.fixture
async def wired(engine: Engine, tmp_path: Path) -> AsyncIterator[tuple[FanBot, FakeDiscord]]:
    settings = await SettingsStore.open(tmp_path / "settings.sqlite3")
    bot = await make_bot(engine, settings, make_config(tmp_path, corpus_dir=engine.corpus_dir))
    transport = wire(bot)
    try:
        yield bot, transport
    finally:
        bot.http._HTTPClient__session = discord.utils.MISSING  # type: ignore[attr-defined]
        await settings.close()


def _no_pings(body: dict[str, Any]) -> None:
    allowed = body["allowed_mentions"]
    assert allowed["parse"] == [] and not allowed.get("replied_user")


# ---------------------------------------------------------------------- HTTP 429


@session_loop
async def test_429_with_a_short_retry_is_retried_and_sent_once_on_both_paths(
    wired: tuple[FanBot, FakeDiscord], engine: Engine
) -> None:
    bot, transport = wired
    expected = (await engine.ask(QUESTION)).messages

    transport.script["/webhooks/"] = [rate_limited(0.05)]
    await bot.tree._call(real_interaction(bot, QUESTION))  # the tree, as on Discord
    followups = transport.sent("/webhooks/")
    assert transport.calls[0][1].endswith("/callback") and transport.calls[0][2]["type"] == 5  # deferred
    assert [b["content"] for b in followups] == [expected[0], *expected]  # the 429, then the retry
    _no_pings(followups[-1])

    transport.calls.clear()
    transport.script["/messages"] = [rate_limited(0.05)]
    await bot.get_cog("Ask").on_message(mention(bot, QUESTION))  # type: ignore[union-attr]
    replies = transport.sent("/messages")
    assert [b["content"] for b in replies] == [expected[0], *expected]
    _no_pings(replies[-1])
    assert replies[-1]["message_reference"]["message_id"] == 760_000_000_000_000_001


@session_loop
async def test_429_with_a_long_retry_says_busy_instead_of_waiting(
    wired: tuple[FanBot, FakeDiscord], engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    bot, transport = wired
    assert MAX_RATELIMIT_WAIT <= 30

    # A slash command: a Cloudflare-style 429 on the answer; the fan is told, privately, to retry.
    transport.script["/webhooks/"] = [rate_limited(600.0, cloudflare=True)]
    started = time.monotonic()
    await bot.tree._call(real_interaction(bot, QUESTION, user_id=5001))  # the tree, as on Discord
    notice = transport.sent("/webhooks/")[-1]
    assert notice["content"] == BUSY and notice["flags"] & 64  # ephemeral
    _no_pings(notice)

    # A mention: Discord asks for two minutes; the library raises at once, the bot logs it.
    transport.calls.clear()
    transport.script["/messages"] = [rate_limited(120.0)]
    with caplog.at_level(logging.WARNING):
        await bot.get_cog("Ask").on_message(mention(bot, QUESTION, author_id=5002))  # type: ignore[union-attr]
    assert time.monotonic() - started < 10
    assert "could not answer message" in caplog.text
    assert len(transport.sent("/messages")) == 1  # one try, no retry storm

    # ... and keeps serving.
    transport.calls.clear()
    await bot.get_cog("Ask").on_message(mention(bot, QUESTION, author_id=5003))  # type: ignore[union-attr]
    assert [b["content"] for b in transport.sent("/messages")] == (await engine.ask(QUESTION)).messages


@session_loop
async def test_rate_limited_typing_indicator_does_not_stop_the_answer(
    wired: tuple[FanBot, FakeDiscord], engine: Engine
) -> None:
    bot, transport = wired
    transport.script["/typing"] = [rate_limited(120.0)]
    await bot.get_cog("Ask").on_message(mention(bot, QUESTION))  # type: ignore[union-attr]
    assert [b["content"] for b in transport.sent("/messages")] == (await engine.ask(QUESTION)).messages


@session_loop
async def test_rate_limited_lookup_of_a_replied_message_is_ignored_quietly(
    wired: tuple[FanBot, FakeDiscord],
) -> None:
    """A reply (no mention) in a server: finding out whether it replies to the bot needs a fetch,
    which Discord rate-limits for two minutes. The message is left alone; nothing raises."""
    bot, transport = wired
    transport.script["/messages/"] = [rate_limited(120.0)]
    message = mention(bot, QUESTION)
    message.content, message.mentions = QUESTION, []
    message.guild = SimpleNamespace(id=1)
    message.reference = SimpleNamespace(
        message_id=770_000_000_000_000_001, resolved=None, cached_message=None, channel_id=CHANNEL_ID
    )
    await bot.get_cog("Ask").on_message(message)  # type: ignore[union-attr]
    assert [m for m, _, _ in transport.calls] == ["GET"]


# ---------------------------------------------------------------------- 502 / 503


@session_loop
async def test_a_passing_502_is_retried_by_the_library(
    wired: tuple[FanBot, FakeDiscord], engine: Engine
) -> None:
    bot, transport = wired
    transport.script["/webhooks/"] = [server_error(502)]
    await bot.tree._call(real_interaction(bot, QUESTION))  # the tree, as on Discord
    expected = (await engine.ask(QUESTION)).messages
    assert [b["content"] for b in transport.sent("/webhooks/")] == [expected[0], *expected]


@session_loop
@pytest.mark.parametrize("status", [502, 503])
async def test_discord_down_on_a_slash_command_is_caught_and_told(services: Services, status: int) -> None:
    interaction = services.interaction()
    followup = interaction.followup
    real_send = followup.send
    failures = [status]

    async def flaky_send(content: str | None = None, **kwargs: Any) -> None:
        if failures:
            response = SimpleNamespace(status=failures.pop(), reason="Bad Gateway")
            raise discord.DiscordServerError(response, "upstream")  # type: ignore[arg-type]
        await real_send(content, **kwargs)

    followup.send = flaky_send  # type: ignore[method-assign]
    await invoke(services.bot, command(services.bot, "ask"), interaction, question=QUESTION)
    assert interaction.answers[-1].content == DISCORD_DOWN and interaction.answers[-1].ephemeral
    after = services.interaction()
    await invoke(services.bot, command(services.bot, "ask"), after, question=QUESTION)
    assert (after.answers[0].content or "").startswith("> ")  # still serving


@session_loop
@pytest.mark.parametrize("status", [502, 503])
async def test_discord_down_on_a_mention_is_caught_and_logged(
    wired: tuple[FanBot, FakeDiscord],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    bot, transport = wired
    monkeypatch.setattr(discord.http.asyncio, "sleep", _no_sleep)  # the library retries 5xx with pauses
    transport.script["/messages"] = [server_error(status)] * 5
    with caplog.at_level(logging.WARNING):
        await bot.get_cog("Ask").on_message(mention(bot, QUESTION, author_id=6001))  # type: ignore[union-attr]
    assert "could not answer message" in caplog.text
    monkeypatch.undo()
    transport.calls.clear()
    await bot.get_cog("Ask").on_message(mention(bot, QUESTION, author_id=6002))  # type: ignore[union-attr]
    assert [b["content"] for b in transport.sent("/messages")] == (await engine.ask(QUESTION)).messages


_real_sleep = asyncio.sleep


async def _no_sleep(delay: float, *args: Any, **kwargs: Any) -> Any:
    return await _real_sleep(0)


# ---------------------------------------------------------------------- a second response, slow answers


@session_loop
async def test_rate_limited_progress_and_result_edits_do_not_lose_the_reindex_result(
    services: Services,
) -> None:
    """Progress edits and the final edit hit a long rate limit: the reindex still completes, and
    its result reaches the admin in the channel instead of a misleading "busy"."""
    services.bot.get_cog("Admin").progress_interval = 0.0  # type: ignore[union-attr]
    posted: list[str] = []
    admin = services.interaction(permissions=ADMIN, user_id=OWNER_ID, channel=PostingChannel(posted))
    admin.user.mention = f"<@{admin.user.id}>"  # type: ignore[attr-defined]
    edits = 0

    async def edit(*, content: str | None = None, **_: Any) -> None:
        nonlocal edits
        edits += 1
        if edits > 1:
            raise discord.RateLimited(120.0)

    admin.edit_original_response = edit  # type: ignore[method-assign]
    version = services.engine.version
    await invoke(services.bot, command(services.bot, "reindex"), admin, shared=True)
    assert services.engine.version != version
    assert len(posted) == 1 and "Reindex done" in posted[0]
    assert not any(s.content == BUSY for s in admin.sent)


class PostingChannel(FakeChannel, discord.abc.Messageable):
    """A channel the bot can post in (records what it posts)."""

    def __init__(self, posted: list[str]) -> None:
        super().__init__("admin-log")
        self.posted = posted

    async def send(self, content: str, **kwargs: Any) -> None:  # type: ignore[override]
        assert kwargs["allowed_mentions"].to_dict()["parse"] == []
        self.posted.append(content)


@session_loop
async def test_progress_reporter_survives_a_rate_limited_edit() -> None:
    edits: list[str] = []

    async def edit(text: str) -> None:
        edits.append(text)
        if len(edits) == 1:
            raise discord.RateLimited(60.0)

    reporter = ProgressReporter(asyncio.get_running_loop(), edit, interval=0.01)
    reporter.start()
    reporter("embedding", 1, 10)
    await asyncio.sleep(0.05)
    reporter("embedding", 10, 10)
    await asyncio.sleep(0.05)
    await reporter.stop()  # does not raise
    assert edits[-1].endswith("10/10 (100%)…")


# ---------------------------------------------------------------------- floods


@session_loop
async def test_ten_mentions_in_five_seconds_get_five_answers_one_warning_and_silence(
    dbot: tuple[FanBot, Payloads],  # noqa: F811
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot, _ = dbot
    bot.cooldown = bot.answerer.cooldown = Cooldown(5, 30.0)  # the shipped default: 5 per 30 s
    calls = 0
    real = engine.embedder.embed_async

    async def counted(texts: Any) -> Any:
        nonlocal calls
        calls += 1
        return await real(texts)

    monkeypatch.setattr(engine.embedder, "embed_async", counted)
    started = time.monotonic()
    for n in range(10):
        await dpytest.message(
            f"{_mention(bot)} {QUESTION} {n}", channel=_channel("general"), member=_member("fan")
        )
    assert time.monotonic() - started < 5
    replies = []
    while not dpytest.runner.sent_queue.empty():
        replies.append(dpytest.get_message().content)
    assert len(replies) == 6 and calls == 5
    assert all(r.startswith("> ") for r in replies[:5]) and "try again in" in replies[5]
    await dpytest.message(f"{_mention(bot)} {QUESTION}", channel=_channel("general"), member=_member("other"))
    assert dpytest.get_message().content.startswith("> ")  # others are not slowed down


@session_loop
async def test_ten_slash_questions_in_five_seconds_are_refused_privately_after_five(
    engine: Engine, tmp_path: Path
) -> None:
    async with open_services(engine, tmp_path, cooldown_questions=5, cooldown_seconds=30.0) as s:
        results = []
        for n in range(10):
            s.clock.now += 0.5
            asked = s.interaction(user_id=31337)
            await invoke(s.bot, command(s.bot, "ask"), asked, question=f"{QUESTION} {n}")
            results.append(asked.sent)
        assert all(sent[0].via == "defer" for sent in results[:5])
        for sent in results[5:]:
            assert len(sent) == 1 and sent[0].ephemeral and "try again in" in (sent[0].content or "")


# ---------------------------------------------------------------------- moderators at once


@session_loop
async def test_two_moderators_toggling_at_once_lose_no_update(services: Services) -> None:
    """Two moderators (and a second bot process on the same settings file) change modes at the
    same moment: every change they were told about is stored."""
    bot = services.bot
    channels = [FakeChannel(f"c{n}") for n in range(30)]
    modes = ("tag", "off", "hide")
    other_process = await SettingsStore.open(services.path)
    try:
        guild_id = services.interaction().guild.id  # type: ignore[union-attr]
        moderators = [services.interaction(permissions=MODERATOR) for _ in channels]
        calls = [
            invoke(bot, command(bot, "spoilers mode"), mod, mode=modes[n % 3], channel=channel)
            for n, (mod, channel) in enumerate(zip(moderators, channels, strict=True))
        ]
        server = services.interaction(permissions=MODERATOR)
        calls.append(invoke(bot, command(bot, "spoilers mode"), server, mode="hide", channel=None))
        role = services.interaction(permissions=ADMIN)
        role_obj = SimpleNamespace(id=4242, mention="<@&4242>", is_default=lambda: False)
        calls.append(invoke(bot, command(bot, "spoilers modrole"), role, role=role_obj))
        calls += [other_process.set_mode(guild_id, "off", 9_000 + n) for n in range(30)]
        await asyncio.gather(*calls)
        for mod in [*moderators, server]:
            assert "Spoiler mode is now" in (mod.answers[0].content or "")
        status = await services.settings.status(guild_id)
    finally:
        await other_process.close()
    expected = {c.id: modes[n % 3] for n, c in enumerate(channels)} | {9_000 + n: "off" for n in range(30)}
    assert status["channel_overrides"] == expected
    assert status["server_mode"] == "hide" and status["moderator_role_id"] == 4242


# ---------------------------------------------------------------------- reconnects


@session_loop
async def test_gateway_resume_firing_on_ready_again_neither_resyncs_nor_reloads(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = await SettingsStore.open(tmp_path / "settings.sqlite3")
    bot = await make_bot(engine, settings, make_config(tmp_path), install=False)
    counts = {"load": 0, "warm_up": 0, "sync": 0}
    real_load, real_warm = engine.load, engine.embedder.warm_up

    def count(name: str, real: Callable[[], None]) -> Callable[[], None]:
        def wrapper() -> None:
            counts[name] += 1
            assert threading.current_thread() is not threading.main_thread()  # off the event loop
            real()

        return wrapper

    async def sync(**kwargs: Any) -> list[Any]:
        counts["sync"] += 1
        return []

    monkeypatch.setattr(engine, "load", count("load", real_load))
    monkeypatch.setattr(engine.embedder, "warm_up", count("warm_up", real_warm))
    bot.tree.sync = sync  # type: ignore[method-assign]
    try:
        await bot._async_setup_hook()  # bind the client to this loop, as login() does
        await bot.setup_hook()  # what login() runs, once per process
        for event in ("ready", "resumed", "ready", "ready"):
            bot.dispatch(event)
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        assert counts == {"load": 1, "warm_up": 1, "sync": 1}
        assert len(bot.cogs) == 5  # ask, spoilers, admin, status, library
    finally:
        await bot.close()
        await settings.close()


# ---------------------------------------------------------------------- a corrupt settings file


@session_loop
async def test_a_corrupt_settings_database_falls_back_to_tag_and_is_kept_aside(
    engine: Engine, tmp_path: Path
) -> None:
    channel = FakeChannel("jj-talk")
    path = tmp_path / "data" / "settings.sqlite3"
    store = await SettingsStore.open(path)
    guild_id = 700_000_000_000_000_001  # the fake interactions' server
    await store.set_mode(guild_id, "off", channel.id)
    for other in range(300):  # enough rows for a second page to scribble over
        await store.set_mode(guild_id, "hide", other)
    await store.close()
    data = bytearray(path.read_bytes())
    data[4096 : 4096 + 512] = b"\xab" * 512
    path.write_bytes(bytes(data))

    async with open_services(engine, tmp_path) as s:  # the bot starts on the same file
        aside = s.settings.recovered_from
        assert aside is not None and aside.read_bytes() == bytes(data)  # kept for a human to inspect
        asked = s.interaction(channel=channel)
        await invoke(s.bot, command(s.bot, "ask"), asked, question=QUESTION)
        assert "||" in (asked.answers[0].content or "")  # the lost "off" became the default "tag"
        mod = s.interaction(permissions=MODERATOR)
        await invoke(s.bot, command(s.bot, "spoilers mode"), mod, mode="off", channel=channel)
        assert await s.settings.get_mode(guild_id, channel.id) == "off"  # the fresh file works
