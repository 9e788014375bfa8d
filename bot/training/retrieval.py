"""Fit the ranker and the abstention model on fanqa's questions, through the real index and engine.

The development articles are indexed with the real builder; every question is resolved by the
real engine (follow-ups, "more", show-name-free focus) and its short list comes from the real
retriever (`Retriever.candidate_table`), so the features seen here are those seen at question
time. Folds are by show: a question is scored by models that never saw its show.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.learned import Logistic
from bot.search.question import asks_about_ending
from bot.search.rerank import Candidates, LearnedRanker, abstain_row
from bot.training import speakers
from bot.training.dataset import TEST
from bot.training.fitting import fit_pairwise_logistic, fit_trees
from bot.training.material import CACHE_DIR, Material, covers

log = logging.getLogger(__name__)

RANKER_C = 0.5
ABSTAIN_TREES = {"max_iter": 100, "max_depth": 2, "learning_rate": 0.1}  # boosting rounds, depth, step
MAX_FALSE_ABSTAIN = 0.03
SHOWN = 3  # quotes in one answer, as the bot posts them
K = 5


@dataclass(slots=True)
class Asked:
    """One question's short list, labelled."""

    id: str
    fold: str
    text: str  # the scored turn
    candidates: Candidates
    positive: np.ndarray  # per candidate: covers a gold sentence
    first_positive: np.ndarray  # the same against the first annotator's gold only (no `gold_added`)
    answerable: bool
    passage_ids: list[str]
    cautious: bool


@dataclass(slots=True)
class Ranking:
    figures: dict[str, Any]
    sections: dict[str, Any]
    model: LearnedRanker | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _index(material: Material, files: Sequence[str], name: str, embedder) -> Any:  # type: ignore[no-untyped-def]
    """An engine over a real index of `files` (built once per set of files, kept in the cache)."""
    from bot.engine import Engine

    corpus = CACHE_DIR / f"corpus-{name}"
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir(parents=True)
    for file in files:
        shutil.copy(material.data.root / "articles" / file, corpus / file)
    engine = Engine(corpus, CACHE_DIR / f"index-{name}", embedder=embedder)
    engine.reindex_sync()
    return engine


def ask_all(material: Material, engine, questions: Sequence[dict], cache) -> list[Asked]:  # type: ignore[no-untyped-def]
    """Every question resolved and short-listed the way the engine does it."""
    snapshot = engine.snapshot
    retriever = snapshot.retriever
    from bot.engine import Engine
    from bot.search.question import wants_quote

    plans = []
    texts: list[str] = []
    for q in questions:
        turns = q.get("turns") or [q["question"]]
        query = engine.resolve(turns[-1], turns[:-1])
        if query.problem:
            continue
        wanted = Engine._texts_to_embed(snapshot, query)
        plans.append((q, turns, query, wanted))
        texts.extend(wanted.values())
    vectors = dict(zip(texts, cache(texts), strict=True)) if texts else {}
    asked = []
    for q, turns, query, wanted in plans:
        vec = {key: vectors[text] for key, text in wanted.items()}
        expanded = retriever.expand(query.text)
        prefer = wants_quote(query.text) or bool(query.context and wants_quote(query.context))
        candidates = retriever.candidate_table(
            vec["question"],
            expanded,
            context_vector=vec.get("context"),
            focus_vector=vec.get("focus"),
            prefer_speakers=prefer,
        )
        passages = [retriever.index.passages[int(r)] for r in candidates.rows]
        gold = q.get("gold") or []
        # which gold sentence each candidate covers, once: both labels are read from it
        covered = np.array([[covers(p.text, g) for g in gold] for p in passages], dtype=bool)
        covered = covered.reshape(len(passages), len(gold))
        added = set(q.get("gold_added") or [])
        positive = covered.any(axis=1)
        first_positive = covered[:, [g not in added for g in gold]].any(axis=1)
        asked.append(
            Asked(
                str(q["id"]),
                material.data.fold_of_question(q),
                turns[-1],
                candidates,
                positive,
                first_positive,
                bool(gold),
                [p.id for p in passages],
                asks_about_ending(query.text) or bool(query.context and asks_about_ending(query.context)),
            )
        )
    return asked


