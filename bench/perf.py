"""Benchmarks: how fast, how big, how it grows. Every figure comes with a reference measured in the
same run, because this machine is shared and noisy: compare ratios, not raw milliseconds.

    .venv/bin/pip install -e ".[bench]"          # faiss-cpu (reference) and psutil (memory)
    .venv/bin/python bench/perf.py latency       # answer latency at real, 1k, 10k, 100k, 1M passages
    .venv/bin/python bench/perf.py reindex       # passages/s per backend, incremental reindex, memory
    .venv/bin/python bench/perf.py coldstart     # process start to first answer
    .venv/bin/python bench/perf.py concurrency   # 100 askers through the Discord answer handler
    .venv/bin/python bench/perf.py fleet         # settings reads PostgreSQL vs SQLite; reindex publish
                                                 # to the other process serving it (needs initdb)
    .venv/bin/python bench/perf.py libraries     # 1,000 server libraries of 200 passages each
    .venv/bin/python bench/perf.py all           # all of the above

Synthetic indexes are generated once and cached under $BENCH_CACHE (default /tmp/tvbot-bench):
passages are real sentences (shipped corpus, the dev articles, the spoiler training sentences)
recombined with made-up words, vectors are real MiniLM vectors of those sentences plus noise.
Results are printed as tables and saved as JSON next to the cache.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/tvbot-bench"))
GENERATOR = 3  # bump when the synthetic data changes
DEV = ROOT.parent / "shared" / "eval" / "dev"
SIZES = (1_000, 10_000, 100_000, 1_000_000)
SHOWS = (
    "Jessica Jones", "Luke Cage", "Daredevil", "Iron Fist", "The Punisher", "The Defenders",
    "Breaking Bad", "Better Call Saul", "The Wire", "Mare of Easttown", "Severance", "Succession",
)  # fmt: skip
SPEAKERS = ("Krysten Ritter", "Mike Colter", "Charlie Cox", "David Tennant", "Rachael Taylor", None)


# ----------------------------------------------------------------------------- helpers


def rss() -> int:
    try:
        import psutil
    except ImportError:  # without the bench extra: Linux's own count of resident pages
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    return int(psutil.Process().memory_info().rss)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        f"\n## {title}",
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
    ]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells[1:]]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def save(name: str, data: Any) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / f"results-{name}.json").write_text(json.dumps(data, indent=1))


def real_sentences() -> list[str]:
    texts: list[str] = []
    folders = [ROOT / "corpus", DEV / "articles"]
    for folder in folders:
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            if path.suffix in (".txt", ".md", ".html"):
                raw = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8", errors="replace"))
                texts += [t for line in raw.splitlines() for t in re.split(r"(?<=[.!?])\s+", line.strip())]
    training = ROOT / "bot" / "spoilers" / "assets" / "finale_training.jsonl"
    if training.is_file():
        texts += [json.loads(line)["text"] for line in training.read_text().splitlines() if line.strip()]
    seen: set[str] = set()
    result = []
    for text in texts:
        text = " ".join(text.split())
        if 30 <= len(text) <= 260 and text[0].isupper() and text not in seen:
            seen.add(text)
            result.append(text)
    return result


def dev_questions() -> list[str]:
    path = DEV / "questions.jsonl"
    questions = []
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                questions.append((row.get("turns") or [row.get("question")])[-1])
    return questions or ["who plays jessica jones", "how does luke cage season 1 end"]


def made_up_words(count: int, rng: random.Random) -> list[str]:
    syllables = "ka ro mi zu tel an vor ith el sha dun pre qua lix bo ne ur fa ge ti".split()
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(count)]


# ----------------------------------------------------------------------------- synthetic indexes


def synthetic_index(size: int, embedder: Any) -> Path:
    """An index of `size` passages under the cache (built once)."""
    from bot.index.store import IndexStore
    from bot.models import ArticleMeta, Passage, SpoilerInfo
    from bot.search.features import write_features

    root = CACHE / f"index-{size}-g{GENERATOR}-{embedder.variant}"
    store = IndexStore(root, model=embedder.name, dimension=embedder.dimension, variant=embedder.variant)
    if store.current_version():
        from bot.search.features import FOLDER, SearchFeatures

        index = store.load()
        if SearchFeatures.load(index.path / FOLDER, len(index.passages)) is not None:
            return root
        print(f"synthetic index {size}: search features are from older code; rebuilding", file=sys.stderr)
        shutil.rmtree(root)
    started = time.monotonic()
    rng = random.Random(size)
    sentences = real_sentences()
    base = embedder.embed(sentences)
    vocabulary = made_up_words(max(2000, min(60_000, size // 10)), rng)
    noise_rng = np.random.default_rng(size)
    passages: list[Passage] = []
    articles: list[ArticleMeta] = []
    vectors = np.empty((size, embedder.dimension), dtype=np.float32)
    per_article = 25
    for row in range(size):
        number = row // per_article
        if row % per_article == 0:
            show = SHOWS[number % len(SHOWS)]
            season = 1 + number % 4
            articles.append(
                ArticleMeta(
                    f"synthetic/{number:06d}.txt",
                    f"{show} season {season}: recap and interview #{number}",
                    outlet="Bench Weekly",
                    date="2024-01-01",
                    shows=(show,),
                )
            )
        picks = [rng.randrange(len(sentences)) for _ in range(rng.randint(1, 3))]
        chosen = []
        for pick in picks:
            words = sentences[pick].split()
            for _ in range(rng.randint(1, 2)):
                words.insert(rng.randrange(1, len(words)), rng.choice(vocabulary))
            chosen.append(" ".join(words))
        mean = base[picks].mean(axis=0)
        mean /= np.linalg.norm(mean)
        noise = noise_rng.standard_normal(embedder.dimension).astype(np.float32)
        vector = 0.8 * mean + 0.6 * noise / np.linalg.norm(noise)
        vectors[row] = vector / np.linalg.norm(vector)
        article = articles[-1]
        passages.append(
            Passage(
                id=f"{article.file}#{row % per_article}",
                file=article.file,
                text=" ".join(chosen),
                sentences=tuple(chosen),
                speaker=SPEAKERS[rng.randrange(len(SPEAKERS))],
                paragraph=row % per_article,
                spoiler=SpoilerInfo(
                    tuple(rng.random() < 0.1 for _ in chosen), article.shows[0], 1 + number % 4
                ),
            )
        )
    with store.reindex_lock():
        store.publish(passages, articles, vectors, fingerprint=f"synthetic-{size}", attach=write_features)
    print(f"built synthetic index of {size} passages in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return root


def real_index(embedder: Any) -> tuple[Path, Path]:
    """The shipped corpus plus the dev articles, indexed with the real pipeline."""
    corpus = CACHE / "real-corpus"
    index = CACHE / f"real-index-{embedder.variant}"
    if not corpus.is_dir():
        corpus.mkdir(parents=True)
        for folder in (ROOT / "corpus", DEV / "articles"):
            for path in folder.glob("*") if folder.is_dir() else []:
                if path.is_file():
                    shutil.copy(path, corpus / path.name)
    from bot.engine import Engine

    engine = Engine(corpus, index, embedder=embedder)
    try:
        engine.load()
    except Exception:
        engine.reindex_sync()
    return corpus, index


# ----------------------------------------------------------------------------- latency


def read_reference(matrix: np.ndarray) -> float:
    """Seconds to read a matrix once: the fastest of a one-thread and a two-thread pass."""
    flat = np.asarray(matrix).reshape(-1).view(np.uint8)
    usable = flat[: flat.size // 8 * 8].view(np.uint64)
    best = float("inf")
    halves = np.array_split(usable, 2)
    with ThreadPoolExecutor(2) as pool:
        for _ in range(5):
            start = time.perf_counter()
            usable.sum()
            best = min(best, time.perf_counter() - start)
            start = time.perf_counter()
            list(pool.map(np.sum, halves))
            best = min(best, time.perf_counter() - start)
    return best


def latency_one(size: int, count: int) -> dict[str, Any]:
    """Runs in its own process, so memory figures belong to this index alone."""
    from bot.embedder import Embedder
    from bot.engine import Engine

    embedder = Embedder()
    embedder.warm_up()
    if size == 0:
        corpus, index_dir = real_index(embedder)
    else:
        corpus, index_dir = ROOT / "corpus", synthetic_index(size, embedder)
    gc.collect()
    before = rss()
    engine = Engine(corpus, index_dir, embedder=embedder)
    started = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - started
    snapshot = engine.snapshot
    assert snapshot is not None
    index = snapshot.index
    rng = random.Random(7)
    questions = dev_questions()
    if size:
        words = [
            w
            for p in (index.passages[rng.randrange(len(index.passages))] for _ in range(200))
            for w in p.text.split()
        ]
        extra = [
            f"what did {rng.choice(SPEAKERS[:-1])} say about {rng.choice(words)} in {rng.choice(SHOWS)}"
            for _ in range(count)
        ]
        questions = (questions + extra)[:count]
    questions = (questions * (count // len(questions) + 1))[:count]
    model_times: list[float] = []
    real_embed = embedder.embed

    def timed_embed(texts: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        out = real_embed(texts, **kwargs)
        model_times.append(time.perf_counter() - t)
        return out

    for question in questions[:5]:
        engine.ask_sync(question)
    embedder.embed = timed_embed  # type: ignore[method-assign]
    model_times.clear()
    totals = []
    answered = 0
    for question in questions:
        t = time.perf_counter()
        answer = engine.ask_sync(question)
        totals.append(time.perf_counter() - t)
        answered += answer.answered
    embedder.embed = real_embed  # type: ignore[method-assign]
    after = rss()
    rest = [t - m for t, m in zip(totals, model_times, strict=True)]
    # Dense scan alone, and the references: reading the matrices, faiss on the same vectors.
    retriever = snapshot.retriever
    vectors_q = embedder.embed(questions[:50])
    scan = []
    for vector in vectors_q:
        t = time.perf_counter()
        retriever._dense.scores(vector)
        scan.append(time.perf_counter() - t)
    read_f32 = read_reference(index.vectors)
    read_q8 = read_reference(index.codes) if index.codes is not None else read_f32
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    flat = faiss.IndexFlatIP(index.vectors.shape[1])
    flat.add(np.ascontiguousarray(index.vectors, dtype=np.float32))
    faiss_times = []
    for vector in vectors_q:
        t = time.perf_counter()
        flat.search(vector[None, :], 10)
        faiss_times.append(time.perf_counter() - t)
    disk = sum(f.stat().st_size for f in index.path.rglob("*") if f.is_file())
    passages = len(index.passages)
    return {
        "size": passages,
        "label": "real" if size == 0 else f"{size:,}",
        "questions": len(questions),
        "answered": answered,
        "load_s": load_s,
        "p50_ms": 1000 * pct(totals, 50),
        "p99_ms": 1000 * pct(totals, 99),
        "model_p50_ms": 1000 * pct(model_times, 50),
        "search_render_p50_ms": 1000 * pct(rest, 50),
        "search_render_p99_ms": 1000 * pct(rest, 99),
        "scan_p50_ms": 1000 * pct(scan, 50),
        "read_f32_ms": 1000 * read_f32,
        "read_q8_ms": 1000 * read_q8,
        "faiss_flat_p50_ms": 1000 * pct(faiss_times, 50),
        "rss_per_passage_b": (after - before) / passages,
        "disk_per_passage_b": disk / passages,
        "variant": embedder.variant,
    }


def cmd_latency(args: argparse.Namespace) -> str:
    results = []
    for size in [0, *[s for s in SIZES if s <= args.max_size]]:
        count = args.queries if size < 1_000_000 else max(100, args.queries * 2 // 3)
        out = subprocess.run(
            [sys.executable, __file__, "_latency", str(size), str(count)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"latency run for {size} failed")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  {results[-1]['label']}: p50 {results[-1]['p50_ms']:.1f} ms", file=sys.stderr, flush=True)
    save("latency", results)
    rows = [
        [
            r["label"],
            r["p50_ms"],
            r["p99_ms"],
            r["model_p50_ms"],
            r["search_render_p50_ms"],
            r["search_render_p99_ms"],
            r["scan_p50_ms"],
            r["read_q8_ms"],
            r["read_f32_ms"],
            r["faiss_flat_p50_ms"],
            r["search_render_p50_ms"] / r["read_f32_ms"],
            r["search_render_p50_ms"] / r["read_q8_ms"],
            r["rss_per_passage_b"],
            r["disk_per_passage_b"],
            r["load_s"],
        ]
        for r in results
    ]
    header = [
        "passages", "answer p50 ms", "answer p99 ms", "model p50", "search+render p50", "search+render p99",
        "int8 scan p50", "read int8 ms", "read f32 ms", "faiss flat p50", "s+r / read f32", "s+r / read int8",
        "RSS B/passage", "disk B/passage", "load s",
    ]  # fmt: skip
    return table("Answer latency (question in -> reply text out)", header, rows)


# ----------------------------------------------------------------------------- reindex


def synthetic_corpus(folder: Path, passages_wanted: int) -> None:
    """Articles (.txt) made of real sentences; about one passage per 2-3 sentences."""
    if (folder / ".done").is_file():
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(passages_wanted)
    sentences = real_sentences()
    vocabulary = made_up_words(3000, rng)
    articles = max(1, passages_wanted // 25)
    for number in range(articles):
        show = SHOWS[number % len(SHOWS)]
        lines = [f"{show} season {1 + number % 4}: recap and interview #{number}", "By Bench Writer", ""]
        for _ in range(12):
            paragraph = []
            for _ in range(rng.randint(2, 5)):
                words = rng.choice(sentences).split()
                words.insert(rng.randrange(1, len(words)), rng.choice(vocabulary))
                paragraph.append(" ".join(words))
            lines += [" ".join(paragraph), ""]
        (folder / f"{number:05d}-{show.lower().replace(' ', '-')}.txt").write_text("\n".join(lines))
    (folder / ".done").write_text("ok")


class PeakMemory:
    """Highest RSS seen while the block runs (sampled every 20 ms)."""

    def __enter__(self) -> PeakMemory:
        self.start = rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())


def reindex_run(backend: str, corpus: Path, index: Path) -> dict[str, Any]:
    from bot.embedder import Embedder
    from bot.engine import Engine

    embedder = Embedder(backend=backend)
    embedder.warm_up()
    shutil.rmtree(index, ignore_errors=True)
    engine = Engine(corpus, index, embedder=embedder)
    gc.collect()
    with PeakMemory() as memory:
        started = time.perf_counter()
        report = engine.reindex_sync()
        seconds = time.perf_counter() - started
    result = {
        "backend": backend,
        "passages": report.passages,
        "seconds": seconds,
        "passages_per_s": report.passages / seconds,
        "peak_rss_mb": (memory.peak - memory.start) / 1e6,
    }
    return result


def embed_throughput(texts: list[str], rounds: int = 3) -> dict[str, float]:
    from bot.embedder import Embedder

    embedders = {b: Embedder(backend=b) for b in ("torch", "onnx", "onnx-int8")}
    for embedder in embedders.values():
        embedder.warm_up()
    best = dict.fromkeys(embedders, float("inf"))
    for _ in range(rounds):  # interleaved, so noise hits every backend alike
        for name, embedder in embedders.items():
            t = time.perf_counter()
            embedder.embed(texts)
            best[name] = min(best[name], time.perf_counter() - t)
    return {name: len(texts) / seconds for name, seconds in best.items()}


def cmd_reindex(args: argparse.Namespace) -> str:
    small = CACHE / "corpus-2k"
    big = CACHE / "corpus-10k"
    synthetic_corpus(small, 2_000)
    synthetic_corpus(big, 10_000)
    out: dict[str, Any] = {}
    # From scratch, each backend in its own process (clean memory figures), twice, best kept.
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for backend in ("torch", "onnx", "onnx-int8"):
            proc = subprocess.run(
                [sys.executable, __file__, "_reindex", backend, str(small)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit("reindex run failed")
            runs.setdefault(backend, []).append(json.loads(proc.stdout.strip().splitlines()[-1]))
    scratch = {b: max(r, key=lambda x: x["passages_per_s"]) for b, r in runs.items()}
    out["scratch"] = scratch
    # Model alone on passage texts, interleaved.
    from bot.engine import Engine
    from bot.ingest.corpus import load_corpus
    from bot.search.retriever import embedding_text

    texts = [embedding_text(p) for p in load_corpus(small).passages][:1000]
    out["embed"] = embed_throughput(texts)
    # Incremental on ~10k passages with the default backend.
    from bot.embedder import Embedder

    embedder = Embedder()
    embedder.warm_up()
    index = CACHE / f"index-10k-corpus-{embedder.variant}"
    work = CACHE / "corpus-10k-work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(big, work)
    shutil.rmtree(index, ignore_errors=True)  # the first build is measured too
    engine = Engine(work, index, embedder=embedder)
    t = time.perf_counter()
    with PeakMemory() as memory:
        first = engine.reindex_sync()
    first_s = time.perf_counter() - t
    build_peak = (memory.peak - memory.start) / first.passages
    # A fresh process (`python -m bot index` after an edit): nothing parsed or memoised yet.
    fresh = subprocess.run(
        [sys.executable, "-m", "bot", "index", "--corpus", str(work), "--index", str(index)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    fresh_s = float(re.search(r"in ([0-9.]+)s", fresh.stderr).group(1))  # type: ignore[union-attr]
    t = time.perf_counter()
    engine.reindex_sync()
    same_s = time.perf_counter() - t
    article = sorted(work.glob("*.txt"))[len(list(work.glob("*.txt"))) // 2]
    with article.open("a") as handle:
        handle.write(
            f"\n\nA new closing paragraph written at {time.time()}. Trish Walker has the last word.\n"
        )
    t = time.perf_counter()
    changed = engine.reindex_sync()
    changed_s = time.perf_counter() - t
    out["incremental"] = {
        "passages": changed.passages,
        "unchanged_s": same_s,
        "one_article_s": changed_s,
        "embedded": changed.embedded,
        "first_build_s": first_s,
        "first_build_passages_per_s": first.passages / first_s,
        "build_peak_rss_per_passage_b": build_peak,
        "fresh_process_unchanged_s": fresh_s,
    }
    save("reindex", out)
    torch_rate = scratch["torch"]["passages_per_s"]
    rows = [
        [
            b,
            r["passages"],
            r["seconds"],
            r["passages_per_s"],
            r["passages_per_s"] / torch_rate,
            out["embed"][b],
            out["embed"][b] / out["embed"]["torch"],
            r["peak_rss_mb"],
        ]
        for b, r in scratch.items()
    ]
    text = table(
        "Reindex from scratch (synthetic 2k-passage corpus; read, cut, embed, spoilers, publish)",
        [
            "backend",
            "passages",
            "seconds",
            "passages/s",
            "x torch",
            "model only texts/s",
            "model x torch",
            "peak RSS MB",
        ],
        rows,
    )
    inc = out["incremental"]
    text += table(
        "Reindex of a ~10k-passage corpus (default backend)",
        [
            "passages",
            "first build s",
            "first build passages/s",
            "build peak RSS B/passage",
            "unchanged, fresh process s",
            "unchanged, running bot s",
            "one article changed, running bot s",
            "passages embedded",
        ],
        [
            [
                inc["passages"],
                inc["first_build_s"],
                inc["first_build_passages_per_s"],
                inc["build_peak_rss_per_passage_b"],
                inc["fresh_process_unchanged_s"],
                inc["unchanged_s"],
                inc["one_article_s"],
                inc["embedded"],
            ]
        ],
    )
    return text


def reindex_child(backend: str, corpus: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(reindex_run(backend, Path(corpus), Path(tmp) / "index")))


# ----------------------------------------------------------------------------- cold start


def cmd_coldstart(args: argparse.Namespace) -> str:
    from bot.embedder import Embedder

    embedder = Embedder()
    _, index = real_index(embedder)
    torch_index = CACHE / "real-index-fp32"
    if not (torch_index / "CURRENT").is_file():
        real_index(Embedder(backend="torch"))
    python = sys.executable
    question = "who plays jessica jones"

    def timed(command: list[str], env: dict[str, str] | None = None) -> float:
        t = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env={**os.environ, **(env or {})}, cwd=ROOT)
        return time.perf_counter() - t

    cases = {
        "python -c pass": ([python, "-c", "pass"], None),
        "python -c 'import numpy'": ([python, "-c", "import numpy"], None),
        "bot ask (onnx-int8, default)": ([python, "-m", "bot", "ask", "--index", str(index), question], None),
        "bot ask (torch)": (
            [python, "-m", "bot", "ask", "--index", str(torch_index), question],
            {"BOT_EMBEDDER": "torch"},
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds + 2):  # interleaved
        for name, (command, env) in cases.items():
            times[name].append(timed(command, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    save("coldstart", medians)
    base = medians["python -c pass"]
    return table(
        "Cold start: process start to first answer (median of interleaved runs)",
        ["command", "seconds", "x bare python"],
        [[name, value, value / base] for name, value in medians.items()],
    )


# ----------------------------------------------------------------------------- concurrency


class FakeResponder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def notice(self, text: str) -> None:
        self.sent.append(text)

    async def thinking(self) -> None:
        await asyncio.sleep(0)

    async def send(self, messages: Any, view: Any) -> None:
        self.sent.extend(messages)


async def _concurrency(size: int, askers: int) -> dict[str, Any]:
    from bot.conversation import ConversationMemory
    from bot.discord_app.answering import Answerer, Asked
    from bot.discord_app.cooldown import Cooldown
    from bot.embedder import Embedder
    from bot.engine import Engine
    from bot.settings_store import SettingsStore

    embedder = Embedder()
    embedder.warm_up()
    engine = Engine(ROOT / "corpus", synthetic_index(size, embedder), embedder=embedder)
    engine.load()
    with tempfile.TemporaryDirectory() as tmp:
        settings = await SettingsStore.open(Path(tmp) / "settings.sqlite3")
        answerer = Answerer(engine, settings, ConversationMemory(), Cooldown(5, 30))
        rng = random.Random(3)
        questions = dev_questions()
        channel = SimpleNamespace(id=42, name="general", is_nsfw=lambda: False, parent=None, guild=None)

        async def ticker(stop: asyncio.Event, lags: list[float]) -> None:
            interval = 0.005
            while not stop.is_set():
                t = time.perf_counter()
                await asyncio.sleep(interval)
                lags.append(time.perf_counter() - t - interval)

        async def measure(work: Any) -> tuple[float, float]:
            lags: list[float] = []
            stop = asyncio.Event()
            task = asyncio.create_task(ticker(stop, lags))
            t = time.perf_counter()
            await work
            seconds = time.perf_counter() - t
            stop.set()
            await task
            return seconds, max(lags) if lags else 0.0

        idle_s, idle_lag = await measure(asyncio.sleep(1.0))
        # Sequential reference: one asker at a time through the same handler.
        sequential = [rng.choice(questions) for _ in range(20)]

        async def one_by_one() -> None:
            for n, q in enumerate(sequential):
                await answerer.handle(
                    q, Asked(10_000 + n, channel, 1), FakeResponder(), private_notices=False
                )

        seq_s, seq_lag = await measure(one_by_one())
        responders = [FakeResponder() for _ in range(askers)]
        batch = [
            answerer.handle(rng.choice(questions), Asked(n, channel, 1), responders[n], private_notices=False)
            for n in range(askers)
        ]
        together_s, together_lag = await measure(asyncio.gather(*batch))
        replied = sum(1 for r in responders if r.sent)
        await settings.close()
    return {
        "passages": size,
        "askers": askers,
        "replied": replied,
        "answers_per_s": askers / together_s,
        "sequential_answers_per_s": len(sequential) / seq_s,
        "max_lag_ms": 1000 * together_lag,
        "sequential_max_lag_ms": 1000 * seq_lag,
        "idle_max_lag_ms": 1000 * idle_lag,
    }


def cmd_concurrency(args: argparse.Namespace) -> str:
    result = asyncio.run(_concurrency(args.concurrency_size, 100))
    save("concurrency", result)
    return table(
        f"{result['askers']} concurrent askers through Answerer.handle ({result['passages']:,} passages)",
        ["replied", "answers/s", "one-by-one answers/s", "worst loop lag ms", "lag one asker", "lag idle"],
        [[
            result["replied"], result["answers_per_s"], result["sequential_answers_per_s"],
            result["max_lag_ms"], result["sequential_max_lag_ms"], result["idle_max_lag_ms"],
        ]],
    )  # fmt: skip


# ----------------------------------------------------------------------------- several processes

FLEET_ARTICLES = ROOT / "datasets" / "fanqa" / "articles"  # the folded-in fixtures: fx-alpha-*


async def _settings_reads(url: str, reads: int) -> dict[str, Any]:
    """get_mode p50/p99 through each backend over the same 1,000 servers, with each backend's own
    floor measured in the same run: a `SELECT 1` round trip through the same store."""
    from bot.settings_postgres import PostgresSettingsStore
    from bot.settings_store import SettingsStore

    rng = random.Random(14)
    guilds = [rng.randrange(1 << 40, 1 << 60) for _ in range(1000)]
    modes = ("tag", "off", "hide")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {
            "sqlite": await SettingsStore.open(Path(tmp) / "settings.sqlite3"),
            "postgresql": await PostgresSettingsStore.open(url),
        }
        for store in stores.values():
            for n, guild in enumerate(guilds):
                await store.set_mode(guild, modes[n % 3])  # type: ignore[arg-type]
                for channel in range(5):
                    await store.set_mode(guild, modes[(n + channel) % 3], channel)  # type: ignore[arg-type]
        for name, store in stores.items():
            for _ in range(200):  # warm: statement caches, pool connections
                await store.get_mode(rng.choice(guilds), rng.randrange(10))
            reads_s, floor_s, writes_s = [], [], []
            for _ in range(reads):
                guild, channel = rng.choice(guilds), rng.randrange(10)
                t = time.perf_counter()
                await store.get_mode(guild, channel)
                reads_s.append(time.perf_counter() - t)
                t = time.perf_counter()
                await store._one("SELECT 1")
                floor_s.append(time.perf_counter() - t)
            for _ in range(reads // 5):
                guild, mode, channel = rng.choice(guilds), rng.choice(modes), rng.randrange(10)
                t = time.perf_counter()
                await store.set_mode(guild, mode, channel)  # type: ignore[arg-type]
                writes_s.append(time.perf_counter() - t)
            bursts = []
            for _ in range(3):  # the first burst also opens the pool's connections: report the warm ones
                t = time.perf_counter()
                await asyncio.gather(*(store.get_mode(rng.choice(guilds), 1) for _ in range(100)))
                bursts.append(time.perf_counter() - t)
            together = min(bursts[1:])
            results[name] = {
                "read_p50_ms": 1000 * pct(reads_s, 50),
                "read_p99_ms": 1000 * pct(reads_s, 99),
                "select1_p50_ms": 1000 * pct(floor_s, 50),
                "write_p50_ms": 1000 * pct(writes_s, 50),
                "hundred_concurrent_reads_ms": 1000 * together,
            }
        for store in stores.values():
            await store.close()
    return results


class _Worker:
    """A `tests/fleet_worker.py` process (the engine, store and fleet as `bot run` wires them)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "fleet_worker.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env, cwd=ROOT, text=True,
        )  # fmt: skip
        self.ready = self.receive()

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker died; see {self.log.name}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def call(self, **command: Any) -> dict[str, Any]:
        self.send(**command)
        return self.receive()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(op="quit")
        self.process.wait(30)
        self.log.close()


