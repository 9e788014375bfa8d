"""Reliability suite, files: what a hostile or careless admin puts in the corpus folder must cost
bounded time and memory, never be read from outside the folder, and be quoted verbatim; a file
that cannot be read is reported by name on one line and skipped.

See docs/reliability.md for the whole list and which tests cover each item.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.ingest.sentences as sentences_module
from bot.ingest.passages import GROUP_BLOCK, article_passages
from bot.ingest.sentences import WINDOW, split_sentences
from bot.models import Article, ArticleMeta, Paragraph

# ---------------------------------------------------------------------- sentence splitting


def _paragraph(text: str) -> Article:
    return Article(ArticleMeta(file="a.txt", title="A"), (Paragraph(text),))


@pytest.mark.parametrize(
    "text",
    [
        "It went on and on..and then it stopped. The end.",
        "Say hi to <@!42> and <@&7> for me. Then leave.",
        "Wait...what? Yes!!Sure. No?!Maybe.",
    ],
)
def test_quotes_keep_every_character_of_the_article(text: str) -> None:
    passages = article_passages(_paragraph(text))
    assert " ".join(p.text for p in passages) == text  # old: "..and" -> ". .and", "<@!42>" -> "<@! 42>"
    for passage in passages:
        assert passage.text == " ".join(passage.sentences)
        assert all(sentence in text for sentence in passage.sentences)


class _Recorder:
    """Stands in for the pysbd segmenter and records how much text each call was handed."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.sizes: list[int] = []

    def segment(self, text: str) -> list[str]:
        self.sizes.append(len(text))
        return self.real.segment(text)  # type: ignore[attr-defined]

    def processor(self, text: str) -> object:
        self.sizes.append(len(text))
        return self.real.processor(text)  # type: ignore[attr-defined]


def test_splitting_a_huge_paragraph_costs_its_length_not_its_square(monkeypatch: pytest.MonkeyPatch) -> None:
    """pysbd costs the square of what it is handed (a 10,000-line paragraph took 196 s), so it must
    only ever see windows of bounded size, and about the paragraph's length in all."""
    recorder = _Recorder(sentences_module._segmenter())
    monkeypatch.setattr(sentences_module, "_segmenter", lambda: recorder)
    line = "Dr. Foster met Luke at 3 a.m. in Harlem, and “nobody saw them” there."
    text = " ".join(f"{line} Day {n} ended." for n in range(2_000))  # about 170 KB
    found = split_sentences(text)
    assert " ".join(found) == text
    assert len(found) >= 3_000
    assert max(recorder.sizes) <= WINDOW
    assert sum(recorder.sizes) <= 1.5 * len(text)


def test_a_sentence_longer_than_a_window_is_cut_at_spaces_and_one_without_spaces_kept_whole() -> None:
    words = " ".join(["word"] * 1_500)  # 7,500 characters, no full stop
    found = split_sentences(f"{words}. Next.")
    assert " ".join(found) == f"{words}. Next."
    assert all(len(s) <= WINDOW for s in found)
    blob = "x" * (3 * WINDOW)  # never handed to pysbd whole, never cut inside
    assert split_sentences(f"Before. {blob} after. End.") == ["Before.", blob, "after.", "End."]


def test_grouping_a_paragraph_of_many_sentences_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grouping tried one more group at a time over the whole paragraph: quadratic in sentences."""
    import bot.ingest.passages as passages_module

    handled: list[int] = []
    real = passages_module._even_split

    def counting(items: list[str], count: int) -> list[list[str]]:
        handled.append(len(items))
        return real(items, count)

    monkeypatch.setattr(passages_module, "_even_split", counting)
    long = "A long sentence " + "that goes on " * 22 + "and ends."  # two of them fill a group
    sentences = [long if n % 6 in (0, 1) else "Short one." for n in range(3_000)]
    groups = passages_module._group(sentences)
    assert [s for g in groups for s in g] == sentences
    assert sum(handled) <= 4 * GROUP_BLOCK * len(sentences)


_PIECES = [*"ab .!?…\"“”’()<@!&>:;,-\u00a0\n", "Dr.", "U.S.", "1."]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_PIECES)).map("".join))
def test_any_text_splits_into_verbatim_sentences(text: str) -> None:
    found = split_sentences(text)
    position = 0
    for sentence in found:  # slices of the text, in order, without overlap
        assert sentence and sentence == sentence.strip()
        position = text.index(sentence, position) + len(sentence)
    spaced = " ".join(text.split())  # paragraphs reach the splitter with single spaces
    assert " ".join(split_sentences(spaced)) == spaced
