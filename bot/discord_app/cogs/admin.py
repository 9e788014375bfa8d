"""Admins: /reindex, /corpus add|remove|list|history and /library shared|status.

Guild-only, Manage Server by default, checked again in code (`admin_only`). Every command acts on
the invoking server's own library (`bot.libraries`); the shared library, which reaches every
server, only with `shared: True` by a bot owner (`require_owner`). A reindex runs on a worker
thread while answers keep coming from the old index, then swaps; one at a time per library,
across processes too (each library's store holds a file lock, so one started from the CLI counts).
Every change is written to the library's audit trail; per-server limits come from the config.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.catalog import paginate
from bot.discord_app.checks import admin_only, require_owner
from bot.discord_app.progress import ProgressReporter
from bot.discord_app.respond import NO_PINGS, send_interaction
from bot.discord_app.uploads import ALLOWED_SUFFIXES, UploadRejected, check_upload, safe_name, save_article
from bot.index.errors import IndexProblem, ReindexRunning, os_problem
from bot.ingest.fetch import FetchRefused, fetch_page, page_file_name, with_source
from bot.libraries import SHARED, LimitReached, library_name
from bot.text import one_line

if TYPE_CHECKING:
    from bot.discord_app.client import FanBot

__all__ = ["AdminCog"]

log = logging.getLogger(__name__)

ALREADY_RUNNING = (
    "A reindex is already running (from Discord or the command line); "
    "answers keep coming from the current index. Try again when it has finished."
)
ARTICLE_SUFFIXES = (*ALLOWED_SUFFIXES, ".markdown", ".htm")
SHARED_HELP = "The shared library every server can use (bot owners only)"


def _article_files(folder: Path) -> list[tuple[str, int]]:
    """(name, size) of the article files directly in the corpus folder (uploads land there)."""
    if not folder.is_dir():
        return []
    return sorted(
        (p.name, p.stat().st_size)
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in ARTICLE_SUFFIXES
    )


def _code_block(text: str, limit: int = 1800) -> str:
    """Plain text in a code block; file names can't break out of it (``` is defused)."""
    text = text.replace("```", "`\u200b``")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"```\n{text}\n```"


