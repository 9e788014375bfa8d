"""Command line: `index`, `ask`, `passages`, `chat`, `run` and `status`.

`ask --json` and `passages --json` follow the contract in shared/eval/README.md: standard output
holds only JSON lines; logs and progress go to standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bot.config import Config  # noqa: E402

log = logging.getLogger("bot")


def _parser(config: Config) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="TV-show quote bot")
    sub = parser.add_subparsers(dest="command", required=True)

    def paths(p: argparse.ArgumentParser, corpus: bool = False) -> None:
        p.add_argument(
            "--index", type=Path, default=config.index_dir, help="index folder (default %(default)s)"
        )
        if corpus:
            p.add_argument(
                "--corpus", type=Path, default=config.corpus_dir, help="corpus folder (default %(default)s)"
            )

    p = sub.add_parser("index", help="build the index from the corpus folder")
    paths(p, corpus=True)
    p.add_argument("--if-missing", action="store_true", help="only build when no valid index exists")
    p.add_argument(
        "--verify", action="store_true", help="check every file of the current index in full, then exit"
    )

    p = sub.add_parser("ask", help="answer questions")
    paths(p, corpus=True)
    p.add_argument("question", nargs="?", help="one question (or use --questions)")
    p.add_argument("--questions", help="JSON-lines file of questions, or - for standard input")
    p.add_argument("--json", action="store_true", help="print one JSON object per question")
    p.add_argument("--k", type=int, default=5, help="quotes per question (default %(default)s)")
    p.add_argument("--mode", choices=("tag", "off", "hide"), default="tag", help="spoiler mode")

    p = sub.add_parser("passages", help="list the indexed passages")
    paths(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("chat", help="local console: type questions, see the bot's replies")
    paths(p, corpus=True)
    p.add_argument("--mode", choices=("tag", "off", "hide"), default="tag")

    p = sub.add_parser("run", help="run the Discord bot (the console when no token is set)")
    paths(p, corpus=True)

    p = sub.add_parser(
        "status", help="every bot process's shards and index version, and the database's health"
    )
    paths(p)
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    from bot.config import ConfigError

    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = _parser(config).parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, config.log_level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _quiet_libraries()
    handler = {
        "index": cmd_index,
        "ask": cmd_ask,
        "passages": cmd_passages,
        "chat": cmd_chat,
        "run": cmd_run,
        "status": cmd_status,
    }
    try:
        return handler[args.command](args, config)
    except KeyboardInterrupt:
        return 130


def _quiet_libraries() -> None:
    for name in ("sentence_transformers", "transformers", "httpx", "huggingface_hub", "bm25s"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if "transformers" not in sys.modules:  # importing it takes about a second; the ONNX path never does
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        return
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass


def _engine(args: argparse.Namespace, config: Config | None = None):  # type: ignore[no-untyped-def]
    from bot.engine import Engine

    engine = Engine(getattr(args, "corpus", Path("corpus")), args.index)
    if config is not None and config.database_url:
        # Bot processes on other machines build under the database's lock, which this command does
        # not hold: it must neither build nor clean up "leftovers" that may be their build.
        engine.store.lock_factory = _held_by_the_bot_processes
    return engine


@contextlib.contextmanager
def _held_by_the_bot_processes() -> Iterator[None]:
    from bot.index.errors import ReindexRunning

    raise ReindexRunning("with DATABASE_URL set, build the index with `python -m bot index` or /reindex")
    yield


def _progress_bar():  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage != "embedding":
            print(f"{stage}…", file=sys.stderr)
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc="embedding passages", unit="passage", file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def cmd_index(args: argparse.Namespace, config: Config) -> int:
    from bot.index.errors import IndexProblem, ReindexRunning, os_problem
    from bot.settings_store import SettingsUnavailable

    engine = _engine(args)
    if args.verify:
        try:
            index = engine.store.verify()
        except IndexProblem as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"index {index.version} verified in full: {len(index.passages)} passages", file=sys.stderr)
        return 0
    if args.if_missing:
        try:
            engine.store.load()
            print(f"index in {args.index} is ready", file=sys.stderr)
            return 0
        except IndexProblem as exc:
            print(f"building the index: {exc}", file=sys.stderr)
    try:
        if config.database_url:
            report = _reindex_with_database(engine, config)
        else:
            report = engine.reindex_sync(progress=_progress_bar())
    except ReindexRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except SettingsUnavailable as exc:
        print(f"error: the settings database is unavailable ({exc}); nothing was built", file=sys.stderr)
        return 1
    except (IndexProblem, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # disk full, no permission: nothing was published
        print(f"error: could not build the index ({os_problem(exc)}); the old index stays", file=sys.stderr)
        return 1
    print(report.summary(), file=sys.stderr)
    return 0


def _reindex_with_database(engine, config: Config):  # type: ignore[no-untyped-def]
    """With DATABASE_URL: build under the database's reindex lock (shared with every bot process, on
    any machine) and announce the new version, so running processes swap to it at once."""
    import asyncio

    from bot.fleet import Fleet
    from bot.settings_store import open_settings

    async def build():  # type: ignore[no-untyped-def]
        settings = await open_settings(config)
        fleet = Fleet(engine, settings, register=False)
        try:
            await fleet.start()
            return await asyncio.to_thread(engine.reindex_sync, _progress_bar())
        finally:
            await fleet.stop()
            await settings.close()

    return asyncio.run(build())


def _load(engine) -> bool:  # type: ignore[no-untyped-def]
    from bot.index.errors import IndexProblem

    try:
        engine.load()
    except IndexProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def _question_rows(source: str) -> Iterator[dict[str, Any]]:
    handle: TextIO = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                print(f"line {number}: not JSON ({exc})", file=sys.stderr)
                continue
            if isinstance(row, dict):
                yield row


def answer_json(row_id: Any, answer) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from bot.reply import is_spoiler

    return {
        "id": row_id,
        "answered": answer.answered,
        "message": answer.messages[0] if answer.messages else "",
        "messages": answer.messages,
        "quotes": [
            {
                "text": h.passage.text,
                "file": h.passage.file,
                "title": h.article.title,
                "speaker": h.passage.speaker,
                "score": round(h.score, 4),
                "spoiler": answer.cautious or is_spoiler(h.passage),
            }
            for h in answer.hits
        ],
    }


def cmd_ask(args: argparse.Namespace, config: Config) -> int:
    engine = _engine(args, config)
    if not _load(engine):
        return 1
    if args.questions:
        rows = _question_rows(args.questions)
    elif args.question:
        rows = iter([{"id": 1, "question": args.question}])
    else:
        print("error: give a question or --questions FILE", file=sys.stderr)
        return 2
    for row in rows:
        turns = row.get("turns") or [row.get("question") or ""]
        turns = [str(t) for t in turns]
        answer = engine.ask_sync(turns[-1], history=turns[:-1], k=args.k, mode=args.mode)
        if args.json:
            print(json.dumps(answer_json(row.get("id"), answer), ensure_ascii=False), flush=True)
        else:
            print("\n\n".join(answer.messages), flush=True)
    return 0


def cmd_passages(args: argparse.Namespace, config: Config) -> int:
    from bot.index.errors import IndexProblem
    from bot.index.store import IndexStore
    from bot.reply import spoiler_hint
    from bot.spoilers.render import render_sentences

    store = IndexStore(args.index, model="sentence-transformers/all-MiniLM-L6-v2", dimension=384)
    try:
        index = store.load()
    except IndexProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for p in index.passages:
        flags = p.spoiler.flags if p.spoiler is not None else None
        rendered = render_sentences(p.sentences, flags, mode="tag", hint=spoiler_hint(p.spoiler))
        if args.json:
            print(
                json.dumps(
                    {"id": p.id, "file": p.file, "text": p.text, "rendered": rendered, "speaker": p.speaker},
                    ensure_ascii=False,
                )
            )
        else:
            print(f"[{p.id}] {rendered}")
    return 0


def _ensure_index(engine, args: argparse.Namespace) -> bool:  # type: ignore[no-untyped-def]
    from bot.index.errors import IndexProblem

    try:
        engine.load()
        return True
    except IndexProblem as exc:
        print(f"{exc}\nbuilding the index from {args.corpus} …", file=sys.stderr)
    try:
        report = engine.reindex_sync(progress=_progress_bar())
    except Exception as exc:  # any failure here is reported to the person at the console
        print(f"error: could not build the index: {exc}", file=sys.stderr)
        return False
    print(report.summary(), file=sys.stderr)
    return True


def cmd_chat(args: argparse.Namespace, config: Config) -> int:
    engine = _engine(args, config)
    if not _ensure_index(engine, args):
        return 1
    engine.embedder.warm_up()
    titles = ", ".join(a.title for a in engine.sources()[:3])
    print(f"Local chat with the bot ({len(engine.sources())} articles: {titles}).")
    print("Type a question; 'more' for more quotes, 'who said that?', empty line or Ctrl-D to quit.\n")
    history: list[str] = []
    while True:
        try:
            question = input("you> ")
        except EOFError:
            print()
            return 0
        if not question.strip():
            return 0
        answer = engine.ask_sync(question, history=history[-4:], mode=getattr(args, "mode", "tag"))
        history.append(question)
        for message in answer.messages:
            print(f"bot> {message}\n")


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    if not config.discord_token:
        print(
            "No DISCORD_TOKEN set, so the Discord bot can't log in; opening the local chat console instead.\n"
            "To run on Discord: create an application at https://discord.com/developers/applications,\n"
            "add a bot, copy its token into .env as DISCORD_TOKEN=... (see .env.example), invite it with\n"
            "the applications.commands and bot scopes, and run `python -m bot run` again.\n",
            file=sys.stderr,
        )
        return cmd_chat(args, config)
    try:
        from bot.discord_app.main import run_bot
    except ImportError:
        print("The Discord front end is not installed in this build; opening the console.", file=sys.stderr)
        return cmd_chat(args, config)
    return run_bot(config, args)


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    """Read every process's heartbeat row and the database's health; exit 1 if the database is down."""
    import asyncio
    import dataclasses
    import sqlite3

    from bot.fleet import format_status, gather_status
    from bot.settings_store import SettingsUnavailable, open_settings

    if not config.database_url and not (config.data_dir / "settings.sqlite3").is_file():
        print(
            f"no settings database yet ({config.data_dir / 'settings.sqlite3'} does not exist and "
            "DATABASE_URL is not set): no bot process has run here",
            file=sys.stderr,
        )
        return 1

    async def gather() -> dict[str, Any]:
        # A status check reports a dead database at once instead of waiting for it like a start does.
        settings = await open_settings(dataclasses.replace(config, database_wait_seconds=2.0))
        try:
            return await gather_status(
                settings, heartbeat_seconds=config.heartbeat_seconds, index_dir=args.index
            )
        finally:
            await settings.close()

    try:
        report = asyncio.run(gather())
    except (SettingsUnavailable, OSError, RuntimeError, sqlite3.Error) as exc:
        report = {
            "now": None,
            "database": {"ok": False, "detail": str(exc), "backend": None},
            "published": {},
            "processes": [],
        }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(format_status(report))
    return 0 if report["database"]["ok"] else 1
