"""Fans' slash commands and buttons, driven through discord.py's command objects with a fake Interaction.

The engine is the real one (shared model, private copy of the seed index), so every expected message
is what `Engine.ask` itself returns for the same question, mode and watch state.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord import app_commands
from test_discord_support import (
    FakeChannel,
    Services,
    command,
    invoke,
    open_services,
)

from bot.discord_app.answering import ALL_SHOWN, FORGOTTEN, NOTHING_TO_CONTINUE
from bot.discord_app.catalog import paginate
from bot.discord_app.errors import BUSY, DISCORD_DOWN, SORRY, handle_app_command_error
from bot.discord_app.respond import send_interaction
from bot.discord_app.views import LeakReportButton, MoreQuotesButton, passage_token
from bot.engine import EMPTY_QUESTION, Engine

FINALE_QUESTION = "why did jessica kill kilgrave?"
RITTER_QUESTION = "what did krysten ritter say about kilgrave"

# The fixtures (engine, services, the bot) live on the session loop; so must the tests.
pytestmark = pytest.mark.asyncio(loop_scope="session")


def _custom_ids(view: discord.ui.View | None) -> list[str]:
    assert view is not None
    return [item.custom_id for item in view.children]  # type: ignore[attr-defined]


async def _ask(s: Services, question: str, **kwargs: Any) -> Any:
    interaction = s.interaction(**kwargs)
    await invoke(s.bot, command(s.bot, "ask"), interaction, question=question)
    return interaction


# ---------------------------------------------------------------------- /ask


async def test_slow_answer_is_deferred_then_sent_as_followups_with_buttons(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = services.engine
    real_ask = engine.ask
    seen_deferred: list[bool] = []
    interaction = services.interaction()

    async def slow_ask(question: str, **kwargs: Any) -> Any:
        seen_deferred.append(interaction.response.is_done())
        await asyncio.sleep(0.3)  # longer than is polite to keep Discord waiting without a defer
        return await real_ask(question, **kwargs)

    monkeypatch.setattr(engine, "ask", slow_ask)
    await invoke(services.bot, command(services.bot, "ask"), interaction, question=FINALE_QUESTION)

    expected = await real_ask(FINALE_QUESTION, mode="tag")
    assert seen_deferred == [True]
    assert interaction.sent[0].via == "defer" and interaction.sent[0].thinking
    followups = [s for s in interaction.sent if s.via == "followup"]
    assert [s.content for s in followups] == expected.messages
    assert all(
        s.allowed_mentions is not None and s.allowed_mentions.to_dict()["parse"] == [] for s in followups
    )
    assert "||" in followups[0].content  # type: ignore[operator]
    ids = _custom_ids(followups[-1].view)
    assert ids[0] == f"tvbot:more:{interaction.user.id}"
    assert ids[1] == "tvbot:leak:" + ".".join(passage_token(h.passage.id) for h in expected.hits)
    assert not any(s.via == "response" for s in interaction.sent)


async def test_already_answered_interaction_goes_to_followup(services: Services) -> None:
    interaction = services.interaction()
    await interaction.response.defer(thinking=True)  # e.g. another handler acknowledged it first
    await invoke(services.bot, command(services.bot, "ask"), interaction, question=FINALE_QUESTION)
    assert [s.via for s in interaction.sent] == ["defer", "followup"]

    second = services.interaction()
    await send_interaction(second, "first")
    await send_interaction(second, "second")
    assert [(s.via, s.content) for s in second.sent] == [("response", "first"), ("followup", "second")]


async def test_empty_question_prompts_without_calling_the_model(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model must not be called for an empty question")

    monkeypatch.setattr(services.engine.embedder, "embed_async", boom)
    interaction = await _ask(services, "   \u200b ")
    assert [(s.via, s.content, s.ephemeral) for s in interaction.sent] == [("response", EMPTY_QUESTION, True)]


async def test_cooldown_after_n_questions_then_free_again(tmp_path: Path, engine: Engine) -> None:
    async with open_services(engine, tmp_path, cooldown_questions=2, cooldown_seconds=60.0) as s:
        user = 123_456_789
        for _ in range(2):
            ok = await _ask(s, FINALE_QUESTION, user_id=user)
            assert ok.sent[0].via == "defer"
        refused = await _ask(s, FINALE_QUESTION, user_id=user)
        assert len(refused.sent) == 1 and refused.sent[0].ephemeral
        assert re.search(r"try again in 60 s", refused.sent[0].content or "")
        other = await _ask(s, FINALE_QUESTION)  # someone else is not slowed down
        assert other.sent[0].via == "defer"
        s.clock.now += 61
        again = await _ask(s, FINALE_QUESTION, user_id=user)
        assert again.sent[0].via == "defer"


async def test_more_and_who_said_that_follow_the_users_conversation(services: Services) -> None:
    engine, channel, user = services.engine, FakeChannel(), 42
    first = await _ask(services, RITTER_QUESTION, user_id=user, channel=channel)
    shown = list(services.bot.memory.last((channel.id, user)).passage_ids)  # type: ignore[union-attr]
    assert len(shown) == 3

    more = await _ask(services, "more", user_id=user, channel=channel)
    expected = await engine.ask(RITTER_QUESTION, exclude=shown)
    assert [s.content for s in more.answers] == expected.messages
    assert more.answers[0].content != first.answers[0].content
    paged = services.bot.memory.last((channel.id, user)).passage_ids  # type: ignore[union-attr]
    assert len(set(paged)) == 6 and list(paged[:3]) == shown

    who = await _ask(services, "who said that?", user_id=user, channel=channel)
    assert (who.answers[0].content or "").startswith("That was **Krysten Ritter**")

    stranger = await _ask(services, "more", channel=channel)  # a different fan has no conversation yet
    assert stranger.answers[0].content == NOTHING_TO_CONTINUE


async def test_more_runs_out_politely(services: Services) -> None:
    channel, user = FakeChannel(), 7
    await _ask(services, RITTER_QUESTION, user_id=user, channel=channel)
    contents: list[str] = []
    for _ in range(12):  # 19 passages in the seed index, 3 per page
        more = await _ask(services, "more", user_id=user, channel=channel)
        contents.append(more.answers[-1].content or "")
        if contents[-1] == ALL_SHOWN:
            break
    assert contents[-1] == ALL_SHOWN
    ids = services.bot.memory.last((channel.id, user)).passage_ids  # type: ignore[union-attr]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------------- buttons


async def test_more_quotes_button_pages_for_asker_and_privately_for_others(services: Services) -> None:
    channel, asker = FakeChannel(), 1001
    first = await _ask(services, RITTER_QUESTION, user_id=asker, channel=channel)
    more_id = _custom_ids(first.answers[-1].view)[0]

    match = MoreQuotesButton.__discord_ui_compiled_template__.fullmatch(more_id)  # type: ignore[attr-defined]
    assert match is not None
    click = services.interaction(user_id=asker, channel=channel, message_id=555)
    button = await MoreQuotesButton.from_custom_id(click, None, match)  # type: ignore[arg-type]
    await button.callback(click)
    assert click.sent[0].via == "defer" and not click.sent[0].ephemeral
    shown = services.bot.memory.last((channel.id, asker)).passage_ids  # type: ignore[union-attr]
    assert len(shown) == 6

    other = services.interaction(user_id=2002, channel=channel, message_id=555)
    await button.callback(other)
    assert other.sent[0].via == "defer" and other.sent[0].ephemeral
    assert all(s.ephemeral for s in other.answers)
    assert len(services.bot.memory.last((channel.id, asker)).passage_ids) == 6  # type: ignore[union-attr]

    services.bot.memory.clear()  # as after a restart
    late = services.interaction(user_id=asker, channel=channel, message_id=555)
    await button.callback(late)
    assert late.answers[-1].content == FORGOTTEN


async def test_leak_button_stores_report_for_moderators(services: Services) -> None:
    channel = FakeChannel()
    answered = await _ask(services, FINALE_QUESTION, channel=channel)
    leak_id = _custom_ids(answered.answers[-1].view)[1]
    assert len(leak_id) <= 100
    match = LeakReportButton.__discord_ui_compiled_template__.fullmatch(leak_id)  # type: ignore[attr-defined]
    assert match is not None
    click = services.interaction(user_id=31337, channel=channel, message_id=987_654)
    button = await LeakReportButton.from_custom_id(click, None, match)  # type: ignore[arg-type]
    await button.callback(click)
    assert click.sent[-1].ephemeral and "moderators" in (click.sent[-1].content or "")

    expected = await services.engine.ask(FINALE_QUESTION)
    (report,) = await services.settings.leak_reports(click.guild.id)  # type: ignore[union-attr]
    assert report["message_id"] == 987_654 and report["user_id"] == 31337
    assert report["passage_ids"] == [h.passage.id for h in expected.hits]

    dm = services.interaction(guild=False, message_id=1)
    await button.callback(dm)
    assert "DMs" in (dm.sent[-1].content or "")


# ---------------------------------------------------------------------- /watched, /sources, /help


async def test_watched_accepts_known_shows_and_untags_finales_only_in_private_answers(
    services: Services,
) -> None:
    user, bot = 77, services.bot
    typing = services.interaction(user_id=user)
    await command(bot, "watched set")._invoke_autocomplete(typing, "show", SimpleNamespace(show="jess"))
    choices = typing.response.choices
    assert [c.value for c in choices] == ["Jessica Jones"]

    unknown = services.interaction(user_id=user)
    await invoke(bot, command(bot, "watched set"), unknown, show="Daredevil", season=1)
    assert "don't know a show" in (unknown.sent[0].content or "") and unknown.sent[0].ephemeral
    assert await services.settings.watched(user) == {}

    ok = services.interaction(user_id=user)
    await invoke(bot, command(bot, "watched set"), ok, show="JESSICA-jones", season=1)
    assert "Jessica Jones" in (ok.sent[0].content or "")
    assert await services.settings.watched(user) == {"jessica-jones": 1}

    private = services.interaction(user_id=user)
    await invoke(bot, command(bot, "ask"), private, question=FINALE_QUESTION, private=True)
    expected = await services.engine.ask(FINALE_QUESTION, mode="tag", watched={"jessica-jones": 1})
    assert private.sent[0].ephemeral and all(s.ephemeral for s in private.answers)
    assert [s.content for s in private.answers] == expected.messages
    assert "||" not in "".join(expected.messages)

    public = await _ask(services, FINALE_QUESTION, user_id=user)  # others can read it: stays tagged
    assert [s.content for s in public.answers] == (await services.engine.ask(FINALE_QUESTION)).messages
    assert "||" in (public.answers[0].content or "")

    cleared = services.interaction(user_id=user)
    await invoke(bot, command(bot, "watched clear"), cleared, show=None)
    assert await services.settings.watched(user) == {}


async def test_sources_and_help(services: Services) -> None:
    interaction = services.interaction()
    await invoke(services.bot, command(services.bot, "sources"), interaction, page=1)
    text = interaction.sent[0].content or ""
    assert interaction.sent[0].ephemeral and "Krysten Ritter on where" in text and "Collider" in text
    assert "2018" in text

    helped = services.interaction()
    await invoke(services.bot, command(services.bot, "help"), helped)
    assert "/ask" in (helped.sent[0].content or "")

    pages = paginate([f"line {n} " + "x" * 80 for n in range(100)])
    assert len(pages) > 1 and all(len(p) <= 1900 for p in pages)
    assert "\n".join(pages).count("line ") == 100


# ---------------------------------------------------------------------- the error handler


def _http_error(status: int, retry_after: float | None = None) -> discord.HTTPException:
    response = type("Response", (), {"status": status, "reason": "x"})()
    error = discord.HTTPException(response, {"message": "nope", "code": 0})  # type: ignore[arg-type]
    if retry_after is not None:
        error.retry_after = retry_after  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    ("error", "text", "logged"),
    [
        (discord.RateLimited(120.0), BUSY, False),
        (_http_error(429, retry_after=90), BUSY, False),
        (_http_error(503), DISCORD_DOWN, True),
        (
            discord.DiscordServerError(type("R", (), {"status": 502, "reason": "x"})(), "bad gateway"),
            DISCORD_DOWN,
            True,
        ),
        (RuntimeError("bug"), SORRY, True),
    ],
)
async def test_error_handler_tells_user_briefly_and_logs_details(
    services: Services, caplog: pytest.LogCaptureFixture, error: Exception, text: str, logged: bool
) -> None:
    interaction = services.interaction()
    ask = command(services.bot, "ask")
    interaction.command = ask
    await handle_app_command_error(interaction, app_commands.CommandInvokeError(ask, error))  # type: ignore[arg-type]
    assert [(s.content, s.ephemeral) for s in interaction.sent] == [(text, True)]
    assert any(r.exc_info for r in caplog.records) is logged

    deferred = services.interaction()
    await deferred.response.defer()
    await handle_app_command_error(deferred, app_commands.CommandInvokeError(ask, error))  # type: ignore[arg-type]
    assert deferred.sent[-1].via == "followup"
