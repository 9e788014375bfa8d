"""Fit the finale classifier from the hand-written training sentences and save its weights.

The sentences (assets/finale_training.jsonl) are generic: finale reveals and look-alikes (premise,
casting, renewals, mid-season events, vague praise, warnings) about many real and invented shows,
none from the evaluation articles. Run after editing them:

    python -m bot.spoilers.training          # writes assets/finale_model.json
    python -m bot.spoilers.training --cv     # also prints cross-validated accuracy by show
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.spoilers.classifier import ASSETS, MODEL_PATH, FinaleModel, design, fit_logistic
from bot.spoilers.features import CUE_NAMES, cue_matrix

TRAINING_PATH = ASSETS / "finale_training.jsonl"
L2 = 0.3
Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Example:
    text: str
    label: int
    kind: str
    show: str


def load_examples(path: Path = TRAINING_PATH) -> list[Example]:
    """Training sentences; one JSON object per line with text, label (0/1), kind and show."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            rows.append(Example(data["text"], int(data["label"]), data.get("kind", ""), data.get("show", "")))
    return rows


def data_sha256(path: Path = TRAINING_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train(embed: Embed, path: Path = TRAINING_PATH, model_name: str = "") -> FinaleModel:
    """Fit on every training sentence."""
    examples = load_examples(path)
    texts = [e.text for e in examples]
    x = design(embed(texts), cue_matrix(texts))
    y = np.array([e.label for e in examples], dtype=np.float64)
    weights, bias = fit_logistic(x, y, L2)
    return FinaleModel(weights, bias, model_name, CUE_NAMES, data_sha256(path))


def cross_validate(embed: Embed, path: Path = TRAINING_PATH, folds: int = 5) -> dict[str, float]:
    """Accuracy with whole shows held out per fold, so it measures transfer to unseen shows."""
    examples = load_examples(path)
    texts = [e.text for e in examples]
    x = design(embed(texts), cue_matrix(texts))
    y = np.array([e.label for e in examples], dtype=np.float64)
    shows = sorted({e.show for e in examples})
    fold_of = {show: int(hashlib.md5(show.encode()).hexdigest(), 16) % folds for show in shows}
    predicted = np.zeros(len(examples))
    for fold in range(folds):
        test = np.array([fold_of[e.show] == fold for e in examples])
        weights, bias = fit_logistic(x[~test], y[~test], L2)
        predicted[test] = 1 / (1 + np.exp(-(x[test] @ weights + bias)))
    hits = (predicted >= 0.5) == (y == 1)
    positives = y == 1
    return {
        "accuracy": float(hits.mean()),
        "recall": float(hits[positives].mean()),
        "specificity": float(hits[~positives].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cv", action="store_true", help="print show-held-out cross-validation")
    args = parser.parse_args()
    from bot.embedder import MODEL_NAME, Embedder

    embedder = Embedder()
    if args.cv:
        print(json.dumps(cross_validate(embedder.embed)))
    model = train(embedder.embed, model_name=MODEL_NAME)
    MODEL_PATH.write_text(model.to_json() + "\n", encoding="utf-8")
    print(f"wrote {MODEL_PATH} from {len(load_examples())} sentences")


if __name__ == "__main__":
    main()
