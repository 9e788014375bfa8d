"""The learned parts: the fanqa data set, the shipped artifact, and what the models do in the bot.

Figures are measured by `python -m bot train` (cross-validated by show); here the tests check
that the artifact is the one the data and code make, that it loads whole, and that index time
uses it the way training measured it (same features, decided once per passage).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.annotate.spoilers import ArticleText, Slot, Vectors, detect_spoilers, load_spoiler_model
from bot.embedder import Embedder
from bot.ingest.corpus import load_corpus
from bot.ingest.junk import load_junk_model
from bot.learned import ARTIFACT_PATH, TreeEnsemble, choice_of, load_artifact
from bot.models import ArticleMeta
from bot.search.rerank import ABSTAIN_FEATURES, RANK_FEATURES, load_ranker
from bot.text import slug_words
from bot.training.dataset import DEFAULT_ROOT, FanQA, validate
from bot.training.fitting import fit_trees
from bot.training.run import FIGURE_KEYS, code_sha256, data_sha256

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "eval" / "dev"


def test_the_fanqa_data_set_validates() -> None:
    assert validate(DEFAULT_ROOT) == []


def test_fanqa_has_the_size_and_spread_the_models_need() -> None:
    data = FanQA.load(DEFAULT_ROOT)
    shows = {lab["show"] for lab in data.labels}
    assert len(data.labels) >= 150 and len(shows) >= 50
    assert len({lab["form"] for lab in data.labels}) >= 12
    assert {lab["format"] for lab in data.labels} >= {"txt", "md", "html"}
    assert len(data.questions) >= 1500
    off = sum(q["kind"] == "offtopic" for q in data.questions)
    assert off / len(data.questions) >= 0.2
    assert data.agreement["articles"] >= 40 and data.agreement["cohen_kappa"] > 0.6


def test_no_show_sits_in_two_folds_and_a_fifth_is_locked() -> None:
    data = FanQA.load(DEFAULT_ROOT)
    for lab in data.labels:
        assert len({data.folds[s] for s in [lab["show"], *lab["shows"]]}) == 1, lab["file"]
    share = sum(f == "test" for f in data.folds.values()) / len(data.folds)
    assert 0.125 <= share <= 0.25  # see validate: later batches add development shows only


def test_the_validator_catches_a_label_that_is_not_in_the_text(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(DEFAULT_ROOT, tmp_path / "fanqa")
    labels = (tmp_path / "fanqa" / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(labels[0])
    first["finale_spoilers"].append("A sentence that no writer ever wrote anywhere.")
    labels[0] = json.dumps(first)
    (tmp_path / "fanqa" / "labels.jsonl").write_text("\n".join(labels) + "\n", encoding="utf-8")
    problems = validate(tmp_path / "fanqa")
    assert any("not in the visible text" in p for p in problems)


def test_the_artifact_is_made_from_the_data_and_code_in_the_repo() -> None:
    artifact = load_artifact(ARTIFACT_PATH)
    assert artifact is not None, "bot/assets/learned.json is missing: run python -m bot train"
    assert artifact["data_sha256"] == data_sha256(), "datasets/fanqa changed: run python -m bot train"
    assert artifact["code_sha256"] == code_sha256(), "the feature code changed: run python -m bot train"
    assert set(FIGURE_KEYS) <= set(artifact["figures"])


def test_every_learned_part_loads_with_the_feature_sizes_the_code_computes() -> None:
    spoilers, junk, ranker = load_spoiler_model(), load_junk_model(), load_ranker()
    assert spoilers is not None and junk is not None and ranker is not None
    assert ranker.ranker.weights.size == len(RANK_FEATURES)
    assert ranker.abstain.features == len(ABSTAIN_FEATURES)
    assert 0 < spoilers.threshold < 1 and 0 < ranker.threshold < 1 and 0 < junk.threshold < 1


def test_boosted_trees_copied_out_of_scikit_learn_score_as_scikit_learn_does() -> None:
    """The abstention trees are read from scikit-learn's internals: a release that moves them
    must fail here, not change answers silently. Missing values too, and JSON round trip."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(7)
    x = rng.normal(size=(600, 5))
    x[rng.random(x.shape) < 0.05] = np.nan
    y = (np.nan_to_num(x[:, 0]) * np.nan_to_num(x[:, 1]) + 0.3 * rng.normal(size=600) > 0).astype(int)
    settings = {"max_iter": 30, "max_depth": 3, "learning_rate": 0.2}
    ours = TreeEnsemble.from_dict(json.loads(json.dumps(fit_trees(x, y, settings).to_dict())))
    theirs = HistGradientBoostingClassifier(random_state=0, early_stopping=False, **settings).fit(x, y)
    probe = rng.normal(size=(200, 5))
    probe[rng.random(probe.shape) < 0.05] = np.nan
    expected = theirs.decision_function(probe)
    np.testing.assert_allclose(ours.logits(probe), expected, atol=1e-4)
    one_by_one = np.concatenate([ours.logits(row[None, :]) for row in probe])  # question time's path
    np.testing.assert_allclose(one_by_one, expected, atol=1e-4)
    assert len(ours.trees) == 30
    with pytest.raises(ValueError):
        ours.logits(probe[:, :4])


