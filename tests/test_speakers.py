"""Speakers on the interview formats real pages use (bot.ingest.speakers)."""

from __future__ import annotations

from bot.ingest.passages import article_passages
from bot.models import Article, ArticleMeta, Paragraph


def speakers(
    *paragraphs: str, author: str | None = "Dana Whitfield", outlet: str | None = "Screenward"
) -> list:
    meta = ArticleMeta(
        file="x.md", title="Mara Quintero on the Harbor Lights finale", author=author, outlet=outlet
    )
    passages = article_passages(Article(meta, tuple(Paragraph(p) for p in paragraphs)))
    return [p.speaker for p in passages]


def test_capitalised_prefixes_resolve_to_the_full_name_the_intro_uses() -> None:
    got = speakers(
        "Mara Quintero, who plays Detective Ivy Roe, talked to us after the finale.",
        "SCREENWARD: Where does Ivy go from here?",
        "QUINTERO: Somewhere quieter, I hope. She has earned it.",
        "MARA QUINTERO: And I would not mind a holiday either.",
    )
    assert got == [None, "Dana Whitfield", "Mara Quintero", "Mara Quintero"]


def test_bold_and_title_case_prefixes() -> None:
    got = speakers(
        "We spoke to showrunner Ben Alder and Mara Quintero.",
        "**Alder:** The boat scene was the first thing we wrote.",
        "Quintero: I found out at the table read.",
    )
    assert got == [None, "Ben Alder", "Mara Quintero"]


def test_q_and_a_prefixes_give_questions_to_the_interviewer_and_answers_to_the_guest() -> None:
    got = speakers(
        "Ben Alder created the show.",
        "Alder: Thanks for having me.",
        "Q: Did you always know how it ends?",
        "A: From the first day.",
        author="Priya Shah",
    )
    assert got == [None, "Ben Alder", "Priya Shah", "Ben Alder"]


def test_an_outlet_prefix_without_an_author_is_the_outlet() -> None:
    got = speakers(
        "Ben Alder joined us.", "SCREENWARD: Why the lighthouse?", "ALDER: It was cheap.", author=None
    )
    assert got == [None, "Screenward", "Ben Alder"]


def test_reported_speech_forms() -> None:
    assert speakers("“We never planned a second season,” says Ramirez Oduya.") == ["Ramirez Oduya"]
    assert speakers("Tess Morrow joined in 2020. “It was chaos,” Morrow said.") == ["Tess Morrow"]
    assert speakers("According to showrunner Ben Alder, “the finale was written first.”") == ["Ben Alder"]
    assert speakers("Mara Quintero laughed about it. “I cried for a week,” she told Variety.") == [
        "Mara Quintero"
    ]


def test_a_quote_over_several_paragraphs_keeps_its_speaker_until_it_closes() -> None:
    got = speakers(
        "Ben Alder said the ending came late. “We tried four versions.",
        "“The fifth one was the one where nobody wins.",
        "“And that felt honest.”",
        "The season is streaming now.",
    )
    assert got == ["Ben Alder", "Ben Alder", "Ben Alder", None]


def test_labels_that_look_like_prefixes_are_not_speakers() -> None:
    got = speakers("Verdict: a strong finish for a wobbly season.", "Rating: 8/10", "Aired: May 3, 2021")
    assert got == [None, None, None]
