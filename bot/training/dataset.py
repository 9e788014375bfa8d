"""The fanqa corpus: labelled articles and fan questions that every learned part is fitted on.

Layout (the format of `../shared/eval/`, extended): `articles/`, `labels.jsonl` (one object per
article), `questions.jsonl`, `splits.json` (show -> fold, plus the locked test shows) and
`agreement.json` (the second annotator's blind labels). `validate` checks what training relies
on: every labelled string is an exact substring of the article's visible text, every question's
gold is in its files, and no show sits in two folds.
"""

from __future__ import annotations

import html.parser
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

FORMS = frozenset(
    {
        "finale-recap",
        "midseason-recap",
        "ending-explained",
        "review-spoilerfree",
        "review-spoilers",
        "qa-interview",
        "feature-interview",
        "news",
        "episode-guide",
        "listicle",
        "faq",
        "podcast-transcript",
        "opinion",
        "multi-show",
    }
)
KINDS = frozenset({"fact", "opinion", "who-said", "followup", "offtopic"})
FOLDS = 5
TEST = "test"
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "datasets" / "fanqa"


class _VisibleText(html.parser.HTMLParser):
    """Text between tags, scripts and styles left out: what the evaluator compares labels with."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


# commonmark without the reader's table extension: a table label keeps its pipes, and each row the
# reader prints ("Network | Netflix") is found inside it
_MARKDOWN = MarkdownIt("commonmark")


def label_as_read(text: str, fmt: str) -> str:
    """A label as the bot's reader prints it: Markdown labels keep their markup ("**Name** says:")
    because they are substrings of the file, but the reader's paragraphs carry none of it."""
    if fmt != "md":
        return text
    parser = _VisibleText()
    parser.feed(_MARKDOWN.render(text))
    return " ".join("".join(parser.parts).split())


def squash(text: str) -> str:
    return " ".join(text.split())


def visible_text(path: Path) -> str:
    raw = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".html", ".htm"):
        parser = _VisibleText()
        parser.feed(raw)
        return " ".join(parser.parts)
    return raw


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.name}:{number}: {exc}") from exc
    return rows


@dataclass(slots=True)
class FanQA:
    root: Path
    labels: list[dict]
    questions: list[dict]
    folds: dict[str, str]  # show -> "0".."4" or "test"
    agreement: dict = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path = DEFAULT_ROOT) -> FanQA:
        splits = json.loads((root / "splits.json").read_text(encoding="utf-8"))
        agreement_path = root / "agreement.json"
        return cls(
            root=root,
            labels=read_jsonl(root / "labels.jsonl"),
            questions=read_jsonl(root / "questions.jsonl"),
            folds={show: str(fold) for show, fold in splits["folds"].items()},
            agreement=json.loads(agreement_path.read_text(encoding="utf-8"))
            if agreement_path.exists()
            else {},
        )

    def fold_of_file(self, file: str) -> str:
        label = self.label(file)
        return self.folds[label["show"]]

    def label(self, file: str) -> dict:
        for label in self.labels:
            if label["file"] == file:
                return label
        raise KeyError(file)

    def fold_of_question(self, question: dict) -> str:
        """A question belongs to the fold of its show; off-topic ones to the fold of their batch's show."""
        return self.folds[question["fold_show"]]

    def files_in(self, folds: Iterable[str]) -> list[str]:
        wanted = set(folds)
        return [lab["file"] for lab in self.labels if self.folds[lab["show"]] in wanted]


