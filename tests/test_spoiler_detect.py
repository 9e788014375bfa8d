"""Finale-spoiler detection: cues, scope parsing, the classifier, and accuracy on held-out articles.

The accuracy tests run on fixture articles about shows that appear nowhere in the training
sentences (tests/fixtures/spoilers/*), labelled the way shared/eval labels its articles.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.embedder import Embedder
from bot.ingest.corpus import load_corpus
from bot.models import Article, ArticleMeta, Paragraph, Passage
from bot.shows import load_show_facts, parse_show_facts
from bot.spoilers import detect as detect_module
from bot.spoilers.classifier import CUE_SCALE, load_model
from bot.spoilers.classifier import fit_logistic as fit
from bot.spoilers.detect import article_focus, detect_spoilers, detect_with_trace, season_length
from bot.spoilers.features import CUE_NAMES, cue_flags, cue_vector, is_warning
from bot.spoilers.propagate import episode_span, section_of
from bot.spoilers.scope import Scope, article_scope, season_numbers, show_names, title_scope, warning_scope
from bot.spoilers.scoring import SpoilerScore, render, score
from bot.spoilers.training import TRAINING_PATH, data_sha256, load_examples

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "spoilers"
DEV = Path("/work/shared/eval/dev")


def fake_embed(texts: Sequence[str]) -> np.ndarray:
    """Deterministic unit vectors from a hash: for contract tests that need no model."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        vector = np.random.default_rng(seed).standard_normal(384)
        rows.append(vector / np.linalg.norm(vector))
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), 384)


def article(file: str, title: str, paragraphs: list[str], shows: tuple[str, ...] = ()) -> Article:
    return Article(ArticleMeta(file=file, title=title, shows=shows), tuple(Paragraph(p) for p in paragraphs))


def passages_of(art: Article) -> list[Passage]:
    from bot.ingest.passages import article_passages

    return article_passages(art)


def labels(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / "labels.jsonl").read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- cue features


def test_finale_and_ending_cues() -> None:
    cues = cue_flags("In the finale, Walt dies on the floor of the lab.")
    assert cues["finale"] and cues["event"] and cues["finale_or_ending_and_event"]
    assert cue_flags("The season ends with Jesse driving away.")["ending"]
    assert cue_flags("By the end, Frank is an uneasy ally.")["ending"]
    assert cue_flags("That final, triumphant moment when she wins.")["ending"]
    assert cue_flags("When we last see her, she is alone.")["ending"]


def test_event_words_inside_the_timing_phrase_are_not_events() -> None:
    cues = cue_flags("So, when we left off, I think he was exhausted.")
    assert cues["ending"] and not cues["event"]


def test_idioms_and_negated_endings_are_not_endings() -> None:
    assert not cue_flags("At the end of the day, it is a show about family.")["ending"]
    negated = cue_flags("It is a mid-season shock rather than the ending.")
    assert negated["midseason"] and not negated["ending"]
    assert not cue_flags("The finale leaves the door open for more.")["event"]


def test_midseason_cues() -> None:
    for text in (
        "In episode two, the shop is shot up.",
        "The seventh episode has the biggest twist.",
        "Midway through the season, she learns the truth.",
        "The premiere opens with a funeral.",
    ):
        assert cue_flags(text)["midseason"], text
    assert not cue_flags("The second season ends with a wedding.")["midseason"]


def test_questions_warnings_framing() -> None:
    assert cue_flags("Does Elektra survive?")["question"]
    assert not cue_flags("When he woke, it was like, “What’s happened?”")["question"]
    assert cue_flags("Netflix renewed the show for a third season.")["business"]
    assert cue_flags("The show follows a chemistry teacher.")["premise"]
    assert not cue_flags("He is about to board a plane.")["premise"]
    assert cue_flags("It would have been nice to see them make up.")["hypothetical"]
    assert cue_vector("In the finale, he dies.").shape == (len(CUE_NAMES),)


