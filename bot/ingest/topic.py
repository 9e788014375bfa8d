"""Which show an article is about, when its front matter does not say: a learned choice.

A copied page or a web page rarely declares its show, yet the title nearly always names it among
other names: the interviewee ("Tamsin Vale on the Saltmarsh finale"), a character ("Grogu's best
moments"), the podcast or the outlet ("Outer Rim Radio: The Mandalorian finale"). Every title-case
phrase of the title (joiners such as "of" and "the" allowed: "House of the Dragon") is a
candidate, described by how the title and the body use it (how often the body repeats it, whether
"season" or "finale" follows it, whether it speaks like a person, whether it leads the title,
whether a podcast's "Ep. 12" follows it...),
and a choice model fitted by `python -m bot train` on the shows of datasets/fanqa picks one of
them or none (one softmax over the candidates and "none", so a candidate is judged against the
others the title offers, not alone).
Without weights no show is guessed: a wrong show would scope answers to the wrong show.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.learned import Logistic, built, choice_of
from bot.models import Article
from bot.text import find_phrase, phrase_starts, slug_words

log = logging.getLogger(__name__)

_CAP = r"[A-Z0-9][\w'’&!.\-]*"
_PHRASE = re.compile(rf"{_CAP}(?:\s+(?:(?:of|the|and|on|in|a|&)\s+){{0,2}}{_CAP}){{0,5}}")
GENERIC = frozenset(
    "season seasons series episode episodes finale finales recap recaps review reviews explained ending "
    "endings spoilers spoiler interview podcast guide faq news part chapter premiere trailer cast ranked "
    "every all best worst the a an how why what who when is are our your new final first last weekly "
    "january february march april may june july august september october november december "
    "netflix hbo hulu max disney prime video apple tv bbc amc fx showtime peacock paramount".split()
)
JOINERS = frozenset({"of", "the", "and", "on", "in", "a", "&"})
MARKERS = frozenset(
    {"season", "seasons", "series", "episode", "episodes", "finale", "recap", "review", "ending", "part",
     "premiere", "s1", "s2", "s3", "s4", "s5", "cast", "star", "stars", "creator", "showrunner", "boss"}
)  # fmt: skip
SPEAKS = frozenset(
    "said says told tells explained explains added adds recalled recalls admitted admits laughed".split()
)
FEATURES = (
    "body_count", "body_share", "followed_by_marker", "leads_title", "after_on", "words", "possessive",
    "in_slug", "in_opening", "marker_in_body", "speaks", "prefix", "explained_by_longer", "explains_shorter",
    "starts_with_the", "single_word", "title_position", "before_episode_number",
)  # fmt: skip


def candidates(title: str) -> list[str]:
    """Every sub-run of a title-case phrase of the title that starts and ends on a non-generic word
    (a possessive "'s" dropped only at the end: "The Handmaid's Tale" and "Daredevil" both count)."""
    found: list[str] = []
    for match in _PHRASE.finditer(title):
        words = match.group().rstrip(".:!,'’").split()
        for start in range(len(words)):
            for end in range(len(words), start, -1):
                part = list(words[start:end])
                part[-1] = _without_possessive(part[-1])
                if not part[-1] or part[0].casefold() in GENERIC - {"the"}:
                    continue
                if part[-1].casefold() in GENERIC | JOINERS:
                    continue
                if part[0] in JOINERS or not part[0][:1].isupper() or part[-1].isdigit():
                    continue
                if all(w.casefold() in GENERIC for w in part):
                    continue
                name = " ".join(part).strip("'’")
                if name and name not in found:
                    found.append(name)
    return found


def _without_possessive(word: str) -> str:
    return word[:-2] if word[-2:] in ("'s", "’s") else word


def candidate_rows(title: str, body: Sequence[str], slug: str = "") -> tuple[list[str], np.ndarray]:
    """The candidates of a title and one feature row each (see FEATURES)."""
    names = candidates(title)
    text = "\n".join(body)
    opening = "\n".join(body[:2])
    folded_title = title.casefold()
    folded_slug = slug.casefold().replace("-", " ").replace("_", " ")
    counts = [sum(1 for _ in phrase_starts(text, name)) for name in names]
    total = max(1, sum(counts))
    rows = []
    for name, count in zip(names, counts, strict=True):
        folded = name.casefold()
        at = folded_title.find(folded)
        before = folded_title[:at].split()
        after = [w.strip("'’:,.!?") for w in folded_title[at + len(folded) :].lstrip("'’s:,").split()]
        after = [w for w in after if w not in JOINERS]
        words = name.split()
        followers = _followers(text, name)
        last = words[-1]
        rows.append(
            [
                math.log1p(count),
                count / total,
                float(bool(after) and after[0] in MARKERS),
                float(at == 0),
                float(bool(before) and before[-1] in ("on", "about", "with", "from", "in")),
                min(len(words), 6) / 6,
                float(title[at + len(name) : at + len(name) + 2] in ("'s", "’s")) if at >= 0 else 0.0,
                float(bool(folded_slug) and folded in folded_slug),
                float(find_phrase(opening, name) >= 0),
                sum(w in MARKERS for w in followers) / max(1, len(followers)),
                sum(w in SPEAKS for w in followers) / max(1, len(followers)),
                float(
                    any(line.lstrip("*").upper().startswith(last.upper() + ":") for line in body)
                    or any(line.lstrip("*").startswith(name + ":") for line in body)
                ),
                _share(count, [c for o, c in zip(names, counts, strict=True) if _within(name, o)], True),
                _share(count, [c for o, c in zip(names, counts, strict=True) if _within(o, name)], False),
                float(words[0] == "The"),
                float(len(words) == 1),
                (at / max(1, len(title))) if at >= 0 else 1.0,
                float(bool(after) and _episode_number(after[0])),
            ]
        )
    return names, np.asarray(rows, dtype=np.float32).reshape(len(names), len(FEATURES))


def _episode_number(word: str) -> bool:
    """A podcast's episode mark after its name: "Ep. 12" (stripped to "ep"), "Ep.12", "#12"."""
    digits = word[2:].lstrip(".") if word.startswith("ep") else word[1:] if word.startswith("#") else ""
    return word == "ep" or digits.isdigit()


