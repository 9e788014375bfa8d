"""Fit the spoiler models (`bot.annotate.spoilers`) on fanqa and measure them on unseen shows.

Folds are by show (`splits.json`), so every figure is for articles about shows the models never
saw. The context model learns from out-of-fold sentence logits (stacking), as it sees them at
index time. The admin's finale facts are simulated in training by the finale sentences of other
articles about the same show, for half of the articles, so the model learns to use facts and to
do without them; the reported figures are measured without facts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.annotate.spoilers import (
    ArticleText,
    SpoilerModel,
    Vectors,
    article_text,
    collect_texts,
    context_features,
    sentence_features,
)
from bot.training.fitting import fit_logistic, fit_trees
from bot.training.material import Material, matches

# The issue asks for recall >= 0.98; out of fold, 0.98 -> 0.995 costs character precision
# 0.387 -> 0.361 and cuts finale sentences shown untagged in answers from 30 to 7. The curve is flat
# there, and a missed tag costs a fan the ending. Not 0.999 (precision 0.357, 1 leak): with about
# two thousand finale labels that threshold is set by the lowest two or three scores alone.
TARGET_RECALL = 0.995
SENTENCE_C = 0.05
# out of fold, precision at recall 0.995 was 0.349 with the logistic context model (C = 1) and
# 0.367 with these trees (0.363-0.365 with depth 2 and 200 rounds, depth 4, or 200 rounds)
CONTEXT_TREES = {"max_iter": 100, "max_depth": 3, "learning_rate": 0.1}  # boosting rounds, depth, step
HEADLINE_C = 0.1
MAX_FACTS = 8


@dataclass(slots=True)
class LabelledArticle:
    file: str
    fold: str
    passages: list  # the article's passages, as ingest cut them (slots index into this)
    text: ArticleText  # with simulated facts where the article draws them
    bare: ArticleText  # the same without facts (what is measured)
    positive: np.ndarray  # per slot
    label_slots: list[list[int]]  # per labelled finale sentence: the slots it covers
    title_spoils: bool | None
    slug_spoils: bool | None


def labelled_articles(material: Material) -> list[LabelledArticle]:
    data = material.data
    finales_by_show: dict[str, list[tuple[str, str]]] = {}
    for label in data.labels:
        for sentence in label.get("finale_spoilers", []):
            finales_by_show.setdefault(label["show"], []).append((label["file"], sentence))
    out = []
    for label in data.labels:
        file = label["file"]
        article = material.articles.get(file)
        if article is None:
            continue
        items = list(enumerate(material.passages_of.get(file, [])))
        bare = article_text(article.meta, items)
        draws = int(hashlib.sha256(file.encode()).hexdigest(), 16) % 2 == 0
        facts = (
            tuple(s for f, s in finales_by_show.get(label["show"], []) if f != file)[:MAX_FACTS]
            if draws
            else ()
        )
        text = article_text(article.meta, items, facts)
        spoilers = label.get("finale_spoilers", [])
        label_slots = [[i for i, slot in enumerate(bare.slots) if matches(slot.text, s)] for s in spoilers]
        positive = np.zeros(len(bare.slots), dtype=bool)
        for slots in label_slots:
            positive[slots] = True
        out.append(
            LabelledArticle(
                file,
                data.folds[label["show"]],
                [p for _, p in items],
                text,
                bare,
                positive,
                [s for s in label_slots if s],
                label.get("title_spoils"),
                label.get("slug_spoils"),
            )
        )
    return out


def _headline_rows(items: Sequence[LabelledArticle], vectors: Vectors) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for item in items:
        for text, spoils in ((item.bare.meta.title, item.title_spoils), (item.bare.slug, item.slug_spoils)):
            vector = vectors.of(text)
            if vector is not None and spoils is not None:
                xs.append(vector)
                ys.append(bool(spoils))
    return np.stack(xs), np.asarray(ys)


def fit(
    items: Sequence[LabelledArticle],
    vectors: Vectors,
    threshold: float = 0.5,
    headline_threshold: float = 0.5,
) -> SpoilerModel:
    """Headline, sentence and context models fitted on `items` (context on out-of-fold logits)."""
    hx, hy = _headline_rows(items, vectors)
    headline = fit_logistic(hx, hy, HEADLINE_C)
    x1 = [sentence_features(i.text, vectors) for i in items]
    sentence = fit_logistic(np.concatenate(x1), np.concatenate([i.positive for i in items]), SENTENCE_C)
    folds = sorted({i.fold for i in items})
    oof = [np.zeros(len(i.positive), dtype=np.float32) for i in items]
    for fold in folds:
        inside = [n for n, i in enumerate(items) if i.fold != fold]
        inner = fit_logistic(
            np.concatenate([x1[n] for n in inside]),
            np.concatenate([items[n].positive for n in inside]),
            SENTENCE_C,
        )
        for n, item in enumerate(items):
            if item.fold == fold and len(item.positive):
                oof[n] = inner.logits(x1[n])
    x2 = [context_features(i.text, vectors, z, headline) for i, z in zip(items, oof, strict=True)]
    context = fit_trees(np.concatenate(x2), np.concatenate([i.positive for i in items]), CONTEXT_TREES)
    return SpoilerModel(sentence, context, headline, threshold, headline_threshold)


@dataclass(slots=True)
class SpoilerFigures:
    recall: float
    precision: float
    threshold: float
    headline_accuracy: float
    sentences: int
    labelled: int


def evaluate(
    items: Sequence[LabelledArticle], probabilities: Sequence[np.ndarray], threshold: float
) -> tuple[float, float]:
    """(label-level recall, character precision) at `threshold`, as the evaluator counts them."""
    hit = total = 0
    flagged_chars = right_chars = 0
    for item, p in zip(items, probabilities, strict=True):
        for slots in item.label_slots:
            total += 1
            hit += bool(np.all(p[slots] >= threshold))
        for slot, prob, positive in zip(item.bare.slots, p, item.positive, strict=True):
            if prob >= threshold:
                flagged_chars += len(slot.text)
                right_chars += len(slot.text) if positive else 0
    return (hit / total if total else 1.0), (right_chars / flagged_chars if flagged_chars else 1.0)


def recall_threshold(
    items: Sequence[LabelledArticle], probabilities: Sequence[np.ndarray], target: float
) -> float:
    """The highest threshold whose label-level recall is at least `target`."""
    scores = sorted(
        float(np.min(p[slots]))
        for item, p in zip(items, probabilities, strict=True)
        for slots in item.label_slots
    )
    if not scores:
        return 0.5
    allowed_misses = int(np.floor((1 - target) * len(scores)))
    return max(1e-4, scores[allowed_misses] - 1e-6)


def cross_validate(
    items: Sequence[LabelledArticle], vectors: Vectors
) -> tuple[list[np.ndarray], float, float]:
    """Out-of-fold probabilities (no facts) for every item, the recall threshold they give, and
    the headline threshold (0.5 on balanced weights; kept as a setting of the artifact)."""
    folds = sorted({i.fold for i in items})
    probabilities: list[np.ndarray | None] = [None] * len(items)
    for fold in folds:
        model = fit([i for i in items if i.fold != fold], vectors)
        for n, item in enumerate(items):
            if item.fold == fold:
                probabilities[n] = model.probabilities(item.bare, vectors)
    done = [p if p is not None else np.zeros(0) for p in probabilities]
    return done, recall_threshold(items, done, TARGET_RECALL), 0.5


def prepare_vectors(items: Sequence[LabelledArticle], embed) -> Vectors:  # type: ignore[no-untyped-def]
    vectors = Vectors()
    collect_texts([i.text for i in items], vectors)
    vectors.embed_all(embed)
    return vectors