def test_is_warning() -> None:
    for text in (
        "Spoilers ahead for Season 1 of Jessica Jones!",
        "Spoilers for the whole of season two follow.",
        "Consider yourself warned.",
        "Here is everything that happens in the first season, including the ending.",
        "This recap covers all seven episodes, finale included, so stop here if you are still watching.",
    ):
        assert is_warning(text), text
    assert not is_warning("In the finale, she kills him.")
    long_reveal = (
        "Spoiler: in the finale the detective finally arrests her own brother for the murder of the mayor."
    )
    assert not is_warning(long_reveal)


def test_competition_finals_and_semi_finals() -> None:
    assert cue_flags("In the final, she wins by a single point.")["finale"]
    assert cue_flags("Nadiya wins the final")["finale"]
    assert cue_flags("The final challenge was a three-course menu.")["finale"]
    assert not cue_flags("Spoilers for the final season follow.")["finale"]
    assert not cue_flags("When he read the final script, he cried.")["finale"]
    semi = cue_flags("Last week's semi-final sent home the favourite.")
    assert semi["midseason"] and not semi["finale"]
    reached = cue_flags("Three sewers made it to the finale.")
    assert reached["midseason"] and reached["away"]
    assert cue_flags("Dev won week seven with a ballgown.")["midseason"]
    assert cue_flags("Mags was crowned the winner, and Rosalind came second.")["event"]


def test_business_words_only_in_their_business_sense() -> None:
    for text in (
        "The second season was released in March.",
        "The season 10 cast was announced in February.",
        "Season 2 has been picked up, but there is no date.",
        "Glasshouse was cancelled after two seasons.",
        "The finale airs on March 3.",
    ):
        assert cue_flags(text)["business"], text
    for text in (
        "She pulled off her wig and released a shower of rose petals.",
        "She is released from prison in the finale.",
        "The wedding is interrupted when the management announces the night shift will close.",
        "He is picked up by the police at the border.",
        "The wedding is cancelled.",
        "He is cast out of the family.",
    ):
        assert not cue_flags(text)["business"], text


def test_placement_phrases() -> None:
    # one episode's ending is mid-season; the finale's opening is the finale
    second = cue_flags("The second episode ends with the old king poisoned at his feast.")
    assert second["midseason"] and not second["ending"]
    opens = cue_flags("The finale opens with Jake hauled in front of a disciplinary hearing.")
    assert opens["finale"] and not opens["midseason"]
    # a back-reference to the first episode does not place the sentence there
    assert not cue_flags("Ryuk, as he promised in the very first episode, writes his name.")["midseason"]
    assert cue_flags("In the very first episode, Ryuk writes a name.")["midseason"]
    # past tense and "how it ends"
    assert cue_flags("To recap: season one ended at the tournament, where Miguel beat Robby.")["ending"]
    assert cue_flags("Here is how the season ends")["ending"]
    # "ends up" leans to the ending but does not place a sentence there
    weak = cue_flags("His soul ends up bound to a suit of armour.")
    assert weak["ending"] and not weak["placed_at_end"]
    assert not cue_flags("They bet on who closes more cases by the end of the year.")["ending"]
    assert cue_flags("Yes, but not at the end.")["midseason"]
    assert cue_flags("For most of the season, the suspects pile up.")["midseason"]


def test_self_describing_warnings() -> None:
    for text in (
        "Warning: this Q&A discusses the Marrow Bay season one finale in detail.",
        "Look away now if you have the final saved to watch later: this recap reveals the winner.",
        "Everything is spoiled, right up to the last scene.",
        "The final section discusses the ending.",
        "Here is what the finale finally reveals.",
    ):
        assert is_warning(text), text
    assert not is_warning("The final episode reveals that the gardener was her brother all along.")


