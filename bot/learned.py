"""The one artifact of learned weights (`bot/assets/learned.json`), made by `python -m bot train`.

Plain JSON (lists of floats), no pickles: logistic models are a weight vector, a bias, and the
mean/scale the inputs were standardised with. Index-time annotation and question-time search
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