class AdminCog(commands.Cog, name="Admin"):
    """Everything an admin can do."""

    corpus = app_commands.Group(
        name="corpus",
        description="The articles I read",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: FanBot) -> None:
        self.bot = bot
        self.progress_interval = 2.0  # seconds between progress edits (Discord rate-limits edits)

    # ------------------------------------------------------------------ reindex

    @app_commands.command(
        name="reindex", description="Re-read the articles and rebuild the index (no restart)"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(shared=SHARED_HELP)
    @admin_only
    async def reindex(self, interaction: discord.Interaction[Any], shared: bool = False) -> None:
        library = self.library(interaction, shared)
        refusal = await self._reindex_refusal(library)
        if refusal:
            await send_interaction(interaction, refusal, ephemeral=True)
            return
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True, ephemeral=True)
        edit = interaction.edit_original_response
        await edit(content="Reindexing: starting… (answers keep coming from the current index)")
        reporter = ProgressReporter(
            asyncio.get_running_loop(), lambda text: edit(content=text), interval=self.progress_interval
        )
        reporter.start()
        log.info(
            "reindex of library %s requested by user %s in guild %s",
            library,
            interaction.user.id,
            interaction.guild.id if interaction.guild else None,
        )
        await self._audit(interaction, library, "reindex")
        try:
            report = await self._rebuild(library, reporter)
        except ReindexRunning:
            text = ALREADY_RUNNING
        except IndexProblem as exc:
            log.error("reindex failed: %s", exc)
            text = f"Reindex failed; the previous index keeps serving answers.\n{_code_block(str(exc))}"
        except OSError as exc:  # disk full, no permission: the store removed its half-written version
            log.error("reindex failed: %s", exc)
            text = (
                f"Reindex failed: {os_problem(exc)}. Nothing was published; "
                "the previous index keeps serving answers."
            )
        except Exception as exc:
            log.exception("reindex failed unexpectedly")
            text = (
                "Reindex failed unexpectedly; the previous index keeps serving answers. "
                f"Details are in the bot's log ({type(exc).__name__})."
            )
        else:
            log.info("reindex done: %s", report.summary().replace("\n", " | "))
            text = f"Reindex done; answers now come from the new index.\n{_code_block(report.summary())}"
        finally:
            await reporter.stop()
        try:
            await edit(content=text)
        except (discord.HTTPException, discord.RateLimited) as exc:  # expired token (15 min), rate limit
            log.warning("could not edit the reindex message (%s); posting the result in the channel", exc)
            await self._post_in_channel(interaction, text)

    @staticmethod
    async def _post_in_channel(interaction: discord.Interaction[Any], text: str) -> None:
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            return
        try:
            await channel.send(f"{interaction.user.mention} {text}", allowed_mentions=NO_PINGS)
        except (discord.HTTPException, discord.RateLimited) as exc:
            log.warning("could not post the reindex result either: %s", exc)

    # ------------------------------------------------------------------ corpus

    @corpus.command(name="add", description="Add an article: a file (.txt, .md, .html) or a link to a page")
    @app_commands.describe(
        file="The article file (then run /reindex)",
        url="A link to the article page: fetched, saved and indexed",
        replace="Overwrite a file with the same name",
        shared=SHARED_HELP,
    )
    @admin_only
    async def corpus_add(
        self,
        interaction: discord.Interaction[Any],
        file: discord.Attachment | None = None,
        url: str | None = None,
        replace: bool = False,
        shared: bool = False,
    ) -> None:
        library = self.library(interaction, shared)
        if (file is None) == (url is None):
            await send_interaction(interaction, "Give either a file or a url, not both.", ephemeral=True)
            return
        if url is not None:
            await self._add_url(interaction, url, replace, library)
            return
        assert file is not None
        limit = self.bot.config.max_upload_bytes
        try:
            name = safe_name(file.filename)
            if file.size > limit:
                raise UploadRejected(f"That file is {file.size:,} bytes; the limit is {limit:,}.")
        except UploadRejected as exc:
            await send_interaction(interaction, str(exc), ephemeral=True)
            return
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            data = await file.read()
            check_upload(data, limit)
            folder = self.bot.libraries.corpus_dir(library)
            await asyncio.to_thread(self._check_room, library, folder, name, len(data), replace)
            path = await asyncio.to_thread(save_article, folder, name, data, replace=replace)
        except (UploadRejected, LimitReached) as exc:
            await interaction.followup.send(str(exc), ephemeral=True)
            return
        log.info(
            "user %s added %s (%d bytes) to library %s", interaction.user.id, path.name, len(data), library
        )
        await self._audit(interaction, library, "add", f"{path.name} ({len(data):,} bytes)")
        renamed = "" if name == file.filename else f" (saved as `{name}`)"
        await interaction.followup.send(
            f"Added `{name}`{renamed}, {len(data):,} bytes. Run `/reindex` to make it searchable.",
            ephemeral=True,
        )

    async def _add_url(
        self, interaction: discord.Interaction[Any], url: str, replace: bool, library: str
    ) -> None:
        """Fetch (guarded), save with its source URL, reindex; one clear line for each failure."""
        refusal = await self._reindex_refusal(library)
        if refusal:  # adding by link reindexes, so it counts against the hourly limit
            await send_interaction(interaction, refusal, ephemeral=True)
            return
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True, ephemeral=True)
        limits = self.bot.config.fetch_limits()
        folder = self.bot.libraries.corpus_dir(library)
        try:
            page = await fetch_page(url, limits)
            data = with_source(page.html, page.url).encode("utf-8")
            check_upload(data, limits.max_bytes)
            name = safe_name(page_file_name(page.url))
            await asyncio.to_thread(self._check_room, library, folder, name, len(data), replace)
            path = await asyncio.to_thread(save_article, folder, name, data, replace=replace)
        except (FetchRefused, UploadRejected, LimitReached) as exc:
            await interaction.followup.send(f"I didn't add that page: {exc}", ephemeral=True)
            return
        log.info("user %s added %s from a link (%d bytes)", interaction.user.id, path.name, len(data))
        await self._audit(interaction, library, "add", f"{path.name} from {page.url}"[:300])
        await self._audit(interaction, library, "reindex")
        try:
            report = await self._rebuild(library)
        except Exception as exc:  # the page is saved; the old index keeps serving
            await interaction.followup.send(
                f"Saved `{path.name}`, but the reindex failed ({exc}); the old index keeps serving.",
                ephemeral=True,
            )
            return
        await interaction.followup.send(
            f"Added `{path.name}` from the link and reindexed.\n{_code_block(report.summary())}",
            ephemeral=True,
        )

    @corpus.command(name="list", description="The article files in this server's library")
    @app_commands.describe(page="Page number, when there are many files", shared=SHARED_HELP)
    @admin_only
    async def corpus_list(
        self,
        interaction: discord.Interaction[Any],
        page: app_commands.Range[int, 1] = 1,
        shared: bool = False,
    ) -> None:
        library = self.library(interaction, shared)
        folder = self.bot.libraries.corpus_dir(library)
        files = await asyncio.to_thread(_article_files, folder)
        where = "the shared library" if library == SHARED else "this server's library"
        if not files:
            await send_interaction(
                interaction, f"No articles in {where} yet; add one with `/corpus add`.", ephemeral=True
            )
            return
        lines = [f"**{len(files)}** article file(s) in {where}:"]
        lines += [f"• `{one_line(name).replace('`', '')}` ({size:,} bytes)" for name, size in files]
        pages = paginate(lines)
        number = min(page, len(pages))
        footer = f"\n-# Page {number}/{len(pages)}" if len(pages) > 1 else ""
        await send_interaction(interaction, pages[number - 1] + footer, ephemeral=True)

    @corpus.command(name="remove", description="Remove an article from this server's library and reindex")
    @app_commands.describe(name="The file name, as `/corpus list` shows it", shared=SHARED_HELP)
    @admin_only
    async def corpus_remove(
        self,
        interaction: discord.Interaction[Any],
        name: app_commands.Range[str, 1, 200],
        shared: bool = False,
    ) -> None:
        library = self.library(interaction, shared)
        folder = self.bot.libraries.corpus_dir(library)
        files = dict(await asyncio.to_thread(_article_files, folder))
        if name not in files:  # only names listed in this library's folder: no path ever reaches disk
            await send_interaction(
                interaction,
                f"There is no `{name[:100].replace('`', '')}` here; see `/corpus list`.",
                ephemeral=True,
            )
            return
        refusal = await self._reindex_refusal(library)
        if refusal:
            await send_interaction(interaction, refusal, ephemeral=True)
            return
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True, ephemeral=True)
        await asyncio.to_thread((folder / name).unlink, missing_ok=True)
        await self._audit(interaction, library, "remove", name)
        left = await asyncio.to_thread(_article_files, folder)
        if not left and library != SHARED:
            await asyncio.to_thread(self.bot.libraries.clear_index, library)
            await interaction.followup.send(
                f"Removed `{name}`; this server's library is now empty, so answers come from the "
                "shared library only (if it is on).",
                ephemeral=True,
            )
            return
        await self._audit(interaction, library, "reindex")
        try:
            report = await self._rebuild(library)
        except ReindexRunning:
            text = f"Removed `{name}`. {ALREADY_RUNNING}"
        except Exception as exc:
            log.warning("reindex after removing %s from %s failed: %s", name, library, exc)
            text = f"Removed `{name}`, but the reindex failed ({exc}); run `/reindex` again."
        else:
            text = f"Removed `{name}` and reindexed.\n{_code_block(report.summary())}"
        await interaction.followup.send(text, ephemeral=True)

    @corpus.command(name="history", description="Who changed this server's library, and when")
    @app_commands.describe(shared=SHARED_HELP)
    @admin_only
    async def corpus_history(self, interaction: discord.Interaction[Any], shared: bool = False) -> None:
        library = self.library(interaction, shared)
        events = await self.bot.settings.library_events(library, limit=25)
        if not events:
            await send_interaction(interaction, "No changes recorded yet.", ephemeral=True)
            return
        lines = [
            f"<t:{int(e['created_at'])}:f> "
            + (f"<@{e['user_id']}>" if e["user_id"] else "command line")
            + f" {e['action']}"
            + (f" `{(e['detail'] or '').replace('`', '')}`" if e["detail"] else "")
            for e in events
        ]
        await send_interaction(interaction, paginate(lines)[0], ephemeral=True)

    # ------------------------------------------------------------------ which library, limits, audit

    def library(self, interaction: discord.Interaction[Any], shared: bool) -> str:
        """The library a command acts on: the invoking server's, or (owners only) the shared one."""
        if shared:
            require_owner(interaction)
            return SHARED
        return library_name(interaction.guild.id if interaction.guild is not None else None)

    def _check_room(self, library: str, folder: Path, name: str, size: int, replace: bool) -> None:
        target = folder / name
        replacing = target.stat().st_size if replace and target.is_file() else None
        self.bot.libraries.check_room(library, size, replacing=replacing)

    async def _reindex_refusal(self, library: str) -> str | None:
        """The message when the server used up its reindexes for the hour (the shared one has no limit)."""
        limit = self.bot.config.library_reindexes_per_hour
        if library == SHARED:
            return None
        done = await self.bot.settings.count_library_events(library, "reindex", time.time() - 3600)
        if done < limit:
            return None
        return (
            f"This server's library was rebuilt {done} times in the last hour; the limit is {limit} "
            "an hour. Your files are saved; try `/reindex` again later."
        )

    async def _rebuild(self, library: str, progress: Any = None) -> Any:
        """Rebuild one library; opening its engine reads its index, so that happens off the loop."""
        engine = await asyncio.to_thread(self.bot.libraries.engine, library)
        await asyncio.to_thread(self.bot.libraries.corpus_dir(library).mkdir, parents=True, exist_ok=True)
        if library != SHARED:  # opened on a question without cleaning: a killed build's leftovers go now
            await asyncio.to_thread(engine.store.clean_leftovers)
        return await engine.reindex(progress=progress) if progress is not None else await engine.reindex()

    async def _audit(
        self, interaction: discord.Interaction[Any], library: str, action: str, detail: str | None = None
    ) -> None:
        try:
            await self.bot.settings.add_library_event(
                library,
                interaction.user.id,
                action,
                detail,
                guild_id=interaction.guild.id if interaction.guild is not None else None,
            )
        except Exception:  # an audit write failing must not undo the change; it is logged loudly
            log.exception(
                "could not record %s on library %s by user %s", action, library, interaction.user.id
            )


