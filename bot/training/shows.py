"""Fit the show detector (`bot.ingest.topic`) on the shows fanqa's labels name, measured by show folds.

Every article counts, front matter or not: the detector reads only the title, the body and the
URL slug. A candidate is right when it is the labelled show or one of the labelled shows (a
leading "The" aside: "Great British Bake Off" is "The Great British Bake Off"). The threshold
maximises out-of-fold accuracy, where declining is right only for an article whose title offers
no right candidate: a wrong show scopes answers to the wrong show, no show scopes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.ingest.topic import ShowModel, article_candidates
from bot.training.dataset import TEST
from bot.training.fitting import fit_choice_logistic
from bot.training.material import Material

SHOW_C = 1.0


@dataclass(slots=True)
class ShowArticle:
    file: str
    fold: str
    names: list[str]
    rows: np.ndarray
    positive: np.ndarray


def _key(name: str) -> str:
    words = name.casefold().replace("’", "'").split()
    return " ".join(words[1:] if words[:1] == ["the"] else words)


def show_articles(material: Material) -> list[ShowArticle]:
    out = []
    for label in material.data.labels:
        article = material.raw.get(label["file"])
        if article is None:
            continue
        gold = {_key(s) for s in (label["show"], *(label.get("shows") or ()))}
        names, rows = article_candidates(article)
        positive = np.array([_key(n) in gold for n in names], dtype=bool)
        out.append(ShowArticle(label["file"], material.data.folds[label["show"]], names, rows, positive))
    return out


def fit(items: Sequence[ShowArticle], threshold: float = 0.5) -> ShowModel:
    usable = [i for i in items if len(i.names)]
    scorer = fit_choice_logistic([i.rows for i in usable], [i.positive for i in usable], SHOW_C)
    return ShowModel(scorer, threshold)


def correct(model: ShowModel, item: ShowArticle) -> bool:
    """The model's pick is the labelled show, or it declines where no candidate is."""
    if len(item.names):
        top, score = model.best(item.rows)
        if score >= model.threshold:
            return bool(item.positive[top])
    return not item.positive.any()


def _accuracy(items: Sequence[ShowArticle], best: Sequence[tuple[float, bool]], threshold: float) -> float:
    right = 0
    for item, (score, right_pick) in zip(items, best, strict=True):
        right += right_pick if score >= threshold else not item.positive.any()
    return right / max(1, len(items))


def cross_validate(items: Sequence[ShowArticle]) -> tuple[float, dict[str, float]]:
    """The accuracy-best threshold on out-of-fold picks, and the accuracy there."""
    best: list[tuple[float, bool]] = [(0.0, False)] * len(items)
    for fold in sorted({i.fold for i in items}):
        model = fit([i for i in items if i.fold != fold])
        for n, item in enumerate(items):
            if item.fold == fold and len(item.names):
                top, score = model.best(item.rows)
                best[n] = (score, bool(item.positive[top]))
    grid = sorted({round(float(t), 3) for t in np.linspace(0.05, 0.95, 91)})
    threshold = max(grid, key=lambda t: (_accuracy(items, best, t), -t))
    return threshold, {
        "show_accuracy": round(_accuracy(items, best, threshold), 3),
        "show_threshold": threshold,
        "show_articles": len(items),
    }


def train(material: Material) -> tuple[ShowModel, dict[str, float]]:
    """Fitted on the development folds (never the locked test shows), with its out-of-fold figures."""
    items = [i for i in show_articles(material) if i.fold != TEST]
    threshold, figures = cross_validate(items)
    return fit(items, threshold), figures
