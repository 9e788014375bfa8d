"""Reliability suite, files: what a hostile or careless admin puts in the corpus folder must cost
bounded time and memory, never be read from outside the folder, and be quoted verbatim; a file
that cannot be read is reported by name on one line and skipped.

See docs/reliability.md for the whole list and which tests cover each item.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.ingest.sentences as sentences_module
from bot import cli
from bot.build import ReindexReport
from bot.embedder import Embedder
from bot.ingest.corpus import load_corpus
from bot.ingest.passages import GROUP_BLOCK, article_passages
from bot.ingest.sentences import WINDOW, split_sentences
from bot.models import Article, ArticleMeta, Paragraph
from bot.shows import load_show_facts

ROOT = Path(__file__).resolve().parents[1]
GOOD = "A working article\n\nBy Lee Park\n\nThis article is fine. It has two sentences.\n"
BODY = "\nJessica Jones walks into the bar. Luke Cage pours her a drink.\n"


def _in_child(code: str, *, memory_mb: int = 2048, timeout: float = 120) -> Any:
    """Run `code` (which prints one JSON value) in a fresh interpreter with capped memory and time,
    so a file that would take gigabytes or hours fails this test instead of the machine."""
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        sys.path.insert(0, {str(ROOT)!r})
        resource.setrlimit(resource.RLIMIT_AS, ({memory_mb << 20}, {memory_mb << 20}))
        """
    ) + textwrap.dedent(code)
    try:
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s")
    assert result.returncode == 0, result.stderr[-1500:]
    assert len(result.stdout) < 100_000, f"{len(result.stdout):,} characters of output"
    assert len(result.stderr) < 100_000, f"{len(result.stderr):,} characters on stderr"
    return json.loads(result.stdout)


def _problems_in_child(folder: Path) -> dict[str, Any]:
    return _in_child(
        f"""
        from pathlib import Path
        from bot.ingest.corpus import load_corpus
        from bot.shows import load_show_facts
        corpus = load_corpus(Path({str(folder)!r}))
        facts, problems = load_show_facts(Path({str(folder)!r}))
        print(json.dumps({{
            "articles": [a.meta.to_dict() for a in corpus.articles],
            "problems": corpus.problems + problems,
            "shows": [show.name for show in facts.shows],
        }}))
        """
    )


def _bomb(levels: int = 9, width: int = 9) -> str:
    """`a: &a [lol, …]`, `b: &b [*a, *a, …]` … : a few hundred bytes naming width**levels values."""
    lines = ["a: &a [" + ", ".join(["lol"] * width) + "]"]
    names = "abcdefghijklmnop"[:levels]
    for before, name in zip(names, names[1:], strict=False):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{before}"] * width) + "]")
    return "\n".join(lines) + "\n", names[-1]


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


_PIECES = [*'ab .!?…"“”’()<@!&>:;,-\u00a0\n', "Dr.", "U.S.", "1."]


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


# ---------------------------------------------------------------------- YAML: aliases, nesting, types


def test_front_matter_whose_aliases_nest_is_refused_in_bounded_time_and_memory(tmp_path: Path) -> None:
    bomb, last = _bomb()
    front = f"---\n{bomb}title: *{last}\nauthor: *{last}\nshows: *{last}\n---\n"
    assert len(front) < 500  # the 440-byte upload of the report
    (tmp_path / "bomb.md").write_text(front + BODY, encoding="utf-8")
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    result = _problems_in_child(tmp_path)  # was: past 7 GB and minutes
    assert [a["file"] for a in result["articles"]] == ["good.txt"]
    [problem] = result["problems"]
    assert problem.startswith("bomb.md: unreadable front matter") and "aliases" in problem
    assert len(problem) < 300


