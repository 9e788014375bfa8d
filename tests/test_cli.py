"""The command-line contract of shared/eval/README.md, driven the way the evaluator drives it.

The three model-loading commands (`index`, `passages`, `ask`) run once per module, as
subprocesses; every test below reads their results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.embedder import DIMENSION, MODEL_NAME
from bot.index.store import IndexStore
from bot.render.reply import is_spoiler

ROOT = Path(__file__).resolve().parents[1]

EXTRA_ARTICLE = """\
---
title: "Luke Cage: the hoodie, the bar and Harlem"
date: 2016-10-07
author: Sam Ortega
outlet: Harlem Herald
shows: [Luke Cage]
---

Mike Colter wore the same hoodie for most of the season, and the wardrobe team made forty copies.

Pop's barbershop is where Luke feels most at home in Harlem.
"""

QUESTIONS: list[dict[str, Any]] = [
    {"id": "kill", "question": "why did jj kill kilgrave?"},
    {"id": 2, "question": "what's the best pizza topping?"},
    {"id": "more", "turns": ["why did jj kill kilgrave?", "more"]},
    {"id": "colter", "question": "what did colter say about luke and jessica?"},
    {"id": "empty", "question": "   "},
    {"id": "follow", "turns": ["what did colter say about luke and jessica?", "who said that?"]},
]


@dataclass(frozen=True)
class Runs:
    corpus: Path
    index: Path
    index_run: subprocess.CompletedProcess[str]
    passages_run: subprocess.CompletedProcess[str]
    ask_run: subprocess.CompletedProcess[str]


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    for name in ("CORPUS_DIR", "INDEX_DIR", "DISCORD_TOKEN"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,  # a folder without .env, so the developer's settings cannot leak in
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    try:
        stdout, stderr = process.communicate(stdin, timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def bot(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return finish(start(args, cwd), stdin)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    base = tmp_path_factory.mktemp("cli")
    corpus = base / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "luke-cage-hoodie.md").write_text(EXTRA_ARTICLE, encoding="utf-8")
    index = base / "index"
    index_run = bot(["index", "--corpus", str(corpus), "--index", str(index)], base)
    # Both only read the index: run them side by side.
    stdin = "".join(json.dumps(q) + "\n" for q in QUESTIONS)
    asking = start(
        ["ask", "--index", str(index), "--corpus", str(corpus), "--json", "--questions", "-"], base
    )
    passages_run = bot(["passages", "--index", str(index), "--json"], base)
    return Runs(corpus, index, index_run, passages_run, finish(asking, stdin))


def json_lines(run: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert run.returncode == 0, run.stderr[-2000:]
    rows = []
    for line in run.stdout.splitlines():
        row = json.loads(line)  # standard output holds nothing but JSON lines
        assert isinstance(row, dict)
        rows.append(row)
    return rows


def bars(text: str) -> int:
    count, i = 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text.startswith("||", i):
            count, i = count + 1, i + 2
        else:
            i += 1
    return count


@pytest.fixture(scope="module")
def answers(runs: Runs) -> dict[Any, dict[str, Any]]:
    rows = json_lines(runs.ask_run)
    assert [row["id"] for row in rows] == [q["id"] for q in QUESTIONS]  # one line each, in order
    return {row["id"]: row for row in rows}


# ----------------------------------------------------------------------------- index


def test_index_exits_zero_and_prints_nothing_on_stdout(runs: Runs) -> None:
    assert runs.index_run.returncode == 0, runs.index_run.stderr[-2000:]
    assert runs.index_run.stdout == ""
    assert "2 articles" in runs.index_run.stderr
    loaded = IndexStore(runs.index, model=MODEL_NAME, dimension=DIMENSION).load()
    assert set(loaded.articles) == {"000-seed-ritter-colter.txt", "luke-cage-hoodie.md"}


# ----------------------------------------------------------------------------- passages


def test_passages_json_lists_every_indexed_passage(runs: Runs) -> None:
    rows = json_lines(runs.passages_run)
    loaded = IndexStore(runs.index, model=MODEL_NAME, dimension=DIMENSION).load()
    assert [row["id"] for row in rows] == [p.id for p in loaded.passages]
    assert len({row["id"] for row in rows}) == len(rows)
    for row, passage in zip(rows, loaded.passages, strict=True):
        assert {"id", "file", "text", "rendered"} <= row.keys()
        assert row["file"] == passage.file and row["text"] == passage.text
        assert row["id"].startswith(row["file"] + "#")
        assert isinstance(row["rendered"], str) and row["rendered"]
        assert bars(row["rendered"]) % 2 == 0
        # Finale content (or content of unknown status) is tagged; the rest is not.
        assert (bars(row["rendered"]) > 0) == is_spoiler(passage), row["id"]


# ----------------------------------------------------------------------------- ask


def test_every_answer_has_the_contract_fields(answers: dict[Any, dict[str, Any]]) -> None:
    for row in answers.values():
        assert isinstance(row["answered"], bool)
        assert isinstance(row["message"], str) and row["message"].strip()
        assert len(row["message"]) <= 2000
        assert bars(row["message"]) % 2 == 0
        assert isinstance(row["quotes"], list)
        for quote in row["quotes"]:
            assert set(quote) >= {"text", "file", "title", "speaker", "score", "spoiler"}
            assert isinstance(quote["text"], str) and quote["text"]
            assert quote["file"] in {"000-seed-ritter-colter.txt", "luke-cage-hoodie.md"}
            assert isinstance(quote["title"], str) and quote["title"]
            assert quote["speaker"] is None or isinstance(quote["speaker"], str)
            assert isinstance(quote["score"], float)
            assert isinstance(quote["spoiler"], bool)
        scores = [q["score"] for q in row["quotes"]]
        assert scores == sorted(scores, reverse=True)  # best first


def test_on_topic_question_is_answered(answers: dict[Any, dict[str, Any]]) -> None:
    row = answers["kill"]
    assert row["answered"] is True
    assert "Kilgrave" in row["quotes"][0]["text"]


def test_who_said_question_finds_the_speaker(answers: dict[Any, dict[str, Any]]) -> None:
    row = answers["colter"]
    assert row["answered"] is True
    assert row["quotes"][0]["speaker"] == "Mike Colter"


def test_off_topic_and_empty_questions_are_declined(answers: dict[Any, dict[str, Any]]) -> None:
    for key in (2, "empty"):
        row = answers[key]
        assert row["answered"] is False
        assert row["quotes"] == []
        assert row["message"]


def test_turns_answer_the_last_message_in_context(answers: dict[Any, dict[str, Any]]) -> None:
    first = answers["kill"]
    more = answers["more"]
    assert more["answered"] is True and more["quotes"]
    shown_first = {q["text"] for q in first["quotes"][:3]}  # the message shows three quotes
    assert more["quotes"][0]["text"] not in shown_first
    assert more["message"] != first["message"]
    follow = answers["follow"]
    assert follow["answered"] is True
    assert "Mike Colter" in follow["message"]


def test_spoiler_quotes_are_tagged_in_the_message(answers: dict[Any, dict[str, Any]]) -> None:
    checked = 0
    for key in ("kill", "colter", "more"):
        row = answers[key]
        blocks = [b for b in row["message"].split("\n\n") if b.startswith("> ")]
        assert blocks
        for block, quote in zip(blocks, row["quotes"], strict=False):  # one block per quote shown
            assert quote["text"].split()[0] in block.replace("\\", "")  # the block is this quote
            assert (bars(block) >= 2) == quote["spoiler"], (key, quote["text"][:60])
            checked += quote["spoiler"]
    assert checked  # the seed corpus is about a finale: some quotes must be spoilers


# ----------------------------------------------------------------------------- failures


def test_a_missing_index_fails_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "no-index"
    run = bot(["ask", "--index", str(missing), "--json", "--questions", "-"], tmp_path, '{"id": 1}\n')
    assert run.returncode != 0
    assert run.stdout == ""
    assert "no index" in run.stderr and "python -m bot index" in run.stderr


def test_run_without_a_token_opens_the_console_over_the_same_engine(runs: Runs) -> None:
    """The README's main command with no DISCORD_TOKEN: says how to add one, then chats."""
    run = bot(
        ["run", "--index", str(runs.index), "--corpus", str(runs.corpus)],
        runs.index.parent,
        "why did jj kill kilgrave?\nwho said that?\n\n",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "DISCORD_TOKEN" in run.stderr
    assert "bot> " in run.stdout and "Kilgrave" in run.stdout
    assert "That was **Krysten Ritter**" in run.stdout


def test_library_option_builds_and_lists_a_server_library_apart(tmp_path: Path, runs: Runs) -> None:
    """`--library ID` reads `<data>/libraries/ID` and writes `<index>/libraries/ID`; shared is untouched."""
    import sqlite3

    folder = tmp_path / "data" / "libraries" / "123"
    folder.mkdir(parents=True)
    (folder / "server-only.md").write_text(EXTRA_ARTICLE.replace("Harlem Herald", "Server Gazette"), "utf-8")
    index = tmp_path / "index"
    shutil.copytree(runs.index, index)
    built = bot(["index", "--library", "123", "--corpus", str(runs.corpus), "--index", str(index)], tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    assert (index / "libraries" / "123" / "CURRENT").is_file()
    server = json_lines(bot(["passages", "--json", "--library", "123", "--index", str(index)], tmp_path))
    assert {row["file"] for row in server} == {"server-only.md"}
    shared = json_lines(bot(["passages", "--json", "--index", str(index)], tmp_path))
    assert "server-only.md" not in {row["file"] for row in shared}
    with sqlite3.connect(tmp_path / "data" / "settings.sqlite3") as db:
        assert db.execute("SELECT library, user_id, action FROM library_audit").fetchall() == [
            ("123", 0, "reindex")
        ]
    refused = bot(["passages", "--library", "../123", "--index", str(index)], tmp_path)
    assert refused.returncode == 2 and "not a library name" in refused.stderr
