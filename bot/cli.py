"""Command line: `index`, `ask`, `passages`, `chat`, `run` and `status`.

`ask --json` and `passages --json` follow the contract in shared/eval/README.md: standard output
holds only JSON lines; logs and progress go to standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bot.config import Config  # noqa: E402
from bot.text import clean_text  # noqa: E402

log = logging.getLogger("bot")


def _parser(config: Config) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="TV-show quote bot")
    sub = parser.add_subparsers(dest="command", required=True)

    def paths(p: argparse.ArgumentParser, corpus: bool = False) -> None:
        p.add_argument(
            "--index", type=Path, default=config.index_dir, help="index folder (default %(default)s)"
        )
        p.add_argument(
            "--library",
            type=_library_arg,
            default="shared",
            help="'shared' (the shipped corpus, default) or a server id: that server's own library, "
            "under <index>/libraries/<id> and <data>/libraries/<id>",
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

    p = sub.add_parser("add", help="fetch an article page by URL into the corpus, then reindex")
    paths(p, corpus=True)
    p.add_argument("url", help="http(s) link to the article page")
    p.add_argument("--replace", action="store_true", help="overwrite a saved page of the same name")
    p.add_argument("--no-reindex", action="store_true", help="only save the page")

    p = sub.add_parser("train", help="fit the learned models on datasets/fanqa and write their artifact")
    p.add_argument("--cv", action="store_true", help="cross-validated figures only; write nothing")
    p.add_argument("--report", action="store_true", help="print the figures stored in the shipped artifact")
    p.add_argument(
        "--final-test", action="store_true", help="also score the locked test shows (once, at the very end)"
    )
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
        "train": cmd_train,
        "add": cmd_add,
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


def _library_arg(value: str) -> str:
    from bot.libraries import check_library_name

    try:
        return check_library_name(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _libraries(args: argparse.Namespace, config: Config | None = None):  # type: ignore[no-untyped-def]
    """The libraries over --corpus/--index (the shared one) and the data folder (servers')."""
    from bot.engine import Engine
    from bot.libraries import Libraries

    config = config or Config.from_env()
    shared = Engine(getattr(args, "corpus", config.corpus_dir), args.index)
    return Libraries(shared, corpus_root=config.data_dir / "libraries", limits=config.library_limits())


def _engine(args: argparse.Namespace, config: Config | None = None):  # type: ignore[no-untyped-def]
    """The engine of --library (default: shared, the --corpus/--index pair as before)."""
    library = getattr(args, "library", "shared")
    libraries = _libraries(args, config)
    engine = libraries.shared if library == "shared" else libraries.engine(library, load=False)
    if config is not None and (config.database_url or "").startswith(("postgres://", "postgresql")):
        # Bot processes on other machines build under the database's lock, which this command does
        # not hold: it must neither build nor clean up "leftovers" that may be their build. (`index`
        # takes the database lock itself: its fleet replaces this refusal.)
        engine.store.lock_factory = _held_by_the_bot_processes
    return engine


@contextlib.contextmanager
def _held_by_the_bot_processes() -> Iterator[None]:
    from bot.index.errors import ReindexRunning

    raise ReindexRunning("with DATABASE_URL set, build the index with `python -m bot index` or /reindex")
    yield


def _audit(config: Config, library: str, action: str, detail: str | None = None) -> None:
    """Record a change made from the command line (user 0) in the library's audit trail: always
    for a server's library, for the shared one when the bot's settings file exists (a bare
    `python -m bot index` in a fresh checkout creates no data folder)."""
    import asyncio

    from bot.settings_store import SettingsStore

    if library == "shared" and not (config.data_dir / "settings.sqlite3").is_file():
        return

    async def write() -> None:
        async with await SettingsStore.open(config.data_dir / "settings.sqlite3") as store:
            await store.add_library_event(library, 0, action, detail)

    try:
        asyncio.run(write())
    except Exception as exc:  # the change is made; a missing audit line is reported, not fatal
        print(f"warning: could not record the change in the audit trail: {exc}", file=sys.stderr)


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

    engine = _engine(args, config)
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
        if getattr(args, "library", "shared") != "shared":
            engine.corpus_dir.mkdir(parents=True, exist_ok=True)  # a server's library starts empty
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
    except (IndexProblem, FileNotFoundError, NotADirectoryError) as exc:  # no index, no corpus folder
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # disk full, no permission: nothing was published
        print(f"error: could not build the index ({os_problem(exc)}); the old index stays", file=sys.stderr)
        return 1
    _audit(config, getattr(args, "library", "shared"), "reindex", f"command line: {report.version}")
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


class BadQuestions(Exception):
    """The --questions file cannot be read at all; the message is the one line to print."""


def _question_lines(source: str) -> Iterable[bytes]:
    """The lines of the --questions file (checked whole before anything is answered) or of stdin."""
    if source == "-":
        stdin = getattr(sys.stdin, "buffer", None)  # bytes, so a bad line is that row's error
        return stdin if stdin is not None else (line.encode("utf-8", "surrogateescape") for line in sys.stdin)
    path = Path(source)
    if path.is_dir():
        raise BadQuestions(f"--questions {source} is a folder, not a file of questions")
    try:
        data = path.read_bytes()
        data.decode("utf-8")
    except FileNotFoundError:
        raise BadQuestions(f"--questions file {source} does not exist") from None
    except UnicodeDecodeError as exc:
        where = f"invalid byte at offset {exc.start}"
        raise BadQuestions(f"--questions {source} is not UTF-8 text ({where})") from None
    except OSError as exc:
        raise BadQuestions(f"cannot read --questions {source} ({exc.strerror or exc})") from None
    return data.splitlines()


def _question_rows(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """One row per non-blank line, in order: {"id", "turns"} to answer, or {"id", "error"} for a
    line that is not a question, so every input row gets exactly one output row. Strings are
    cleaned of lone surrogates (JSON may spell "\\ud800"), which the tokenizer cannot take."""
    for number, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield {"id": None, "error": f"line {number}: not UTF-8 text"}
            continue
        if not line.strip():
            continue
        try:
            row = _clean(json.loads(line))
        except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            yield {"id": None, "error": f"line {number}: not JSON ({why})"}
            continue
        if not isinstance(row, dict):
            yield {"id": None, "error": f'line {number}: expected an object with "question" or "turns"'}
            continue
        question, turns = row.get("question"), row.get("turns")
        if turns is not None and not (isinstance(turns, list) and all(isinstance(t, str) for t in turns)):
            yield {"id": row.get("id"), "error": f'line {number}: "turns" must be a list of strings'}
        elif question is not None and not isinstance(question, str):
            yield {"id": row.get("id"), "error": f'line {number}: "question" must be a string'}
        else:
            yield {"id": row.get("id"), "turns": turns or [question or ""]}


def _clean(value: Any) -> Any:
    """A parsed JSON value with every string passed through clean_text."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): _clean(v) for k, v in value.items()}
    return value


def answer_json(row_id: Any, answer) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from bot.render.reply import is_spoiler

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
    if args.questions:
        try:
            rows = _question_rows(_question_lines(args.questions))
        except BadQuestions as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif args.question:
        rows = iter([{"id": 1, "turns": [clean_text(args.question)]}])  # argv keeps bad bytes as "\\udcff"
    else:
        print("error: give a question or --questions FILE", file=sys.stderr)
        return 2
    engine = _engine(args, config)
    if not _load(engine):
        return 1
    for row in rows:
        result = row if "error" in row else _answer_row(engine, row, args)
        if args.json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        elif "error" in result:
            print(f"error: {result['error']}", flush=True)
        else:
            print("\n\n".join(result["messages"]), flush=True)
    return 0


def _answer_row(engine, row: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The answer to one row; a failure is that row's error, and the batch goes on."""
    turns = row["turns"]
    try:
        answer = engine.ask_sync(turns[-1], history=turns[:-1], k=args.k, mode=args.mode)
    except Exception as exc:
        log.exception("answering row %r failed", row.get("id"))
        return {"id": row.get("id"), "error": f"could not answer ({type(exc).__name__})"}
    return answer_json(row.get("id"), answer)


def cmd_passages(args: argparse.Namespace, config: Config) -> int:
    from bot.index.errors import IndexProblem
    from bot.index.store import IndexStore
    from bot.render.markdown import render_sentences
    from bot.render.reply import spoiler_hint

    library = getattr(args, "library", "shared")
    root = args.index if library == "shared" else _libraries(args, config).index_dir(library)
    store = IndexStore(root, model="sentence-transformers/all-MiniLM-L6-v2", dimension=384)
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
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")  # a byte that is not UTF-8 must not end the session
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


def cmd_train(args: argparse.Namespace, config: Config) -> int:
    """Figures as readable lines on stderr and, last on stdout, one JSON line of FIGURE_KEYS."""
    from bot.training.run import FIGURE_KEYS, stored_figures, train

    if args.report:
        figures = stored_figures()
        if figures is None:
            print("error: no learned artifact is shipped; run python -m bot train", file=sys.stderr)
            return 1
        _print_other_figures(figures, FIGURE_KEYS)
        print(json.dumps({k: figures.get(k) for k in FIGURE_KEYS}))
        return 0
    try:
        result = train(write=not args.cv, final_test=args.final_test)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if "test" in result:
        print("locked test shows: " + json.dumps(result["test"]), file=sys.stderr)
    print(f"trained in {result['seconds']}s; cross-validated by show over 5 folds:", file=sys.stderr)
    _print_other_figures(result["cv"], FIGURE_KEYS)
    print(json.dumps({k: result["cv"].get(k) for k in FIGURE_KEYS}))
    return 0


def _print_other_figures(figures: dict, shown: Sequence[str]) -> None:
    """The figures beside the issue's JSON line (junk, shows, hit@1 on the first writer's gold),
    one per line on stderr, so a stored artifact's report hides none of what training measured."""
    for key, value in figures.items():
        if key not in shown:
            print(f"  {key}: {value}", file=sys.stderr)


def cmd_add(args: argparse.Namespace, config: Config) -> int:
    """Fetch a page (guarded: public addresses only, size, type, redirects), save it, reindex."""
    import asyncio

    from bot.discord_app.uploads import UploadRejected, check_upload, safe_name, save_article
    from bot.ingest.fetch import FetchRefused, fetch_page, page_file_name, with_source

    folder = _engine(args, config).corpus_dir  # --library: a server's folder, else --corpus
    try:
        page = asyncio.run(fetch_page(args.url, config.fetch_limits()))
        data = with_source(page.html, page.url).encode("utf-8")
        check_upload(data, config.fetch_limits().max_bytes)
        path = save_article(folder, safe_name(page_file_name(page.url)), data, replace=args.replace)
    except (FetchRefused, UploadRejected) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _audit(config, args.library, "add", f"{path.name} from {page.url}"[:300])
    print(f"saved {page.url} as {path}", file=sys.stderr)
    if args.no_reindex:
        return 0
    return cmd_index(argparse.Namespace(**{**vars(args), "verify": False, "if_missing": False}), config)


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    """Read every process's heartbeat row and the database's health; exit 1 if the database is down."""
    import asyncio
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
        settings = await open_settings(config.model_copy(update={"database_wait_seconds": 2.0}))
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