def test_season_length_sections_and_focus() -> None:
    assert season_length(["Here is our guide to all 22 episodes of the first season."]) == 22
    assert season_length(["The story is complete in one 37-episode season."]) == 37
    assert season_length(["The first seven episodes are the best Marvel has made."]) is None
    assert episode_span("Episodes 51-64: The final battle") == (51, 64)
    assert episode_span("Episode 6: Halloween") == (6, 6)
    assert section_of("Episode 22: Charges and Specs", 22) == "end"
    assert section_of("Episode 6: Halloween", 22) == "mid"
    assert section_of("Episodes 11 and 12", 12) == "end"
    assert section_of("Episode 9", None, last_numbered=9) == "end"  # the last of an episode guide
    assert section_of("What happens at the end?", None) == "end"
    assert section_of("The final", None) == "end"
    assert section_of("The setup", None) == "mid"
    assert section_of("What is Death Note about?", None) == "mid"
    assert section_of("What's next?", None) is None  # may tell where characters are left
    assert section_of("Who is the killer?", None) is None
    assert article_focus("Big Little Lies ending explained: who died at trivia night?", [])
    assert article_focus("An interview", ["Spoilers ahead for the Dial Tone season 2 finale!"])
    assert article_focus("Recap", ["Spoilers: this recap names the winner of The Last Stitch season 3."])
    assert not article_focus("Luke Cage season one recap", ["Here is everything, including the ending."])
    assert not article_focus("The Office season 3 recap", ["The finale is discussed below, so be warned."])
    assert not article_focus("A review", ["Heavy spoilers for all 37 episodes of Death Note below."])
    assert article_focus("An interview", ["We spoke to her about the role, the stunts and the ending."])
    assert not article_focus("An interview", ["They chatted with us about the hit series and season 2."])


def test_plain_text_heading_lines_place_their_sections(embedder: Embedder) -> None:
    art = article(
        "guide.txt",
        "A guide to all 12 episodes",
        [
            "Every episode is spoiled below.",
            "Episodes 1 and 2",
            "Nora takes the job at the lighthouse and meets the keeper's son.",
            "Episodes 11 and 12",
            "Nora leaves the island on the last ferry, and the keeper's son stays behind.",
        ],
    )
    passages, traces = detect_with_trace([art], passages_of(art), embedder.embed)
    flagged = {t.text: t.flagged for t in traces}
    assert not flagged["Nora takes the job at the lighthouse and meets the keeper's son."]
    assert flagged["Nora leaves the island on the last ferry, and the keeper's son stays behind."]


def test_faq_answers_and_reported_speech(embedder: Embedder) -> None:
    art = Article(
        ArticleMeta(file="faq.html", title="Harbor Town: your questions answered"),
        (
            Paragraph("The show follows a harbour town in winter.", heading="What is it about?"),
            Paragraph(
                "Ren, the harbour master's daughter. In the finale, she opens the gate to the smugglers.",
                heading="Who is the traitor?",
            ),
        ),
    )
    _, traces = detect_with_trace([art], passages_of(art), embedder.embed)
    flagged = {t.text: t.flagged for t in traces}
    assert flagged["Ren, the harbour master's daughter."]
    assert not flagged["The show follows a harbour town in winter."]


# --------------------------------------------------------------------------- show and season


def test_season_numbers() -> None:
    assert season_numbers("Season 2 of Jessica Jones") == [2]
    assert season_numbers("the second season, then season three and S4E2") == [2, 3, 4]
    assert season_numbers("Luke Cage season one recap") == [1]
    assert season_numbers("series 1 of Broadchurch") == [1]
    assert season_numbers("no seasons here") == []


def test_warning_scope() -> None:
    assert warning_scope("Spoilers ahead for Season 1 of Jessica Jones!") == Scope("Jessica Jones", 1)
    assert warning_scope("**Spoilers for the whole of season two follow.**") == Scope(None, 2)
    assert warning_scope("Major Game of Thrones season 6 spoilers ahead.") == Scope("Game of Thrones", 6)
    assert warning_scope("Warning: spoilers for the Succession finale below.") == Scope("Succession", None)
    assert warning_scope("In the finale, she kills him.") is None


def test_title_scope() -> None:
    assert title_scope("Luke Cage season one recap: Harlem's hero") == Scope("Luke Cage", 1)
    assert title_scope("Daredevil season 2: your questions answered") == Scope("Daredevil", 2)
    assert title_scope("The Handmaid's Tale Season 4 finale recap") == Scope("The Handmaid's Tale", 4)
    assert title_scope("Why the second season of The Bear is better") == Scope("The Bear", 2)
    assert title_scope("Mare of Easttown recap: who killed Erin?") == Scope("Mare of Easttown", None)
    assert title_scope("An interview with nobody in particular") == Scope(None, None)


