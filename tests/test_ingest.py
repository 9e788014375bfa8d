"""Reading a corpus folder: each article format, web junk, and files that must be reported, not fatal.

Every article here is a small text written for the test (never the dev eval articles).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ingest.corpus import load_corpus
from bot.ingest.junk import drop_junk
from bot.ingest.readers import IngestError, _read_html_blocks, read_article
from bot.models import Article

TXT_ARTICLE = """\
The Defenders cast on team-ups, the Hand and that hallway fight

By Dana Whitfield, Screen Signal
March 3, 2017

Share | Tweet | Email

Finn Jones said the cast spent months training for the hallway fight before cameras rolled.
Dr. Strange was never part of the plan, he added.

Related: Ten things we learned from the new Defenders trailer

Want more stories like this delivered to you? Sign up now.

The series arrives on Netflix in August, and the cast can't wait for fans to see it.
"""

TXT_VIA_ARTICLE = """\
Mike Colter talks about the bulletproof hoodie

By Sam Ortega
Oct 5, 2016

Colter joked that the hoodie had its own trailer on set. The wardrobe team made forty of them.

(Via Collider)

Tweet | Share

He hopes the hoodie becomes a Halloween staple this year.
"""

MD_ARTICLE = """\
---
title: "Iron Fist season 2 review: Danny finally throws a punch"
date: 2018-09-07
author: Priya Kessler
outlet: The Streaming Desk
url: https://example.com/iron-fist-season-2-review
shows: [Iron Fist]
---

# Iron Fist season 2 review: Danny finally throws a punch

## The fights

