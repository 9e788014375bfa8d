"""Two servers, one bot: each server's library stays its own (issue 12).

Driven through discord.py's command objects (`invoke`), like the other Discord tests, over a real
engine: server A's admin uploads an article about a show nobody else has, reindexes, and the tests
check where that article can and cannot be seen, changed or listed from.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_discord_support import (
    ADMIN,
    MODERATOR,
    FakeChannel,
    FakeInteraction,
    Services,
    command,
    invoke,
    new_id,
    open_services,
)

from bot.discord_app.checks import NOT_OWNER
from bot.discord_app.cogs.admin import ALREADY_RUNNING
from bot.embedder import Embedder
from bot.engine import Engine
from bot.libraries import (
    NO_LIBRARY,
    SHARED,
    SHARED_LABEL,
    THIS_SERVER,
    Libraries,
    check_library_name,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

GUILD_A = 800_000_000_000_000_001
GUILD_B = 800_000_000_000_000_002
OWNER = 900_000_000_000_000_009
ARTICLE_A = """\
---
title: Mara Quintero on the Harbor Lights finale
outlet: Screenward
date: 2024-05-01
shows: [Harbor Lights]
---
Mara Quintero said the lighthouse keeper in Harbor Lights was the hardest role she ever played.

"I spent three weeks learning to trim a lamp wick for the lighthouse scenes," Quintero said.