class LibraryCog(commands.Cog, name="Library"):
    """`/library shared on|off` and `/library status`: what a server answers from."""

    library = app_commands.Group(
        name="library",
        description="Which articles this server's answers come from",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: FanBot) -> None:
        self.bot = bot

    @library.command(name="shared", description="Also answer from the bot's shared library (on by default)")
    @app_commands.describe(state="on: this server's articles and the shared ones; off: this server's only")
    @admin_only
    async def shared(self, interaction: discord.Interaction[Any], state: Literal["on", "off"]) -> None:
        assert interaction.guild is not None
        await self.bot.settings.set_shared_library(interaction.guild.id, state == "on")
        await self.bot.settings.add_library_event(
            library_name(interaction.guild.id),
            interaction.user.id,
            f"shared {state}",
            guild_id=interaction.guild.id,
        )
        text = (
            "Answers here now come from this server's library and the shared library."
            if state == "on"
            else "Answers here now come from this server's library only."
        )
        await send_interaction(interaction, text, ephemeral=True)

    @library.command(name="status", description="What this server's answers come from")
    @admin_only
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        assert interaction.guild is not None
        libraries = self.bot.libraries
        name = library_name(interaction.guild.id)
        on = await self.bot.settings.shared_library_on(interaction.guild.id)
        articles, used = await asyncio.to_thread(libraries.usage, name)
        limits = libraries.limits
        lines = [
            f"This server's library: {articles} of {limits.max_articles} articles, "
            f"{used:,} of {limits.max_bytes:,} bytes"
            + ("" if libraries.has_index(name) else " (not indexed yet: run `/reindex`)")
            + ".",
            f"Shared library: {'on' if on else 'off'} (`/library shared on|off`).",
        ]
        await send_interaction(interaction, "\n".join(lines), ephemeral=True)
