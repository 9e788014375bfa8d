"""Score the spoiler detector on a labelled corpus, without building an index.

    .venv/bin/python bench/spoiler_dev_score.py /work/shared/eval/dev
    .venv/bin/python bench/spoiler_dev_score.py tests/fixtures/spoilers --facts corpus -v

DIR holds articles/ (or the articles themselves) and labels.jsonl. Figures are computed the way
shared/eval/evaluate.py does (recall >= 90% of a sentence tagged; precision by characters; decoys);
-v also prints every sentence with its probability and flag, for a development loop.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.embedder import Embedder  # noqa: E402
from bot.ingest.corpus import load_corpus  # noqa: E402
from bot.shows import load_show_facts  # noqa: E402
from bot.spoilers.detect import Trace, detect_with_trace  # noqa: E402
from bot.spoilers.scoring import norm, score  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", type=Path, help="folder with articles/ and labels.jsonl")
    parser.add_argument("--facts", type=Path, help="folder holding shows.yaml (default: the articles folder)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every sentence and its decision")
    args = parser.parse_args()

    articles_dir = args.corpus / "articles" if (args.corpus / "articles").is_dir() else args.corpus
    labels = [
        json.loads(line) for line in (args.corpus / "labels.jsonl").read_text().splitlines() if line.strip()
    ]
    corpus = load_corpus(articles_dir)
    facts, problems = load_show_facts(args.facts or articles_dir)
    for problem in corpus.problems + problems:
        print("problem:", problem, file=sys.stderr)

    embedder = Embedder()
    embedder.warm_up()
    started = time.perf_counter()
    passages, traces = detect_with_trace(corpus.articles, corpus.passages, embedder.embed, facts)
    seconds = time.perf_counter() - started

    if args.verbose:
        _explain(traces, labels)
    result = score(passages, labels)
    for file, sentence in result.missed:
        print(f"MISSED  {file}: {sentence}")
    for file, sentence in result.decoys:
        print(f"DECOY   {file}: {sentence}")
    for file, run in result.extra:
        print(f"EXTRA   {file}: {run}")
    figures = {
        "recall": round(result.recall, 3),
        "precision": round(result.precision, 3),
        "caught": result.caught,
        "total": result.total,
        "decoys_tagged": len(result.decoys),
        "passages": len(passages),
        "detect_s": round(seconds, 2),
    }
    print(json.dumps(figures))
    return 0


def _explain(traces: list[Trace], labels: list[dict]) -> None:
    """Every sentence with the classifier's probability, the decision and the label."""
    gold = {(lab["file"], norm(s)) for lab in labels for s in lab.get("finale_spoilers", [])}
    decoys = {(lab["file"], norm(s)) for lab in labels for s in lab.get("non_spoiler_examples", [])}
    for t in traces:
        key = (t.file.rsplit("/", 1)[-1], norm(t.text))
        label = "GOLD " if key in gold else "decoy" if key in decoys else "     "
        mark = "##" if t.flagged else "  "
        print(f"{mark} {label} p={t.probability:.2f} [{t.show} s{t.season}] {t.text[:110]}  <{t.reason}>")


if __name__ == "__main__":
    raise SystemExit(main())