Danny Rand finally learns to **throw a punch** that looks like one.
See [our earlier take](https://example.com/earlier) for context.

## The verdict

- Colleen Wing steals every scene she is in with her katana.
"""

HTML_ARTICLE = """\
<!doctype html>
<html>
<head>
  <title>Luke Cage questions answered - Harlem Herald</title>
  <style>.promo { color: red } .x::after { content: "Luke Cage style rule" }</style>
  <script>var tracker = "Luke Cage tracking pixel script";</script>
</head>
<body>
  <nav><a href="/">Home</a> <a href="/tv">All our Luke Cage coverage in one menu</a></nav>
  <div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
  <header>
    <h1>Luke Cage questions answered</h1>
    <p>By Marcus Bell, Harlem Herald</p>
    <p>October 5, 2016</p>
  </header>
  <article>
    <h2>Is Luke Cage bulletproof?</h2>
    <p>Yes. His skin cannot be pierced by ordinary bullets, which the show demonstrates early.</p>
    <h2>Who plays Misty Knight?</h2>
    <p>Simone Missick plays the detective with a photographic memory for crime scenes.</p>
    <aside>Read our other superhero reviews in this sidebar about Luke Cage.</aside>
  </article>
  <footer>Copyright 2016 Harlem Herald. All rights reserved. Luke Cage footer text.</footer>
</body>
</html>
"""

GOOD_TXT = "A working article\n\nBy Lee Park\n\nThis article is fine. It has two sentences.\n"


def write(root: Path, name: str, content: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def read(root: Path, name: str, content: str | bytes) -> Article:
    """An article as ingest hands it on: read, then junk paragraphs dropped by the learned model."""
    return drop_junk(read_article(write(root, name, content), root))


def body(article: Article) -> str:
    return "\n".join(p.text for p in article.paragraphs)


# ----------------------------------------------------------------------------- .txt


def test_txt_title_byline_date_and_junk(tmp_path: Path) -> None:
    article = read(tmp_path, "defenders.txt", TXT_ARTICLE)
    meta = article.meta
    assert meta.file == "defenders.txt"
    assert meta.title == "The Defenders cast on team-ups, the Hand and that hallway fight"
    assert meta.author == "Dana Whitfield"
    assert meta.outlet == "Screen Signal"
    assert meta.date == "2017-03-03"
    text = body(article)
    assert "Finn Jones said the cast spent months training" in text
    assert "The series arrives on Netflix in August" in text
    for junk in ("Share", "Tweet", "Related:", "Sign up now", "By Dana", "March 3"):
        assert junk not in text, junk
    # what the junk model dropped is kept aside, for the full names it may give (never quoted)
    assert any(line.startswith("Related:") for line in article.furniture)
    assert not set(article.furniture) & {p.text for p in article.paragraphs}


def test_txt_lines_are_units_and_hard_wrapped_lines_are_joined(tmp_path: Path) -> None:
    """A copied page puts one element per line; a line cut mid-sentence continues on the next."""
    article = read(tmp_path, "defenders.txt", TXT_ARTICLE)
    first = article.paragraphs[0].text
    assert (
        first == "Finn Jones said the cast spent months training for the hallway fight before cameras rolled."
    )
    wrapped = read(
        tmp_path,
        "wrapped.txt",
        "A title\n\nBy Lee Park\n\nThe cast spent months training for\nthe hallway fight, he said.\n",
    )
    assert wrapped.paragraphs[0].text == "The cast spent months training for the hallway fight, he said."


def test_txt_lines_in_capitals_are_headings_even_above_a_list(tmp_path: Path) -> None:
    """Plain text writes section headings in capitals; they head what follows and are never quotes.
    (The reader's rule, so read without the junk model, which may judge a four-line page's lone
    short lines either way.)"""
    article = read_article(
        write(
            tmp_path,
            "guide.txt",
            "A guide\n\nBy Lee Park\n\nThe first season holds up better than anyone expected.\n\n"
            "WHY IT WORKS (MOSTLY)\n\n- The hallway fight, in one take\n"
            "- The quiet finale\n\nTHE FOUR THAT WORK\n\nEpisode 2 is the one people remember.\n",
        ),
        tmp_path,
    )
    texts = [p.text for p in article.paragraphs]
    assert "WHY IT WORKS (MOSTLY)" not in texts and "THE FOUR THAT WORK" not in texts
    assert article.paragraphs[1].heading == "WHY IT WORKS (MOSTLY)"
    assert article.paragraphs[-1].heading == "THE FOUR THAT WORK"


def test_txt_via_credit_sets_outlet_and_is_dropped(tmp_path: Path) -> None:
    """The reader's rule, so read without the junk model (the share row is its call, tested above;
    on this four-line page it may judge the lone last line, after the share row, either way)."""
    article = read_article(write(tmp_path, "hoodie.txt", TXT_VIA_ARTICLE), tmp_path)
    assert article.meta.author == "Sam Ortega"
    assert article.meta.outlet == "Collider"
    assert article.meta.date == "2016-10-05"
    text = body(article)
    assert "Via" not in text and "Collider" not in text
    assert [p.text for p in article.paragraphs] == [
        "Colter joked that the hoodie had its own trailer on set. The wardrobe team made forty of them.",
        "Tweet | Share",
        "He hopes the hoodie becomes a Halloween staple this year.",
    ]


def test_prose_that_mentions_a_newsletter_survives(tmp_path: Path) -> None:
    long_line = (
        "In the show, Trish Walker signs up for a newsletter about missing persons, and that small "
        "detail later leads her to the clinic that gave Jessica her powers in the first place."
    )
    article = read(tmp_path, "trish.txt", f"Trish Walker and the clinic\n\n{long_line}\n")
    assert body(article) == long_line


# ----------------------------------------------------------------------------- .md


def test_markdown_front_matter_and_body(tmp_path: Path) -> None:
    article = read(tmp_path, "iron-fist.md", MD_ARTICLE)
    meta = article.meta
    assert meta.title == "Iron Fist season 2 review: Danny finally throws a punch"
    assert meta.date == "2018-09-07"
    assert meta.author == "Priya Kessler"
    assert meta.outlet == "The Streaming Desk"
    assert meta.url == "https://example.com/iron-fist-season-2-review"
    assert meta.shows == ("Iron Fist",)
    texts = [p.text for p in article.paragraphs]
    # Markdown syntax is gone: bold markers, link targets, list bullets; the H1 repeating the title too.
    assert texts == [
        "Danny Rand finally learns to throw a punch that looks like one. See our earlier take for context.",
        "Colleen Wing steals every scene she is in with her katana.",
    ]
    assert [p.heading for p in article.paragraphs] == ["The fights", "The verdict"]
    assert "**" not in body(article) and "https://" not in body(article)


def test_markdown_without_front_matter_uses_the_file_name(tmp_path: Path) -> None:
    article = read(tmp_path, "plain.md", "Just one paragraph of text. And a second sentence.\n")
    assert article.meta.title == "plain.md"
    assert body(article) == "Just one paragraph of text. And a second sentence."


def test_markdown_single_show_and_numeric_show_name(tmp_path: Path) -> None:
    one = read(tmp_path, "one.md", "---\ntitle: One\nshows: Daredevil\n---\nBody text. More text.\n")
    assert one.meta.shows == ("Daredevil",)
    number = read(tmp_path, "num.md", "---\ntitle: Num\nshows: 24\n---\nBody text. More text.\n")
    assert number.meta.shows == ("24",)


# ----------------------------------------------------------------------------- .html


def test_html_keeps_article_text_and_drops_page_furniture(tmp_path: Path) -> None:
    """The reader's extraction: navigation, banners, asides, footers and scripts never become
    paragraphs. (Read without the junk model, which is measured on fanqa's labelled pages: on this
    two-paragraph page it takes the cast line for a photo caption.)"""
    article = read_article(write(tmp_path, "luke-cage-faq.html", HTML_ARTICLE), tmp_path)
    meta = article.meta
    assert meta.title == "Luke Cage questions answered"
    assert meta.author == "Marcus Bell"
    assert meta.outlet == "Harlem Herald"
    assert meta.date == "2016-10-05"
    assert [(p.heading, p.text) for p in article.paragraphs] == [
        (
            "Is Luke Cage bulletproof?",
            "Yes. His skin cannot be pierced by ordinary bullets, which the show demonstrates early.",
        ),
        (
            "Who plays Misty Knight?",
            "Simone Missick plays the detective with a photographic memory for crime scenes.",
        ),
    ]
    text = body(article)
    for junk in ("cookies", "menu", "sidebar", "Copyright", "footer", "tracking", "style rule", "By Marcus"):
        assert junk not in text, junk


def test_html_meta_tags_win_over_the_page(tmp_path: Path) -> None:
    page = """<html><head>
    <meta property="og:title" content="Elektra's return, explained">
    <meta property="og:site_name" content="Hell's Kitchen Times">
    <meta property="og:url" content="https://example.com/elektra">
    <meta name="author" content="Ana Ruiz">
    <meta property="article:published_time" content="2016-03-18T09:00:00Z">
    </head><body><main><p>Elodie Yung plays Elektra with a cold smile. Matt never sees her coming.</p>
    </main></body></html>"""
    meta = read(tmp_path, "elektra.htm", page).meta
    assert (meta.title, meta.outlet, meta.url, meta.author, meta.date) == (
        "Elektra's return, explained",
        "Hell's Kitchen Times",
        "https://example.com/elektra",
        "Ana Ruiz",
        "2016-03-18",
    )


# ----------------------------------------------------------------------------- the corpus folder


def test_corpus_loads_every_format_with_passages(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", TXT_ARTICLE)
    write(tmp_path, "b.md", MD_ARTICLE)
    write(tmp_path, "sub/c.html", HTML_ARTICLE)
    corpus = load_corpus(tmp_path)
    assert corpus.problems == []
    assert [a.meta.file for a in corpus.articles] == ["a.txt", "b.md", "sub/c.html"]
    assert {p.file for p in corpus.passages} == {"a.txt", "b.md", "sub/c.html"}
    assert set(corpus.files) == {"a.txt", "b.md", "sub/c.html"}
    assert len(corpus.fingerprint) == 64


def test_bad_files_are_reported_by_name_and_skipped(tmp_path: Path) -> None:
    write(tmp_path, "good.txt", GOOD_TXT)
    write(tmp_path, "latin1.txt", "Café society\n\nThe café scene was shot in one take.\n".encode("latin-1"))
    write(tmp_path, "empty.txt", "")
    write(tmp_path, "blank.md", "   \n\n  \n")
    write(tmp_path, "notes.pdf", b"%PDF-1.4 binary")
    write(tmp_path, "broken-yaml.md", "---\ntitle: [unclosed\nauthor: : :\n---\nBody text here. More.\n")
    write(tmp_path, "unclosed.md", "---\ntitle: Never closed\nauthor: Someone\n\nBody text here. More.\n")
    write(tmp_path, "python-tag.md", "---\ntitle: !!python/object/apply:os.system [echo]\n---\nBody. More.\n")
    corpus = load_corpus(tmp_path)

    assert [a.meta.file for a in corpus.articles] == ["good.txt"]
    assert {p.file for p in corpus.passages} == {"good.txt"}
    assert set(corpus.files) == {"good.txt"}
    reported = {problem.split(":", 1)[0]: problem for problem in corpus.problems}
    assert set(reported) == {
        "latin1.txt",
        "empty.txt",
        "blank.md",
        "notes.pdf",
        "broken-yaml.md",
        "unclosed.md",
        "python-tag.md",
    }
    assert "UTF-8" in reported["latin1.txt"]
    assert "empty" in reported["empty.txt"]
    assert "unsupported" in reported["notes.pdf"] and ".pdf" in reported["notes.pdf"]
    for name in ("broken-yaml.md", "unclosed.md", "python-tag.md"):
        assert "front matter" in reported[name], reported[name]


def test_unsupported_suffix_is_refused_by_the_reader(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"notes\.docx: unsupported file type \.docx"):
        read(tmp_path, "notes.docx", "Some text. More text.")


def test_a_file_the_reader_chokes_on_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.ingest.corpus as corpus_module

    real = corpus_module.read_article

    def flaky(path: Path, root: Path) -> Article:
        if path.name == "boom.txt":
            raise RuntimeError("parser exploded")
        return real(path, root)

    monkeypatch.setattr(corpus_module, "read_article", flaky)
    write(tmp_path, "boom.txt", GOOD_TXT)
    write(tmp_path, "good.txt", GOOD_TXT)
    corpus = load_corpus(tmp_path)
    assert [a.meta.file for a in corpus.articles] == ["good.txt"]
    assert len(corpus.problems) == 1 and corpus.problems[0].startswith("boom.txt:")
    assert "parser exploded" in corpus.problems[0]


def test_missing_corpus_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_corpus(tmp_path / "nowhere")


def test_hidden_files_and_show_config_are_not_articles(tmp_path: Path) -> None:
    write(tmp_path, "good.txt", GOOD_TXT)
    write(tmp_path, ".draft.txt", "Secret draft\n\nThis must never be quoted. Never.\n")
    write(tmp_path, ".git/notes.txt", "Git notes\n\nNot an article either. Really.\n")
    write(tmp_path, "shows.yaml", "shows:\n  - name: Jessica Jones\n    aliases: [jj]\n")
    corpus = load_corpus(tmp_path)
    assert [a.meta.file for a in corpus.articles] == ["good.txt"]
    assert corpus.problems == []
    assert all("never" not in p.text.lower() for p in corpus.passages)


def test_fingerprint_changes_with_content_and_not_with_hidden_files(tmp_path: Path) -> None:
    write(tmp_path, "good.txt", GOOD_TXT)
    first = load_corpus(tmp_path)
    write(tmp_path, ".swap.txt", "junk\n\nEditor swap file. Junk.\n")
    assert load_corpus(tmp_path).fingerprint == first.fingerprint
    write(tmp_path, "good.txt", GOOD_TXT.replace("fine", "still fine"))
    changed = load_corpus(tmp_path)
    assert changed.fingerprint != first.fingerprint
    assert changed.files["good.txt"] != first.files["good.txt"]


def test_crlf_and_bom_are_normalised(tmp_path: Path) -> None:
    raw = "\ufeffA title\r\n\r\nBy Lee Park\r\n\r\nFirst line of text\r\ncontinues here. Done.\r\n"
    article = read(tmp_path, "windows.txt", raw)
    assert article.meta.title == "A title"
    assert body(article) == "First line of text continues here. Done."


# ----------------------------------------------------------------------------- page structure


def test_a_transcript_paragraph_is_cut_where_another_voice_takes_over(tmp_path: Path) -> None:
    """A copied transcript often runs two voices into one line; each turn must become its own
    paragraph so each passage can name its own speaker."""
    article = read_article(
        write(
            tmp_path,
            "pod.txt",
            "The Tidewater podcast, episode 12\n\nBy Lee Park\n\n"
            "NELL: We finally saw the lighthouse burn. IVO: Which nobody expected, least of all me.\n\n"
            "It was a note from the U.S. office: keep the lighthouse.\n",
        ),
        tmp_path,
    )
    texts = [p.text for p in article.paragraphs]
    assert texts[:2] == [
        "NELL: We finally saw the lighthouse burn.",
        "IVO: Which nobody expected, least of all me.",
    ]
    assert "It was a note from the U.S. office: keep the lighthouse." in texts  # a colon in prose is no turn


def test_a_late_byline_fills_the_missing_meta_and_a_by_sentence_stays(tmp_path: Path) -> None:
    """Copied pages put the byline under a share row or a player, below the header; "By the
    finale, …" is a sentence, not a byline."""
    article = read_article(
        write(
            tmp_path,
            "late.txt",
            "Harbor Lights season 2 review\n\nShare | Tweet\n\nBy Mara Quintero\n\nJune 4, 2024\n\n"
            "By the finale, the harbor has become a character of its own.\n",
        ),
        tmp_path,
    )
    assert article.meta.author == "Mara Quintero"
    assert article.meta.date == "2024-06-04"
    texts = [p.text for p in article.paragraphs]
    assert "By the finale, the harbor has become a character of its own." in texts
    assert not any("Mara Quintero" in t for t in texts)


