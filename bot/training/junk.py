"""Fit the junk-paragraph models (`bot.ingest.junk`) on fanqa's junk labels, measured by show folds.

Only articles written with junk labels count (the folded-in test fixtures never labelled theirs).
Markdown labels are compared as the reader prints them (without `**` or link syntax), or a bold
commenter's name would be learned as article text.
A paragraph is junk when labelled junk lines make up at least half of it, the evaluator's rule.
The threshold maximises F1 on out-of-fold scores: a dropped article sentence can cost an answer
(`junk_answers_dropped` counts the paragraphs dropped that hold a question's gold sentence or a
labelled quote), a kept share row costs a bad quote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.ingest.junk import JunkModel, SparseLogistic, context_rows, features
from bot.ingest.passages import article_passages
from bot.models import Article, Passage
from bot.training.dataset import label_as_read
from bot.training.fitting import fit_logistic
from bot.training.material import Material, norm

LINES_C = 8.0
CONTEXT_C = 1.0


@dataclass(slots=True)
class JunkArticle:
    file: str
    fold: str
    texts: list[str]
    cues: list[tuple[str, ...]]
    junk: np.ndarray
    answers: np.ndarray  # the paragraph holds a question's gold sentence or a labelled quote


def junk_articles(material: Material) -> list[JunkArticle]:
    wanted: dict[str, list[str]] = {}
    for question in material.data.questions:
        for file in question.get("gold_files") or []:
            wanted.setdefault(file, []).extend(norm(g) for g in question.get("gold") or [])
    for label in material.data.labels:
        wanted.setdefault(label["file"], []).extend(norm(s["quote"]) for s in label.get("speakers") or [])
    out = []
    for label in material.data.labels:
        if not str(label.get("origin", "")).startswith("written") or label["file"] not in material.raw:
            continue
        lines = junk_lines(label)
        paragraphs = material.raw[label["file"]].paragraphs
        texts = [p.text for p in paragraphs]
        junk = np.array([_is_junk(norm(t), lines) for t in texts], dtype=bool)
        answers = np.array([_holds(norm(t), wanted.get(label["file"], [])) for t in texts], dtype=bool)
        cues = [p.cues for p in paragraphs]
        out.append(JunkArticle(label["file"], material.data.folds[label["show"]], texts, cues, junk, answers))
    return out


def junk_lines(label: dict) -> list[str]:
    """An article's junk labels as the reader prints them, normalised for matching."""
    lines = (norm(label_as_read(j, label["format"])) for j in label.get("junk", []))
    return [line for line in lines if line]


def _is_junk(text: str, lines: Sequence[str]) -> bool:
    return not text or any(text in line for line in lines) or _mostly_junk(text, lines)


def _holds(text: str, sentences: Sequence[str]) -> bool:
    """A labelled sentence starts in this paragraph (its first words: labels may span two)."""
    return any(s and s[:80] in text for s in sentences)


def _fit_lines(items: Sequence[JunkArticle]) -> SparseLogistic:
    from scipy.sparse import vstack

    x = vstack([features(i.texts, i.cues) for i in items])
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
                rows.append(context_rows(inner.logits(features(item.texts, item.cues)), item.texts))
                labels.append(item.junk)
    context = fit_logistic(np.concatenate(rows), np.concatenate(labels), CONTEXT_C)
    return JunkModel(lines, context, threshold)


def junk_only_passages(
    labels: Sequence[dict], articles: Mapping[str, Article], passages_of: Mapping[str, Sequence[Passage]]
) -> list[tuple[str, str]]:
    """Passages made mostly of labelled junk lines (the evaluator's rule: half their characters),
    cut from a paragraph that is itself mostly junk: a body paragraph whose words a pull quote
    repeats matches the pull quote's label, yet it is the article, not furniture.

    Markdown labels are read as the reader prints them, so a bold commenter's name counts too
    (the evaluator compares the raw label and would miss it).
    """
    found = []
    for label in labels:
        junk = junk_lines(label)
        if not junk:
            continue
        paragraphs = articles[label["file"]].paragraphs
        for passage in passages_of.get(label["file"], []):
            whole = norm(paragraphs[passage.paragraph].text)
            if _mostly_junk(norm(passage.text), junk) and _mostly_junk(whole, junk):
                found.append((label["file"], passage.text[:90]))
    return found


def _mostly_junk(text: str, junk: Sequence[str]) -> bool:
    return bool(text) and sum(len(line) for line in junk if line in text) >= 0.5 * len(text)


def cross_validate(items: Sequence[JunkArticle], material: Material) -> tuple[float, dict[str, float]]:
    """The F1-best threshold on out-of-fold scores, and precision/recall there.

    Also `junk_only_held_out`: passages mostly made of junk lines (`junk_only_passages`) once each
    show's articles are cleaned by the model of its fold (one that never saw the show) and cut with
    the format rules: what a page nobody labelled is likeliest to show a fan. The threshold is the
    one picked on these same out-of-fold scores, so the count is slightly optimistic.
    """
    scores = []
    models = {}
    for fold in sorted({i.fold for i in items}):
        models[fold] = model = fit([i for i in items if i.fold != fold])
        scores.extend(
            (item, model.probabilities(item.texts, item.cues)) for item in items if item.fold == fold
        )
    p = np.concatenate([s for _, s in scores])
    y = np.concatenate([i.junk for i, _ in scores])
    answers = np.concatenate([i.answers for i, _ in scores]) & ~y
    best = (0.0, 0.5, 0.0, 0.0)
    for t in np.linspace(0.05, 0.95, 91):
        flagged = p >= t
        tp = float((flagged & y).sum())
        precision = tp / max(1.0, flagged.sum())
        recall = tp / max(1.0, y.sum())
        f1 = 2 * precision * recall / max(1e-9, precision + recall)
        if f1 > best[0]:
            best = (f1, float(t), precision, recall)
    f1, threshold, precision, recall = best
    figures: dict[str, float] = {
        "junk_f1": round(f1, 3),
        "junk_precision": round(precision, 3),
        "junk_recall": round(recall, 3),
        "junk_paragraphs": int(y.sum()),
        "junk_answers_dropped": int((answers & (p >= threshold)).sum()),
    }
    fold_of = {i.file: i.fold for i in items}
    cleaned = {
        file: replace(models[fold], threshold=threshold).clean(material.raw[file])
        for file, fold in fold_of.items()
    }
    passages_of = {file: article_passages(a, None) for file, a in cleaned.items()}
    labels = [label for label in material.data.labels if label["file"] in fold_of]
    figures["junk_only_held_out"] = len(junk_only_passages(labels, cleaned, passages_of))
    return threshold, figures
