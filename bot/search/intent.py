"""Passages about the article rather than the show: spoiler warnings and rhetorical questions.

They never answer a fan, so the share of such sentences is one of the ranker's features (its
weight is learned by `python -m bot train`, not set here).
"""

from __future__ import annotations

from bot.models import Passage
from bot.text import is_spoiler_warning


def is_meta_sentence(sentence: str) -> bool:
    """A spoiler warning or a question the article asks itself."""
    return sentence.rstrip().endswith("?") or is_spoiler_warning(sentence)


def meta_share(passage: Passage) -> float:
    """Share of the passage's sentences that talk about the article rather than the show."""
    if not passage.sentences:
        return 0.0
    return sum(is_meta_sentence(s) for s in passage.sentences) / len(passage.sentences)