def _toggle(corpus: Path, name: str) -> None:
    """Add the fixture article `name` to the corpus, or take it out again: a real change to index."""
    path = corpus / name
    if path.exists():
        path.unlink()
    else:
        shutil.copy(FLEET_ARTICLES / name, path)


def _reindex_to_served(url: str, rounds: int, folder: Path) -> dict[str, Any]:
    """Two processes on one database and index folder; each round one of them reindexes a changed
    corpus and the other is timed from the publisher's announcement to serving the new version."""
    corpus, index = folder / "corpus", folder / "index"
    corpus.mkdir()
    names = sorted(p.name for p in FLEET_ARTICLES.glob("fx-alpha-*"))
    for name in names[:3]:
        shutil.copy(FLEET_ARTICLES / name, corpus / name)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "CORPUS_DIR": str(corpus),
        "INDEX_DIR": str(index),
        "DATA_DIR": str(folder / "data"),
        "HEARTBEAT_SECONDS": "600",
        "SHARD_COUNT": "2",
    }
    workers = [_Worker({**env, "SHARD_IDS": str(n)}, folder / f"worker{n}.log") for n in range(2)]
    try:
        first = workers[0].call(op="reindex")
        workers[1].call(op="wait_version", version=first["version"])
        question = "who plays joyce in stranger things"
        notify_ms, build_s = [], []
        for round_ in range(rounds):
            publisher, other = workers[round_ % 2], workers[1 - round_ % 2]
            _toggle(corpus, names[3 + round_ % 3])
            t = time.perf_counter()
            built = publisher.call(op="reindex")
            build_s.append(time.perf_counter() - t)
            seen = other.call(op="wait_version", version=built["version"], timeout=30)
            assert seen["version"] == built["version"] and seen["swapped_at"], seen
            notify_ms.append(1000 * (seen["swapped_at"] - built["published_at"]))
        # The safety net: a process that missed the notice swaps before its next question. Each
        # round times a plain question, then (after a reindex it did not hear of) a catching-up one.
        workers[1].call(op="deafen")
        plain, caught_up, swap = [], [], []
        for round_ in range(5):
            plain.append(workers[1].call(op="ask", question=question)["seconds"])
            _toggle(corpus, names[3 + round_ % 3])
            built = workers[0].call(op="reindex")
            answer = workers[1].call(op="ask", question=question)
            assert answer["version"] == built["version"], answer
            caught_up.append(answer["seconds"])
            swap.append(answer["catch_up_seconds"])
    finally:
        for worker in workers:
            worker.stop()
    return {
        "rounds": rounds,
        "announce_to_served_p50_ms": statistics.median(notify_ms),
        "announce_to_served_max_ms": max(notify_ms),
        "reindex_p50_s": statistics.median(build_s),
        "question_ms": 1000 * statistics.median(plain),
        "question_with_catch_up_ms": 1000 * statistics.median(caught_up),
        "catch_up_ms": 1000 * statistics.median(swap),
        "all_announce_ms": notify_ms,
    }