def test_article_scope_prefers_the_warning_then_title_then_front_matter() -> None:
    seed = article(
        "a.txt",
        "Ritter on where we'll find Jessica Jones in Season 2, Colter on what's next for Luke Cage",
        ["Spoilers ahead for Season 1 of Jessica Jones!", "Text."],
    )
    assert article_scope(seed, [p.text for p in seed.paragraphs]) == Scope("Jessica Jones", 1)
    review = article(
        "b.md",
        "A season about mothers",
        ["Spoilers for the whole of season two follow."],
        shows=("Jessica Jones",),
    )
    assert article_scope(review, ["Spoilers for the whole of season two follow."]) == Scope(
        "Jessica Jones", 2
    )
    bare = article("c.txt", "Notes from the set", ["Nothing to see."])
    assert article_scope(bare, ["Nothing to see."]) == Scope(None, None)


def test_article_scope_uses_the_admins_spelling() -> None:
    facts, _ = parse_show_facts({"shows": [{"name": "Jessica Jones", "aliases": ["Marvel's Jessica Jones"]}]})
    art = article("a.md", "Marvel's Jessica Jones season 1 recap", ["Text."])
    assert article_scope(art, ["Text."], facts) == Scope("Jessica Jones", 1)
    assert show_names("We talked about jj and more", facts) == []  # aliases of 2 letters are too ambiguous
    assert show_names("A chat about Marvel's Jessica Jones", facts)[0] == "Jessica Jones"


# --------------------------------------------------------------------------- the classifier


def test_fit_logistic_separates_a_toy_problem() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(1.0, 0.3, (40, 3)), rng.normal(-1.0, 0.3, (40, 3))])
    y = np.array([1.0] * 40 + [0.0] * 40)
    weights, bias = fit(x, y, l2=0.1)
    predicted = (x @ weights + bias) > 0
    assert (predicted == (y == 1)).mean() == 1.0
    again = fit(x, y, l2=0.1)
    assert np.array_equal(again[0], weights) and again[1] == bias


def test_shipped_model_matches_the_training_sentences() -> None:
    model = load_model()
    assert model.cue_names == CUE_NAMES
    assert model.weights.shape == (384 + len(CUE_NAMES),)
    assert CUE_SCALE > 0
    # Edit the sentences, then rerun `python -m bot.spoilers.training`.
    assert model.data_sha256 == data_sha256(TRAINING_PATH)


def test_training_sentences_are_generic_and_balanced() -> None:
    examples = load_examples()
    assert len(examples) >= 300
    positives = sum(e.label for e in examples)
    assert 0.3 < positives / len(examples) < 0.6
    assert len({e.show for e in examples}) >= 30
    dev_names = (
        "kilgrave",
        "diamondback",
        "elektra",
        "jessica jones",
        "luke cage",
        "daredevil",
        "cottonmouth",
    )
    assert not any(name in e.text.lower() for e in examples for name in dev_names)


# --------------------------------------------------------------------------- the detector's contract


def test_contract_order_flags_and_scope() -> None:
    art = article(
        "show.txt",
        "Harbor Town season two recap",
        [
            "Spoilers for season two of Harbor Town follow.",
            "In the finale, the mayor is arrested at the pier. She confesses to the fire.",
            "Is there a season three?",
        ],
    )
    passages = passages_of(art)
    result = detect_spoilers([art], passages, fake_embed)
    assert [p.id for p in result] == [p.id for p in passages]
    assert all(p.spoiler is not None for p in result)
    for before, after in zip(passages, result, strict=True):
        assert after.spoiler is not None and len(after.spoiler.flags) == len(before.sentences)
        assert (after.spoiler.show, after.spoiler.season) == ("Harbor Town", 2)
        assert after.text == before.text and after.sentences == before.sentences
    flags = [f for p in result for f in p.spoiler.flags]  # type: ignore[union-attr]
    assert flags[0] is False  # the warning
    assert flags[-1] is False  # the question


