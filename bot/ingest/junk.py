"""Page furniture that copy-pasted and extracted articles drag along, recognised by a learned model.

Sign-in walls, player bars, captions and photo credits, bylines, share rows, comment sections and
rating boxes vary too much between sites for rules, so each paragraph is scored by a logistic
model over hashed character and word n-grams, the words of a leading "Label:" ("Verdict:",
"Photo:", "Related:"; a speaker's name is one too, and the model learns the difference), n-grams
of each line's character classes ("0:00 a.a. AA", "© 00 Aaa Aaa.": timestamps, chapter lists, dates and
copyright lines share a shape across sites while their words differ), the
markup the reader saw around the paragraph (tags and class words such as `figcaption` or
`dateline`, an `<em>` around a whole Markdown caption), and a few shape facts (length,
punctuation, capitals, digits), then by a second model that also sees its
neighbours' scores (a comment's text is junk because of the "says:" line above it and the "Reply"
below it: how sure both neighbours are, and that times the paragraph's own score, are inputs, since
a linear model over each neighbour alone cannot tell "between two junk lines" from "next to one";
and whether the lines two away are junk too, since a comment sits inside a run of junk while an
article paragraph between a caption and a newsletter box has prose on either side of them).
Both are fitted by `python -m bot train` on the junk labels of datasets/fanqa. Without weights
nothing is dropped: losing article text is worse than quoting a share row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from bot.learned import Logistic, built, sigmoid
from bot.models import Article

log = logging.getLogger(__name__)

CHAR_FEATURES = 1 << 14
WORD_FEATURES = 1 << 13
LABEL_FEATURES = 1 << 10
CUE_FEATURES = 1 << 10
CLASS_FEATURES = 1 << 12
CLASS_SPAN = 200  # the shape of a line's opening is what furniture shares
LABEL_SPAN = 32  # a "Label:" ends within the first characters of its line
SHAPE_FEATURES = (
    "log_length", "words", "sentence_end", "capital_start", "capital_share", "digit_share",
    "colon", "bar", "short", "question", "quote_mark", "label",
)  # fmt: skip
# No position in the article: fanqa's copied pages end in comments and footers, so "last" would
# be learned as "junk", and the last paragraph of a clean extracted or short article would be lost.
CONTEXT_FEATURES = (
    "self", "prev", "next", "prev2", "next2", "short", "between_junk", "self_between_junk",
    "inside_junk_run",
)  # fmt: skip
# A paragraph at either end of the page has no neighbour there: its score reads as "unknown"
# (logit 0), not as a confidently clean neighbour, or an author bio closing the body would be
# pulled towards "article" by a neighbour that does not exist.
MISSING = 0.0
LINE_FEATURES = (
    CHAR_FEATURES + WORD_FEATURES + LABEL_FEATURES + CUE_FEATURES + len(SHAPE_FEATURES) + CLASS_FEATURES
)  # the width of `features`, in its column order


@lru_cache(maxsize=1)
def _vectorizers():  # type: ignore[no-untyped-def]
    chars = _hashed(
        analyzer="char_wb", ngram_range=(2, 4), n_features=CHAR_FEATURES, norm="l2", lowercase=True
    )
    words = _hashed(
        analyzer="word", ngram_range=(1, 2), n_features=WORD_FEATURES, norm="l2", lowercase=True,
        token_pattern=r"(?u)\b\w+\b",
    )  # fmt: skip
    labels = _hashed(
        analyzer="word", n_features=LABEL_FEATURES, norm=None, lowercase=True, token_pattern=r"(?u)\b\w+\b"
    )
    cues = _hashed(analyzer=_own_words, n_features=CUE_FEATURES, norm=None, lowercase=False)
    classes = _hashed(
        analyzer="char", ngram_range=(3, 5), n_features=CLASS_FEATURES, norm="l2", lowercase=False
    )
    return chars, words, labels, cues, classes


def _hashed(**settings):  # type: ignore[no-untyped-def]
    """A hashing vectorizer with non-negative columns (no sign flips: a weight reads as one n-gram's)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(alternate_sign=False, **settings)


def _own_words(cues: Sequence[str]) -> list[str]:
    return list(cues)


def character_classes(text: str) -> str:
    """The line's opening as character classes: digits "0", capitals "A", other letters "a", any
    space " ", punctuation as itself, runs cut to two ("9:46 p.m. ET" -> "0:00 a.a. AA")."""
    out: list[str] = []
    for char in text[:CLASS_SPAN]:
        kind = "0" if char.isdigit() else "A" if char.isupper() else "a" if char.isalpha() else char
        kind = " " if kind.isspace() else kind
        if len(out) < 2 or out[-1] != kind or out[-2] != kind:
            out.append(kind)
    return "".join(out)


def line_label(text: str) -> str:
    """The "Label" of a line that opens with "Label: ...", or ""."""
    colon = text.find(":", 0, LABEL_SPAN)
    return text[:colon] if colon > 0 else ""


def shape_row(text: str) -> list[float]:
    words = text.split()
    stripped = text.rstrip("\"'”’)] ")
    return [
        float(np.log1p(len(text))),
        min(len(words), 60) / 60.0,
        float(stripped[-1:] in (".", "!", "?")),
        float(text[:1].isupper()),
        sum(w[:1].isupper() for w in words) / max(1, len(words)),
        sum(c.isdigit() for c in text) / max(1, len(text)),
        float(":" in text),
        float("|" in text or "·" in text or "•" in text),
        float(len(words) <= 6),
        float(stripped.endswith("?")),
        float(any(q in text for q in '"“”')),
        float(bool(line_label(text))),
    ]


def features(texts: Sequence[str], cues: Sequence[Sequence[str]] | None = None):  # type: ignore[no-untyped-def]
    """Sparse matrix: hashed n-grams, the "Label:" words, the reader's markup cues (a plain-text
    file has none), then the shape facts, then the character-class n-grams."""
    from scipy.sparse import csr_matrix, hstack

    chars, words, labels, markup, classes = _vectorizers()
    shapes = csr_matrix(np.asarray([shape_row(t) for t in texts], dtype=np.float32))
    label_words = labels.transform([line_label(t) for t in texts])
    cue_words = markup.transform(list(cues) if cues is not None else [() for _ in texts])
    kinds = classes.transform([character_classes(t) for t in texts])
    return hstack(
        [chars.transform(texts), words.transform(texts), label_words, cue_words, shapes, kinds]
    ).tocsr()


def context_rows(logits: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float32)
    count = z.size
    padded = np.concatenate([[MISSING, MISSING], z, [MISSING, MISSING]])
    sure = sigmoid(padded)
    return np.asarray(
        [
            [
                z[i],
                padded[i + 1],
                padded[i + 3],
                padded[i],
                padded[i + 4],
                float(len(texts[i].split()) <= 6),
                min(sure[i + 1], sure[i + 3]),
                sure[i + 2] * min(sure[i + 1], sure[i + 3]),
                min(sure[i + 1], sure[i + 3]) * min(sure[i], sure[i + 4]),
            ]
            for i in range(count)
        ],
        dtype=np.float32,
    ).reshape(count, len(CONTEXT_FEATURES))


@dataclass(frozen=True, slots=True)
class SparseLogistic:
    """Logistic regression over sparse inputs: weights stored as (index, value) pairs."""

    weights: np.ndarray
    bias: float

    def logits(self, x) -> np.ndarray:  # type: ignore[no-untyped-def]
        return np.asarray(x @ self.weights, dtype=np.float32).ravel() + self.bias

    def to_dict(self) -> dict:
        nonzero = np.flatnonzero(self.weights)
        return {
            "size": int(self.weights.size),
            "index": nonzero.tolist(),
            "value": [round(float(v), 5) for v in self.weights[nonzero]],
            "bias": round(self.bias, 6),
        }

    @classmethod
    def from_dict(cls, data: dict) -> SparseLogistic:
        weights = np.zeros(int(data["size"]), dtype=np.float32)
        weights[np.asarray(data["index"], dtype=np.int64)] = np.asarray(data["value"], dtype=np.float32)
        return cls(weights, float(data["bias"]))


@dataclass(frozen=True, slots=True)
class JunkModel:
    lines: SparseLogistic
    context: Logistic
    threshold: float

    def probabilities(self, texts: Sequence[str], cues: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        z = self.lines.logits(features(texts, cues))
        return sigmoid(self.context.logits(context_rows(z, texts)))

    def clean(self, article: Article) -> Article:
        """The article without its junk paragraphs (headings stay: they are context, not quotes).

        It keeps at least its most article-like paragraph: a page judged all junk was still added
        as an article, and a one-paragraph file has no neighbours to judge it by, so the model is
        likelier wrong than the page empty."""
        texts = [p.text for p in article.paragraphs]
        scores = self.probabilities(texts, [p.cues for p in article.paragraphs])
        junk = scores >= self.threshold
        if texts and junk.all():
            log.warning("%s: every paragraph scored as junk; keeping the least junk-like", article.meta.file)
            junk[int(np.argmin(scores))] = False
        kept = tuple(p for p, drop in zip(article.paragraphs, junk, strict=True) if not drop)
        dropped = tuple(p.text for p, drop in zip(article.paragraphs, junk, strict=True) if drop)
        return replace(article, paragraphs=kept, furniture=article.furniture + dropped)


def load_junk_model() -> JunkModel | None:
    return built("junk", _build)


def _build(data: dict) -> JunkModel | None:
    try:
        model = JunkModel(
            SparseLogistic.from_dict(data["lines"]),
            Logistic.from_dict(data["context"]),
            float(data["threshold"]),
        )
        if model.lines.weights.size != LINE_FEATURES or model.context.weights.size != len(CONTEXT_FEATURES):
            raise ValueError("feature counts differ from the code's (retrain: python -m bot train)")
        return model
    except (KeyError, TypeError, ValueError) as exc:
        log.error("junk weights unreadable (%s); no paragraph is dropped as junk", exc)
        return None


def drop_junk(article: Article) -> Article:
    model = load_junk_model()
    return model.clean(article) if model is not None else article
