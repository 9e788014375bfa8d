"""Score spoiler flags against labelled sentences the way shared/eval/evaluate.py does.

Recall: a labelled finale sentence counts as caught when >= 90% of its characters are shown inside
``||…||``. Precision: characters of tagged runs that belong to labelled finale sentences, over all
tagged characters. Decoys: labelled non-spoilers with >= 50% of their characters tagged. Used by
the development benchmark and by the tests on held-out fixture articles.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.models import Passage

_QUOTES = str.maketrans(
    {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " "}
)


@dataclass
class SpoilerScore:
    """Figures plus the sentences behind them, for a development loop."""

    recall: float = 0.0
    precision: float = 0.0
    caught: int = 0
    total: int = 0
    missed: list[tuple[str, str]] = field(default_factory=list)  # (file, labelled finale sentence)
    decoys: list[tuple[str, str]] = field(default_factory=list)  # (file, labelled decoy tagged)
    extra: list[tuple[str, str]] = field(default_factory=list)  # (file, tagged run not labelled)


def render(passage: Passage) -> str:
    """The passage with each run of flagged sentences inside one ``||…||`` (unknown = all)."""
    flags = passage.spoiler.flags if passage.spoiler else ()
    if len(flags) != len(passage.sentences):
        flags = (True,) * len(passage.sentences)  # unknown or inconsistent: fail closed
    parts: list[str] = []
    run: list[str] = []
    for sentence, flag in zip(passage.sentences, flags, strict=True):
        if flag:
            run.append(sentence)
            continue
        if run:
            parts.append("||" + " ".join(run) + "||")
            run = []
        parts.append(sentence)
    if run:
        parts.append("||" + " ".join(run) + "||")
    return " ".join(parts)


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.replace("||", "")).translate(_QUOTES).lower()
    return re.sub(r"\s+", " ", text).strip()


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", norm(text))


def _covers(container: str, sentence: str, share: float = 0.8) -> bool:
    c, s = norm(container), norm(sentence)
    if s and s in c:
        return True
    sw = _words(sentence)
    if len(sw) < 4:
        return False
    blocks = difflib.SequenceMatcher(None, sw, _words(container), autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks) / len(sw) >= share


def _mask(message: str) -> tuple[str, list[bool]]:
    out: list[str] = []
    mask: list[bool] = []
    inside = False
    i = 0
    while i < len(message):
        if message.startswith("||", i):
            inside = not inside
            i += 2
            continue
        out.append(message[i])
        mask.append(inside)
        i += 1
    return "".join(out), mask


def tagged_share(message: str, sentence: str) -> float | None:
    """Share of `sentence`'s characters shown inside tags in `message`; None when absent."""
    visible, mask = _mask(message)
    low = unicodedata.normalize("NFKC", visible).translate(_QUOTES).lower()
    index: list[int] = []
    flat: list[str] = []
    for position, ch in enumerate(low):
        if ch.isspace():
            if flat and flat[-1] == " ":
                continue
            ch = " "
        flat.append(ch)
        index.append(position)
    hay = "".join(flat)
    needle = norm(sentence)
    at = hay.find(needle)
    if at < 0 or not needle:
        return None
    positions = [index[k] for k in range(at, at + len(needle)) if not hay[k].isspace()]
    return sum(mask[p] for p in positions) / len(positions) if positions else None


def _runs(message: str) -> list[str]:
    visible, mask = _mask(message)
    runs: list[str] = []
    current: list[str] = []
    for ch, inside in zip(visible, mask, strict=True):
        if inside:
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def score(passages: Iterable[Passage], labels: Sequence[Mapping[str, object]]) -> SpoilerScore:
    """Recall, precision by characters and decoys over the labelled files."""
    rendered: dict[str, list[str]] = {}
    for passage in passages:
        rendered.setdefault(passage.file.rsplit("/", 1)[-1], []).append(render(passage))
    result = SpoilerScore()
    tagged = right = 0
    for label in labels:
        file = str(label["file"])
        messages = rendered.get(file, [])
        spoilers = [str(s) for s in label.get("finale_spoilers", []) or []]  # type: ignore[union-attr]
        for sentence in spoilers:
            shares = [x for x in (tagged_share(m, sentence) for m in messages) if x is not None]
            if not shares:
                continue
            result.total += 1
            if max(shares) >= 0.9:
                result.caught += 1
            else:
                result.missed.append((file, sentence))
        for sentence in label.get("non_spoiler_examples", []) or []:  # type: ignore[union-attr]
            shares = [x for x in (tagged_share(m, str(sentence)) for m in messages) if x is not None]
            if shares and max(shares) >= 0.5:
                result.decoys.append((file, str(sentence)))
        normed = [norm(s) for s in spoilers]
        for message in messages:
            for run in _runs(message):
                size = len(norm(run).replace(" ", ""))
                covered = sum(len(s.replace(" ", "")) for s in normed if s and s in norm(run))
                if not covered and any(_covers(s, run, 0.8) for s in normed):
                    covered = size
                tagged += size
                right += min(size, covered)
                if covered < size:
                    result.extra.append((file, run))
    result.recall = result.caught / result.total if result.total else 0.0
    result.precision = right / tagged if tagged else 0.0
    return result