def test_a_tree_whose_child_points_back_is_refused() -> None:
    looping = {
        "baseline": 0.0,
        "features": 1,
        "trees": [
            {"feature": [0, 0, 0], "threshold": [0.0, 0.0, 0.0], "left": [1, 0, 0], "right": [2, 0, 0],
             "leaf": [0, 0, 1], "missing_left": [1, 1, 1], "value": [0.0, 0.0, 1.0]}
        ],
    }  # fmt: skip
    with pytest.raises(ValueError):
        TreeEnsemble.from_dict(looping)


def test_report_prints_the_stored_figures_as_one_json_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "train", "--report"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert list(figures) == list(FIGURE_KEYS)
    assert "junk_only_held_out:" in out.stderr and "hit1_first_gold:" in out.stderr


def test_stored_cross_validated_figures_stay_above_floors() -> None:
    figures = load_artifact(ARTIFACT_PATH)["figures"]
    assert figures["recall"] >= 0.97
    assert figures["false_abstain"] <= 0.05
    assert figures["speaker"] >= 0.75
    assert figures["junk_recall"] >= 0.85
    # passages made only of junk on shows the junk model never saw: 65 when this was written, 48 of
    # them on the articles before batch b38-b42 (60 there before it) and 17 on its own pages, written
    # to be hard: a ceiling, not the goal of 0; a retrain that lets more through fails
    assert figures["junk_only_held_out"] <= 65
    assert figures["hit1_first_gold"] >= 0.45


def test_slug_words_read_the_last_path_segment() -> None:
    assert (
        slug_words("https://x.example/tv/succession-finale-kendall-loses/")
        == "succession finale kendall loses"
    )
    assert slug_words("https://x.example/") is None
    assert slug_words("not a url at all") is None


def test_without_weights_every_passage_stays_unknown_and_is_tagged(
    embedder: Embedder, tmp_path: Path
) -> None:
    corpus = load_corpus(ROOT / "corpus")

    class Missing:
        def probabilities(self, *a: object) -> None:  # never called
            raise AssertionError

    passages, _ = detect_spoilers(corpus.articles, corpus.passages, embedder.embed, model=None)
    # with the shipped weights flags are decided; the fail-closed path is exercised by unloading them
    assert all(p.spoiler is not None for p in passages)
    import bot.annotate.spoilers as module

    original = module.load_spoiler_model
    module.load_spoiler_model = lambda: None  # type: ignore[assignment]
    try:
        unknown, _ = detect_spoilers(corpus.articles, corpus.passages, embedder.embed)
    finally:
        module.load_spoiler_model = original  # type: ignore[assignment]
    assert all(p.spoiler is None for p in unknown)


def test_flags_are_decided_once_and_are_the_same_every_time(embedder: Embedder) -> None:
    corpus = load_corpus(DEV / "articles")
    assert corpus.passages, f"the shared dev set is missing at {DEV}"
    first, _ = detect_spoilers(corpus.articles, corpus.passages, embedder.embed)
    second, _ = detect_spoilers(corpus.articles, corpus.passages, embedder.embed)
    assert [p.spoiler for p in first] == [p.spoiler for p in second]


