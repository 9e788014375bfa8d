"""Reading a fan's message: the one place question wording is parsed.

What these recognise is the language of requests, not of any show: "more", "who said that",
follow-up openers and pronouns, what-did-X-say questions, and questions whose answer is an
outcome. Everything about relevance is learned (see bot.search.rerank).
"""

from __future__ import annotations

import re

MORE = re.compile(r"^\s*(more|more quotes|next|another|any more|anything else|keep going)\s*[?!.]*\s*$", re.I)
WHO_SAID_THAT = re.compile(
    r"^\s*(who\s+(said|says|wrote)\s+(that|this|it)|who\s+was\s+that)\s*[?!.]*\s*$", re.I
)
FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|what about|how about|what of|and what about|same for)\b"
    r"|\b(he|she|they|him|her|them|his|hers|their|that|it)\b",
    re.I,
)
QUOTE_INTENT = re.compile(
    r"\bwho\s+(said|says|say|told|claimed|thinks|called|compared)\b|\bwho\b.*\bsaid\b"
    r"|\b(say|said|says|quote|quoted|talk|talked|think|thinks|feel|feels)\b",
    re.I,
)


def wants_quote(text: str) -> bool:
    """True for questions after what someone said or thinks, which attributed quotes answer best."""
    return bool(QUOTE_INTENT.search(text))


ENDING_QUESTION = re.compile(
    r"\b(end(s|ed|ing|ings)?|finale|final episode|last episode|di(e|es|ed|ing)|death|dead"
    r"|kill(s|ed|ing|er)?|surviv(e|es|ed|ing)|win(s|ner|ning)?|won|twist|cliffhanger"
    r"|happens? (to|at the end)|what happened)\b",
    re.IGNORECASE,
)


def asks_about_ending(text: str) -> bool:
    """Questions whose answer is an outcome ("how does it end", "does X die", "who wins")."""
    return bool(ENDING_QUESTION.search(text))


def is_more(text: str) -> bool:
    """True for "more", "next", "any more?": a request for the next quotes on the last question."""
    return bool(MORE.match(text.strip()))


def asks_who_said_that(text: str) -> bool:
    return bool(WHO_SAID_THAT.match(text.strip()))


def looks_like_follow_up(text: str) -> bool:
    """An opener ("and what about…") or a pronoun, or a message too short to stand alone."""
    return bool(FOLLOW_UP.search(text)) or len(text.split()) <= 4