def fit_ranker(asked: Sequence[Asked]) -> LearnedRanker:
    """Ranker on questions whose short list holds a gold passage; abstention on out-of-fold logits."""
    ranker = _fit_rank(asked)
    folds = sorted({a.fold for a in asked})
    oof: dict[str, np.ndarray] = {}
    for fold in folds:
        inner = _fit_rank([a for a in asked if a.fold != fold])
        for a in asked:
            if a.fold == fold:
                oof[a.id] = inner.logits(a.candidates.features) if a.candidates.rows.size else np.zeros(0)
    x = np.stack([abstain_row(a.candidates, oof[a.id]) for a in asked])
    y = np.array([a.answerable for a in asked])
    abstain = fit_trees(x, y, ABSTAIN_TREES)
    return LearnedRanker(ranker, abstain, 0.5)


def _fit_rank(asked: Sequence[Asked]) -> Logistic:
    """The ranker, pairwise within each question's short list (out of fold, hit@1 +0.01 over a
    pointwise model, which spends its weights on telling easy lists from hard ones)."""
    useful = [a for a in asked if a.positive.any()]
    return fit_pairwise_logistic(
        [a.candidates.features for a in useful], [a.positive for a in useful], RANKER_C
    )


def false_abstain_threshold(probabilities: np.ndarray, answerable: np.ndarray, limit: float) -> float:
    """The highest threshold that declines at most `limit` of the answerable questions."""
    scores = np.sort(probabilities[answerable])
    if not scores.size:
        return 0.5
    allowed = int(np.floor(limit * scores.size))
    return float(max(1e-4, scores[allowed] - 1e-6))


def score(
    asked: Sequence[Asked],
    models: dict[str, LearnedRanker],
    threshold: float | None,
    flags: dict[str, np.ndarray] | None,
    material: Material,
) -> dict[str, Any]:
    """hit@1, MRR@5, abstention and leaks, each question scored by the model of its fold."""
    hit1 = mrr = first_hit1 = first_mrr = answerable = false_abstain = off = declined = leaks = 0
    probabilities, labels = [], []
    for a in asked:
        model = models[a.fold]
        order, _, p = model.order(a.candidates)
        probabilities.append(p)
        labels.append(a.answerable)
    probabilities_arr = np.asarray(probabilities)
    labels_arr = np.asarray(labels, dtype=bool)
    if threshold is None:
        threshold = false_abstain_threshold(probabilities_arr, labels_arr, MAX_FALSE_ABSTAIN)
    spoiler_slots = _finale_passages(material)
    for a, p in zip(asked, probabilities_arr, strict=True):
        model = models[a.fold]
        order, _, _ = model.order(a.candidates)
        answered = p >= threshold
        if not a.answerable:
            off += 1
            declined += not answered
        else:
            answerable += 1
            false_abstain += not answered
            hit, reciprocal = _hit_and_reciprocal_rank(a.positive[order])
            hit1, mrr = hit1 + hit, mrr + reciprocal
            hit, reciprocal = _hit_and_reciprocal_rank(a.first_positive[order])
            first_hit1, first_mrr = first_hit1 + hit, first_mrr + reciprocal
        if answered and flags is not None and not a.cautious:
            for position in order[:SHOWN]:
                pid = a.passage_ids[int(position)]
                wanted = spoiler_slots.get(pid)
                if wanted and pid in flags and not all(flags[pid][i] for i in wanted):
                    leaks += 1
    return {
        "hit1": round(hit1 / max(1, answerable), 3),
        "mrr": round(mrr / max(1, answerable), 3),
        "hit1_first_gold": round(first_hit1 / max(1, answerable), 3),
        "mrr_first_gold": round(first_mrr / max(1, answerable), 3),
        "abstain": round(declined / max(1, off), 3),
        "false_abstain": round(false_abstain / max(1, answerable), 3),
        "leaks": leaks,
        "threshold": threshold,
        "questions": len(asked),
    }


