"""Flag the sentences that reveal a season finale, once per index build, with a learned model.

Two stacked models from the artifact (`bot.learned`), fitted by `python -m bot train` on the
fanqa corpus:

1. `sentence`, a logistic model: the sentence's MiniLM vector, the vector of the heading above it
   and a few positional facts (where in the article, inside a quote, first in its paragraph);
2. `context`, boosted trees (out of fold they hold the recall target at a higher precision than a
   logistic model over the same inputs): the first model's logits for the sentence and its
   neighbours, its paragraph and its article, what the `headline` model thinks of the title, the
   URL slug and the heading, how close the sentence is to the article's most finale-like
   sentences, and to the admin's finale facts for the show.

The threshold was chosen on validation folds for recall >= 0.995 (`bot.training.spoilers`):
an extra tag costs a fan a click, a missed one costs them the ending. The same features are
computed here and in training (`bot.training.spoilers` imports this module), so what was
measured is what runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.annotate.scope import article_scope, find_facts_show, season_numbers
from bot.learned import Logistic, TreeEnsemble, section
from bot.models import Article, ArticleMeta, Passage, SpoilerInfo
from bot.shows import ShowFacts
from bot.text import slug_words

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]
MISSING = -8.0  # the logit given to a neighbour that does not exist (start or end of the article)
CONTEXT_FEATURES = (
    "self", "prev", "next", "prev2", "next2", "paragraph_max", "paragraph_mean", "article_max",
    "article_mean", "article_top5", "article_share", "title", "slug", "heading", "has_heading",
    "position", "fact", "echo", "quoted", "self_x_share",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Slot:
    """One sentence of an article in reading order, with where it sits."""

    passage: int  # position in the passage list being annotated
    index: int  # sentence number inside the passage
    paragraph: int
    text: str
    heading: str | None
    quoted: bool
    first_in_paragraph: bool


@dataclass(frozen=True, slots=True)
class ArticleText:
    """What the models read of one article."""

    meta: ArticleMeta
    slots: list[Slot]
    slug: str | None
    facts: tuple[str, ...] = ()


def article_text(
    meta: ArticleMeta, passages: Sequence[tuple[int, Passage]], facts: tuple[str, ...] = ()
) -> ArticleText:
    slots: list[Slot] = []
    last_paragraph = None
    for position, passage in passages:
        for number, sentence in enumerate(passage.sentences):
            slots.append(
                Slot(
                    position,
                    number,
                    passage.paragraph,
                    sentence,
                    passage.heading,
                    passage.speaker is not None,
                    passage.paragraph != last_paragraph,
                )
            )
            last_paragraph = passage.paragraph
    return ArticleText(meta, slots, slug_words(meta.url), facts)


class Vectors:
    """Unique texts embedded once; `row(text)` indexes the matrix after `embed_all`."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.matrix = np.zeros((0, 0), dtype=np.float32)

    def add(self, text: str | None) -> None:
        if text and text not in self.rows:
            self.rows[text] = len(self.rows)

    def embed_all(self, embed: Embed) -> None:
        texts = list(self.rows)
        self.matrix = np.asarray(embed(texts), dtype=np.float32) if texts else np.zeros((0, 384), np.float32)

    def of(self, text: str | None) -> np.ndarray | None:
        return self.matrix[self.rows[text]] if text and text in self.rows else None


def collect_texts(articles: Sequence[ArticleText], vectors: Vectors) -> None:
    for article in articles:
        vectors.add(article.meta.title)
        vectors.add(article.slug)
        for slot in article.slots:
            vectors.add(slot.text)
            vectors.add(slot.heading)
        for fact in article.facts:
            vectors.add(fact)