def test_a_pull_quote_the_body_already_holds_is_read_once(tmp_path: Path) -> None:
    """A pull quote repeats words of the paragraph it sits beside: quoting it would show the same
    words twice, and as a passage of its own it has no context."""
    line = "I wanted the storm to feel like a second antagonist for the whole season"
    page = (
        "<html><head><title>Storm talk</title></head><body><article><h1>Storm talk</h1>"
        f"<blockquote class='pull-quote'>{line}</blockquote>"
        f"<p>Asked about the finale, the showrunner laughed. \u201c{line},\u201d she said, and the crew"
        " built a rain rig the size of a barn to get it.</p>"
        "<p>The second paragraph is about the cast, who spent weeks soaked through.</p>"
        "</article></body></html>"
    )
    article = read_article(write(tmp_path, "storm.html", page), tmp_path)
    holding = [p.text for p in article.paragraphs if line in p.text]
    assert len(holding) == 1 and "the showrunner laughed" in holding[0]


def test_markdown_table_rows_are_paragraphs_with_their_cells(tmp_path: Path) -> None:
    """An episode guide's table: each row one paragraph, cells kept apart as the HTML reader does."""
    article = read_article(
        write(
            tmp_path,
            "guide.md",
            "# Harbor Lights episode guide\n\nEvery episode, in order.\n\n"
            "| Episode | Title | Air date |\n|---|---|---|\n"
            "| 1 | The Keeper | March 3, 2024 |\n| 2 | Low Water | March 10, 2024 |\n"
            "| 3 | Undertow | March 17, 2024 |\n",
        ),
        tmp_path,
    )
    texts = [p.text for p in article.paragraphs]
    assert "1 | The Keeper | March 3, 2024" in texts
    assert "2 | Low Water | March 10, 2024" in texts
    assert "3 | Undertow | March 17, 2024" in texts  # a short row with a date is data, not a dateline
    assert article.meta.date is None