def _hit_and_reciprocal_rank(ranked_positive: np.ndarray) -> tuple[int, float]:
    """(the first quote answers, 1 / rank of the first that does within the top K)."""
    hits = np.flatnonzero(ranked_positive[:K])
    return (int(hits[0] == 0), float(1.0 / (hits[0] + 1))) if hits.size else (0, 0.0)


def _finale_passages(material: Material) -> dict[str, list[int]]:
    """Passage id -> indexes of its sentences that a label marks as finale spoilers."""
    from bot.training.material import matches

    out: dict[str, list[int]] = {}
    for label in material.data.labels:
        spoilers = label.get("finale_spoilers", [])
        for passage in material.passages_of.get(label["file"], []):
            hit = [i for i, s in enumerate(passage.sentences) if any(matches(s, x) for x in spoilers)]
            if hit:
                out[passage.id] = hit
    return out


def passage_flags(items, probabilities, threshold: float) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Passage id -> per-sentence flags from per-slot probabilities (see bot.annotate.spoilers)."""
    out: dict[str, list[bool]] = {}
    for item, p in zip(items, probabilities, strict=True):
        passages = item.passages
        for slot, prob in zip(item.bare.slots, p, strict=True):
            pid = passages[slot.passage].id
            out.setdefault(pid, [False] * len(passages[slot.passage].sentences))[slot.index] = bool(
                prob >= threshold
            )
    return {k: np.asarray(v) for k, v in out.items()}


def train_and_measure(
    material: Material, embedder, cache, spoiler_model, oof_probabilities, items
) -> Ranking:  # type: ignore[no-untyped-def]
    dev_files = material.data.files_in([str(n) for n in range(5)])
    engine = _index(material, dev_files, "dev", embedder)
    questions = [q for q in material.data.questions if material.data.fold_of_question(q) != TEST]
    asked = ask_all(material, engine, questions, cache)
    folds = sorted({a.fold for a in asked})
    models = {fold: fit_ranker([a for a in asked if a.fold != fold]) for fold in folds}
    dev_items = [i for i in items if i.fold != TEST]
    flags = passage_flags(dev_items, oof_probabilities[0], oof_probabilities[1])
    figures = score(asked, models, None, flags, material)
    final = fit_ranker(asked)
    final = LearnedRanker(final.ranker, final.abstain, figures["threshold"])
    log.info("retrieval: %s", figures)
    answerable = [a for a in asked if a.answerable]
    log.info(
        "short lists hold a gold passage for %.3f of answerable questions (the ranker's ceiling)",
        sum(bool(a.positive.any()) for a in answerable) / max(1, len(answerable)),
    )
    sections = {
        "ranking": {
            "ranker": final.ranker.to_dict(),
            "abstain": final.abstain.to_dict(),
            "threshold": round(figures["threshold"], 6),
        }
    }
    engine.embedder = None
    return Ranking(figures, sections, final)


def final_test(
    material: Material, embedder, cache, spoiler_model, ranking: Ranking, items, vectors
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Figures on the locked test shows: the final models, an index of every article."""
    from bot.training.spoilers import evaluate

    test_items = [i for i in items if i.fold == TEST]
    probabilities = [spoiler_model.probabilities(i.bare, vectors) for i in test_items]
    recall, precision = evaluate(test_items, probabilities, spoiler_model.threshold)
    engine = _index(material, [lab["file"] for lab in material.data.labels], "all", embedder)
    questions = [q for q in material.data.questions if material.data.fold_of_question(q) == TEST]
    asked = ask_all(material, engine, questions, cache)
    for a in asked:
        a.fold = TEST
    flags = passage_flags(test_items, probabilities, spoiler_model.threshold)
    figures = score(asked, {TEST: ranking.model}, ranking.model.threshold, flags, material)
    figures.update(
        recall=round(recall, 3),
        precision=round(precision, 3),
        speaker=speakers.share(material, [i.file for i in test_items], material.passages_of),
    )
    return figures


__all__ = ["Ranking", "train_and_measure", "final_test", "Path"]
