"""Fit the speaker choice (`bot.ingest.speaker_model`) on fanqa's speaker labels, measured by show folds.

Each quote run of a labelled article is one choice among its candidate people and "nobody"
(a conditional logit, `fit_choice_logistic`): the person whose name holds every word of the
labelled speaker is the right option, nobody for a run without a labelled quote. The threshold
(below it nobody is named) maximises out-of-fold accuracy over runs: a run with labelled quotes
is right when its speaker is picked, one without (a title or a scare quote) when nobody is. The
reported figure is the evaluator's rule over passages cut with out-of-fold models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.ingest.passages import article_passages
from bot.ingest.speaker_model import Choice, SpeakerModel
from bot.ingest.speakers import rule_plan
from bot.learned import choice_of
from bot.models import Passage
from bot.training.dataset import TEST
from bot.training.fitting import fit_choice_logistic
from bot.training.material import Material, covers, norm, words

# kept from the per-candidate logistic model this choice replaced (chosen there on out-of-fold
# accuracy, 0.1 or 1.0); not tuned again
C = 0.1


@dataclass(slots=True)
class SpeakerArticle:
    file: str
    fold: str
    choices: list[Choice]
    gold: list[str | None]  # per choice: the labelled speaker of its run, None when nobody is labelled


def _holds(name: str, speaker: str) -> bool:
    return bool(speaker) and set(words(speaker)) <= set(words(name))


def speaker_articles(material: Material) -> list[SpeakerArticle]:
    out = []
    for label in material.data.labels:
        article = material.articles.get(label["file"])
        if article is None or not label.get("speakers"):
            continue
        texts = [p.text for p in article.paragraphs]
        headings = [p.heading for p in article.paragraphs]
        _, runs, choices = rule_plan(texts, article.meta, headings, article.furniture)
        normed = [norm(t) for t in texts]
        said: dict[int, str] = {}
        for item in label["speakers"]:
            quote = norm(item["quote"])
            for j, text in enumerate(normed):
                if quote and (quote in text or covers(texts[j], item["quote"])):
                    said.setdefault(j, item["speaker"])
                    break
        gold = []
        for choice in choices:
            members = [j for j, run in enumerate(runs) if run == choice.paragraph]
            gold.append(next((said[j] for j in members if j in said), None))
        out.append(SpeakerArticle(label["file"], material.data.folds[label["show"]], choices, gold))
    return out


def _groups(items: Sequence[SpeakerArticle]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per quote run: its candidates' rows and which of them is the labelled speaker (none of
    them for a run without a labelled quote: a title or a scare quote, where nobody is right)."""
    xs, ys = [], []
    for item in items:
        for choice, gold in zip(item.choices, item.gold, strict=True):
            xs.append(choice.rows)
            ys.append(np.array([gold is not None and _holds(n, gold) for n in choice.names]))
    if not xs:
        raise ValueError("no speaker rows to learn from")
    return xs, ys


def fit(items: Sequence[SpeakerArticle], threshold: float = 0.5) -> SpeakerModel:
    groups, positives = _groups(items)
    return SpeakerModel(fit_choice_logistic(groups, positives, C), threshold)


def cross_validate(items: Sequence[SpeakerArticle]) -> tuple[float, dict[str, SpeakerModel]]:
    """The accuracy-best threshold on out-of-fold scores, and the per-fold models."""
    models: dict[str, SpeakerModel] = {}
    best_scores: list[tuple[float, bool, bool]] = []  # best probability, its pick right, a speaker labelled
    for fold in sorted({i.fold for i in items}):
        model = fit([i for i in items if i.fold != fold])
        models[fold] = model
        for item in items:
            if item.fold != fold:
                continue
            for choice, gold in zip(item.choices, item.gold, strict=True):
                best, p = choice_of(model.scorer.logits(choice.rows))
                right = gold is not None and _holds(choice.names[best], gold)
                best_scores.append((p, right, gold is not None))
    best_t, best_accuracy = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        accuracy = sum((right if p >= t else not labelled) for p, right, labelled in best_scores)
        if accuracy > best_accuracy:
            best_t, best_accuracy = float(t), accuracy
    return round(best_t, 4), models


def share(material: Material, files: Sequence[str], passages_of: dict[str, list[Passage]]) -> float | None:
    """Share of labelled quotes whose passage names that person (the evaluator's rule)."""
    ok = total = 0
    wanted = set(files)
    for label in material.data.labels:
        if label["file"] not in wanted or not label.get("speakers"):
            continue
        passages = passages_of.get(label["file"], [])
        for item in label["speakers"]:
            quote = norm(item["quote"])
            holders = [
                p for p in passages if quote and (quote in norm(p.text) or covers(p.text, item["quote"]))
            ]
            if not holders:
                continue
            total += 1
            if any(_holds(p.speaker or "", item["speaker"]) for p in holders):
                ok += 1
    return round(ok / total, 3) if total else None


def train(material: Material) -> tuple[SpeakerModel, dict[str, float | None]]:
    """Fit on the development folds; figures out of fold (and the rules alone, for comparison)."""
    items = [i for i in speaker_articles(material) if i.fold != TEST]
    threshold, models = cross_validate(items)
    dev_files = [i.file for i in items]
    out_of_fold = {}
    for item in items:
        model = SpeakerModel(models[item.fold].scorer, threshold)
        out_of_fold[item.file] = article_passages(material.articles[item.file], model)
    rules = {f: article_passages(material.articles[f], None) for f in dev_files}
    figures = {
        "speaker": share(material, dev_files, out_of_fold),
        "speaker_rules": share(material, dev_files, rules),
        "speaker_threshold": threshold,
    }
    return fit(items, threshold), figures