def test_html_blocks_carry_the_markup_around_them_as_cues(tmp_path: Path) -> None:
    """The junk model sees where a block sat: its tag, its ancestors' class words, a caption set
    wholly in <em>, an image beside it."""
    page = (
        "<html><head><title>Cues</title></head><body><main>"
        "<p>The first paragraph of a review that is long enough to be prose and says so.</p>"
        "<div class='post-dateline_2'>"
        "<p>Filed June 4, 2024, in the evening, by the news desk of the site</p></div>"
        "<p><img src='a.jpg'><em>Mara Quintero as Ivy Roe on the harbor wall, in the rain, at night</em></p>"
        "</main></body></html>"
    )
    article = read_article(write(tmp_path, "cues.html", page), tmp_path)
    cues = {p.text[:10]: set(p.cues) for p in article.paragraphs}
    dateline = next(c for t, c in cues.items() if t.startswith("Filed"))
    caption = next(c for t, c in cues.items() if t.startswith("Mara"))
    assert {"attr:post", "attr:dateline", "in:div"} <= dateline
    assert {"whole:em", "beside:img", "tag:p"} <= caption


def test_a_source_line_in_the_body_gives_the_url_not_an_outlet(tmp_path: Path) -> None:
    """ "Source: https://…" at a copied page's foot is the article's address; the "(Via Outlet)" rule
    must not take the URL for the outlet's name, and the line is no quote."""
    article = read_article(
        write(
            tmp_path,
            "source.txt",
            "Harbor Lights season 2 review\n\n"
            "The harbor has become a character of its own by the last episode of the season.\n\n"
            "Source: https://example.org/harbor-lights-review\n",
        ),
        tmp_path,
    )
    assert article.meta.url == "https://example.org/harbor-lights-review"
    assert article.meta.outlet is None
    assert not any("example.org" in p.text for p in article.paragraphs)