def _within(short: str, long: str) -> bool:
    return short != long and short.casefold() in long.casefold()


def _share(count: int, others: list[int], inside: bool) -> float:
    """How much of this candidate's use a longer one accounts for (`inside`: "Orbit" in "The Quiet
    Orbit"), or how much of a shorter one's use this one accounts for (the other way round)."""
    if not others:
        return 0.0
    if inside:
        return min(1.0, max(others) / max(1, count))
    return min(1.0, count / max(1, min(others)))


def _followers(text: str, name: str) -> list[str]:
    """The word after each occurrence of `name` in the body (its possessive and commas skipped)."""
    out = []
    for start in phrase_starts(text, name):
        rest = text[start + len(name) : start + len(name) + 40].lstrip("'’s,:").split()
        if rest:
            out.append(rest[0].strip('.,;:!?"“”').casefold())
    return out


@dataclass(frozen=True, slots=True)
class ShowModel:
    scorer: Logistic
    threshold: float

    def best(self, rows: np.ndarray) -> tuple[int, float]:
        """The likeliest candidate's row and its probability against the others and "none" (rows
        must not be empty)."""
        return choice_of(self.scorer.logits(rows))

    def choose(self, names: Sequence[str], rows: np.ndarray) -> str | None:
        if not names:
            return None
        top, score = self.best(rows)
        return names[top] if score >= self.threshold else None

    def pick(self, title: str, body: Sequence[str], slug: str = "") -> str | None:
        return self.choose(*candidate_rows(title, body, slug))


def load_show_model() -> ShowModel | None:
    return built("shows", _build)


def _build(data: dict) -> ShowModel | None:
    if not data:
        return None  # training reads its articles before any show model exists
    try:
        model = ShowModel(Logistic.from_dict(data["scorer"]), float(data["threshold"]))
        if model.scorer.weights.size != len(FEATURES):
            raise ValueError("feature count differs from the code's (retrain: python -m bot train)")
        return model
    except (KeyError, TypeError, ValueError) as exc:
        log.error("show weights unreadable (%s); no show is guessed from titles", exc)
        return None


def article_candidates(article: Article) -> tuple[list[str], np.ndarray]:
    """An article's candidate shows and their rows: its title, body and URL slug."""
    body = [p.text for p in article.paragraphs]
    return candidate_rows(article.meta.title, body, slug_words(article.meta.url) or "")


def with_show(article: Article, model: ShowModel | None) -> Article:
    """The article with the show `model` reads from its title, where the page declares none."""
    if article.meta.shows or model is None:
        return article
    show = model.choose(*article_candidates(article))
    return replace(article, meta=replace(article.meta, shows=(show,))) if show else article