def _stale_check_us(index: Path) -> float:
    """What every question now pays first: one read of the index folder's CURRENT file."""
    from bot.index.store import IndexStore

    store = IndexStore(index, model="m", dimension=4)
    count = 20_000
    t = time.perf_counter()
    for _ in range(count):
        store.current_version()
    return 1e6 * (time.perf_counter() - t) / count


async def _empty_bench_database(url: str) -> None:
    """Drop the read benchmark's rows so the two processes start on an empty schema."""
    from bot.settings_postgres import PostgresSettingsStore

    async with await PostgresSettingsStore.open(url) as store:
        await store.pool.execute("TRUNCATE guild_settings, channel_modes, processes, index_versions")


def cmd_fleet(args: argparse.Namespace) -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from pgserver import PgServer

    server = None
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:  # a throwaway local server, like the tests'
        server = PgServer.start()
        url = asyncio.run(server.create_database("bench"))
    try:
        reads = asyncio.run(_settings_reads(url, args.reads))
        asyncio.run(_empty_bench_database(url))
        with tempfile.TemporaryDirectory() as tmp:
            served = _reindex_to_served(url, args.fleet_rounds, Path(tmp))
            stale_us = _stale_check_us(Path(tmp) / "index")
    finally:
        if server is not None:
            server.stop()
    save("fleet", {"reads": reads, "served": served, "stale_check_us": stale_us})
    sqlite = reads["sqlite"]
    rows = [
        [name, r["read_p50_ms"], r["read_p99_ms"], r["select1_p50_ms"],
         r["read_p50_ms"] / r["select1_p50_ms"], r["write_p50_ms"], r["hundred_concurrent_reads_ms"],
         r["read_p50_ms"] / sqlite["read_p50_ms"]]
        for name, r in reads.items()
    ]  # fmt: skip
    text = table(
        f"Settings reads: get_mode over 1,000 servers, {args.reads} sequential reads",
        ["backend", "read p50 ms", "read p99 ms", "SELECT 1 p50 ms", "read / SELECT 1", "write p50 ms",
         "100 concurrent reads ms", "read x SQLite"],
        rows,
    )  # fmt: skip
    text += table(
        f"Reindex in one process, served by the other ({served['rounds']} rounds, alternating)",
        ["announce -> served p50 ms", "max ms", "reindex p50 s", "question ms", "question that catches up ms",
         "of which the swap ms", "stale check us"],
        [[served["announce_to_served_p50_ms"], served["announce_to_served_max_ms"], served["reindex_p50_s"],
          served["question_ms"], served["question_with_catch_up_ms"], served["catch_up_ms"], stale_us]],
    )  # fmt: skip
    return text


