"""Moderators' /spoilers commands: code-side permission checks, DMs, persistence across a restart."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import discord
import pytest
from test_discord_support import (
    ADMIN,
    MODERATOR,
    FakeChannel,
    FakeInteraction,
    Services,
    command,
    invoke,
    make_bot,
    make_config,
    open_services,
)

from bot.discord_app.checks import GUILD_ONLY, NOT_ADMIN, NOT_MODERATOR
from bot.engine import Engine
from bot.settings_store import SettingsStore

FINALE_QUESTION = "why did jessica kill kilgrave?"

# The fixtures (engine, services, the bot) live on the session loop; so must the tests.
pytestmark = pytest.mark.asyncio(loop_scope="session")


def _role(role_id: int) -> SimpleNamespace:
    return SimpleNamespace(id=role_id, mention=f"<@&{role_id}>", is_default=lambda: False)


async def _answer_text(s: Services, channel: FakeChannel) -> str:
    interaction = s.interaction(channel=channel)
    await invoke(s.bot, command(s.bot, "ask"), interaction, question=FINALE_QUESTION)
    return "\n".join(a.content or "" for a in interaction.answers)


async def test_spoiler_commands_default_to_guild_only_and_manage_messages(services: Services) -> None:
    group = command(services.bot, "spoilers")
    assert group.guild_only and group.default_permissions == discord.Permissions(manage_messages=True)
    reindex = command(services.bot, "reindex")
    assert reindex.guild_only and reindex.default_permissions == discord.Permissions(manage_guild=True)


async def test_non_moderator_cannot_change_mode(services: Services) -> None:
    fan = services.interaction(permissions=discord.Permissions(send_messages=True))
    await invoke(services.bot, command(services.bot, "spoilers mode"), fan, mode="off", channel=None)
    assert [(s.content, s.ephemeral) for s in fan.sent] == [(NOT_MODERATOR, True)]
    assert (await services.settings.status(fan.guild.id))["server_mode_set"] is False  # type: ignore[union-attr]


async def test_moderator_commands_refused_in_dms(services: Services) -> None:
    for name, params in (("spoilers mode", {"mode": "off", "channel": None}), ("spoilers status", {})):
        dm = services.interaction(guild=False, permissions=MODERATOR)
        await invoke(services.bot, command(services.bot, name), dm, **params)
        assert [(s.content, s.ephemeral) for s in dm.sent] == [(GUILD_ONLY, True)]


async def test_moderator_sets_channel_mode_and_answers_follow_it(services: Services) -> None:
    quiet, other = FakeChannel("jj-talk"), FakeChannel("general")
    mod = services.interaction(permissions=MODERATOR)
    await invoke(services.bot, command(services.bot, "spoilers mode"), mod, mode="off", channel=quiet)
    assert "**off**" in (mod.sent[0].content or "") and mod.sent[0].ephemeral

    assert "||" not in await _answer_text(services, quiet)
    assert "||" in await _answer_text(services, other)
    assert "||" not in await _answer_text(
        services, FakeChannel("jj-spoilers")
    )  # named like a spoiler channel
    assert "||" not in await _answer_text(services, FakeChannel("after-dark", nsfw=True))

    hide = services.interaction(permissions=MODERATOR)
    await invoke(services.bot, command(services.bot, "spoilers mode"), hide, mode="hide", channel=None)
    hidden = await _answer_text(services, other)
    assert "||" not in hidden and "finale" in hidden

    reset = services.interaction(permissions=MODERATOR)
    await invoke(services.bot, command(services.bot, "spoilers reset"), reset, channel=quiet)
    assert "follows" in (reset.sent[0].content or "")


async def test_moderator_role_from_settings_grants_access_and_only_admins_set_it(services: Services) -> None:
    role = 909_090_909
    member = services.interaction(roles=(role,))
    await invoke(services.bot, command(services.bot, "spoilers status"), member)
    assert member.sent[0].content == NOT_MODERATOR

    mod = services.interaction(permissions=MODERATOR)
    await invoke(services.bot, command(services.bot, "spoilers modrole"), mod, role=_role(role))
    assert mod.sent[0].content == NOT_ADMIN

    admin = services.interaction(permissions=ADMIN)
    await invoke(services.bot, command(services.bot, "spoilers modrole"), admin, role=_role(role))
    assert "can now change" in (admin.sent[0].content or "")

    member = services.interaction(roles=(role,))
    await invoke(services.bot, command(services.bot, "spoilers status"), member)
    assert "Server mode: **tag** (default)" in (member.sent[0].content or "")
    assert f"<@&{role}>" in (member.sent[0].content or "")


async def test_bot_owner_may_moderate_without_permissions(engine: Engine, tmp_path: Path) -> None:
    async with open_services(engine, tmp_path, owner_ids=frozenset({4242})) as s:
        owner = s.interaction(user_id=4242)
        await invoke(s.bot, command(s.bot, "spoilers mode"), owner, mode="hide", channel=None)
        assert "**hide**" in (owner.sent[0].content or "")


async def test_settings_survive_a_restart(engine: Engine, tmp_path: Path) -> None:
    channel = FakeChannel("jj-talk")
    path = tmp_path / "data" / "settings.sqlite3"
    config = make_config(tmp_path, corpus_dir=engine.corpus_dir)

    settings = await SettingsStore.open(path)
    bot = await make_bot(engine, settings, config)
    mod = FakeInteraction(bot, permissions=MODERATOR, channel=channel)
    await invoke(bot, command(bot, "spoilers mode"), mod, mode="off", channel=channel)
    await invoke(bot, command(bot, "spoilers mode"), FakeInteraction(bot, permissions=MODERATOR), mode="hide")
    await bot.close()
    await settings.close()

    settings = await SettingsStore.open(path)  # a new process: new store, new bot, same file
    bot = await make_bot(engine, settings, config)
    try:
        status = FakeInteraction(bot, permissions=MODERATOR, channel=channel)
        await invoke(bot, command(bot, "spoilers status"), status)
        text = status.sent[0].content or ""
        assert "Server mode: **hide**" in text and "This channel: **off** (set for this channel)" in text
        asked = FakeInteraction(bot, channel=channel)
        await invoke(bot, command(bot, "ask"), asked, question=FINALE_QUESTION)
        assert "||" not in (asked.answers[0].content or "")
    finally:
        await bot.close()
        await settings.close()


async def test_reports_list_leak_reports_for_moderators_only(services: Services) -> None:
    guild_id = services.interaction().guild.id  # type: ignore[union-attr]
    await services.settings.add_leak_report(guild_id, 11, 22, 33, ["000-seed-ritter-colter.txt#6"], None)
    fan = services.interaction()
    await invoke(services.bot, command(services.bot, "spoilers reports"), fan)
    assert fan.sent[0].content == NOT_MODERATOR

    mod = services.interaction(permissions=MODERATOR)
    await invoke(services.bot, command(services.bot, "spoilers reports"), mod)
    text = mod.sent[0].content or ""
    assert mod.sent[0].ephemeral and "<@22>" in text and f"/{guild_id}/11/33" in text
    assert "`000-seed-ritter-colter.txt#6`" in text