def sentence_features(article: ArticleText, vectors: Vectors) -> np.ndarray:
    """Stage-one inputs, one row per slot: sentence vector, heading vector, position facts."""
    count = len(article.slots)
    if not count:
        return np.zeros((0, 0), dtype=np.float32)
    dim = vectors.matrix.shape[1]
    zero = np.zeros(dim, dtype=np.float32)
    rows = []
    for position, slot in enumerate(article.slots):
        heading = vectors.of(slot.heading)
        extra = np.array(
            [
                position / max(1, count - 1),
                float(slot.quoted),
                float(heading is not None),
                float(slot.first_in_paragraph),
                min(len(slot.text) / 200.0, 2.0),
            ],
            dtype=np.float32,
        )
        rows.append(np.concatenate([vectors.of(slot.text), heading if heading is not None else zero, extra]))
    return np.stack(rows)


def context_features(
    article: ArticleText, vectors: Vectors, sentence_logits: np.ndarray, headline: Logistic
) -> np.ndarray:
    """Stage-two inputs (CONTEXT_FEATURES), one row per slot, from the stage-one logits."""
    z = np.asarray(sentence_logits, dtype=np.float32)
    count = z.size
    if not count:
        return np.zeros((0, len(CONTEXT_FEATURES)), dtype=np.float32)
    sentence_matrix = np.stack([vectors.of(s.text) for s in article.slots])
    padded = np.concatenate([[MISSING, MISSING], z, [MISSING, MISSING]])
    paragraphs: dict[int, list[int]] = {}
    for position, slot in enumerate(article.slots):
        paragraphs.setdefault(slot.paragraph, []).append(position)
    top = np.sort(z)[::-1]
    share = float((z > 0).mean())

    def headline_logit(text: str | None) -> float:
        vector = vectors.of(text)
        return float(headline.logits(vector[None, :])[0]) if vector is not None else MISSING

    title_z, slug_z = headline_logit(article.meta.title), headline_logit(article.slug)
    fact_vectors = [v for v in (vectors.of(f) for f in article.facts) if v is not None]
    facts = sentence_matrix @ np.stack(fact_vectors).T if fact_vectors else None
    order = np.argsort(-z, kind="stable")
    heading_z = {h: headline_logit(h) for h in {s.heading for s in article.slots if s.heading}}
    rows = []
    for position, slot in enumerate(article.slots):
        members = paragraphs[slot.paragraph]
        leaders = [i for i in order[:4] if i != position][:3]
        echo = float((sentence_matrix[leaders] @ sentence_matrix[position]).mean()) if leaders else 0.0
        rows.append(
            [
                z[position],
                padded[position + 1],
                padded[position + 3],
                padded[position],
                padded[position + 4],
                float(z[members].max()),
                float(z[members].mean()),
                float(top[0]),
                float(z.mean()),
                float(top[:5].mean()),
                share,
                title_z,
                slug_z,
                heading_z.get(slot.heading, MISSING) if slot.heading else MISSING,
                float(slot.heading is not None),
                position / max(1, count - 1),
                float(facts[position].max()) if facts is not None else 0.0,
                echo,
                float(slot.quoted),
                z[position] * share,
            ]
        )
    return np.asarray(rows, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class SpoilerModel:
    sentence: Logistic
    context: TreeEnsemble
    headline: Logistic
    threshold: float
    headline_threshold: float

    @classmethod
    def from_section(cls, data: dict) -> SpoilerModel:
        return cls(
            Logistic.from_dict(data["sentence"]),
            TreeEnsemble.from_dict(data["context"]),
            Logistic.from_dict(data["headline"]),
            float(data["threshold"]),
            float(data["headline_threshold"]),
        )

    def probabilities(self, article: ArticleText, vectors: Vectors) -> np.ndarray:
        if not article.slots:
            return np.zeros(0, dtype=np.float32)
        z = self.sentence.logits(sentence_features(article, vectors))
        return self.context.probabilities(context_features(article, vectors, z, self.headline))

    def line_spoils(self, article: ArticleText, line: str | None, vectors: Vectors) -> bool:
        """A headline or slug read as the article's first sentence by the recall-tuned models, or
        by the headline model: either calling it a spoiler tags it (a leak costs more than a tag)."""
        if not line or vectors.of(line) is None:
            return False
        first = Slot(-1, 0, -1, line, None, False, True)
        virtual = ArticleText(article.meta, [first, *article.slots], article.slug, article.facts)
        return self.headline_spoils(line, vectors) or bool(
            self.probabilities(virtual, vectors)[0] >= self.threshold
        )

    def headline_spoils(self, text: str | None, vectors: Vectors) -> bool:
        vector = vectors.of(text)
        return bool(
            vector is not None and self.headline.probabilities(vector[None, :])[0] >= self.headline_threshold
        )


def load_spoiler_model() -> SpoilerModel | None:
    data = section("spoilers")
    if data is None:
        return None
    try:
        model = SpoilerModel.from_section(data)
        if model.context.features != len(CONTEXT_FEATURES):
            raise ValueError("the artifact was made for other features; run python -m bot train")
        return model
    except (KeyError, TypeError, ValueError) as exc:
        log.error("spoiler weights unreadable (%s); every passage will be tagged", exc)
        return None


def detect_spoilers(
    articles: Sequence[Article],
    passages: Sequence[Passage],
    embed: Embed,
    facts: ShowFacts | None = None,
    model: SpoilerModel | None = None,
) -> tuple[list[Passage], dict[str, ArticleMeta]]:
    """The passages (same order) with `spoiler` set, and each article's meta with whether its title
    and URL slug give a finale away. Without weights every passage stays unknown (tagged)."""
    model = model or load_spoiler_model()
    known = {article.meta.file: article for article in articles}
    if model is None:
        return [replace(p, spoiler=None) for p in passages], {f: a.meta for f, a in known.items()}
    by_file: dict[str, list[tuple[int, Passage]]] = {}
    for position, passage in enumerate(passages):
        by_file.setdefault(passage.file, []).append((position, passage))
    plans = []
    vectors = Vectors()
    for file, items in by_file.items():
        article = known.get(file)
        meta = article.meta if article else ArticleMeta(file=file, title=file)
        sentences = [s for _, p in items for s in p.sentences]
        scope = article_scope(article, sentences, facts) if article else None
        show = find_facts_show(scope.show, facts) if scope else None
        fact_texts = (show.finale_facts(scope.season) or show.finale_facts()) if show and scope else ()
        text = article_text(meta, items, tuple(fact_texts))
        plans.append((text, scope))
    collect_texts([t for t, _ in plans], vectors)
    vectors.embed_all(embed)
    result = list(passages)
    metas: dict[str, ArticleMeta] = {}
    for text, scope in plans:
        probabilities = model.probabilities(text, vectors)
        flags: dict[int, list[bool]] = {}
        for slot, p in zip(text.slots, probabilities, strict=True):
            flags.setdefault(slot.passage, [False] * len(passages[slot.passage].sentences))[slot.index] = (
                bool(p >= model.threshold)
            )
        for position, passage_flags in flags.items():
            season = _passage_season(
                passages[position].sentences, passage_flags, scope.season if scope else None
            )
            result[position] = replace(
                passages[position],
                spoiler=SpoilerInfo(tuple(passage_flags), scope.show if scope else None, season),
            )
        metas[text.meta.file] = replace(
            text.meta,
            title_spoils=model.line_spoils(text, text.meta.title, vectors),
            slug_spoils=model.line_spoils(text, text.slug, vectors),
        )
    return result, metas


def _passage_season(sentences: Sequence[str], flags: list[bool], season: int | None) -> int | None:
    """A flagged sentence that names one season ("the season two finale") overrides the article's."""
    for sentence, flagged in zip(sentences, flags, strict=True):
        named = set(season_numbers(sentence)) if flagged else set()
        if len(named) == 1:
            return named.pop()
    return season
