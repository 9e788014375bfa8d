"""Admins' /reindex and /corpus commands: hot swap under load, one reindex at a time, safe uploads."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from test_discord_support import ADMIN, MODERATOR, OWNER_ID, Services, command, invoke

from bot.discord_app.checks import GUILD_ONLY, NOT_ADMIN
from bot.discord_app.cogs.admin import ALREADY_RUNNING
from bot.discord_app.progress import ProgressReporter
from bot.index.errors import IndexProblem

QUESTION = "what did krysten ritter say about kilgrave"
NEW_ARTICLE = """\
---
title: Mike Colter on Luke Cage's first season
outlet: Test Weekly
date: 2016-10-01
shows: [Luke Cage]
---
Mike Colter said playing Luke Cage meant carrying Harlem on his shoulders every single day.

"I wanted Luke to feel like a neighbour first and a hero second," Colter said about the role.
"""

# The fixtures (engine, services, the bot) live on the session loop; so must the tests.
pytestmark = pytest.mark.asyncio(loop_scope="session")


class FakeAttachment:
    """What /corpus add uses of `discord.Attachment`."""

    def __init__(self, filename: str, data: bytes, size: int | None = None) -> None:
        self.filename = filename
        self.data = data
        self.size = len(data) if size is None else size
        self.reads = 0

    async def read(self) -> bytes:
        self.reads += 1
        return self.data


async def _reindex(s: Services, **kwargs: Any) -> Any:
    """The shared library's reindex, by a bot owner (a server's own library: tests/test_libraries.py)."""
    interaction = s.interaction(permissions=ADMIN, user_id=OWNER_ID, **kwargs)
    await invoke(s.bot, command(s.bot, "reindex"), interaction, shared=True)
    return interaction


async def _ask(s: Services) -> Any:
    interaction = s.interaction()
    await invoke(s.bot, command(s.bot, "ask"), interaction, question=QUESTION)
    return interaction


# ---------------------------------------------------------------------- /reindex


async def test_hot_reindex_serves_answers_throughout_and_refuses_a_second(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, bot = services.engine, services.bot
    (engine.corpus_dir / "001-colter-luke-cage.md").write_text(NEW_ARTICLE, encoding="utf-8")
    entered, release = threading.Event(), threading.Event()
    real_progress = ProgressReporter.__call__

    def gated_progress(self: ProgressReporter, stage: str, done: int, total: int) -> None:
        """The engine reports progress from its worker, holding the reindex lock: pause the rebuild there."""
        entered.set()
        assert release.wait(30)
        real_progress(self, stage, done, total)

    monkeypatch.setattr(ProgressReporter, "__call__", gated_progress)
    old_version = engine.version
    admin = services.interaction(permissions=ADMIN, user_id=OWNER_ID)
    running = asyncio.create_task(invoke(bot, command(bot, "reindex"), admin, shared=True))
    assert await asyncio.to_thread(entered.wait, 30)

    during = await asyncio.gather(*(_ask(services) for _ in range(4)))  # the rebuild holds the lock
    second = await _reindex(services)
    release.set()
    while_building = await asyncio.gather(*(_ask(services) for _ in range(4)))
    await asyncio.wait_for(running, 60)

    for asked in [*during, *while_building]:
        assert asked.answers and (asked.answers[0].content or "").startswith("> ")
    assert second.texts[-1] == ALREADY_RUNNING
    assert admin.sent[0].via == "defer" and admin.sent[0].ephemeral
    assert any(t.startswith("Reindexing:") for t in admin.texts)
    final = admin.texts[-1]
    assert final.startswith("Reindex done") and "Articles added 1, removed 0, changed 0" in final
    assert engine.version != old_version
    assert any(a.title.startswith("Mike Colter on Luke Cage") for a in engine.sources())


async def test_reindex_started_elsewhere_is_refused(services: Services) -> None:
    with services.engine.store.reindex_lock():  # what `python -m bot index` holds while it builds
        refused = await _reindex(services)
    assert refused.texts[-1] == ALREADY_RUNNING
    assert (await _ask(services)).answers  # still answering from the current index


async def test_reindex_failure_is_reported_and_old_index_kept(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(progress: Any = None) -> Any:
        raise IndexProblem("the corpus folder has no readable articles")

    monkeypatch.setattr(services.engine, "reindex", broken)
    version = services.engine.version
    failed = await _reindex(services)
    assert "Reindex failed" in failed.texts[-1] and "no readable articles" in failed.texts[-1]
    assert services.engine.version == version


async def test_reindex_needs_an_admin_in_a_server(services: Services) -> None:
    moderator = services.interaction(permissions=MODERATOR)
    await invoke(services.bot, command(services.bot, "reindex"), moderator)
    assert [(s.content, s.ephemeral) for s in moderator.sent] == [(NOT_ADMIN, True)]
    dm = services.interaction(permissions=ADMIN, guild=False)
    await invoke(services.bot, command(services.bot, "reindex"), dm)
    assert [(s.content, s.ephemeral) for s in dm.sent] == [(GUILD_ONLY, True)]


async def test_progress_edits_are_throttled_from_a_worker_thread() -> None:
    edits: list[str] = []

    async def edit(text: str) -> None:
        edits.append(text)

    reporter = ProgressReporter(asyncio.get_running_loop(), edit, interval=0.2)
    reporter.start()

    def work() -> None:
        for done in range(1, 301):
            reporter("embedding", done, 300)
            time.sleep(0.002)

    started = time.monotonic()
    await asyncio.to_thread(work)
    await asyncio.sleep(0.25)
    await reporter.stop()
    elapsed = time.monotonic() - started
    assert 1 <= len(edits) <= elapsed / 0.2 + 2
    assert edits[-1] == "Reindexing: embedding passages 300/300 (100%)…"


# ---------------------------------------------------------------------- /corpus add


async def _add(s: Services, attachment: FakeAttachment, replace: bool = False, **kwargs: Any) -> Any:
    interaction = s.interaction(permissions=ADMIN, user_id=OWNER_ID, **kwargs)
    await invoke(
        s.bot, command(s.bot, "corpus add"), interaction, file=attachment, replace=replace, shared=True
    )
    return interaction


def _corpus_files(s: Services) -> set[str]:
    return {p.name for p in s.engine.corpus_dir.iterdir()}


async def test_corpus_add_saves_a_good_file_atomically_and_never_overwrites_by_accident(
    services: Services,
) -> None:
    before = _corpus_files(services)
    data = NEW_ARTICLE.encode("utf-8")
    added = await _add(services, FakeAttachment("Colter interview.md", data))
    assert "Added `Colter-interview.md`" in added.texts[-1] and "/reindex" in added.texts[-1]
    assert _corpus_files(services) - before == {"Colter-interview.md"}  # no temp file left behind
    assert (services.engine.corpus_dir / "Colter-interview.md").read_bytes() == data

    again = await _add(services, FakeAttachment("Colter interview.md", b"changed text"))
    assert "already exists" in again.texts[-1] and "replace" in again.texts[-1]
    assert (services.engine.corpus_dir / "Colter-interview.md").read_bytes() == data

    replaced = await _add(services, FakeAttachment("Colter interview.md", b"changed text"), replace=True)
    assert "Added" in replaced.texts[-1]
    assert (services.engine.corpus_dir / "Colter-interview.md").read_bytes() == b"changed text"


@pytest.mark.parametrize(
    ("filename", "data", "size", "says"),
    [
        ("episode.pdf", b"%PDF-1.7", None, "Only .txt, .md, .html"),
        ("article.txt", b"x" * 20_000, None, "the limit is 10,000"),
        ("article.txt", b"tiny", 50_000_000, "the limit is 10,000"),  # refused before downloading
        ("../../etc/cron.d/evil.txt", b"text", None, "must not contain folders"),
        ("..\\evil.md", b"text", None, "must not contain folders"),
        ("latin1.txt", "Café Kilgrave".encode("latin-1"), None, "not UTF-8"),
        ("empty.md", b"   \n", None, "empty"),
    ],
)
async def test_corpus_add_rejects_bad_uploads(
    services: Services, filename: str, data: bytes, size: int | None, says: str
) -> None:
    before = _corpus_files(services)
    attachment = FakeAttachment(filename, data, size)
    refused = await _add(services, attachment)
    assert says in refused.texts[-1] and all(s.ephemeral for s in refused.answers)
    assert _corpus_files(services) == before
    if size is not None:
        assert attachment.reads == 0


async def test_corpus_add_and_list_are_admin_only(services: Services) -> None:
    interaction = services.interaction(permissions=MODERATOR)
    await invoke(
        services.bot, command(services.bot, "corpus add"), interaction, file=FakeAttachment("a.txt", b"x")
    )
    assert interaction.texts == [NOT_ADMIN]
    listing = services.interaction(permissions=ADMIN, user_id=OWNER_ID)
    await invoke(services.bot, command(services.bot, "corpus list"), listing, page=1, shared=True)
    assert "000-seed-ritter-colter.txt" in listing.texts[-1]
