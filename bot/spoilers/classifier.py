"""A small logistic regression over MiniLM sentence vectors plus cue features.

Pure numpy (Newton's method with an L2 penalty) so the bot needs no extra runtime dependency and
the fit is exactly reproducible. The fitted weights ship as JSON next to the training sentences;
`bot.spoilers.training` rebuilds them when the sentences change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.spoilers.features import CUE_NAMES

ASSETS = Path(__file__).with_name("assets")
MODEL_PATH = ASSETS / "finale_model.json"
CUE_SCALE = 1.0  # cue columns are 0/1; embedding columns are roughly unit length per row


@dataclass(frozen=True)
class FinaleModel:
    """Weights over [embedding, cues] and a bias; `data_sha256` names the training file it came from."""

    weights: np.ndarray
    bias: float
    embedding_model: str
    cue_names: tuple[str, ...]
    data_sha256: str

    def probabilities(self, vectors: np.ndarray, cues: np.ndarray) -> np.ndarray:
        """P(finale reveal) for each row of (vectors, cues)."""
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.float64)
        return _sigmoid(design(vectors, cues) @ self.weights + self.bias)

    def to_json(self) -> str:
        return json.dumps(
            {
                "embedding_model": self.embedding_model,
                "cue_names": list(self.cue_names),
                "data_sha256": self.data_sha256,
                "bias": self.bias,
                "weights": [round(float(w), 6) for w in self.weights],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> FinaleModel:
        data = json.loads(text)
        return cls(
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            embedding_model=str(data["embedding_model"]),
            cue_names=tuple(data["cue_names"]),
            data_sha256=str(data["data_sha256"]),
        )


def design(vectors: np.ndarray, cues: np.ndarray) -> np.ndarray:
    """The feature matrix the model reads: embedding columns, then scaled cue columns."""
    return np.hstack([vectors.astype(np.float64), cues.astype(np.float64) * CUE_SCALE])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 50) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by Newton's method (bias unpenalised); deterministic."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = _sigmoid(xb @ w)
        grad = xb.T @ (p - y) + penalty * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[:-1], float(w[-1])


def load_model(path: Path = MODEL_PATH) -> FinaleModel:
    """The shipped model; raises FileNotFoundError/ValueError when it is missing or unreadable."""
    model = FinaleModel.from_json(path.read_text(encoding="utf-8"))
    if model.cue_names != CUE_NAMES:
        raise ValueError(f"{path.name} was trained with other cue features; rerun bot.spoilers.training")
    return model


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))
