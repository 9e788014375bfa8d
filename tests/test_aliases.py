"""Short names fans type, resolved from the corpus's own names (bot.search.aliases)."""

from __future__ import annotations

from bot.search.aliases import AliasResolver, short_forms

NAMES = ["Brooklyn Nine-Nine", "The Last of Us", "Jujutsu Kaisen", "Ferrymen Recap", "Daredevil"]


def resolver() -> AliasResolver:
    return AliasResolver(NAMES, {}, vocabulary={"season", "finale", "best"}, shows=NAMES[:3])


def test_initialisms_and_number_forms_resolve_to_the_name() -> None:
    assert {"bnn", "b99"} <= short_forms("Brooklyn Nine-Nine")
    assert {"tlou", "lou"} <= short_forms("The Last of Us")
    names = resolver()
    assert names.resolve_word("b99") == "Brooklyn Nine-Nine"
    assert names.resolve_word("tlou") == "The Last of Us"
    assert names.resolve_word("jk") == "Jujutsu Kaisen"
    assert names.resolve_word("dd") == "Daredevil"  # letters in order inside a one-word name


def test_chat_abbreviations_are_never_read_as_names() -> None:
    """Chat words: "fr" is "for real", not the initials of a title's "Ferrymen Recap"."""
    names = resolver()
    for word in ("fr", "ngl", "imo", "ur", "tbh", "irl"):
        assert names.resolve_word(word) is None, word
    assert names.expand("thanks bot ur the best fr") == "thanks bot ur the best fr"