Quintero added that the storm episode was filmed in a water tank outside Lisbon over nine nights.
"""
QUESTION_A = "what did mara quintero say about the lighthouse in harbor lights?"
SHARED_QUESTION = "what did krysten ritter say about kilgrave"


class Attachment:
    """What /corpus add reads of a `discord.Attachment`."""

    def __init__(self, filename: str, data: bytes) -> None:
        self.filename, self.data, self.size = filename, data, len(data)

    async def read(self) -> bytes:
        return self.data


@pytest.fixture
async def two(seed_index: tuple[Path, Path], embedder: Embedder, tmp_path: Path) -> AsyncIterator[Services]:
    """The bot with the seed corpus as its shared library, an owner, and room for two servers.
    The engine ranks with the blended score: the learned ranker's weights are being retrained on
    main, and which scorer ranks does not change which library a passage may come from."""
    corpus, index = seed_index
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index")
    engine = Engine(tmp_path / "corpus", tmp_path / "index", embedder=embedder, learned=False)
    engine.load()
    async with open_services(engine, tmp_path, owner_ids=frozenset({OWNER})) as services:
        services.bot.get_cog("Admin").progress_interval = 0.05  # type: ignore[union-attr]
        yield services


def _in(s: Services, guild_id: int | None, **kwargs: Any) -> FakeInteraction:
    interaction = s.interaction(guild=guild_id is not None, **kwargs)
    if guild_id is not None:
        interaction.guild = SimpleNamespace(id=guild_id)
        interaction.guild_id = guild_id
    return interaction


async def _run(
    s: Services, which: str, guild_id: int | None, /, *, user_id: int | None = None, **params: Any
) -> FakeInteraction:
    """Run slash command `which` as an admin (Manage Server) of `guild_id`."""
    interaction = _in(s, guild_id, permissions=ADMIN, user_id=user_id)
    await invoke(s.bot, command(s.bot, which), interaction, **params)
    return interaction


async def _ask(s: Services, guild_id: int | None, question: str = QUESTION_A) -> str:
    interaction = _in(s, guild_id)
    await invoke(s.bot, command(s.bot, "ask"), interaction, question=question)
    return "\n".join(interaction.texts)


async def _give_a_its_library(s: Services) -> None:
    added = await _run(s, "corpus add", GUILD_A, file=Attachment("harbor.md", ARTICLE_A.encode()))
    assert "Added `harbor.md`" in added.texts[-1]
    built = await _run(s, "reindex", GUILD_A)
    assert built.texts[-1].startswith("Reindex done"), built.texts[-1]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------- answers stay in their server


async def test_a_articles_answer_in_a_only_never_in_b_or_dms(two: Services) -> None:
    await _give_a_its_library(two)
    libraries = two.bot.libraries
    assert (libraries.corpus_dir(str(GUILD_A)) / "harbor.md").is_file()
    assert libraries.has_index(str(GUILD_A)) and not libraries.has_index(str(GUILD_B))

    in_a = await _ask(two, GUILD_A)
    assert "Quintero" in in_a and THIS_SERVER in in_a
    for where in (GUILD_B, None):  # another server, and DMs
        text = await _ask(two, where)
        assert "Quintero" not in text and "lighthouse" not in text.lower()

    # The shared library still answers in A, labelled, beside A's own.
    shared_in_a = await _ask(two, GUILD_A, SHARED_QUESTION)
    assert "Ritter" in shared_in_a and SHARED_LABEL in shared_in_a
    assert THIS_SERVER not in await _ask(two, GUILD_B, SHARED_QUESTION)  # B has one library: no labels
    for where, listed in ((GUILD_A, True), (GUILD_B, False), (None, False)):  # /sources too
        sources = _in(two, where)
        await invoke(two.bot, command(two.bot, "sources"), sources)
        assert ("Harbor Lights" in sources.texts[-1]) is listed
        assert "Ritter" in sources.texts[-1] or "Jessica" in sources.texts[-1]
    # The shipped corpus (the shared library) never saw A's upload.
    assert "harbor.md" not in {a.file for a in two.engine.sources()}


async def test_shared_off_answers_from_the_server_library_only(two: Services) -> None:
    await _give_a_its_library(two)
    switched = await _run(two, "library shared", GUILD_A, state="off")
    assert "this server's library only" in switched.texts[-1]
    assert "Ritter" not in await _ask(two, GUILD_A, SHARED_QUESTION)
    assert "Quintero" in await _ask(two, GUILD_A)
    assert "Ritter" in await _ask(two, GUILD_B, SHARED_QUESTION)  # B keeps the default (on)

    await _run(two, "library shared", GUILD_B, state="off")
    assert await _ask(two, GUILD_B, SHARED_QUESTION) == NO_LIBRARY
    assert "Ritter" in await _ask(two, None, SHARED_QUESTION)  # DMs always use the shared library


# ---------------------------------------------------------------------- who may change what


async def test_admin_of_b_cannot_list_remove_or_reindex_a_library(two: Services) -> None:
    await _give_a_its_library(two)
    version_a = two.bot.libraries.engine(str(GUILD_A)).version

    listed = await _run(two, "corpus list", GUILD_B)
    assert "harbor.md" not in listed.texts[-1] and "No articles in this server's library" in listed.texts[-1]
    removed = await _run(two, "corpus remove", GUILD_B, name="harbor.md")
    assert "There is no `harbor.md` here" in removed.texts[-1]
    tricked = await _run(two, "corpus remove", GUILD_B, name=f"../{GUILD_A}/harbor.md")
    assert "There is no" in tricked.texts[-1]
    assert (two.bot.libraries.corpus_dir(str(GUILD_A)) / "harbor.md").is_file()

    rebuilt = await _run(two, "reindex", GUILD_B)  # B's library is empty: B's rebuild fails, alone
    assert "Reindex failed" in rebuilt.texts[-1]
    assert two.bot.libraries.engine(str(GUILD_A)).version == version_a
    history_b = await _run(two, "corpus history", GUILD_B)
    assert "harbor.md" not in history_b.texts[-1]
    history_a = await _run(two, "corpus history", GUILD_A)
    assert "add `harbor.md" in history_a.texts[-1] and "reindex" in history_a.texts[-1]

    # A's admin removes the article: A's library empties, and A falls back to the shared library.
    gone = await _run(two, "corpus remove", GUILD_A, name="harbor.md")
    assert "now empty" in gone.texts[-1]
    assert not two.bot.libraries.has_index(str(GUILD_A))
    assert "Quintero" not in await _ask(two, GUILD_A)


async def test_only_owners_change_the_shared_library(two: Services) -> None:
    shared_before = _tree(two.engine.corpus_dir)
    version = two.engine.version
    for name, params in (
        ("corpus add", {"file": Attachment("evil.md", ARTICLE_A.encode())}),
        ("corpus remove", {"name": "000-seed-ritter-colter.txt"}),
        ("corpus list", {}),
        ("corpus history", {}),
        ("reindex", {}),
    ):
        denied = await _run(two, name, GUILD_A, shared=True, **params)
        assert denied.texts == [NOT_OWNER], name
    assert _tree(two.engine.corpus_dir) == shared_before and two.engine.version == version

    added = await _run(
        two, "corpus add", GUILD_A, user_id=OWNER, shared=True, file=Attachment("owner.md", b"Owner text.")
    )
    assert "Added `owner.md`" in added.texts[-1]
    assert (two.engine.corpus_dir / "owner.md").is_file()
    history = await _run(two, "corpus history", GUILD_B, user_id=OWNER, shared=True)
    assert "add `owner.md" in history.texts[-1]


@pytest.mark.parametrize(
    "filename",
    [
        "../../shared-evil.md",
        f"..\\{GUILD_B}\\evil.md",
        "....//....//evil.md",
        "\u2215etc\u2215evil.md",  # a Unicode division slash, which looks like a folder separator
        "\uff0e\uff0e\u2044evil.md",  # fullwidth dots and a fraction slash
        ".hidden.md",
    ],
)
async def test_upload_names_never_leave_the_library_folder(two: Services, filename: str) -> None:
    root = two.path.parents[1]  # the test folder: shared corpus, index, data
    before = _tree(root)
    await _run(two, "corpus add", GUILD_A, file=Attachment(filename, b"Quintero spoke about lamps."))
    created = _tree(root) - before
    folder = two.bot.libraries.corpus_dir(str(GUILD_A)).relative_to(root)
    data_files = {c for c in created if not c.startswith("data/settings")}
    assert all(Path(c).parent == folder for c in data_files), data_files
    assert all(not Path(c).name.startswith(".") for c in data_files)


@pytest.mark.parametrize(
    "bad", ["../1", "1/2", "", "shared/..", "Shared", " 1", "1.0", -1, True, None, "..", "\u0663"]
)
async def test_library_names_are_ids_or_shared(bad: object) -> None:
    with pytest.raises(ValueError):
        check_library_name(bad)
    assert check_library_name("shared") == SHARED and check_library_name(GUILD_A) == str(GUILD_A)


# ---------------------------------------------------------------------- limits and audit


async def test_limits_per_server_are_enforced_with_clear_messages(
    seed_index: tuple[Path, Path], embedder: Embedder, tmp_path: Path
) -> None:
    corpus, index = seed_index
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index")
    engine = Engine(tmp_path / "corpus", tmp_path / "index", embedder=embedder, learned=False)
    engine.load()
    async with open_services(
        engine, tmp_path, library_max_articles=2, library_max_bytes=2_000, library_reindexes_per_hour=1
    ) as s:
        ok = await _run(s, "corpus add", GUILD_A, file=Attachment("one.md", ARTICLE_A.encode()))
        assert "Added" in ok.texts[-1]
        big = await _run(s, "corpus add", GUILD_A, file=Attachment("two.md", b"x " * 800))
        assert "the limit is 2,000" in big.texts[-1] and "/corpus remove" in big.texts[-1]
        await _run(s, "corpus add", GUILD_A, file=Attachment("two.md", b"small text"))
        full = await _run(s, "corpus add", GUILD_A, file=Attachment("three.md", b"small text"))
        assert "library is full: 2 of 2 articles" in full.texts[-1]
        # Other servers have their own allowance.
        other = await _run(s, "corpus add", GUILD_B, file=Attachment("three.md", b"small text"))
        assert "Added" in other.texts[-1]

        first = await _run(s, "reindex", GUILD_A)
        assert first.texts[-1].startswith("Reindex done"), first.texts[-1]
        second = await _run(s, "reindex", GUILD_A)
        assert "limit is 1 an hour" in second.texts[-1]
        s.bot.libraries.evict(str(GUILD_A))
        status = await _run(s, "library status", GUILD_A)
        assert "2 of 2 articles" in status.texts[-1] and "Shared library: on" in status.texts[-1]


# ---------------------------------------------------------------------- settings, reports, cooldowns


async def test_settings_reports_and_cooldowns_stay_in_their_server(two: Services) -> None:
    settings = two.settings
    await settings.set_mode(GUILD_A, "off")
    await settings.set_shared_library(GUILD_A, False)
    await settings.add_leak_report(GUILD_A, new_id(), new_id(), new_id(), ["x#1"], None)
    assert await settings.get_mode(GUILD_B, new_id()) == "tag"
    assert await settings.shared_library_on(GUILD_B)
    assert await settings.leak_reports(GUILD_B) == []
    assert await settings.library_events(str(GUILD_B)) == []
    # Through Discord: B's moderators see no report of A's, and B's status shows B's defaults.
    reports_b = _in(two, GUILD_B, permissions=MODERATOR)
    await invoke(two.bot, command(two.bot, "spoilers reports"), reports_b)
    reports_a = _in(two, GUILD_A, permissions=MODERATOR)
    await invoke(two.bot, command(two.bot, "spoilers reports"), reports_a)
    assert "x#1" in reports_a.texts[-1] and reports_b.texts == ["No leak reports. 🎉"]
    # Cooldowns are per fan: A's busy fans never slow B's.
    cooldown = two.bot.cooldown
    fans_a = [new_id() for _ in range(3)]
    for fan in fans_a:
        for _ in range(two.config.cooldown_questions):
            cooldown.take(fan)
    assert cooldown.take(new_id()).allowed


# ---------------------------------------------------------------------- the engine layer


async def test_libraries_are_opened_lazily_and_cached_with_a_bound(two: Services) -> None:
    await _give_a_its_library(two)
    libraries = Libraries(two.engine, corpus_root=two.bot.libraries.corpus_root, cache_size=1)
    assert libraries.cached() == []
    answer = await libraries.ask(QUESTION_A, guild_id=GUILD_A)
    assert any("Quintero" in m for m in answer.messages) and libraries.loads == 1
    await libraries.ask(QUESTION_A, guild_id=GUILD_B)  # B has no index: not opened
    assert libraries.cached() == [str(GUILD_A)]
    libraries.engine(str(GUILD_B))
    assert libraries.cached() == [str(GUILD_B)]  # A was evicted; the shared engine is never cached
    again = await libraries.ask(QUESTION_A, guild_id=GUILD_A)
    assert again.messages == answer.messages and libraries.loads == 3


async def test_a_reindex_locks_one_library_only(two: Services) -> None:
    await _give_a_its_library(two)
    article_b = ARTICLE_A.replace("Quintero", "Ibsen").encode()
    await _run(two, "corpus add", GUILD_B, file=Attachment("b.md", article_b))
    engine_a = two.bot.libraries.engine(str(GUILD_A))
    with engine_a.store.reindex_lock():  # e.g. `python -m bot index --library A` is building
        refused = await _run(two, "reindex", GUILD_A)
        built_b = await _run(two, "reindex", GUILD_B)
        assert "Quintero" in await _ask(two, GUILD_A)  # A keeps answering from its current index
    assert refused.texts[-1] == ALREADY_RUNNING
    assert built_b.texts[-1].startswith("Reindex done")
    assert "Ibsen" in await _ask(two, GUILD_B) and "Ibsen" not in await _ask(two, GUILD_A)


async def test_more_pages_through_both_libraries_without_repeats(two: Services) -> None:
    """Ids of a server's passages carry its library, so "more" excludes exactly what was shown,
    even when a server file has the same name as a shared one."""
    shared_name = next(p.name for p in two.engine.corpus_dir.iterdir() if p.suffix == ".txt")
    await _run(two, "corpus add", GUILD_A, file=Attachment(shared_name, ARTICLE_A.encode()))
    assert (await _run(two, "reindex", GUILD_A)).texts[-1].startswith("Reindex done")
    channel, user = FakeChannel(), new_id()
    seen: list[str] = []
    for question in (QUESTION_A, "more", "more"):
        interaction = _in(two, GUILD_A, channel=channel, user_id=user)
        await invoke(two.bot, command(two.bot, "ask"), interaction, question=question)
        quotes = [line for text in interaction.texts for line in text.splitlines() if line.startswith("> ")]
        assert not set(quotes) & set(seen), question
        seen += quotes
    turns = two.bot.memory.recent((channel.id, user))
    ids = turns[-1].passage_ids
    assert len(ids) == len(set(ids)) and any(i.startswith(f"{GUILD_A}::") for i in ids)
