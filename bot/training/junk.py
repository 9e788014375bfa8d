"""Fit the junk-paragraph models (`bot.ingest.junk`) on fanqa's junk labels, measured by show folds.

Only articles written with junk labels count (the folded-in test fixtures never labelled theirs).
A paragraph is junk when labelled junk lines make up at least half of it, the evaluator's rule.
The threshold maximises F1 on out-of-fold scores: a dropped article sentence can cost an answer,
a kept share row costs a bad quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.ingest.junk import JunkModel, SparseLogistic, context_rows, features
from bot.training.material import Material, norm
from bot.training.spoilers import fit_logistic

LINES_C = 8.0
CONTEXT_C = 1.0


@dataclass(slots=True)
class JunkArticle:
    file: str
    fold: str
    texts: list[str]
    junk: np.ndarray


def junk_articles(material: Material) -> list[JunkArticle]:
    out = []
    for label in material.data.labels:
        if not str(label.get("origin", "")).startswith("written") or label["file"] not in material.raw:
            continue
        lines = [norm(j) for j in label.get("junk", []) if norm(j)]
        texts = [p.text for p in material.raw[label["file"]].paragraphs]
        junk = np.array([_is_junk(norm(t), lines) for t in texts], dtype=bool)
        out.append(JunkArticle(label["file"], material.data.folds[label["show"]], texts, junk))
    return out


def _is_junk(text: str, lines: Sequence[str]) -> bool:
    if not text:
        return True
    if any(text in line for line in lines):
        return True
    return sum(len(line) for line in lines if line in text) >= 0.5 * len(text)


def _fit_lines(items: Sequence[JunkArticle]) -> SparseLogistic:
    from scipy.sparse import vstack

    x = vstack([features(i.texts) for i in items])
    y = np.concatenate([i.junk for i in items]).astype(int)
    model = LogisticRegression(C=LINES_C, max_iter=5000, class_weight="balanced")
    model.fit(x, y)
    return SparseLogistic(model.coef_[0].astype(np.float32), float(model.intercept_[0]))


def fit(items: Sequence[JunkArticle], threshold: float = 0.5) -> JunkModel:
    lines = _fit_lines(items)
    folds = sorted({i.fold for i in items})
    rows, labels = [], []
    for fold in folds:
        inner = _fit_lines([i for i in items if i.fold != fold])
        for item in items:
            if item.fold == fold:
                rows.append(context_rows(inner.logits(features(item.texts)), item.texts))
                labels.append(item.junk)
    context = fit_logistic(np.concatenate(rows), np.concatenate(labels), CONTEXT_C)
    return JunkModel(lines, context, threshold)


def cross_validate(items: Sequence[JunkArticle]) -> tuple[float, dict[str, float]]:
    """The F1-best threshold on out-of-fold scores, and precision/recall there."""
    scores, truth = [], []
    for fold in sorted({i.fold for i in items}):
        model = fit([i for i in items if i.fold != fold])
        for item in items:
            if item.fold == fold:
                scores.append(model.probabilities(item.texts))
                truth.append(item.junk)
    p = np.concatenate(scores)
    y = np.concatenate(truth)
    best = (0.0, 0.5, 0.0, 0.0)
    for t in np.linspace(0.05, 0.95, 91):
        flagged = p >= t
        tp = float((flagged & y).sum())
        precision = tp / max(1.0, flagged.sum())
        recall = tp / max(1.0, y.sum())
        f1 = 2 * precision * recall / max(1e-9, precision + recall)
        if f1 > best[0]:
            best = (f1, float(t), precision, recall)
    return best[1], {
        "junk_f1": round(best[0], 3),
        "junk_precision": round(best[2], 3),
        "junk_recall": round(best[3], 3),
        "junk_paragraphs": int(y.sum()),
    }
