"""Show facts from corpus/shows.yaml: parsing, tolerant look-up, and bad files reported, not raised."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.shows import ShowFacts, load_show_facts, parse_show_facts, show_key

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
shows:
  - name: Jessica Jones
    aliases: [jj, "jessica jones", "Marvel's Jessica Jones"]
    characters:
      Kilgrave: [purple man, Zebediah Kilgrave]
    finales:
      1: ["Jessica kills Kilgrave.", "Luke is left unconscious."]
  - name: Luke Cage
    aliases: lc
    finales:
      season 2: ["Mariah dies in prison."]
"""


def write(tmp_path: Path, text: str, name: str = "shows.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_show_key_folds_case_width_and_punctuation() -> None:
    assert show_key("Marvel's  Jessica—Jones") == "marvel-s-jessica-jones"
    assert show_key("ＪＥＳＳＩＣＡ ＪＯＮＥＳ") == "jessica-jones"
    assert show_key("  --Luke_Cage!! ") == "luke-cage"


@given(st.text())
def test_show_key_is_idempotent_and_trimmed(name: str) -> None:
    key = show_key(name)
    assert show_key(key) == key
    assert not key.startswith("-") and not key.endswith("-")


def test_no_file_means_no_facts(tmp_path: Path) -> None:
    facts, problems = load_show_facts(tmp_path)
    assert facts == ShowFacts() and problems == []
    assert facts.alias_map() == {} and facts.find_show("jj") is None


def test_good_file_parses(tmp_path: Path) -> None:
    facts, problems = load_show_facts(write(tmp_path, GOOD))
    assert problems == []
    jj = facts.find_show("Jessica Jones")
    assert jj is not None and jj.key == "jessica-jones"
    assert jj.finales == {1: ("Jessica kills Kilgrave.", "Luke is left unconscious.")}
    assert jj.characters == {"Kilgrave": ("purple man", "Zebediah Kilgrave")}
    luke = facts.find_show("LC")
    assert luke is not None and luke.aliases == ("lc",) and luke.finales == {2: ("Mariah dies in prison.",)}
    assert luke.finale_facts(2) == ("Mariah dies in prison.",) and luke.finale_facts(1) == ()
    assert jj.finale_facts() == jj.finales[1]


def test_yml_extension_is_read_too(tmp_path: Path) -> None:
    facts, problems = load_show_facts(write(tmp_path, GOOD, "shows.yml"))
    assert problems == [] and len(facts.shows) == 2


def test_find_show_is_tolerant(tmp_path: Path) -> None:
    facts, _ = load_show_facts(write(tmp_path, GOOD))
    for typed in (
        "jessica-jones",
        "JESSICA JONES",
        "ｊｊ",
        "Marvels Jessica Jones",
        "marvel’s jessica jones",
    ):
        show = facts.find_show(typed)
        assert show is not None and show.name == "Jessica Jones", typed
    assert facts.find_show("Daredevil") is None
    assert facts.find_show("") is None


def test_alias_map_maps_aliases_and_nicknames_to_canonical_names(tmp_path: Path) -> None:
    facts, _ = load_show_facts(write(tmp_path, GOOD))
    aliases = facts.alias_map()
    assert aliases["jj"] == "Jessica Jones"
    assert aliases["marvel's jessica jones"] == "Jessica Jones"
    assert aliases["purple man"] == "Kilgrave"
    assert aliases["zebediah kilgrave"] == "Kilgrave"
    assert aliases["lc"] == "Luke Cage"
    assert "jessica jones" not in aliases  # an alias equal to its name adds nothing
    assert all(key == key.casefold() for key in aliases)


def test_malformed_yaml_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    facts, problems = load_show_facts(write(tmp_path, "shows: [\n  - name: Broken\n    aliases: [jj"))
    assert facts == ShowFacts()
    assert len(problems) == 1 and "shows.yaml" in problems[0]


def test_undecodable_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "shows.yaml").write_bytes(b"shows:\n  - name: \xff\xfe\n")
    facts, problems = load_show_facts(tmp_path)
    assert facts == ShowFacts() and problems


def test_wrong_shapes_are_reported_and_good_shows_kept() -> None:
    data = {
        "shows": [
            "just a string",
            {"aliases": ["no name"]},
            {
                "name": "Good Show",
                "aliases": ["gs", None, {"x": 1}],
                "characters": ["not", "a", "mapping"],
                "finales": {"one": ["Fact one."], "zero": ["bad key"], 2: "A lone fact."},
            },
            {"name": "good show"},  # the same show twice
        ]
    }
    facts, problems = parse_show_facts(data)
    assert [s.name for s in facts.shows] == ["Good Show"]
    show = facts.shows[0]
    assert show.aliases == ("gs",)
    assert show.finales == {1: ("Fact one.",), 2: ("A lone fact.",)}
    assert len(problems) == 7, problems


def test_top_level_must_be_a_shows_list() -> None:
    for data in ([1, 2], {"shows": "Jessica Jones"}, "text"):
        facts, problems = parse_show_facts(data)
        assert facts == ShowFacts() and problems
    assert parse_show_facts(None) == (ShowFacts(), [])


def test_shipped_facts_cover_the_shipped_corpus() -> None:
    facts, problems = load_show_facts(ROOT / "corpus")
    assert problems == []
    jj = facts.find_show("jj")
    luke = facts.find_show("Luke Cage")
    assert jj is not None and jj.finales.get(1)
    assert luke is not None and luke.finales.get(1)
    assert facts.alias_map()["purple man"] == "Kilgrave"
