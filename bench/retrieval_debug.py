"""Show, per dev question, where the gold passage ranks and the top hits: a tuning aid.

.venv/bin/python bench/retrieval_debug.py ../shared/eval/dev [index_dir]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "eval"))

from evaluate import covers  # noqa: E402

from bot.engine import Engine  # noqa: E402


def main() -> None:
    corpus = Path(sys.argv[1])
    index = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/retrieval-debug-index")
    engine = Engine(corpus / "articles", index)
    engine.reindex_sync()
    hit1 = total = 0
    for line in (corpus / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        turns = q.get("turns") or [q["question"]]
        answer = engine.ask_sync(turns[-1], history=turns[:-1], k=5)
        gold = q.get("gold") or []
        rank = next(
            (i for i, h in enumerate(answer.hits, 1) if any(covers(h.passage.text, g) for g in gold)), None
        )
        if gold:
            total += 1
            hit1 += rank == 1
        flag = "OK " if (rank == 1 or (not gold and not answer.answered)) else "BAD"
        print(f"{flag} {q['id']} rank={rank} {turns}")
        if flag == "BAD" or "-v" in sys.argv:
            for h in answer.hits[:3]:
                print(f"      {h.score:.3f} {h.passage.speaker or ''} | {h.passage.text[:110]}")
    print(f"hit@1 {hit1}/{total}")


if __name__ == "__main__":
    main()
