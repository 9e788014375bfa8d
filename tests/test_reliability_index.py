"""Reliability suite, index and files: kills, crashes, damage, races and a full disk never cost the
bot the index it serves, never publish half a version, and are explained in one clear sentence.
Also: the event loop stays responsive while real questions and a real reindex run.

See docs/reliability.md for the whole list and which tests (here and elsewhere) cover each item.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from test_discord_support import ADMIN, OWNER_ID, Services, command, invoke
from test_reply import parse

from bot import cli
from bot.discord_app.cogs.admin import ALREADY_RUNNING
from bot.discord_app.progress import ProgressReporter
from bot.embedder import Embedder
from bot.engine import Engine, Snapshot
from bot.index import store as store_module
from bot.index.errors import IndexCorrupt, IndexProblem
from bot.index.store import IndexStore, file_sha256

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "what did krysten ritter say about kilgrave"
FIXTURE_ARTICLES = ROOT / "datasets" / "fanqa" / "articles"

session_loop = pytest.mark.asyncio(loop_scope="session")


def _versions(store: IndexStore) -> list[str]:
    return sorted(p.name for p in store.versions_dir.iterdir())


def _article(name: str, number: int) -> str:
    return textwrap.dedent(
        f"""\
        ---
        title: Trish Walker radio diary {number}
        outlet: Test Weekly
        date: 2016-10-0{number % 9 + 1}
        shows: [Jessica Jones]
        ---
        Trish Walker said her radio show number {number} was about {name} and nothing else that week.

        "Radio taught me to talk about {name} for an hour without notes," Walker said of episode {number}.
        """
    )


# ---------------------------------------------------------------------- kill -9 mid-build

_KILLED_BUILD = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from bot.index import store

real = store._write_file

def write_then_hang(path, data):
    real(path, data)
    if path.name == "passages.jsonl":  # files of the new version are half written
        Path({marker!r}).write_text(str(os.getpid()))
        time.sleep(120)

store._write_file = write_then_hang
from bot.cli import main
raise SystemExit(main(["index", "--corpus", {corpus!r}, "--index", {index!r}]))
"""


def test_kill_9_during_a_cli_reindex_keeps_the_old_index_and_the_next_start_cleans_up(
    seed_index: tuple[Path, Path], embedder: Embedder, tmp_path: Path
) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(seed_index[0], corpus)
    shutil.copytree(seed_index[1], index)
    (corpus / "010-trish.md").write_text(_article("Kilgrave", 1), encoding="utf-8")
    store = IndexStore(index, model=embedder.name, dimension=embedder.dimension)
    old, versions = store.current_version(), _versions(store)
    marker = tmp_path / "writing"
    script = _KILLED_BUILD.format(root=str(ROOT), marker=str(marker), corpus=str(corpus), index=str(index))
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the build never reached the write"
            time.sleep(0.02)
        building = list(store.versions_dir.glob(".building-*"))
        assert len(building) == 1 and (building[0] / "passages.jsonl").is_file()
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert store.current_version() == old  # the switch never happened
    assert [p for p in _versions(store) if not p.startswith(".")] == versions
    # The next start: leftovers are cleaned (the dead process's lock is gone), the old index served.
    restarted = Engine(corpus, index, embedder=embedder)
    restarted.load()
    assert restarted.version == old
    assert not list(store.versions_dir.glob(".building-*")) and not list(index.glob(".CURRENT.*"))
    answer = restarted.ask_sync("what did trish walker say about her radio show")
    assert all(h.passage.file != "010-trish.md" for h in answer.hits)
    # ... and the next reindex publishes the new article.
    restarted.reindex_sync()
    assert restarted.version != old
    assert "010-trish.md" in {a.file for a in restarted.sources()}


# ---------------------------------------------------------------------- a damaged newer version


