"""The model kinds training fits, each copied out into the artifact's plain form (`bot.learned`).

Logistic models where a weighted sum is enough (plain, pairwise for a ranker, or a choice of one
row of a group or none); boosted trees where inputs interact (a weak best match means something
else for a one-word question). All deterministic for the same data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.learned import Logistic, TreeEnsemble

log = logging.getLogger(__name__)


def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of each input (a constant input keeps scale 1 instead of dividing by 0)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    return mean, scale


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float, balanced: bool = True) -> Logistic:
    """A standardised L2 logistic regression (lbfgs: deterministic for the same data)."""
    x = np.asarray(x, dtype=np.float64)
    mean, scale = _standardiser(x)
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced" if balanced else None)
    model.fit((x - mean) / scale, y.astype(int))
    return Logistic(
        model.coef_[0].astype(np.float32),
        float(model.intercept_[0]),
        mean.astype(np.float32),
        scale.astype(np.float32),
    )


def fit_pairwise_logistic(
    groups: Sequence[np.ndarray], positives: Sequence[np.ndarray], c: float
) -> Logistic:
    """A ranker: logistic regression on the standardised differences between each positive row and
    each other row of its own group (no intercept), so the weights learn what orders one group's
    rows rather than what makes a whole group look good. Scores are `logits` of each row."""
    x = np.concatenate(groups).astype(np.float64)
    mean, scale = _standardiser(x)
    differences = []
    for rows, positive in zip(groups, positives, strict=True):
        z = (rows - mean) / scale
        gold, other = z[positive], z[~positive]
        differences.append((gold[:, None, :] - other[None, :, :]).reshape(-1, z.shape[1]))
    d = np.concatenate(differences)
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000)
    model.fit(np.concatenate([d, -d]), np.concatenate([np.ones(len(d)), np.zeros(len(d))]))
    return Logistic(model.coef_[0].astype(np.float32), 0.0, mean.astype(np.float32), scale.astype(np.float32))


def fit_choice_logistic(groups: Sequence[np.ndarray], positives: Sequence[np.ndarray], c: float) -> Logistic:
    """A one-of-these-or-none choice (conditional logit): each group's rows and a "none" option
    share one softmax, P(row) = exp(logit) / (1 + sum of the group's exp(logits)), fitted by
    maximum likelihood with an L2 penalty (lbfgs from zeros: deterministic). A group with
    several positive rows is right when any of them is chosen; one without, when none is."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    x = np.concatenate(groups).astype(np.float64)
    mean, scale = _standardiser(x)
    standard = [(rows - mean) / scale for rows in groups]
    width = x.shape[1]

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = theta[:width], theta[width]
        loss = 0.5 * float(weights @ weights) / c
        gradient = np.append(weights / c, 0.0)
        for z, positive in zip(standard, positives, strict=True):
            logits = np.append(z @ weights + bias, 0.0)  # the last entry is "none"
            target = np.append(positive, not positive.any())
            everything, right = logsumexp(logits), logsumexp(logits[target])
            loss += float(everything - right)  # -log P(a right option), in log space throughout
            residual = np.exp(logits - everything) - np.where(target, np.exp(logits - right), 0.0)
            gradient[:width] += residual[:-1] @ z  # d loss / d logit of each real row
            gradient[width] += residual[:-1].sum()
        return loss, gradient

    result = minimize(loss_and_gradient, np.zeros(width + 1), jac=True, method="L-BFGS-B")
    if not result.success:
        log.warning("choice model: lbfgs stopped early (%s)", result.message)
    return Logistic(
        result.x[:width].astype(np.float32),
        float(result.x[width]),
        mean.astype(np.float32),
        scale.astype(np.float32),
    )


def fit_trees(x: np.ndarray, y: np.ndarray, settings: dict[str, Any]) -> TreeEnsemble:
    """Boosted trees (scikit-learn's histogram boosting, fixed seed, no early stopping: the same
    data gives the same trees), copied out as plain node tables."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(random_state=0, early_stopping=False, **settings)
    model.fit(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=int))
    trees = []
    for (predictor,) in model._predictors:  # one tree per round for a binary target
        nodes = predictor.nodes
        trees.append(
            {
                "feature": nodes["feature_idx"].astype(np.int64),
                "threshold": nodes["num_threshold"].astype(np.float64),
                "left": nodes["left"].astype(np.int64),
                "right": nodes["right"].astype(np.int64),
                "leaf": nodes["is_leaf"].astype(bool),
                "missing_left": nodes["missing_go_to_left"].astype(bool),
                "value": nodes["value"].astype(np.float64),
            }
        )
    return TreeEnsemble(float(np.ravel(model._baseline_prediction)[0]), int(x.shape[1]), tuple(trees))