# ----------------------------------------------------------------------------- main


# ----------------------------------------------------------------------------- libraries


def libraries_child(count: int, passages: int, questions: int) -> dict[str, Any]:
    """Runs in its own process: `count` server libraries of `passages` each beside the real
    shared index; resident memory per open idle library, cold first answers, warm p50."""
    import asyncio

    from bot.embedder import Embedder
    from bot.engine import Engine
    from bot.libraries import Libraries

    embedder = Embedder()
    embedder.warm_up()
    corpus, shared_index = real_index(embedder)
    template = synthetic_index(passages, embedder)
    root = CACHE / f"libraries-{count}x{passages}-g{GENERATOR}-{embedder.variant}"
    started = time.monotonic()
    for number in range(count):  # copies of one synthetic library: separate files, separate maps
        target = root / "index" / str(1_000_000 + number)
        if not (target / "CURRENT").is_file():
            shutil.copytree(template, target, dirs_exist_ok=True)
            # A published version is checked in full once (as publish does); later opens are cheap.
            Engine(ROOT / "corpus", target, embedder=embedder, learned=False).store.load()
    build_s = time.monotonic() - started
    names = [str(1_000_000 + n) for n in range(count)]
    scorer = "learned ranker"
    shared = Engine(corpus, shared_index, embedder=embedder)
    shared.load()
    try:
        shared.ask_sync("what did krysten ritter say about kilgrave")
    except ValueError as exc:  # shipped ranker weights out of step with the feature code
        print(f"learned ranker unusable ({exc}); benchmarking the blended score", file=sys.stderr)
        scorer = "blended score"
        shared = Engine(corpus, shared_index, embedder=embedder, learned=False)
        shared.load()
    qs = dev_questions()
    rng = random.Random(11)

    async def run() -> dict[str, Any]:
        libraries = Libraries(
            shared, corpus_root=root / "corpus", index_root=root / "index", cache_size=count
        )
        await libraries.ask(qs[0], guild_id=None)  # model and shared library warm
        gc.collect()
        before = rss()
        opened = []
        for name in names:  # open every library (the cache holds them all): idle cost each
            t = time.perf_counter()
            libraries.engine(name)
            opened.append(time.perf_counter() - t)
        gc.collect()
        per_library = (rss() - before) / count
        # Cold: a library nobody asked yet (fresh registry over the same files, page cache warm).
        cold_reg = Libraries(shared, corpus_root=root / "corpus", index_root=root / "index", cache_size=64)
        await cold_reg.ask(qs[0], guild_id=None)
        cold = []
        for name in rng.sample(names, min(questions, count)):
            t = time.perf_counter()
            await cold_reg.ask(rng.choice(qs), guild_id=int(name))
            cold.append(time.perf_counter() - t)
        bounded_before = rss()
        for name in names:  # touch every library through a 64-entry cache: memory stays bounded
            cold_reg.engine(name)
        gc.collect()
        bounded_growth = rss() - bounded_before
        warm_name = int(names[0])
        for q in qs[:5]:
            await libraries.ask(q, guild_id=warm_name)
        warm = []
        for i in range(questions):
            t = time.perf_counter()
            await libraries.ask(qs[i % len(qs)], guild_id=warm_name)
            warm.append(time.perf_counter() - t)
        embed = []
        for i in range(questions):
            t = time.perf_counter()
            embedder.embed([qs[i % len(qs)]])
            embed.append(time.perf_counter() - t)
        return {
            "libraries": count,
            "passages_each": passages,
            "scorer": scorer,
            "copy_s": build_s,
            "rss_per_open_idle_library_b": per_library,
            "open_p50_ms": pct(opened, 50) * 1000,
            "open_p95_ms": pct(opened, 95) * 1000,
            "cold_first_answer_p50_ms": pct(cold, 50) * 1000,
            "cold_first_answer_p95_ms": pct(cold, 95) * 1000,
            "warm_answer_p50_ms": pct(warm, 50) * 1000,
            "warm_answer_p95_ms": pct(warm, 95) * 1000,
            "model_alone_p50_ms": pct(embed, 50) * 1000,
            "rss_growth_touching_all_through_64_cache_mb": bounded_growth / 1e6,
            "cached_after": len(cold_reg.cached()),
        }

    return asyncio.run(run())


