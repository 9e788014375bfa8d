"""Learned re-ranking and abstention over the retriever's short list.

The retriever proposes the best CANDIDATES passages by its blended score; a logistic ranker from
the artifact (`bot.learned`, fitted pairwise by `python -m bot train`) re-orders them from their
features, and boosted trees over the question's facts, the ranker's best logits and its first
choice's features give the probability that the corpus answers the question at all (trees,
because what a weak best match means depends on the question: a one-word question, a follow-up,
names the corpus never uses).
The decline threshold was chosen on validation folds for a false-abstention rate <= 0.03.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from bot.learned import Logistic, TreeEnsemble, section

log = logging.getLogger(__name__)

CANDIDATES = 40
RANK_FEATURES = (
    "blend", "dense", "question", "sentence", "lexical", "show", "season", "coverage", "meta", "has_speaker",
    "named_speaker", "blend_rank", "length", "has_heading", "dense_gap", "lexical_gap", "sentence_gap",
)  # fmt: skip
# question facts, then the ranker's first choice's own features (whether its show, season or named
# speaker matches the question's, how close its best sentence is)
ABSTAIN_FEATURES = (
    "top_rank", "margin", "best_dense", "best_question", "best_sentence", "best_lexical",
    "specific", "unknown", "unknown_share", "follow_up", "words", "question_alone", "coverage", "names_show",
) + tuple(f"top_{name}" for name in RANK_FEATURES)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Candidates:
    """The short list for one question: passage rows and one feature row per candidate."""

    rows: np.ndarray
    features: np.ndarray  # (len(rows), len(RANK_FEATURES))
    query: dict[str, float]  # question-level facts for abstention (see ABSTAIN_FEATURES)


def abstain_row(candidates: Candidates, rank_logits: np.ndarray) -> np.ndarray:
    """The abstention model's inputs, given the ranker's logits for the candidates."""
    q = candidates.query
    order = np.sort(rank_logits)[::-1] if rank_logits.size else np.zeros(1, dtype=np.float32)
    top = float(order[0])
    margin = float(order[0] - order[1]) if order.size > 1 else 0.0
    f = candidates.features
    best = lambda name: float(f[:, RANK_FEATURES.index(name)].max()) if f.size else 0.0  # noqa: E731
    first = f[int(np.argmax(rank_logits))] if rank_logits.size and f.size else np.zeros(len(RANK_FEATURES))
    question = np.array(
        [
            top,
            margin,
            q["best_dense"],
            best("question"),
            best("sentence"),
            best("lexical"),
            q["specific"],
            q["unknown"],
            q["unknown"] / max(1.0, q["specific"]),
            q["follow_up"],
            q["words"],
            q["question_alone"],
            q["coverage"],
            q["names_show"],
        ],
        dtype=np.float32,
    )
    return np.concatenate([question, np.asarray(first, dtype=np.float32)])


@dataclass(frozen=True, slots=True)
class LearnedRanker:
    ranker: Logistic
    abstain: TreeEnsemble
    threshold: float  # least probability of "answerable" a question needs to be answered

    @classmethod
    def from_section(cls, data: dict) -> LearnedRanker:
        return cls(
            Logistic.from_dict(data["ranker"]),
            TreeEnsemble.from_dict(data["abstain"]),
            float(data["threshold"]),
        )

    def order(self, candidates: Candidates) -> tuple[np.ndarray, np.ndarray, float]:
        """(positions into candidates.rows best first, their ranker logits, P(answerable))."""
        if not candidates.rows.size:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), 0.0
        logits = self.ranker.logits(candidates.features)
        order = np.argsort(-logits, kind="stable")
        answerable = float(self.abstain.probabilities(abstain_row(candidates, logits)[None, :])[0])
        return order, logits[order], answerable


def load_ranker() -> LearnedRanker | None:
    data = section("ranking")
    if data is None:
        return None
    try:
        model = LearnedRanker.from_section(data)
        if model.ranker.weights.size != len(RANK_FEATURES) or model.abstain.features != len(ABSTAIN_FEATURES):
            raise ValueError("the artifact was made for other features; run python -m bot train")
        return model
    except (KeyError, TypeError, ValueError) as exc:
        log.error("ranking weights unreadable (%s); using the blended score", exc)
        return None