def test_dev_set_finale_sentences_are_tagged(embedder: Embedder) -> None:
    """The shared dev set is never trained on: its finale sentences are a small blind check."""
    labels = [
        json.loads(x) for x in (DEV / "labels.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()
    ]
    corpus = load_corpus(DEV / "articles")
    passages, _ = detect_spoilers(corpus.articles, corpus.passages, embedder.embed)
    from bot.training.material import matches

    hit = total = 0
    for label in labels:
        sentences = [
            (s, f)
            for p in passages
            if p.file == label["file"]
            for s, f in zip(p.sentences, p.spoiler.flags, strict=True)
        ]
        for spoiler in label["finale_spoilers"]:
            found = [f for s, f in sentences if matches(s, spoiler)]
            if found:
                total += 1
                hit += all(found)
    assert total >= 10 and hit / total >= 0.85


def test_context_features_see_neighbours_and_the_headline() -> None:
    model = load_spoiler_model()
    assert model is not None
    meta = ArticleMeta(file="x.txt", title="Finale recap", url="https://x.example/tv/show-finale-hero-dies/")
    slots = [Slot(0, i, 0, t, None, False, i == 0) for i, t in enumerate(["One.", "Two.", "Three."])]
    vectors = Vectors()
    rng = np.random.default_rng(0)
    texts = ["One.", "Two.", "Three.", "Finale recap", "show finale hero dies"]
    vectors.rows = {t: i for i, t in enumerate(texts)}
    raw = rng.standard_normal((len(texts), 384)).astype(np.float32)
    vectors.matrix = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    probabilities = model.probabilities(ArticleText(meta, slots, slug_words(meta.url)), vectors)
    assert probabilities.shape == (3,) and np.all((probabilities >= 0) & (probabilities <= 1))


@pytest.mark.parametrize("contract", ["lint-imports"])
def test_imports_point_one_way(contract: str) -> None:
    tool = Path(sys.executable).with_name(contract)
    out = subprocess.run([str(tool)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def test_every_html_article_of_fanqa_gets_its_title_and_outlet() -> None:
    from bot.ingest.readers import read_article

    root = DEFAULT_ROOT / "articles"
    pages = sorted(root.glob("*.html"))
    assert len(pages) >= 50
    for page in pages:
        meta = read_article(page, root).meta
        assert meta.title and meta.outlet, page.name


def test_the_validator_keeps_pooled_gold_inside_gold_and_the_first_writers_gold(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(DEFAULT_ROOT, tmp_path / "fanqa")
    path = tmp_path / "fanqa" / "questions.jsonl"
    questions = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    pooled = [n for n, q in enumerate(questions) if q.get("gold_added")]
    assert len(pooled) >= 100, "the pooled relevance judgments are gone from fanqa"
    outside, everything = questions[pooled[0]], questions[pooled[1]]
    outside["gold_added"] = [*outside["gold_added"], "A sentence that gold does not hold."]
    everything["gold_added"] = list(everything["gold"])
    path.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    problems = validate(tmp_path / "fanqa")
    assert any(outside["id"] in p and "gold lacks" in p for p in problems)
    assert any(everything["id"] in p and "first writer's gold is gone" in p for p in problems)


def test_pooled_and_first_writer_hit_at_one_are_scored_from_the_same_ranking() -> None:
    """A question answered first by a pooled passage is a hit against the pooled gold only."""
    from types import SimpleNamespace

    from bot.search.rerank import Candidates
    from bot.training.retrieval import Asked, score

    class FirstRowFirst:
        def order(self, candidates: Candidates) -> tuple[np.ndarray, np.ndarray, float]:
            count = candidates.rows.size
            return np.arange(count), np.zeros(count, dtype=np.float32), 0.9

    def asked(qid: str, positive: list[bool], first: list[bool]) -> Asked:
        rows = np.arange(len(positive))
        features = np.zeros((len(positive), len(RANK_FEATURES)), dtype=np.float32)
        return Asked(
            qid, "0", qid, Candidates(rows, features, {}), np.array(positive), np.array(first), True,
            [f"a.txt#{n}" for n in rows], False,
        )  # fmt: skip

    pooled_first = asked("pooled", [True, True], [False, True])
    writer_first = asked("writer", [True, False], [True, False])
    material = SimpleNamespace(data=SimpleNamespace(labels=[]), passages_of={})
    figures = score([pooled_first, writer_first], {"0": FirstRowFirst()}, 0.5, None, material)  # type: ignore[arg-type]
    assert (figures["hit1"], figures["mrr"]) == (1.0, 1.0)
    assert (figures["hit1_first_gold"], figures["mrr_first_gold"]) == (0.5, 0.75)


def test_a_choice_weighs_each_row_against_the_others_and_none() -> None:
    """The conditional logit's probability (show and speaker choices): "none" is a row at logit 0."""
    assert choice_of(np.array([0.0])) == (0, 0.5)
    top, p = choice_of(np.array([2.0, 0.0, -1.0]))
    assert top == 0 and abs(p - np.exp(2) / (1 + np.exp(2) + 1 + np.exp(-1))) < 1e-9
    top, p = choice_of(np.array([800.0, 1.0]))  # no overflow: shifted by the best logit
    assert top == 0 and abs(p - 1.0) < 1e-9
