"""Rank report over several labelled corpus folders at once: hit@1, MRR@5, abstention, and misses.

.venv/bin/python bench/retrieval_sets.py [-v] [DIR ...]

Default folders: ../shared/eval/dev and every tests/fixtures/retrieval/* set. Each folder holds
articles/ and questions.jsonl (the dev format). Questions go through `Engine.ask_sync` exactly as
the CLI sends them (last turn asked, earlier turns as history), so figures match evaluate.py.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "shared" / "eval"))

from evaluate import covers  # noqa: E402

from bot.embedder import Embedder  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.search.retriever import SearchSettings  # noqa: E402


def score_set(
    folder: Path, embedder: Embedder, verbose: bool, settings: SearchSettings | None = None
) -> dict[str, float]:
    index = Path(tempfile.mkdtemp(prefix=f"sets-{folder.name}-"))
    engine = Engine(folder / "articles", index, embedder=embedder, settings=settings)
    engine.reindex_sync()
    hit1 = mrr = answerable = abstained = offtopic = 0
    took: list[float] = []
    for line in (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        turns = q.get("turns") or [q["question"]]
        started = time.perf_counter()
        answer = engine.ask_sync(turns[-1], history=turns[:-1], k=5)
        took.append(time.perf_counter() - started)
        gold = q.get("gold") or []
        hits = answer.hits[:5]
        rank = next((i for i, h in enumerate(hits, 1) if any(covers(h.passage.text, g) for g in gold)), None)
        if gold:
            answerable += 1
            hit1 += rank == 1
            mrr += 1 / rank if rank else 0.0
            ok = rank == 1
        else:
            offtopic += 1
            abstained += not answer.answered
            ok = not answer.answered
        if not ok or verbose:
            top = answer.hits[0].score if answer.hits else 0.0
            print(f"  {'ok ' if ok else 'BAD'} {q['id']} rank={rank} top={top:.3f} {turns}")
            if not ok:
                for h in answer.hits[:3]:
                    print(f"        {h.score:.3f} {h.passage.speaker or ''} | {h.passage.text[:120]}")
    took.sort()
    figures = {
        "hit1": round(hit1 / max(answerable, 1), 3),
        "mrr": round(mrr / max(answerable, 1), 3),
        "abstain": round(abstained / max(offtopic, 1), 3),
        "p50_ms": round(1000 * took[len(took) // 2], 1) if took else 0.0,
    }
    print(f"{folder.name:8s} {json.dumps(figures)}")
    return figures


def main() -> None:
    verbose = "-v" in sys.argv
    quiet = "-q" in sys.argv
    # BENCH_SETTINGS='{"sentence_weight": 0.3}' tries other SearchSettings
    settings = SearchSettings(**json.loads(os.environ.get("BENCH_SETTINGS") or "{}"))
    # BENCH_PATCH='{"bot.search.season.SHOW_BONUS": 0.1}' tries other module constants
    for name, value in json.loads(os.environ.get("BENCH_PATCH") or "{}").items():
        module, attribute = name.rsplit(".", 1)
        setattr(importlib.import_module(module), attribute, value)
    folders = [Path(a) for a in sys.argv[1:] if not a.startswith("-")] or [
        ROOT.parent / "shared" / "eval" / "dev",
        *sorted(p for p in (ROOT / "tests" / "fixtures" / "retrieval").iterdir() if p.is_dir()),
    ]
    embedder = Embedder()
    embedder.warm_up()
    if quiet:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    results = {f.name: score_set(f, embedder, verbose, settings) for f in folders}
    sys.stdout = sys.__stdout__
    names = ("hit1", "mrr", "abstain")
    mean = {k: round(sum(r[k] for r in results.values()) / len(results), 3) for k in names}
    print(json.dumps({**results, "mean": mean}))


if __name__ == "__main__":
    main()