def validate(root: Path = DEFAULT_ROOT) -> list[str]:
    """Every problem with the data set, as readable lines; [] when it is sound."""
    problems: list[str] = []
    try:
        data = FanQA.load(root)
    except (OSError, ValueError, KeyError) as exc:
        return [f"cannot load {root}: {exc}"]
    articles = {p.name: squash(visible_text(p)) for p in sorted((root / "articles").iterdir()) if p.is_file()}
    labelled = set()
    for lab in data.labels:
        file = lab.get("file", "")
        if file not in articles:
            problems.append(f"labels: no article file {file!r}")
            continue
        if file in labelled:
            problems.append(f"labels: {file} labelled twice")
        labelled.add(file)
        text = articles[file]
        for key in (
            "show",
            "shows",
            "form",
            "format",
            "finale_spoilers",
            "non_spoiler_examples",
            "title",
            "title_spoils",
            "slug_spoils",
            "speakers",
            "junk",
        ):
            if key not in lab:
                problems.append(f"{file}: field {key!r} missing")
        if lab.get("form") not in FORMS:
            problems.append(f"{file}: form {lab.get('form')!r} is not one of the known forms")
        if lab.get("show") not in data.folds:
            problems.append(f"{file}: show {lab.get('show')!r} has no fold in splits.json")
        folds = {data.folds.get(show) for show in lab.get("shows", [])} | {data.folds.get(lab.get("show"))}
        if len(folds) != 1 or None in folds:
            problems.append(f"{file}: its shows {lab.get('shows')} are not all in one fold")
        strings = [("finale_spoilers", s) for s in lab.get("finale_spoilers", [])]
        strings += [("non_spoiler_examples", s) for s in lab.get("non_spoiler_examples", [])]
        strings += [("junk", s) for s in lab.get("junk", [])]
        strings += [("speakers", item.get("quote", "")) for item in lab.get("speakers", [])]
        if lab.get("title"):
            strings.append(("title", lab["title"]))
        for key, string in strings:
            if not isinstance(string, str) or not string.strip() or squash(string) not in text:
                problems.append(f"{file}: {key} string not in the visible text: {str(string)[:90]!r}")
        for item in lab.get("speakers", []):
            if not str(item.get("speaker") or "").strip():
                problems.append(f"{file}: a quote without its speaker: {item.get('quote', '')[:60]!r}")
        spoilers = set(map(squash, lab.get("finale_spoilers", [])))
        if spoilers & set(map(squash, lab.get("non_spoiler_examples", []))):
            problems.append(f"{file}: a sentence is labelled both spoiler and decoy")
    for file in sorted(set(articles) - labelled):
        problems.append(f"{file}: article without labels")
    seen: set[str] = set()
    for q in data.questions:
        qid = str(q.get("id"))
        if qid in seen:
            problems.append(f"question id {qid} repeated")
        seen.add(qid)
        if q.get("kind") not in KINDS:
            problems.append(f"{qid}: kind {q.get('kind')!r} unknown")
        if q.get("fold_show") not in data.folds:
            problems.append(f"{qid}: fold_show {q.get('fold_show')!r} has no fold")
        turns = q.get("turns")
        if not isinstance(q.get("question"), str) and not (
            isinstance(turns, list) and turns and all(isinstance(t, str) for t in turns)
        ):
            problems.append(f"{qid}: needs a question or a list of turns")
        gold = q.get("gold")
        if not isinstance(gold, list):
            problems.append(f"{qid}: gold is not a list")
            continue
        if (q.get("kind") == "offtopic") != (not gold):
            problems.append(f"{qid}: off-topic questions and only they have no gold")
        added = set(q.get("gold_added") or [])
        if not added <= set(gold):
            problems.append(f"{qid}: gold_added holds a sentence that gold lacks")
        if gold and added >= set(gold):
            problems.append(f"{qid}: every gold sentence is in gold_added (the first writer's gold is gone)")
        for sentence in gold + list(q.get("not_gold") or []):
            if not any(squash(sentence) in articles.get(f, "") for f in q.get("gold_files") or []):
                problems.append(f"{qid}: gold sentence not in its gold_files: {sentence[:70]!r}")
    tests = sum(1 for fold in data.folds.values() if fold == TEST)
    # the locked shows were chosen once and measured; later batches add development shows only,
    # so the share drifts below a fifth (an eighth is still a real test)
    if data.folds and not 0.125 <= tests / len(data.folds) <= 0.25:
        problems.append(f"splits.json: {tests} of {len(data.folds)} shows locked as test (want about 20%)")
    if {f for f in data.folds.values()} - {str(n) for n in range(FOLDS)} - {TEST}:
        problems.append("splits.json: folds must be 0-4 or test")
    return problems
