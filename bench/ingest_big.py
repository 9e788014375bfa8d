"""Bench: read a corpus holding one article whose body is a single huge paragraph.

    .venv/bin/python bench/ingest_big.py            # 5 MB of text in one paragraph (the upload cap)
    .venv/bin/python bench/ingest_big.py --mb 0.2   # a smaller one (an older checkout takes hours on 5)

Why: sentence splitting used to cost the square of a paragraph's length, so one large upload
stalled a reindex for hours. This times `load_corpus` (read, clean, split into sentences, cut into
passages) on such a file and prints the figure; it is a bench, not a test, so it asserts nothing.
CPU seconds are printed too: on a shared machine they vary less than the wall clock.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.ingest.corpus import load_corpus  # noqa: E402

SOURCES = ("corpus", "tests/fixtures/retrieval")  # real article text: abbreviations, quotes, numbers


def one_paragraph(size: int, seed: int = 13) -> str:
    """About `size` bytes of real article sentences, shuffled, on one line."""
    lines = [
        " ".join(line.split())
        for folder in SOURCES
        for path in sorted((ROOT / folder).rglob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if len(line.split()) > 3
    ]
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(lines)
        parts.append(line)
        total += len(line.encode()) + 1
    return " ".join(parts)[:size].rsplit(" ", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=5.0, help="paragraph size in MB (default %(default)s)")
    args = parser.parse_args()
    limit = int(args.mb * 1_000_000) - 200  # title and byline fit under the upload cap too
    with tempfile.TemporaryDirectory(prefix="tvbot-ingest-") as folder:
        root = Path(folder)
        text = "One very long article\n\nBy Sam Ortega, Harlem Herald\n\n" + one_paragraph(limit) + "\n"
        (root / "big.txt").write_text(text, encoding="utf-8")
        size = (root / "big.txt").stat().st_size
        started, cpu = time.perf_counter(), time.process_time()
        corpus = load_corpus(root)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    sentences = sum(len(p.sentences) for p in corpus.passages)
    print(
        f"read {size / 1e6:.2f} MB in one paragraph: {seconds:.1f} s ({cpu:.1f} s of CPU) "
        f"({len(corpus.passages)} passages, {sentences} sentences, problems: {corpus.problems or 'none'})"
    )


if __name__ == "__main__":
    main()