def test_empty_and_orphan_passages() -> None:
    assert detect_spoilers([], [], fake_embed) == []
    orphan = Passage(
        id="x#0", file="missing.txt", text="In the finale, he dies.", sentences=("In the finale, he dies.",)
    )
    (result,) = detect_spoilers([], [orphan], fake_embed)
    assert result.spoiler is not None and len(result.spoiler.flags) == 1 and result.spoiler.show is None


def test_one_batched_embedding_call_and_determinism() -> None:
    art = article(
        "a.txt", "Title", ["One sentence here. Another one.", "A third sentence.", "One sentence here."]
    )
    calls: list[int] = []

    def counting(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return fake_embed(texts)

    passages = passages_of(art)
    first = detect_spoilers([art], passages, counting)
    assert calls == [3]  # one call, duplicates embedded once
    second = detect_spoilers([art], passages, counting)
    assert [p.spoiler for p in first] == [p.spoiler for p in second]


def test_missing_model_is_fitted_from_the_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect_module, "_shipped_model", lambda: None)
    art = article("a.txt", "Title", ["In the finale, the queen dies."])
    (result,) = detect_spoilers([art], passages_of(art), fake_embed)
    assert result.spoiler is not None and len(result.spoiler.flags) == 1


def test_no_model_at_all_fails_closed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.spoilers import training

    monkeypatch.setattr(detect_module, "_shipped_model", lambda: None)
    monkeypatch.setattr(training, "TRAINING_PATH", tmp_path / "missing.jsonl")
    monkeypatch.setattr(training.train, "__defaults__", (tmp_path / "missing.jsonl", ""))
    art = article("a.txt", "Title", ["In the finale, the queen dies."])
    (result,) = detect_spoilers([art], passages_of(art), fake_embed)
    assert result.spoiler is None  # the renderer tags unknown passages whole


def test_render_wraps_runs_of_flagged_sentences() -> None:
    passage = Passage(id="a#0", file="a", text="A. B. C.", sentences=("A.", "B.", "C."))
    from dataclasses import replace

    from bot.models import SpoilerInfo

    assert render(replace(passage, spoiler=SpoilerInfo((False, True, True)))) == "A. ||B. C.||"
    assert render(passage) == "||A. B. C.||"  # unknown: fail closed


# --------------------------------------------------------------------------- accuracy with the real model


# Floors per fixture set (recall, precision), a little under what the detector achieves, so a
# regression fails. `tuning`, `fresh` and `final` were written by the detector's first author;
# `blind-a/b/c` later, about other shows, and scored once before the section/focus/placement
# rules were added (first run: recall 0.42 / 0.95 / 0.75, precision 0.86 / 0.63 / 0.66); they
# then became tuning data. `blind-final` was written after those changes and scored once (recall
# 0.62, precision 1.0: reality-show wording, story verbs read as business news, pronoun-only
# quotes), then fixed in part (its pronoun-only interview quotes are still missed).
# `blind-final-2` was written after that and scored once (recall 0.53, precision 0.88, one decoy:
# FAQ answers opening with a name, a competition's "reached the final night", an interview "about
# the ending" whose quotes name no one), then fixed in part.
FLOORS: dict[str, tuple[float, float]] = {
    "tuning": (0.95, 0.9),
    "fresh": (0.95, 0.9),
    "final": (0.95, 0.83),
    "blind-a": (0.95, 0.9),
    "blind-b": (0.95, 0.88),
    "blind-c": (0.95, 0.88),
    "blind-final": (0.8, 0.95),
    "blind-final-2": (0.9, 0.9),
}


@pytest.fixture(scope="module")
def held_out(embedder: Embedder) -> dict[str, SpoilerScore]:
    """Scores on the fixture sets named in FLOORS."""
    scores = {}
    for name in FLOORS:
        folder = FIXTURES / name
        corpus = load_corpus(folder / "articles")
        assert not corpus.problems
        scores[name] = score(
            detect_spoilers(corpus.articles, corpus.passages, embedder.embed), labels(folder)
        )
    return scores


