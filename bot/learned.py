"""The one artifact of learned weights (`bot/assets/learned.json`), made by `python -m bot train`.

Plain JSON (lists of floats), no pickles: logistic models are a weight vector, a bias, and the
mean/scale the inputs were standardised with; tree ensembles are node tables (feature, threshold,
children, leaf value) walked here with numpy. Index-time annotation and question-time search
read their sections from here; nothing in the bot fits weights at serve time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

log = logging.getLogger(__name__)
T = TypeVar("T")

ARTIFACT_PATH = Path(__file__).resolve().parent / "assets" / "learned.json"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class Logistic:
    """A standardised logistic model: p = sigmoid(((x - mean) / scale) . weights + bias)."""

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.weights.size:
            raise ValueError(f"model expects {self.weights.size} features, got {x.shape[1]}")
        return ((x - self.mean) / self.scale) @ self.weights + self.bias

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(x))

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": [round(float(w), 6) for w in self.weights],
            "bias": round(float(self.bias), 6),
            "mean": [round(float(m), 6) for m in self.mean],
            "scale": [round(float(s), 6) for s in self.scale],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Logistic:
        weights = np.asarray(data["weights"], dtype=np.float32)
        mean = np.asarray(data["mean"], dtype=np.float32)
        scale = np.asarray(data["scale"], dtype=np.float32)
        if not (weights.shape == mean.shape == scale.shape) or not np.all(scale > 0):
            raise ValueError("inconsistent logistic model")
        return cls(weights, float(data["bias"]), mean, scale)


@dataclass(frozen=True, slots=True)
class TreeEnsemble:
    """Boosted regression trees on the logit scale: logit = baseline + sum of each tree's leaf.

    Each tree is a node table; a row goes left when its feature is <= the node's threshold (a
    missing value goes where training sent it). Used where the inputs interact in ways a logistic
    model cannot weigh (abstention: a weak best match means something else for a one-word question).
    """

    baseline: float
    features: int  # inputs expected
    trees: tuple[dict[str, np.ndarray], ...]

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.features:
            raise ValueError(f"model expects {self.features} features, got {x.shape[1]}")
        if x.shape[0] == 1:  # question time: one row, where a plain walk beats array steps
            return np.asarray([self._one(x[0].tolist())], dtype=np.float32)
        total = np.full(x.shape[0], self.baseline, dtype=np.float64)
        rows = np.arange(x.shape[0])
        for tree in self.trees:
            node = np.zeros(x.shape[0], dtype=np.int64)
            while True:
                inner = ~tree["leaf"][node]
                if not inner.any():
                    break
                at = node[inner]
                value = x[rows[inner], tree["feature"][at]]
                left = np.where(np.isnan(value), tree["missing_left"][at], value <= tree["threshold"][at])
                node[inner] = np.where(left, tree["left"][at], tree["right"][at])
            total += tree["value"][node]
        return total.astype(np.float32)

    def _one(self, row: list[float]) -> float:
        total = self.baseline
        for tree in self.trees:
            feature, threshold, leaf = tree["feature"], tree["threshold"], tree["leaf"]
            node = 0
            while not leaf[node]:
                value = row[feature[node]]
                left = tree["missing_left"][node] if value != value else value <= threshold[node]
                node = tree["left"][node] if left else tree["right"][node]
            total += float(tree["value"][node])
        return total

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(x))

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": round(self.baseline, 8),
            "features": self.features,
            "trees": [
                {
                    "feature": t["feature"].tolist(),
                    "threshold": [round(float(v), 8) for v in t["threshold"]],
                    "left": t["left"].tolist(),
                    "right": t["right"].tolist(),
                    "leaf": t["leaf"].astype(int).tolist(),
                    "missing_left": t["missing_left"].astype(int).tolist(),
                    "value": [round(float(v), 8) for v in t["value"]],
                }
                for t in self.trees
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeEnsemble:
        features = int(data["features"])
        trees = []
        for t in data["trees"]:
            tree = {
                "feature": np.asarray(t["feature"], dtype=np.int64),
                "threshold": np.asarray(t["threshold"], dtype=np.float64),
                "left": np.asarray(t["left"], dtype=np.int64),
                "right": np.asarray(t["right"], dtype=np.int64),
                "leaf": np.asarray(t["leaf"], dtype=bool),
                "missing_left": np.asarray(t["missing_left"], dtype=bool),
                "value": np.asarray(t["value"], dtype=np.float64),
            }
            size = tree["value"].size
            inner = ~tree["leaf"]
            parents = np.flatnonzero(inner)
            if (
                size == 0
                or any(v.shape != (size,) for v in tree.values())
                or np.any(tree["feature"][inner] < 0)
                or np.any(tree["feature"][inner] >= features)
                or np.any(tree["left"][inner] <= parents)  # children come after parents: no loops
                or np.any(tree["right"][inner] <= parents)
                or np.any(tree["left"][inner] >= size)
                or np.any(tree["right"][inner] >= size)
            ):
                raise ValueError("inconsistent tree")
            trees.append(tree)
        return cls(float(data["baseline"]), features, tuple(trees))


def choice_of(logits: np.ndarray) -> tuple[int, float]:
    """A choice model's likeliest row and its probability against the other rows and "none"
    (logit 0): the form `fit_choice_logistic` fits. `logits` must not be empty."""
    logits = np.asarray(logits, dtype=np.float64)
    top = int(np.argmax(logits))
    shift = max(float(logits[top]), 0.0)
    return top, float(np.exp(logits[top] - shift) / (np.exp(-shift) + np.exp(logits - shift).sum()))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float32), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@lru_cache(maxsize=4)
def load_artifact(path: Path = ARTIFACT_PATH) -> dict[str, Any] | None:
    """The artifact's sections, or None when it is missing or unreadable (callers fail closed)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.error("learned weights unavailable (%s): %s", path, exc)
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        log.error("learned weights in %s have an unknown format", path)
        return None
    return data


_stand_ins: dict[str, dict[str, Any]] = {}
_built: dict[str, tuple[dict[str, Any], Any]] = {}


def section(name: str, path: Path = ARTIFACT_PATH) -> dict[str, Any] | None:
    if path == ARTIFACT_PATH and name in _stand_ins:
        return _stand_ins[name]
    data = load_artifact(path)
    value = data.get(name) if data else None
    return value if isinstance(value, dict) else None


def built(name: str, build: Callable[[dict[str, Any]], T | None]) -> T | None:
    """The model of section `name`, built once for each version of the section (stand-ins too)."""
    data = section(name)
    if data is None:
        return None
    cached = _built.get(name)
    if cached is not None and cached[0] is data:
        return cast("T | None", cached[1])
    model = build(data)
    _built[name] = (data, model)
    return model


@contextmanager
def standing_in(sections: dict[str, dict[str, Any]]) -> Iterator[None]:
    """Training: freshly fitted sections stand in for the shipped ones, so that the index built to
    measure retrieval reads, cleans and attributes articles with them, never with an earlier run's."""
    _stand_ins.update(sections)
    try:
        yield
    finally:
        for name in sections:
            _stand_ins.pop(name, None)