def cmd_libraries(args: argparse.Namespace) -> str:
    result = json.loads(
        subprocess.run(
            [sys.executable, __file__, "_libraries", str(args.libraries), "200", str(min(args.queries, 200))],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()[-1]
    )
    save("libraries", result)
    rows = [[k, f"{v:.2f}" if isinstance(v, float) else v] for k, v in result.items()]
    title = f"{result['libraries']} server libraries of {result['passages_each']} passages"
    return table(title, ["figure", "value"], rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_libraries":
        print(json.dumps(libraries_child(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_latency":
        print(json.dumps(latency_one(int(sys.argv[2]), int(sys.argv[3]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_reindex":
        reindex_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "what", choices=("latency", "reindex", "coldstart", "concurrency", "fleet", "libraries", "all")
    )
    parser.add_argument("--libraries", type=int, default=1_000, help="server libraries (libraries case)")
    parser.add_argument("--max-size", type=int, default=1_000_000, help="largest synthetic index")
    parser.add_argument("--queries", type=int, default=300, help="questions per size (1M: two thirds)")
    parser.add_argument("--rounds", type=int, default=2, help="repeats of the interleaved runs")
    parser.add_argument("--concurrency-size", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=5000, help="settings reads per backend (fleet)")
    parser.add_argument("--fleet-rounds", type=int, default=8, help="reindexes announced (fleet)")
    args = parser.parse_args()
    commands = {
        "latency": cmd_latency,
        "reindex": cmd_reindex,
        "coldstart": cmd_coldstart,
        "concurrency": cmd_concurrency,
        "fleet": cmd_fleet,
        "libraries": cmd_libraries,
    }
    chosen = list(commands) if args.what == "all" else [args.what]
    report = [commands[name](args) for name in chosen]
    (CACHE / f"report-{args.what}.md").write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