def test_shows_yaml_whose_aliases_nest_is_one_short_problem(tmp_path: Path) -> None:
    bomb, last = _bomb()
    text = f"{bomb}shows:\n  - name: Jessica Jones\n    aliases: *{last}\n    finales: {{1: *{last}}}\n"
    (tmp_path / "shows.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    result = _problems_in_child(tmp_path)  # was: one 312 MB line on stderr
    [problem] = result["problems"]
    assert problem.startswith("shows.yaml: cannot read show facts") and "aliases" in problem
    assert len(problem) < 300 and result["shows"] == []


def test_a_few_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    (tmp_path / "shows.yaml").write_text(
        "base: &base {aliases: [jj]}\nshows:\n  - <<: *base\n    name: Jessica Jones\n"
        "  - name: Luke Cage\n    aliases: &lc [lc, luke]\n  - name: Cage\n    aliases: *lc\n",
        encoding="utf-8",
    )
    facts, problems = load_show_facts(tmp_path)
    assert problems == []
    assert [(s.name, s.aliases) for s in facts.shows] == [
        ("Jessica Jones", ("jj",)),
        ("Luke Cage", ("lc", "luke")),
        ("Cage", ("lc", "luke")),
    ]


def test_yaml_that_loops_or_nests_thousands_deep_is_reported(tmp_path: Path) -> None:
    (tmp_path / "loop.md").write_text("---\ntitle: &t [x, *t]\n---\n" + BODY, encoding="utf-8")
    (tmp_path / "deep.md").write_text("---\ntitle: " + "[" * 3000 + "]" * 3000 + "\n---\n" + BODY)
    (tmp_path / "shows.yaml").write_text("shows:\n" + "".join(" " * n + "- \n" for n in range(1, 1500)))
    result = _problems_in_child(tmp_path)  # shows.yaml: was an uncaught RecursionError
    reported = {p.split(":", 1)[0]: p for p in result["problems"]}
    assert set(reported) == {"loop.md", "deep.md", "shows.yaml"}, result["problems"]
    assert "front matter" in reported["loop.md"] and "front matter" in reported["deep.md"]


WRONG_TYPES = {
    "title: [List, Title]": "'title' must be text, not a list",
    "author: {name: X}": "'author' must be text or a list of names, not a mapping",
    "outlet: NO": "'outlet' must be text, not true/false",
    "url: [a, b]": "'url' must be text, not a list",
    "date: [2016, 10, 7]": "'date' must be a date",
    "date: {y: 2016}": "'date' must be a date",
    "date: .inf": "'date' must be a date such as 2016-10-07, not the number inf",
    "shows: {Daredevil: 1}": "'shows' must be a show name or a list of them, not a mapping",
    "shows: [[Daredevil]]": "'shows' must be a show name or a list of them, not a list",
    "author: [Ann, [Bob]]": "'author' must be text or a list of names, not a list",
}


@pytest.mark.parametrize("line", list(WRONG_TYPES))
def test_front_matter_of_the_wrong_type_is_reported_by_field(tmp_path: Path, line: str) -> None:
    (tmp_path / "odd.md").write_text(f"---\ntitle: Fine\n{line}\n---\n{BODY}", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert corpus.articles == []  # was: "— *['List', 'Title']* ({'name': 'X'}, …)" in citations
    [problem] = corpus.problems
    assert problem.startswith("odd.md: front matter '") and WRONG_TYPES[line] in problem


def test_front_matter_of_the_right_types_is_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text(
        "---\ntitle: 24\nauthor: [Ann Lee, Bob Ray]\noutlet: 'NO'\ndate: 2016-10-07\n"
        "shows: [24, Daredevil, null]\nurl: https://example.com/a\n---\n" + BODY,
        encoding="utf-8",
    )
    [article] = load_corpus(tmp_path).articles
    meta = article.meta
    assert (meta.title, meta.author, meta.outlet, meta.date) == ("24", "Ann Lee, Bob Ray", "NO", "2016-10-07")
    assert meta.shows == ("24", "Daredevil") and meta.url == "https://example.com/a"


# ---------------------------------------------------------------------- links, odd files, odd names


def test_links_out_of_the_corpus_are_never_read_and_are_reported(tmp_path: Path) -> None:
    corpus, outside = tmp_path / "corpus", tmp_path / "private"
    corpus.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("Admin notes\n\nThe admin password is hunter2. Keep it.\n")
    (outside / "more.txt").write_text("More notes\n\nThe backup key is swordfish. Keep it too.\n")
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    (corpus / "leak.txt").symlink_to(outside / "secret.txt")
    (corpus / "passwd.txt").symlink_to("/etc/passwd")
    (corpus / "linked-folder").symlink_to(outside, target_is_directory=True)
    (corpus / "dangling.md").symlink_to(corpus / "gone.md")
    (corpus / "alias.txt").symlink_to(corpus / "good.txt")  # a link inside the corpus is fine
    (corpus / "sub").mkdir()
    (corpus / "sub" / "inner.txt").write_text(GOOD, encoding="utf-8")
    (corpus / "sub-again").symlink_to(corpus / "sub", target_is_directory=True)  # read once, not twice
    (corpus / "shows.yaml").symlink_to(outside / "secret.txt")
    loaded = load_corpus(corpus)
    text = " ".join(p.text for p in loaded.passages)
    assert "hunter2" not in text and "swordfish" not in text and "root:" not in text
    assert sorted(a.meta.file for a in loaded.articles) == ["alias.txt", "good.txt", "sub/inner.txt"]
    reported = {p.split(":", 1)[0]: p.split(": ", 1)[1] for p in loaded.problems}
    assert reported == {
        "dangling.md": "a broken link (its target does not exist)",  # was: skipped without a word
        "leak.txt": "a link that leads out of the corpus folder; it is not read",
        "linked-folder": "a link that leads out of the corpus folder; it is not read",
        "passwd.txt": "a link that leads out of the corpus folder; it is not read",
        "sub-again": "a link to a folder; linked folders are not read",
    }
    facts, problems = load_show_facts(corpus)
    assert facts.shows == () and problems == [
        "shows.yaml: cannot read show facts (a link that leads out of the corpus folder; it is not read)"
    ]


def test_a_pipe_in_the_corpus_is_reported_instead_of_blocking_the_reindex(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.txt")
    result = _problems_in_child(tmp_path)  # was: waits forever for a writer
    assert [a["file"] for a in result["articles"]] == ["good.txt"]
    assert result["problems"] == ["pipe.txt: not a regular file (a device, pipe or socket); it is not read"]


def test_a_newline_in_a_file_name_does_not_split_a_report_line(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    (tmp_path / "notes\nforged: all good.pdf").write_bytes(b"%PDF")
    (tmp_path / "bad\rname.md").write_text("---\ntitle: [x\n---\nBody.\n", encoding="utf-8")
    loaded = load_corpus(tmp_path)
    assert len(loaded.problems) == 2
    assert all("\n" not in p and "\r" not in p for p in loaded.problems)
    assert any(p.startswith("notes\\nforged: all good.pdf: unsupported file type") for p in loaded.problems)
    assert any(p.startswith("bad\\rname.md: unreadable front matter") for p in loaded.problems)
    report = ReindexReport(added=["new\nfile.md"], problems=["x\ny.md: broken"])
    lines = report.summary().splitlines()
    assert lines[-3:] == ["added: new\\nfile.md", "skipped 1 file(s):", "  - x\\ny.md: broken"]


def test_a_file_name_that_is_not_utf8_is_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt"), "wb") as handle:  # a Latin-1 name
        handle.write(GOOD.encode())
    loaded = load_corpus(tmp_path)  # was: UnicodeEncodeError, and nothing was indexed
    assert [a.meta.file for a in loaded.articles] == ["good.txt"]
    assert loaded.problems == ["caf\\udce9.txt: the file name is not UTF-8; rename it"]


def test_a_corpus_that_is_a_file_is_one_clear_line(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("bot.engine.Embedder", lambda *args, **kwargs: embedder)  # one model per session
    (tmp_path / "article.txt").write_text(GOOD, encoding="utf-8")
    argv = ["index", "--corpus", str(tmp_path / "article.txt"), "--index", str(tmp_path / "index")]
    assert cli.main(argv) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line != "reading…"]
    assert len(errors) == 1 and errors[0].startswith("error: the corpus ")
    assert errors[0].endswith("article.txt is a file, not a folder of articles")  # was: "does not exist"


# ---------------------------------------------------------------------- property: any file at all

# Files stay small (under 200 KB: nesting is what is random here, not size, which the bench covers),
# so each takes milliseconds; the bounds are far above that and far below what an unbounded
# expansion takes (a 440-byte alias bomb took minutes and gigabytes).
MEMORY_BOUND = 96 << 20  # bytes the readers may allocate for one file


def _aliased(levels: int, width: int, use: str) -> str:
    bomb, last = _bomb(levels, width)
    return f"{bomb}{use}: *{last}\n"


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # lone surrogates too: not UTF-8, to be reported


_yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.dates(), st.text(max_size=30)
)
_yaml_keys = st.sampled_from(["title", "a", "1", "shows"])
_yaml_values = st.recursive(
    _yaml_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(_yaml_keys, inner, max_size=5)),
    max_leaves=30,
)
_yaml_texts = st.one_of(
    _yaml_values.map(lambda v: json.dumps({"title": v, "shows": v, "date": v}, default=str)),  # JSON is YAML
    st.text(alphabet=st.sampled_from(list("[]{}:,-&*!|>'\"#%@` \nab1.")), max_size=300),
    st.builds(_aliased, st.integers(1, 9), st.integers(1, 9), st.sampled_from(["title", "shows", "x"])),
    st.integers(1, 3_000).map(lambda n: "title: " + "[" * n + "]" * n),
    st.integers(1, 600).map(lambda n: "a:\n" + "".join(" " * (i + 1) + "- b\n" for i in range(n))),
)
_nested_bodies = st.one_of(
    st.integers(1, 5_000).map(lambda n: "<div>" * n + "Deep text. More." + "</div>" * n),
    st.integers(1, 5_000).map(lambda n: ">" * n + " Quoted deep. More."),
    st.integers(1, 300).map(lambda n: "".join("  " * i + "- item\n" for i in range(n))),
    st.text(max_size=400),
)
_front_matter = st.tuples(_yaml_texts, _nested_bodies).map(lambda p: _utf8(f"---\n{p[0]}\n---\n{p[1]}\n"))
_files = st.one_of(
    st.tuples(st.sampled_from(["a.txt", "a.md", "a.html"]), st.binary(max_size=3_000)),
    st.tuples(st.just("a.md"), _front_matter),
    st.tuples(st.sampled_from(["a.txt", "a.html", "a.md"]), _nested_bodies.map(_utf8)),
    st.tuples(st.just("shows.yaml"), _yaml_texts.map(_utf8)),
)


@settings(max_examples=120, deadline=10_000)  # ms per file
@given(_files)
def test_any_file_is_read_or_reported_within_bounds(file: tuple[str, bytes]) -> None:
    import tempfile
    import tracemalloc

    name, data = file
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / name).write_bytes(data)
        tracemalloc.start()
        try:
            corpus = load_corpus(root)
            facts, fact_problems = load_show_facts(root)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak:,} bytes"
    problems = corpus.problems + fact_problems
    assert all("\n" not in p and len(p) < 1_000 for p in problems), problems
    if name == "shows.yaml":
        assert corpus.problems == [] and corpus.articles == []
        assert len(fact_problems) <= 1 or all(p.startswith("shows.yaml: show #") for p in fact_problems)
        return
    read = [a.meta.file for a in corpus.articles]
    reported = [p for p in corpus.problems if p.startswith(f"{name}: ")]
    assert read in ([], [name]) and len(reported) == (0 if read else 1), (read, corpus.problems)
    for article in corpus.articles:
        meta = article.meta
        assert all(isinstance(v, str) or v is None for v in (meta.title, meta.author, meta.outlet, meta.url))
        assert all(isinstance(show, str) for show in meta.shows)