def test_a_late_dateline_with_an_event_gives_a_date_but_no_outlet(tmp_path: Path) -> None:
    """A date line below the first paragraph still dates the article, but its head ("Premiere")
    is an event, not an outlet: down there only a byline names an outlet."""
    article = read_article(
        write(
            tmp_path,
            "event.txt",
            "Harbor Lights season 2 review\n\n"
            "The harbor has become a character of its own by the last episode of the season.\n\n"
            "Premiere, June 5, 2024\n\nThe cast spent weeks soaked through on the harbor wall.\n",
        ),
        tmp_path,
    )
    assert article.meta.date == "2024-06-05"
    assert article.meta.outlet is None


def test_table_rows_that_name_a_writer_are_data_not_bylines(tmp_path: Path) -> None:
    """An episode guide's "Written by | Vince Gilligan" row stays a row and sets no author."""
    article = read_article(
        write(
            tmp_path,
            "credits.md",
            "# Harbor Lights episode credits\n\nWho made each episode.\n\n"
            "| Credit | Name |\n|---|---|\n| Written by | Mara Quintero |\n| Directed by | Ivo Lund |\n",
        ),
        tmp_path,
    )
    texts = [p.text for p in article.paragraphs]
    assert "Written by | Mara Quintero" in texts
    assert "Directed by | Ivo Lund" in texts
    assert article.meta.author is None


def test_a_page_laid_out_as_a_table_keeps_its_bare_text_cells() -> None:
    """Old pages put the article in a bare cell beside a cell of paragraphs (a menu): the row
    is a container, and the article's cell must still be read, in page order."""
    story = "The harbor has become a character of its own by the last episode of the season, she wrote."
    page = (
        "<html><head><title>Old page</title></head><body><table><tr>"
        "<td><p>Home</p><p>Reviews</p></td>"
        f"<td>{story}</td>"
        "</tr></table></body></html>"
    )
    article = _read_html_blocks(page, "old.html")  # the structural reader: trafilatura's fallback
    texts = [p.text for p in article.paragraphs]
    assert story in texts
    assert texts.index(story) > texts.index("Reviews")


