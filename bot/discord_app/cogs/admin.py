"""Admins: /reindex and /corpus add|list.

Guild-only, Manage Server by default, checked again in code (`admin_only`). A reindex runs on the
engine's worker thread while answers keep coming from the old index, then swaps; one at a time,
across processes too (the engine holds a file lock, so one started from the CLI counts).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.catalog import paginate
from bot.discord_app.checks import admin_only
from bot.discord_app.progress import ProgressReporter
from bot.discord_app.respond import NO_PINGS, send_interaction
from bot.discord_app.uploads import ALLOWED_SUFFIXES, UploadRejected, check_upload, safe_name, save_article
from bot.index.errors import IndexProblem, ReindexRunning, os_problem
from bot.ingest.fetch import FetchRefused, fetch_page, page_file_name, with_source
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
    @admin_only
    async def reindex(self, interaction: discord.Interaction[Any]) -> None:
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True, ephemeral=True)
        edit = interaction.edit_original_response
        await edit(content="Reindexing: starting… (answers keep coming from the current index)")
        reporter = ProgressReporter(
            asyncio.get_running_loop(), lambda text: edit(content=text), interval=self.progress_interval
        )
        reporter.start()
        log.info(
            "reindex requested by user %s in guild %s",
            interaction.user.id,
            interaction.guild.id if interaction.guild else None,
        )
        try:
            report = await self.bot.engine.reindex(progress=reporter)
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
    )
    @admin_only
    async def corpus_add(
        self,
        interaction: discord.Interaction[Any],
        file: discord.Attachment | None = None,
        url: str | None = None,
        replace: bool = False,
    ) -> None:
        if (file is None) == (url is None):
            await send_interaction(interaction, "Give either a file or a url, not both.", ephemeral=True)
            return
        if url is not None:
            await self._add_url(interaction, url, replace)
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
            folder = self.bot.engine.corpus_dir
            path = await asyncio.to_thread(save_article, folder, name, data, replace=replace)
        except UploadRejected as exc:
            await interaction.followup.send(str(exc), ephemeral=True)
            return
        log.info("user %s added %s (%d bytes) to the corpus", interaction.user.id, path.name, len(data))
        renamed = "" if name == file.filename else f" (saved as `{name}`)"
        await interaction.followup.send(
            f"Added `{name}`{renamed}, {len(data):,} bytes. Run `/reindex` to make it searchable.",
            ephemeral=True,
        )

    async def _add_url(self, interaction: discord.Interaction[Any], url: str, replace: bool) -> None:
        """Fetch (guarded), save with its source URL, reindex; one clear line for each failure."""
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True, ephemeral=True)
        limits = self.bot.config.fetch_limits()
        try:
            page = await fetch_page(url, limits)
            data = with_source(page.html, page.url).encode("utf-8")
            check_upload(data, limits.max_bytes)
            name = safe_name(page_file_name(page.url))
            path = await asyncio.to_thread(
                save_article, self.bot.engine.corpus_dir, name, data, replace=replace
            )
        except (FetchRefused, UploadRejected) as exc:
            await interaction.followup.send(f"I didn't add that page: {exc}", ephemeral=True)
            return
        log.info("user %s added %s from a link (%d bytes)", interaction.user.id, path.name, len(data))
        try:
            report = await self.bot.engine.reindex()
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

    @corpus.command(name="list", description="The article files in the corpus folder")
    @app_commands.describe(page="Page number, when there are many files")
    @admin_only
    async def corpus_list(
        self, interaction: discord.Interaction[Any], page: app_commands.Range[int, 1] = 1
    ) -> None:
        folder = self.bot.engine.corpus_dir
        files = await asyncio.to_thread(_article_files, folder)
        if not files:
            await send_interaction(interaction, "No articles in the corpus folder yet.", ephemeral=True)
            return
        lines = [f"**{len(files)}** article file(s):"]
        lines += [f"• `{one_line(name).replace('`', '')}` ({size:,} bytes)" for name, size in files]
        pages = paginate(lines)
        number = min(page, len(pages))
        footer = f"\n-# Page {number}/{len(pages)}" if len(pages) > 1 else ""
        await send_interaction(interaction, pages[number - 1] + footer, ephemeral=True)