def _copy_as_new_version(store: IndexStore, name: str) -> Path:
    current = store.versions_dir / str(store.current_version())
    copy = store.versions_dir / name
    shutil.copytree(current, copy)
    (copy / ".verified").unlink(missing_ok=True)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["version"] = name
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def _damage(folder: Path, how: str) -> str:
    """Damage one version the way disks, people and other builds do; return what the message names."""
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if how == "truncated":
        data = (folder / "vectors.npy").read_bytes()
        (folder / "vectors.npy").write_bytes(data[: len(data) // 2])
        return "vectors.npy"
    if how == "bit flip":
        data = bytearray((folder / "passages.jsonl").read_bytes())
        data[len(data) // 2] ^= 0x04
        (folder / "passages.jsonl").write_bytes(bytes(data))
        return "passages.jsonl"
    if how == "checksum mismatch":
        manifest["checksums"]["articles.json"] = "0" * 64
    elif how == "other model":
        manifest["model"] = "sentence-transformers/all-mpnet-base-v2"
    elif how == "other dimension":
        manifest["dimension"] = 768
    manifest_path.write_text(json.dumps(manifest))
    return {"checksum mismatch": "articles.json", "other model": "all-mpnet", "other dimension": "768"}[how]


@pytest.mark.parametrize(
    "how", ["truncated", "bit flip", "checksum mismatch", "other model", "other dimension"]
)
def test_a_running_engine_keeps_its_snapshot_when_reloading_a_damaged_index_fails(
    engine: Engine, how: str
) -> None:
    before = engine.ask_sync(QUESTION)
    version = engine.version
    damaged = _copy_as_new_version(engine.store, "v99990101T000000000000-damaged")
    says = _damage(damaged, how)
    (engine.store.root / "CURRENT").write_text(damaged.name + "\n")

    with pytest.raises(IndexCorrupt) as info:
        engine.load()
    message = str(info.value)
    assert says in message and "rebuild" in message and len(message) < 400
    assert engine.version == version  # still serving the good snapshot
    after = engine.ask_sync(QUESTION)
    assert [h.passage.id for h in after.hits] == [h.passage.id for h in before.hits]
    assert after.messages == before.messages


# ---------------------------------------------------------------------- pickled .npy files


class _Trap:
    """Unpickling this creates a file: proof that pickled data was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


def _npy_files(index: Path) -> list[str]:
    folder = index / "versions" / (index / "CURRENT").read_text().strip()
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.npy"))


def _plant_pickle(index: Path, name: str, marker: Path) -> None:
    """Replace one .npy of the served version by a pickled object array, with its checksum
    updated as an attacker with write access would."""
    folder = index / "versions" / (index / "CURRENT").read_text().strip()
    payload = np.empty(3, dtype=object)
    payload[:] = [_Trap(marker) for _ in range(3)]
    with (folder / name).open("wb") as handle:
        np.save(handle, payload, allow_pickle=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    table = "checksums" if name in manifest["checksums"] else "derived_checksums"
    assert name in manifest[table], f"{name} is not checksummed"
    manifest[table][name] = file_sha256(folder / name)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / ".verified").unlink(missing_ok=True)


def test_a_pickled_npy_file_is_never_unpickled(
    seed_index: tuple[Path, Path], embedder: Embedder, tmp_path: Path
) -> None:
    """Every .npy a published version holds (vectors, derived search data, embedding caches), in
    turn replaced by pickled objects: loading refuses it with a clear message (or falls back to
    recomputing what it held) and nothing in it runs, at start or at the next reindex."""
    names = _npy_files(seed_index[1])
    assert {"vectors.npy", "vectors.scale.npy", "embed_cache/sentence_vectors.npy"} <= set(names)
    outcomes: dict[str, str] = {}
    for number, name in enumerate(names):
        corpus, index = tmp_path / f"corpus{number}", tmp_path / f"index{number}"
        shutil.copytree(seed_index[0], corpus)
        shutil.copytree(seed_index[1], index)
        marker = tmp_path / f"pwned{number}"
        _plant_pickle(index, name, marker)
        served = Engine(corpus, index, embedder=embedder)
        try:
            served.load()
        except IndexProblem as exc:
            outcomes[name] = "refused"
            assert "rebuild" in str(exc), (name, str(exc))
        else:
            outcomes[name] = "recomputed"
            assert served.ask_sync(QUESTION).answered, name
            served.reindex_sync()  # reads the served version's embedding caches
            assert served.ask_sync(QUESTION).answered, name
        assert not marker.exists(), f"unpickled {name}"
    assert outcomes["vectors.npy"] == outcomes["vectors.scale.npy"] == "refused"


# ---------------------------------------------------------------------- a full disk


def _fail_when_writing(monkeypatch: pytest.MonkeyPatch, target: str) -> list[str]:
    """Make writing `target` (a file name in a new version) fail with ENOSPC; returns a log."""
    hits: list[str] = []
    full = OSError(errno.ENOSPC, "No space left on device")
    real_write, real_save = store_module._write_file, np.save

    def write_file(path: Path, data: bytes) -> None:
        if path.name == target:
            hits.append(target)
            raise full
        real_write(path, data)

    def save(file: Any, array: Any, *args: Any, **kwargs: Any) -> None:
        name = Path(getattr(file, "name", file)).name
        if name in (target, f"{target}.npy"):
            hits.append(target)
            raise full
        real_save(file, array, *args, **kwargs)

    monkeypatch.setattr(store_module, "_write_file", write_file)
    monkeypatch.setattr(np, "save", save)
    return hits


DISK_FULL_AT = ["vectors.npy", "passages.jsonl", "meta.npy", "articles.json", "manifest.json"]


@session_loop
@pytest.mark.parametrize("target", DISK_FULL_AT)
async def test_disk_full_during_a_discord_reindex_publishes_nothing_and_says_so(
    services: Services, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    engine = services.engine
    (engine.corpus_dir / "010-trish.md").write_text(_article("Kilgrave", 2), encoding="utf-8")
    version, versions = engine.version, _versions(engine.store)
    hits = _fail_when_writing(monkeypatch, target)
    admin = services.interaction(permissions=ADMIN, user_id=OWNER_ID)
    await invoke(services.bot, command(services.bot, "reindex"), admin, shared=True)
    assert hits == [target]
    final = admin.texts[-1]
    assert final.startswith("Reindex failed: the disk is full.") and "previous index" in final
    assert engine.version == version and _versions(engine.store) == versions  # nothing half published
    assert engine.store.current_version() == version
    asked = services.interaction()
    await invoke(services.bot, command(services.bot, "ask"), asked, question=QUESTION)
    assert (asked.answers[0].content or "").startswith("> ")
    monkeypatch.undo()
    again = services.interaction(permissions=ADMIN, user_id=OWNER_ID)  # space freed: the lock was released
    await invoke(services.bot, command(services.bot, "reindex"), again, shared=True)
    assert again.texts[-1].startswith("Reindex done") and engine.version != version


def test_disk_full_during_a_cli_reindex_is_one_clear_line_and_exit_1(
    engine: Engine,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (engine.corpus_dir / "010-trish.md").write_text(_article("Kilgrave", 3), encoding="utf-8")
    version, versions = engine.version, _versions(engine.store)
    monkeypatch.setattr("bot.engine.Embedder", lambda *args, **kwargs: embedder)  # one model per session
    _fail_when_writing(monkeypatch, "articles.json")
    argv = ["index", "--corpus", str(engine.corpus_dir), "--index", str(engine.store.root)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "error: could not build the index (the disk is full); the old index stays" in err
    assert "Traceback" not in err
    assert engine.store.current_version() == version and _versions(engine.store) == versions


# ---------------------------------------------------------------------- NaN vectors, empty corpus


@session_loop
async def test_nan_or_zero_vectors_from_the_model_are_refused_and_the_old_index_kept(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = services.engine
    (engine.corpus_dir / "010-trish.md").write_text(_article("Luke", 4), encoding="utf-8")
    version, versions = engine.version, _versions(engine.store)
    real_embed = engine.embedder.embed

    def broken(texts: Any, **kwargs: Any) -> np.ndarray:
        vectors = np.array(real_embed(texts, **kwargs))
        vectors[::2] = np.nan
        vectors[1::2] = 0.0
        return vectors

    monkeypatch.setattr(engine.embedder, "embed", broken)
    admin = services.interaction(permissions=ADMIN, user_id=OWNER_ID)
    await invoke(services.bot, command(services.bot, "reindex"), admin, shared=True)
    assert "Reindex failed" in admin.texts[-1] and "NaN" in admin.texts[-1]
    assert engine.version == version and _versions(engine.store) == versions


@session_loop
async def test_an_empty_corpus_publishes_nothing_through_discord(services: Services) -> None:
    engine = services.engine
    for path in engine.corpus_dir.iterdir():
        if path.suffix in (".txt", ".md", ".html"):
            path.unlink()
    version, versions = engine.version, _versions(engine.store)
    admin = services.interaction(permissions=ADMIN, user_id=OWNER_ID)
    await invoke(services.bot, command(services.bot, "reindex"), admin, shared=True)
    assert "Reindex failed" in admin.texts[-1] and "no readable articles" in admin.texts[-1]
    assert engine.version == version and _versions(engine.store) == versions


@session_loop
async def test_a_failing_spoiler_detector_tags_every_passage(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spoiler status unknown: the reindex goes on, says so, and every quote is tagged whole."""
    engine = services.engine
    (engine.corpus_dir / "010-trish.md").write_text(_article("Luke", 6), encoding="utf-8")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("classifier exploded")

    monkeypatch.setattr("bot.build.detect_spoilers", broken)
    admin = services.interaction(permissions=ADMIN, user_id=OWNER_ID)
    await invoke(services.bot, command(services.bot, "reindex"), admin, shared=True)
    assert admin.texts[-1].startswith("Reindex done") and "spoiler detection failed" in admin.texts[-1]
    assert engine.snapshot is not None
    assert all(p.spoiler is None for p in engine.snapshot.index.passages)
    asked = services.interaction()
    await invoke(services.bot, command(services.bot, "ask"), asked, question=QUESTION)
    quotes = [line for a in asked.answers for line in (a.content or "").splitlines() if line.startswith("> ")]
    assert quotes
    for line in quotes:
        outside, inside, _, _ = parse(line[2:])
        assert outside.strip() in ("Finale spoiler:", "") and inside.strip()


# ---------------------------------------------------------------------- Discord and CLI at once


@session_loop
async def test_a_cli_reindex_while_discord_reindexes_says_already_running(
    services: Services,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine, bot = services.engine, services.bot
    entered, release = threading.Event(), threading.Event()
    real_progress = ProgressReporter.__call__

    def gated(self: ProgressReporter, stage: str, done: int, total: int) -> None:
        entered.set()  # the Discord reindex holds the lock here
        assert release.wait(30)
        real_progress(self, stage, done, total)

    monkeypatch.setattr(ProgressReporter, "__call__", gated)
    monkeypatch.setattr("bot.engine.Embedder", lambda *args, **kwargs: embedder)
    admin = services.interaction(permissions=ADMIN, user_id=OWNER_ID)
    running = asyncio.create_task(invoke(bot, command(bot, "reindex"), admin, shared=True))
    try:
        assert await asyncio.to_thread(entered.wait, 30)
        argv = ["index", "--corpus", str(engine.corpus_dir), "--index", str(engine.store.root)]
        code = await asyncio.to_thread(cli.main, argv)
        assert code == 3
        assert "a reindex is already running" in capsys.readouterr().err
        second = services.interaction(permissions=ADMIN, user_id=OWNER_ID)
        await invoke(bot, command(bot, "reindex"), second, shared=True)
        assert second.texts[-1] == ALREADY_RUNNING
    finally:
        release.set()
        await asyncio.wait_for(running, 60)
    assert admin.texts[-1].startswith("Reindex done")


# ---------------------------------------------------------------------- questions during the swap


@session_loop
async def test_every_answer_during_hot_swaps_comes_from_exactly_one_index_version(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Questions race three reindexes, each changing the corpus. The snapshot each answer used is
    recorded: every quoted passage (id, text, article) belongs to that one version."""
    records: list[tuple[Any, list[Any]]] = []
    real_answer = Engine._answer

    def recording(self: Engine, snapshot: Any, *args: Any, **kwargs: Any) -> Any:
        answer = real_answer(self, snapshot, *args, **kwargs)
        records.append((snapshot.index, list(answer.hits)))
        return answer

    monkeypatch.setattr(Engine, "_answer", recording)
    done = asyncio.Event()

    async def asker(question: str) -> int:
        count = 0
        while not done.is_set():
            answer = await engine.ask(question)
            assert answer.messages
            count += 1
        return count

    questions = ["what did trish walker say about her radio show", QUESTION, "why did jessica kill kilgrave?"]
    askers = [asyncio.create_task(asker(q)) for q in questions]
    try:
        for number, name in enumerate(["Kilgrave", "Malcolm", "Jeri"], start=5):
            for old in engine.corpus_dir.glob("0*-trish-*.md"):
                old.unlink()
            path = engine.corpus_dir / f"0{number}-trish-{name.lower()}.md"
            path.write_text(_article(name, number), encoding="utf-8")
            await engine.reindex()
            await asyncio.sleep(0.05)
    finally:
        done.set()
        counts = await asyncio.gather(*askers)
    assert sum(counts) >= 12
    versions = {index.version for index, _ in records}
    assert len(versions) >= 3  # answers really straddled the swaps
    by_version: dict[str, dict[str, Any]] = {}
    for index, hits in records:
        passages = by_version.setdefault(index.version, {p.id: p for p in index.passages})
        for hit in hits:
            assert passages[hit.passage.id] == hit.passage, (index.version, hit.passage.id)
            assert index.articles[hit.passage.file] == hit.article


# ---------------------------------------------------------------------- the event loop stays free


@session_loop
async def test_the_event_loop_never_lags_during_real_questions_and_a_real_reindex(services: Services) -> None:
    """A ticker measures how late the loop wakes it while fans ask (the real model) and an admin
    reindexes five new articles (reading, spoiler detection, embedding, publishing)."""
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    for path in sorted(FIXTURE_ARTICLES.glob("fx-tuning-*")):
        shutil.copy(path, services.engine.corpus_dir / path.name)
    # A running bot has its worker threads started and its start-up garbage settled: so does the test
    # (starting a thread waits for it to get the GIL; a full collection of the test session's heap
    # pauses every thread, and neither is work done on the loop).
    await asyncio.gather(*(asyncio.to_thread(time.sleep, 0.01) for _ in range(8)))
    gc.collect()
    gc.freeze()
    tick = asyncio.create_task(ticker())
    try:
        await asyncio.sleep(0.05)
        version = services.engine.version

        async def ask(n: int) -> Any:
            interaction = services.interaction(user_id=80_000 + n)
            await invoke(services.bot, command(services.bot, "ask"), interaction, question=f"{QUESTION} {n}")
            return interaction

        started = time.perf_counter()
        admin = services.interaction(permissions=ADMIN, user_id=OWNER_ID)
        results = await asyncio.gather(
            invoke(services.bot, command(services.bot, "reindex"), admin, shared=True),
            *(ask(n) for n in range(12)),
        )
        busy = time.perf_counter() - started
        for n in range(12, 18):  # and questions against the new, bigger index
            results.append(await ask(n))
        sources = services.interaction()
        await invoke(services.bot, command(services.bot, "sources"), sources, page=1)
    finally:
        stop.set()
        await tick
        gc.unfreeze()
    assert admin.texts[-1].startswith("Reindex done") and services.engine.version != version
    assert all(r.answers for r in results[1:])
    # The ticker ran all through the work (a fast machine finishes it in under 0.2 s, so the count of
    # ticks, not the duration, shows that the loop was watched while the work ran).
    assert len(lags) > 20 and busy > 0
    # The requirement is 100 ms. A reindex stage or a show-list rebuild done on the loop stalls it
    # for 0.3 s to seconds and fails both checks; worker threads only compete for the GIL, which on
    # this 2-core machine costs 10-50 ms and, rarely, one longer hand-over.
    ordered = sorted(lags)
    p99, worst = ordered[int(len(ordered) * 0.99)], ordered[-1]
    assert p99 < 0.1, f"the event loop lagged {p99 * 1000:.0f} ms (99th percentile)"
    assert worst < 0.25, f"the event loop stalled for {worst * 1000:.0f} ms"


class _SlowPassages(Sequence[Any]):
    """The passages of a huge index read lazily from disk: going through them all takes a while."""

    def __init__(self, passages: Sequence[Any], seconds: float) -> None:
        self._passages = passages
        self._pause = seconds / max(1, len(passages))

    def __len__(self) -> int:
        return len(self._passages)

    def __getitem__(self, row: Any) -> Any:
        time.sleep(self._pause)
        return self._passages[row]


@session_loop
async def test_rebuilding_the_show_list_after_a_swap_runs_off_the_event_loop(services: Services) -> None:
    """/sources, /watched and its autocomplete list the shows of the served index; after a swap
    that list is rebuilt from every passage, which for a big index must not stall the loop."""
    engine = services.engine
    snapshot = engine.snapshot
    assert snapshot is not None
    slow = replace(snapshot.index, version="v-big", passages=_SlowPassages(snapshot.index.passages, 0.4))
    engine._snapshot = Snapshot(slow, snapshot.retriever)
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    tick = asyncio.create_task(ticker())
    typing = services.interaction()
    watched_set = command(services.bot, "watched set")
    sources = services.interaction()
    await asyncio.gather(
        watched_set._invoke_autocomplete(typing, "show", SimpleNamespace(show="jess")),
        invoke(services.bot, command(services.bot, "sources"), sources, page=1),
    )
    stop.set()
    await tick
    assert [c.value for c in typing.response.choices] == ["Jessica Jones"]
    assert "Jessica Jones" in (sources.answers[0].content or "")
    assert max(lags) < 0.1, f"the event loop stalled for {max(lags) * 1000:.0f} ms"


# ---------------------------------------------------------------------- read-only storage

_READ_ONLY_HOOK = """
import errno, os, sys
_FROZEN = os.path.realpath(sys.argv[1])
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CHANGES = {"os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.link", "os.symlink",
            "os.truncate", "os.chmod", "os.utime", "os.chown", "shutil.rmtree"}

def _frozen(path):
    try:
        return os.path.realpath(os.fsdecode(path)).startswith(_FROZEN)
    except TypeError:  # a file descriptor
        return False

def _read_only(event, args):
    # What a read-only mount does to every write under the index folder (mkdir of a folder that
    # exists still says "exists", as the kernel does).
    if event == "open" and args[0] is not None and _frozen(args[0]):
        mode, flags = args[1], args[2]
        if (isinstance(mode, str) and set(mode) & set("wax+")) or (flags or 0) & _WRITES:
            raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(args[0]))
    elif event in _CHANGES and args and _frozen(args[0]):
        if not (event == "os.mkdir" and os.path.exists(args[0])):
            raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(args[0]))

sys.addaudithook(_read_only)
"""

_SERVE = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from bot.engine import Engine
engine = Engine(Path(sys.argv[2]), Path(sys.argv[1]))
engine.load()
answer = engine.ask_sync("what did krysten ritter say about kilgrave")
print(json.dumps({"version": engine.version, "answered": answer.answered}))
"""


def _tree(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def _can_mount_read_only(folder: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "sh", "-c",
         f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}'"],
        capture_output=True,
    )  # fmt: skip
    return probe.returncode == 0


@pytest.mark.parametrize("storage", ["read-only mount", "emulated read-only"])
def test_an_index_on_read_only_storage_is_served(engine: Engine, storage: str) -> None:
    index, corpus = engine.store.root, engine.corpus_dir
    (index / ".reindex.lock").unlink(missing_ok=True)
    before = _tree(index)
    args = [str(index), str(corpus), str(ROOT)]
    if storage == "read-only mount":
        if not _can_mount_read_only(index):
            pytest.skip("no user namespaces here to mount a folder read-only (the emulated case runs)")
        mount = f"mount --bind '{index}' '{index}' && mount -o remount,bind,ro '{index}'"
        command = ["unshare", "--map-root-user", "--mount", "sh", "-c",
                   f'{mount} && exec "$0" -c "$1" "$2" "$3" "$4"', sys.executable, _SERVE, *args]  # fmt: skip
    else:
        command = [sys.executable, "-c", _READ_ONLY_HOOK + _SERVE, *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]  # was: OSError: Read-only file system
    served = json.loads(result.stdout.splitlines()[-1])
    assert served == {"version": engine.version, "answered": True}
    assert _tree(index) == before  # nothing written: no .reindex.lock, no stamp


def test_a_reindex_still_takes_the_lock_and_cleans_leftovers(engine: Engine) -> None:
    """Locks stay where a reindex writes: leftovers of a killed build are still removed."""
    leftover = engine.store.versions_dir / ".building-v1-dead"
    leftover.mkdir()
    engine.load()
    assert not leftover.exists() and (engine.store.root / ".reindex.lock").exists()


# ---------------------------------------------------------------------- bad index paths


def _run_cli(monkeypatch: pytest.MonkeyPatch, embedder: Embedder, capsys: Any, *argv: str) -> tuple[int, str]:
    monkeypatch.setattr("bot.engine.Embedder", lambda *args, **kwargs: embedder)  # one model per session
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err.strip()


@pytest.mark.parametrize("command", ["ask", "passages", "index", "index --verify"])
def test_an_index_path_that_is_a_file_is_one_line_and_exit_1(
    engine: Engine, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, capsys: Any, command: str
) -> None:
    file = engine.store.root.parent / "index.npy"
    file.write_bytes(b"\x93NUMPY not an index folder")
    argv = [*command.split(), "--index", str(file)]
    if command.startswith("index"):
        argv += ["--corpus", str(engine.corpus_dir)]
    if command == "ask":
        argv.append("who is kilgrave?")
    code, err = _run_cli(monkeypatch, embedder, capsys, *argv)  # was: NotADirectoryError traceback
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert code == 1 and len(errors) == 1
    assert errors[0].endswith(f"the index {file} is a file, not an index folder; give a folder")
    assert file.read_bytes() == b"\x93NUMPY not an index folder"


def _damage_current(store: IndexStore, how: str) -> str:
    current = store.root / "CURRENT"
    outside = store.root.parent / "elsewhere"
    if how == "a folder":
        current.unlink()
        current.mkdir()
        return "is a folder, not the name of a version"
    if how == "binary":
        current.write_bytes(b"\x00\xff\xfe\x89PNG\r\n")
    elif how == "huge":
        current.write_bytes(b"v" * 10_000_000)
    elif how == "a relative path out":
        shutil.copytree(store.versions_dir / str(store.current_version()), outside)
        current.write_text("../../elsewhere\n")
    elif how == "an absolute path":
        shutil.copytree(store.versions_dir / str(store.current_version()), outside)
        current.write_text(f"{outside}\n")
    return "does not name a version folder of this index"


CURRENT_DAMAGE = ["a folder", "binary", "huge", "a relative path out", "an absolute path"]


@pytest.mark.parametrize("how", CURRENT_DAMAGE)
def test_a_current_file_that_names_no_version_of_the_index_is_refused(engine: Engine, how: str) -> None:
    says = _damage_current(engine.store, how)
    with pytest.raises(IndexCorrupt) as info:  # was: IsADirectoryError, UnicodeDecodeError, or served
        engine.load()
    message = str(info.value)
    assert says in message and "rebuild" in message and len(message) < 400


@pytest.mark.parametrize("how", ["a folder", "binary"])
def test_a_damaged_current_is_one_line_on_the_cli_and_a_rebuild_repairs_it(
    engine: Engine, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, capsys: Any, how: str
) -> None:
    says = _damage_current(engine.store, how)
    code, err = _run_cli(monkeypatch, embedder, capsys, "passages", "--index", str(engine.store.root))
    assert code == 1 and len(err.splitlines()) == 1 and says in err
    if how == "a folder":
        (engine.store.root / "CURRENT").rmdir()
    argv = ["index", "--corpus", str(engine.corpus_dir), "--index", str(engine.store.root)]
    code, err = _run_cli(monkeypatch, embedder, capsys, *argv)
    assert code == 0, err
    assert IndexStore(engine.store.root, model=embedder.name, dimension=embedder.dimension).load()


def test_swapped_version_folders_are_noticed_by_the_manifests_version(engine: Engine) -> None:
    store = engine.store
    (engine.corpus_dir / "010-trish.md").write_text(_article("Kilgrave", 4), encoding="utf-8")
    old = engine.version
    engine.reindex_sync()
    new = engine.version
    assert old and new and old != new
    spare = store.versions_dir / "swap"
    os.rename(store.versions_dir / old, spare)
    os.rename(store.versions_dir / new, store.versions_dir / old)
    os.rename(spare, store.versions_dir / new)
    with pytest.raises(IndexCorrupt) as info:  # was: served the other version under this one's name
        engine.load()
    message = str(info.value)
    assert f"folder {new} holds version '{old}'" in message
    assert "swapped" in message and "rebuild" in message
    assert engine.version == new  # the snapshot in memory keeps serving


# ---------------------------------------------------------------------- a full disk, for real


def test_a_short_write_from_numpy_on_a_full_disk_says_the_disk_is_full(
    engine: Engine, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """numpy reports a short write as "768000 requested and 20448 written", without an errno."""
    (engine.corpus_dir / "010-trish.md").write_text(_article("Kilgrave", 5), encoding="utf-8")
    real_save = np.save

    def short_write(file: Any, array: Any, *args: Any, **kwargs: Any) -> None:
        if Path(getattr(file, "name", file)).name == "vectors.npy":
            raise OSError(f"{np.asarray(array).nbytes} requested and 20448 written")
        real_save(file, array, *args, **kwargs)

    monkeypatch.setattr(np, "save", short_write)
    monkeypatch.setattr(store_module.shutil, "disk_usage", lambda path: SimpleNamespace(free=4096))
    argv = ["index", "--corpus", str(engine.corpus_dir), "--index", str(engine.store.root)]
    code, err = _run_cli(monkeypatch, embedder, capsys, *argv)
    assert code == 1  # was: "could not build the index (29184 requested and 20448 written)"
    assert "error: could not build the index (the disk is full); the old index stays" in err


def test_a_really_full_disk_during_a_cli_reindex_says_the_disk_is_full(
    engine: Engine, tmp_path: Path
) -> None:
    """The index folder on a 16 KB tmpfs: the seed corpus's vectors alone (29 KB) do not fit."""
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "--map-root-user", "--mount", "true"], capture_output=True).returncode
    ):
        pytest.skip("no user namespaces here to mount a small tmpfs (the emulated case runs)")
    index = tmp_path / "small"
    index.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    mount = f"mount -t tmpfs -o size=16k tmpfs '{index}'"
    script = f'{mount} && exec "$0" -m bot index --corpus "$1" --index "$2"'
    command = ["unshare", "--map-root-user", "--mount", "sh", "-c", script, sys.executable]
    result = subprocess.run(
        [*command, str(engine.corpus_dir), str(index)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert errors == ["error: could not build the index (the disk is full); the old index stays"]


@session_loop
async def test_a_newline_in_a_file_name_stays_on_its_line_on_discord(services: Services) -> None:
    corpus = services.engine.corpus_dir
    (corpus / "notes\nforged: all good.pdf").write_bytes(b"%PDF")
    (corpus / "new\nline.txt").write_text(_article("Kilgrave", 6).split("---\n", 2)[2], encoding="utf-8")
    admin = services.interaction(permissions=ADMIN, user_id=OWNER_ID)  # the shipped corpus: owners only
    await invoke(services.bot, command(services.bot, "reindex"), admin, shared=True)
    lines = admin.texts[-1].splitlines()
    assert lines[0].startswith("Reindex done")
    assert "added: new\\nline.txt" in lines  # was: "added: new" and a line "line.txt"
    assert any(line.startswith("  - notes\\nforged: all good.pdf: unsupported file type") for line in lines)
    assert not any(line.startswith(("line.txt", "forged")) for line in lines)
    listing = services.interaction(permissions=ADMIN, user_id=OWNER_ID)
    await invoke(services.bot, command(services.bot, "corpus list"), listing, page=1, shared=True)
    assert any(line.startswith("• `new\\nline.txt` (") for line in listing.texts[-1].splitlines())