@pytest.mark.parametrize(
    "line",
    [
        "The finale airs Sunday at 9 p.m. ET: the last hour of the season, and a long one.",
        "It did better in the U.S. TV: ratings there doubled by the third week of the run.",
    ],
)
def test_an_abbreviation_before_a_capitalised_label_is_no_change_of_voice(tmp_path: Path, line: str) -> None:
    """ "at 9 p.m. ET: the finale" and "in the U.S. TV: ratings" are one sentence each."""
    article = read_article(
        write(tmp_path, "times.txt", f"Harbor Lights finale\n\nBy Lee Park\n\n{line}\n"), tmp_path
    )
    assert [p.text for p in article.paragraphs] == [line]


@pytest.mark.parametrize(
    "before",
    ["I knew...honestly.", "I knew\u2026", "It was the pilot, version 2.0.", "Not the storm, not the boat."],
)
def test_an_ellipsis_or_a_number_ends_a_turn_like_any_word(tmp_path: Path, before: str) -> None:
    """Only a letter-dot-letter word ("p.m.") is an abbreviation; "knew...honestly." and "2.0."
    end the sentence, so the capitalised label after them starts another voice's turn."""
    text = f"LEE: We rewrote the ending twice. {before} JUN: Which version aired in the end?"
    page = f"Harbor Lights talk\n\nBy Lee Park\n\n{text}\n"
    article = read_article(write(tmp_path, "talk.txt", page), tmp_path)
    assert [p.text for p in article.paragraphs] == [
        f"LEE: We rewrote the ending twice. {before}",
        "JUN: Which version aired in the end?",
    ]


def test_loose_cells_of_an_episode_guide_are_data_not_bylines_or_datelines() -> None:
    """A guide whose synopsis cells hold paragraphs: the structural reader reads its bare cells
    ("Written by Mara Quintero", "March 3, 2024") as the guide's data, not as the article's author
    or date. (Through trafilatura the page's date is its date finder's own guess.)"""
    rows = "".join(
        f"<tr><td>Written by {writer}</td><td>{day}</td><td><p>{synopsis}</p></td></tr>"
        for writer, day, synopsis in [
            ("Mara Quintero", "March 3, 2024", "Ivy takes the lamp room and the harbor master objects."),
            ("Ivo Lund", "March 10, 2024", "A storm cuts the town off and the keeper goes missing."),
        ]
    )
    page = (
        "<html><head><title>Guide</title></head><body><h1>Harbor Lights episode guide</h1>"
        "<p>Every episode of the first season, with who wrote it and when it aired on the network.</p>"
        f"<table>{rows}</table></body></html>"
    )
    article = _read_html_blocks(page, "guide.html")
    texts = [p.text for p in article.paragraphs]
    assert "Written by Mara Quintero" in texts and "March 10, 2024" in texts
    assert article.meta.author is None
    assert article.meta.date is None


@pytest.mark.parametrize(
    ("name", "page"),
    [
        (
            "credit.md",
            "# Harbor Lights season 2 review\n\nTV Guide, June 2018\n\n"
            "The harbor has become a character of its own by the last episode of the season.\n",
        ),
        (
            "credit.html",
            "<html><head><title>Harbor Lights season 2 review</title></head><body>"
            "<h1>Harbor Lights season 2 review</h1><p>TV Guide, June 2018</p>"
            "<p>The harbor has become a character of its own by the last episode of the season.</p>"
            "</body></html>",
        ),
    ],
)
def test_an_outlet_credit_under_the_title_names_the_outlet(tmp_path: Path, name: str, page: str) -> None:
    """ "TV Guide, June 2018" right under the title credits an outlet in Markdown and HTML too."""
    article = read_article(write(tmp_path, name, page), tmp_path)
    assert article.meta.outlet == "TV Guide"
    assert (article.meta.date or "").startswith("2018")  # trafilatura's date finder reads pages its own way


def test_a_byline_cell_of_a_page_laid_out_as_a_table_is_its_byline() -> None:
    """A lone bare cell beside a cell of paragraphs is layout, not a data row: "By Lee Park" and
    "June 4, 2024" there are the article's byline and date, never quotes."""
    page = (
        "<html><head><title>Harbor Lights season 2 review</title></head><body><table>"
        "<tr><td>By Lee Park</td><td><p>The harbor has become a character of its own by the last "
        "episode of the season, and the cast knows it well.</p></td></tr>"
        "<tr><td>June 4, 2024</td><td><p>The second season is slower than the first, but the final "
        "three episodes earn every minute of it.</p></td></tr></table></body></html>"
    )
    article = _read_html_blocks(page, "layout.html")
    assert article.meta.author == "Lee Park"
    assert article.meta.date == "2024-06-04"
    assert [p.text for p in article.paragraphs if "Lee Park" in p.text or p.text == "June 4, 2024"] == []


