"""Cutting articles into passages: whole sentences, small groups, speakers of quotes, stable ids."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ingest.passages import MAX_CHARS, MAX_SENTENCES, article_passages
from bot.ingest.sentences import split_sentences
from bot.models import Article, ArticleMeta, Paragraph, Passage


def cut(*paragraphs: str, file: str = "interview.txt") -> list[Passage]:
    meta = ArticleMeta(file=file, title="An interview")
    return article_passages(Article(meta, tuple(Paragraph(text) for text in paragraphs)))


def speakers(passages: list[Passage]) -> list[tuple[int, str | None]]:
    return [(p.paragraph, p.speaker) for p in passages]


# ----------------------------------------------------------------------------- sentences


def test_abbreviations_do_not_split_sentences() -> None:
    text = (
        "Dr. Karen Page met the U.S. Attorney at 9 p.m. on Friday in Hell's Kitchen. "
        "She left at ten. Mr. Murdock stayed behind with St. John's case files."
    )
    assert split_sentences(text) == [
        "Dr. Karen Page met the U.S. Attorney at 9 p.m. on Friday in Hell's Kitchen.",
        "She left at ten.",
        "Mr. Murdock stayed behind with St. John's case files.",
    ]


def test_a_quote_closing_mid_paragraph_stays_with_its_sentence() -> None:
    assert split_sentences("Claire is the glue.” She laughed at the thought.") == [
        "Claire is the glue.”",
        "She laughed at the thought.",
    ]
    assert split_sentences("He said “Stop.” Then he left.") == ["He said “Stop.”", "Then he left."]


def test_passages_hold_whole_sentences() -> None:
    text = "Dr. Foster examined Luke at 3 a.m. and found nothing. The U.S. Marshals arrived at dawn."
    passages = cut(text)
    assert [s for p in passages for s in p.sentences] == [
        "Dr. Foster examined Luke at 3 a.m. and found nothing.",
        "The U.S. Marshals arrived at dawn.",
    ]
    for passage in passages:
        assert passage.text == " ".join(passage.sentences)


# ----------------------------------------------------------------------------- grouping


def test_groups_of_at_most_three_sentences_spread_evenly() -> None:
    passages = cut("One. Two. Three. Four. Five. Six. Seven.")
    assert [p.sentences for p in passages] == [
        ("One.", "Two."),
        ("Three.", "Four.", "Five."),
        ("Six.", "Seven."),
    ]
    assert {p.paragraph for p in passages} == {0}


def test_groups_stay_near_the_character_budget() -> None:
    sentence = "Trish Walker spends the whole season trying to prove she can be a hero herself."
    passages = cut(" ".join([sentence] * 12))
    assert all(len(p.sentences) <= MAX_SENTENCES for p in passages)
    assert all(len(p.text) <= MAX_CHARS for p in passages)
    assert sum(len(p.sentences) for p in passages) == 12


def test_one_overlong_sentence_is_kept_whole() -> None:
    long_sentence = "Kilgrave " + "talks and talks " * 40 + "until Jessica stops him."
    passages = cut(f"{long_sentence} A short one follows.")
    assert passages[0].sentences == (long_sentence,)
    assert passages[-1].sentences[-1] == "A short one follows."


def test_passages_never_span_paragraphs() -> None:
    passages = cut("First paragraph. Short.", "Second paragraph. Also short.")
    assert [(p.paragraph, p.text) for p in passages] == [
        (0, "First paragraph. Short."),
        (1, "Second paragraph. Also short."),
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(
            st.from_regex(r"[A-Z][a-z]{1,12}( [a-z]{1,12}){0,25}\.", fullmatch=True),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_every_sentence_lands_in_exactly_one_passage(paragraphs: list[list[str]]) -> None:
    passages = cut(*(" ".join(sentences) for sentences in paragraphs))
    for number, sentences in enumerate(paragraphs):
        mine = [p for p in passages if p.paragraph == number]
        assert [s for p in mine for s in p.sentences] == split_sentences(" ".join(sentences))
        for passage in mine:
            assert 1 <= len(passage.sentences) <= MAX_SENTENCES
            assert len(passage.text) <= MAX_CHARS or len(passage.sentences) == 1
    assert [p.id for p in passages] == [f"interview.txt#{n}" for n in range(len(passages))]


# ----------------------------------------------------------------------------- speakers


def test_speaker_prefix_carries_over_continuation_paragraphs_until_the_quote_closes() -> None:
    passages = cut(
        "The two stars sat down with us after the panel.",
        "Krysten Ritter: “I loved every scene with David. He made the hard days easy.",
        "We shot the final confrontation over three nights. It was freezing on the docks.",
        "And I would do it all again tomorrow.”",
        "The second season starts filming in the spring.",
    )
    assert speakers(passages) == [
        (0, None),
        (1, "Krysten Ritter"),
        (2, "Krysten Ritter"),
        (3, "Krysten Ritter"),
        (4, None),
    ]
    # The quote marks are not part of the quoted text.
    assert passages[1].text == "I loved every scene with David. He made the hard days easy."
    assert passages[3].text == "And I would do it all again tomorrow."


def test_continuation_paragraphs_that_reopen_the_quote() -> None:
    passages = cut(
        "Rosario Dawson: “Claire is the glue.",
        "“She shows up for everyone.",
        "“That is who she is.”",
        "The season premieres next week.",
    )
    assert speakers(passages) == [
        (0, "Rosario Dawson"),
        (1, "Rosario Dawson"),
        (2, "Rosario Dawson"),
        (3, None),
    ]
    assert [p.text for p in passages[:3]] == [
        "Claire is the glue.",
        "She shows up for everyone.",
        "That is who she is.",
    ]


def test_speaker_with_role_and_straight_quotes() -> None:
    passages = cut(
        'Mike Colter (Luke Cage): "Luke is a reluctant hero. He never asked for any of this.',
        'Harlem made him who he is."',
        "Netflix has not announced a date.",
    )
    assert speakers(passages) == [(0, "Mike Colter"), (1, "Mike Colter"), (2, None)]


def test_speaker_resets_when_the_quote_closes_mid_paragraph() -> None:
    passages = cut(
        "Rosario Dawson: “Claire is the glue.” She laughed at the thought.",
        "The season premieres next week.",
    )
    assert speakers(passages) == [(0, "Rosario Dawson"), (1, None)]


def test_a_nested_quote_ending_a_paragraph_does_not_close_the_speaker_quote() -> None:
    passages = cut(
        "Charlie Cox: “Matt hears a noise and asks, “Who’s there?”",
        "And nobody answers, which is the scariest part.”",
        "Narration resumes here.",
    )
    assert speakers(passages) == [(0, "Charlie Cox"), (1, "Charlie Cox"), (2, None)]
    assert passages[1].text == "And nobody answers, which is the scariest part."


def test_inner_quotes_inside_a_long_quote_keep_the_speaker() -> None:
    passages = cut(
        "Mike Colter: “When he woke up, it was like, “What’s happened?” So, we left off there.",
        "I think he was exhausted.”",
        "After the quote.",
    )
    assert speakers(passages) == [(0, "Mike Colter"), (1, "Mike Colter"), (2, None)]


def test_inline_said_colon_speaker() -> None:
    passages = cut(
        "Vincent D’Onofrio said: “Fisk is a child in a man’s body, and that is what makes him scary.”",
        "Our critic, Noor Haddad, summed up the season in one line: “It trades a monster for a mirror.”",
        "Critics were divided on the pacing.",
    )
    assert speakers(passages) == [(0, "Vincent D’Onofrio"), (1, "Noor Haddad"), (2, None)]


def test_an_inline_quote_names_the_speaker_of_its_own_passage_only() -> None:
    long = " ".join(f"The middle episodes drag in scene {n} of the season." for n in range(1, 9))
    passages = cut(f"{long} My colleague Arno Weiss put it best: “It is a show about a crown nobody wants.”")
    assert len(passages) > 1
    assert passages[-1].speaker == "Arno Weiss"
    assert all(p.speaker is None for p in passages[:-1])


def test_said_after_the_quote_names_the_speaker_without_the_full_stop() -> None:
    passages = cut("“Nobody expected that ending,” said Elden Henson.")
    assert passages[0].speaker == "Elden Henson"


def test_plain_narration_has_no_speaker() -> None:
    passages = cut("Jessica drinks. Luke runs a bar. Nobody is quoted here: not even Malcolm.")
    assert all(p.speaker is None for p in passages)


def test_headings_are_kept_on_their_passages() -> None:
    meta = ArticleMeta(file="faq.html", title="FAQ")
    article = Article(
        meta,
        (
            Paragraph("Yes. His skin stops bullets.", heading="Is Luke bulletproof?"),
            Paragraph("Simone Missick.", heading="Who plays Misty?"),
        ),
    )
    assert [(p.heading, p.paragraph) for p in article_passages(article)] == [
        ("Is Luke bulletproof?", 0),
        ("Who plays Misty?", 1),
    ]


# ----------------------------------------------------------------------------- ids


def test_ids_are_file_and_running_number_and_stable() -> None:
    paragraphs = ("One. Two. Three. Four.", "Five.", "Six. Seven.")
    first = cut(*paragraphs, file="sub/daredevil.md")
    again = cut(*paragraphs, file="sub/daredevil.md")
    assert [p.id for p in first] == [f"sub/daredevil.md#{n}" for n in range(len(first))]
    assert first == again
    assert all(p.file == "sub/daredevil.md" for p in first)
    assert all(p.spoiler is None for p in first)  # unknown until the spoiler engine runs
