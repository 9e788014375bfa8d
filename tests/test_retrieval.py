"""Answering fans over the shipped seed corpus (Jessica Jones / Luke Cage) with the real model."""

from __future__ import annotations

import numpy as np
import pytest

from bot.engine import EMPTY_QUESTION, TOO_LONG, Engine
from bot.models import Answer
from bot.render.reply import DECLINE

KILGRAVE = "why did jj kill kilgrave?"
COLTER = "what did colter say about luke and jessica?"


def ids(answer: Answer) -> list[str]:
    return [h.passage.id for h in answer.hits]


def test_why_did_jj_kill_kilgrave(engine: Engine) -> None:
    answer = engine.ask_sync(KILGRAVE)
    assert answer.answered
    assert "Kilgrave" in answer.hits[0].passage.text
    assert answer.messages and "Kilgrave" in answer.messages[0]


def test_what_did_colter_say_finds_a_mike_colter_quote(engine: Engine) -> None:
    answer = engine.ask_sync(COLTER)
    assert answer.answered
    assert answer.hits[0].passage.speaker == "Mike Colter"
    assert "Mike Colter" in answer.messages[0]


@pytest.mark.parametrize("question", ["what's the best pizza topping?", "how do i reset my router"])
def test_off_topic_questions_are_declined(engine: Engine, question: str) -> None:
    answer = engine.ask_sync(question)
    assert answer.answered is False
    assert answer.hits == []
    assert answer.messages == [DECLINE]


@pytest.mark.parametrize("question", [KILGRAVE, COLTER, "how does the first season of jessica jones end?"])
def test_no_two_hits_are_near_duplicates(engine: Engine, question: str) -> None:
    answer = engine.ask_sync(question, k=5)
    snapshot = engine.snapshot
    assert snapshot is not None
    rows = {p.id: n for n, p in enumerate(snapshot.index.passages)}
    vectors = np.asarray(snapshot.index.vectors)[[rows[i] for i in ids(answer)]]
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0.0)
    assert similarity.max() < engine.settings.duplicate_cosine
    texts = [h.passage.text for h in answer.hits]
    assert len(set(texts)) == len(texts)
    assert len(set(ids(answer))) == len(answer.hits)


@pytest.mark.parametrize("question", ["", "   ", "\n\t ", "\u200b\u200b", "\u3000"])
def test_empty_question_prompts_without_calling_the_model(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, question: str
) -> None:
    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model must not be called for an empty question")

    monkeypatch.setattr(engine.embedder, "embed", no_model)
    monkeypatch.setattr(engine.embedder, "embed_async", no_model)
    answer = engine.ask_sync(question)
    assert answer.answered is False
    assert answer.messages == [EMPTY_QUESTION]


async def test_empty_question_async_path(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model must not be called for an empty question")

    monkeypatch.setattr(engine.embedder, "embed_async", no_model)
    answer = await engine.ask("  ")
    assert (answer.answered, answer.messages) == (False, [EMPTY_QUESTION])


def test_a_very_long_question_gets_the_too_long_message(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model must not be called for a question that is too long")

    monkeypatch.setattr(engine.embedder, "embed", no_model)
    answer = engine.ask_sync("why did jessica kill kilgrave " * 134)  # ~4,000 characters
    assert answer.answered is False
    assert answer.messages == [TOO_LONG]


async def test_async_ask_matches_sync_ask(engine: Engine) -> None:
    assert ids(await engine.ask(KILGRAVE)) == ids(engine.ask_sync(KILGRAVE))


def test_more_returns_different_passages(engine: Engine) -> None:
    first = engine.ask_sync(KILGRAVE)
    more = engine.ask_sync("more", history=[KILGRAVE])
    assert first.answered and more.answered and more.hits
    assert not set(ids(first)) & set(ids(more))
    again = engine.ask_sync("more", history=[KILGRAVE, "more"])
    assert not set(ids(again)) & (set(ids(first)) | set(ids(more)))


@pytest.mark.parametrize(
    "disguised",
    [
        "why did j\u200bj kill kil\u200bgrave?",  # zero-width space
        "why\u200d did jj kill \ufeffkilgrave?",  # zero-width joiner, BOM
        "ｗｈｙ ｄｉｄ ｊｊ ｋｉｌｌ ｋｉｌｇｒａｖｅ？",  # full-width letters
        "WHY DID JJ KILL KILGRAVE?",
    ],
)
def test_disguised_questions_find_the_same_top_hit(engine: Engine, disguised: str) -> None:
    plain = engine.ask_sync(KILGRAVE)
    answer = engine.ask_sync(disguised)
    assert answer.answered
    assert answer.hits[0].passage.id == plain.hits[0].passage.id