@pytest.mark.parametrize("suffix", [".md", ".txt", ".html"])
@pytest.mark.parametrize(
    "line", ["Tuesday, June 4, 2024", "Updated Tuesday, June 4, 2024", "Posted by the desk, June 4, 2024"]
)
def test_a_date_line_under_the_title_is_no_outlet_credit(tmp_path: Path, suffix: str, line: str) -> None:
    """Only a short capitalised name before the date credits an outlet; a weekday or a phrase
    does not."""
    title, body = "Harbor Lights season 2 review", "The harbor has become a character of its own by the end."
    page = {
        ".md": f"# {title}\n\n{line}\n\n{body}\n",
        ".txt": f"{title}\n\n{line}\n\n{body}\n",
        ".html": f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{line}</p><p>{body}</p>"
        "</body></html>",
    }[suffix]
    article = read_article(write(tmp_path, f"dated{suffix}", page), tmp_path)
    assert article.meta.outlet is None
    assert article.meta.date is not None


def test_an_outlet_name_with_a_small_word_is_credited(tmp_path: Path) -> None:
    page = "Harbor Lights season 2 review\n\nDen of Geek, June 2018\n\nThe harbor has become a character.\n"
    assert read_article(write(tmp_path, "geek.txt", page), tmp_path).meta.outlet == "Den of Geek"


@pytest.mark.parametrize(
    ("credit", "outlet"),
    [("Source: Variety/Deadline", "Variety/Deadline"), ("(Via AC/DC Fan Club)", "AC/DC Fan Club")],
)
def test_a_credit_naming_outlets_with_a_slash_names_them(tmp_path: Path, credit: str, outlet: str) -> None:
    page = f"Harbor Lights season 2 review\n\nThe harbor has become a character of its own.\n\n{credit}\n"
    assert read_article(write(tmp_path, "slash.txt", page), tmp_path).meta.outlet == outlet


@pytest.mark.parametrize(
    "credit",
    [
        "(Source: https://example.org/harbor)",
        "Via https://example.org/harbor",
        "Source: example.org/harbor",
        "Via www.example.org",
    ],
)
def test_an_address_in_a_via_or_source_credit_is_no_outlet(tmp_path: Path, credit: str) -> None:
    """A credit that gives an address gives no outlet's name, and is no quote either; a full
    address is kept as the article's URL."""
    article = read_article(
        write(
            tmp_path,
            "via.txt",
            "Harbor Lights season 2 review\n\n"
            "The harbor has become a character of its own by the last episode of the season.\n\n"
            f"{credit}\n",
        ),
        tmp_path,
    )
    assert article.meta.outlet is None
    assert not any("example.org" in p.text for p in article.paragraphs)
    if "https://" in credit:
        assert article.meta.url == "https://example.org/harbor"


def test_a_box_repeating_a_late_paragraph_of_a_refrain_thread_is_read_once(tmp_path: Path) -> None:
    """Twenty comments open with the same words; a box repeats the last one. The copy is compared
    with the nearest holders of its opening as well as the first ones, so it is dropped."""
    opening = "Honestly the best thing about this whole season was"
    comments = [f"{opening} the episode number {n} and its {n} storms at sea." for n in range(20)]
    page = "".join(f"<p>{c}</p>" for c in comments) + f"<blockquote>{comments[-1]}</blockquote>"
    page = f"<html><head><title>Thread</title></head><body>{page}</body></html>"
    article = _read_html_blocks(page, "thread.html")
    assert [p.text for p in article.paragraphs].count(comments[-1]) == 1


def test_a_pull_quote_in_the_middle_of_a_long_refrain_thread_is_read_once() -> None:
    """Thirty comments open alike; a box right after the tenth repeats it. The box is compared
    with the holders nearest to it, not only with the first ones."""
    opening = "Honestly the best thing about this whole season was"
    comments = [f"{opening} the episode number {n} and its {n} storms at sea." for n in range(30)]
    blocks = [f"<p>{c}</p>" for c in comments]
    blocks.insert(11, f"<blockquote>{comments[10]}</blockquote>")
    page = f"<html><head><title>Thread</title></head><body>{''.join(blocks)}</body></html>"
    article = _read_html_blocks(page, "thread.html")
    assert [p.text for p in article.paragraphs].count(comments[10]) == 1
    assert len(article.paragraphs) == 30


def test_a_dash_between_words_does_not_hide_a_pull_quote(tmp_path: Path) -> None:
    """The body's " — " is a word of punctuation only; the box prints the line without it."""
    page = (
        "<html><head><title>Storm talk</title></head><body><article><h1>Storm talk</h1>"
        "<p>The showrunner laughed. We shot the storm — in a car park in February and nobody "
        "noticed until it aired, she said.</p>"
        "<blockquote>We shot the storm in a car park in February and nobody noticed</blockquote>"
        "<p>The second paragraph is about the cast, who spent weeks soaked through.</p>"
        "</article></body></html>"
    )
    article = read_article(write(tmp_path, "storm.html", page), tmp_path)
    assert len([p for p in article.paragraphs if "car park" in p.text]) == 1