def test_held_out_articles_pooled(held_out: dict[str, SpoilerScore]) -> None:
    caught = sum(s.caught for s in held_out.values())
    total = sum(s.total for s in held_out.values())
    assert total >= 155
    assert caught / total >= 0.97, [s.missed for s in held_out.values()]
    assert sum(len(s.decoys) for s in held_out.values()) <= 1, [s.decoys for s in held_out.values()]


@pytest.mark.parametrize("name", list(FLOORS))
def test_held_out_articles_per_set(held_out: dict[str, SpoilerScore], name: str) -> None:
    result = held_out[name]
    recall, precision = FLOORS[name]
    assert result.recall >= recall, result.missed
    assert result.precision >= precision, result.extra


@pytest.mark.skipif(not (DEV / "labels.jsonl").is_file(), reason="shared dev set not present")
def test_dev_set(embedder: Embedder) -> None:
    corpus = load_corpus(DEV / "articles")
    result = score(detect_spoilers(corpus.articles, corpus.passages, embedder.embed), labels(DEV))
    assert result.recall >= 0.98, result.missed
    assert result.precision >= 0.9, result.extra
    assert not result.decoys


def test_shipped_corpus_with_facts(embedder: Embedder) -> None:
    corpus = load_corpus(ROOT / "corpus")
    facts, problems = load_show_facts(ROOT / "corpus")
    assert not problems
    passages, traces = detect_with_trace(corpus.articles, corpus.passages, embedder.embed, facts)
    flagged = {t.text for t in traces if t.flagged}
    assert any("kills Kilgrave" in t for t in flagged)
    assert not any(t.startswith("Spoilers ahead") for t in flagged)
    assert {(p.spoiler.show, p.spoiler.season) for p in passages if p.spoiler} == {("Jessica Jones", 1)}


def test_facts_flag_what_they_describe(embedder: Embedder) -> None:
    text = [
        "Our chat with the cast of Harbor Town covered a lot of ground.",
        "Losing the lighthouse to the storm is something the whole town still talks about, she said.",
        "The cast also loved the catering.",
    ]
    art = article("h.txt", "A visit to the Harbor Town set", text, shows=("Harbor Town",))
    fact = "The storm destroys the lighthouse in the finale."
    facts, _ = parse_show_facts({"shows": [{"name": "Harbor Town", "finales": {1: [fact]}}]})
    without = detect_spoilers([art], passages_of(art), embedder.embed)
    with_facts = detect_spoilers([art], passages_of(art), embedder.embed, facts)
    flags_without = [f for p in without for f in p.spoiler.flags]  # type: ignore[union-attr]
    flags_with = [f for p in with_facts for f in p.spoiler.flags]  # type: ignore[union-attr]
    assert flags_with[1] and not flags_with[0] and not flags_with[2]
    assert sum(flags_with) >= sum(flags_without)


def test_a_pronoun_led_sentence_continues_a_paragraph_that_opens_in_the_finale(tmp_path, embedder) -> None:
    """"Her first act as queen…" after "In the finale, … is crowned" names nobody and no outcome
    word, but it carries on the finale's subject: it is a reveal too."""
    from bot.ingest.corpus import load_corpus
    from bot.spoilers.detect import detect_spoilers

    (tmp_path / "review.txt").write_text(
        "Tin Harbour season one review\n\nBy A Critic, Some Outlet\n\n"
        "Tin Harbour follows a fishing town that discovers its mayor is a smuggler.\n\n"
        "In the finale, the mayor flees on a stolen trawler and Ines is elected in his place. "
        "Her first decision is to sell the harbour to the navy.\n",
        encoding="utf-8",
    )
    corpus = load_corpus(tmp_path)
    passages = detect_spoilers(corpus.articles, corpus.passages, embedder.embed)
    flags = {s: f for p in passages for s, f in zip(p.sentences, p.spoiler.flags, strict=True)}
    assert flags["Her first decision is to sell the harbour to the navy."]
    assert not flags["Tin Harbour follows a fishing town that discovers its mayor is a smuggler."]