def test_a_punctuated_pull_quote_is_read_once(tmp_path: Path) -> None:
    """A box that prints the quote with its own marks (“… aired.”) repeats the body all the same."""
    line = "We shot the storm in a car park in February and nobody noticed until it aired"
    page = (
        "<html><head><title>Storm talk</title></head><body><article><h1>Storm talk</h1>"
        f"<p>The showrunner laughed. \u201c{line},\u201d she said, and the crew nodded along.</p>"
        f"<blockquote>\u201c{line}.\u201d</blockquote>"
        "<p>The second paragraph is about the cast, who spent weeks soaked through.</p>"
        "</article></body></html>"
    )
    article = read_article(write(tmp_path, "storm.html", page), tmp_path)
    assert len([p for p in article.paragraphs if "car park" in p.text]) == 1


@pytest.mark.parametrize(
    ("masthead", "host", "outlet"),
    [
        ("Culture | The Harbor Ledger", "harborledger.example", "The Harbor Ledger"),
        ("Gullwing > TV > Lists", "www.gullwing.example", "Gullwing"),
        ("Static & Starlight Audio", "staticandstarlight.example", "Static & Starlight"),
        ("THE HARBOR LEDGER", "news.harborledger.co.uk", "The Harbor Ledger"),
    ],
)
def test_a_copied_pages_masthead_names_the_outlet_its_address_spells(
    tmp_path: Path, masthead: str, host: str, outlet: str
) -> None:
    """A .txt copy has no site-name metadata: the words near the top that spell the Source
    address's name (the label before its public suffix) are the outlet, so the citation's link
    reads as the site, not "source". Only those words: the rest of the line may be anything."""
    page = (
        f"Harbor Lights season 2 review\n{masthead}\nBy Lee Park\nJune 4, 2024\n"
        f"Source: https://{host}/tv/harbor-lights-review\n\n"
        "The harbor has become a character of its own by the last episode of the season.\n"
    )
    article = read_article(write(tmp_path, "masthead.txt", page), tmp_path)
    assert article.meta.outlet == outlet
    assert article.meta.author == "Lee Park"


def test_a_sentence_or_heading_opening_with_the_sites_name_gives_only_the_name(tmp_path: Path) -> None:
    page = (
        "Harbor Lights season 2 review\nBy Lee Park\n"
        "Source: https://entertainment.harborledger.example/tv/harbor-lights-review\n\n"
        "Entertainment > TV\n\nHarbor Ledger readers loved the last episode of the season.\n"
    )
    assert read_article(write(tmp_path, "sentence.txt", page), tmp_path).meta.outlet == "Harbor Ledger"


def test_a_byline_names_its_outlet_after_a_job_title(tmp_path: Path) -> None:
    page = "Harbor Lights review\nBy Jane Roe, Senior Editor, The A.V. Club\n\nThe harbor is a character.\n"
    article = read_article(write(tmp_path, "job.txt", page), tmp_path)
    assert (article.meta.author, article.meta.outlet) == ("Jane Roe", "The A.V. Club")


def test_no_line_spelling_the_address_gives_no_outlet(tmp_path: Path) -> None:
    page = (
        "Harbor Lights season 2 review\nHome > TV > Reviews\nBy Lee Park\n"
        "Source: https://harborledger.example/tv/harbor-lights-review\n\n"
        "The Harbor review desk thinks the harbor has become a character of its own by the end.\n"
    )
    assert read_article(write(tmp_path, "plain.txt", page), tmp_path).meta.outlet is None


@pytest.mark.parametrize(
    "byline",
    [
        "By Simone Achterberg, TV critic",
        "By Simone Achterberg, TV Critic",
        "By Simone Achterberg · Staff Writer",
        "By Simone Achterberg | October 10, 2020, 8:15 am",
    ],
)
def test_a_bylines_job_title_or_time_is_no_outlet(tmp_path: Path, byline: str) -> None:
    """After the name a byline may give a job title or a time: only a capitalised name is an outlet."""
    page = f"Harbor Lights season 2 review\n{byline}\n\nThe harbor has become a character of its own.\n"
    article = read_article(write(tmp_path, "byline.txt", page), tmp_path)
    assert article.meta.author == "Simone Achterberg"
    assert article.meta.outlet is None


def test_an_outlet_credit_below_a_share_row_still_names_the_outlet(tmp_path: Path) -> None:
    """A share row or a player bar above the credit is no article text: the credit still sits
    under the title, above the first sentence."""
    page = (
        "# Harbor Lights season 2 review\n\nShare on Facebook  Share on X  Email\n\n"
        "TV Guide, June 2018\n\nThe harbor has become a character of its own by the last episode.\n"
    )
    article = read_article(write(tmp_path, "share.md", page), tmp_path)
    assert article.meta.outlet == "TV Guide"
