"""Correctness of the code paths added for speed and size (no timings here: see bench/).

Compact vectors and their scan, lazy passages, saved search features, cheap verification, the
ONNX backends against torch, and the sentence cache of incremental reindexing.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.embedder import Embedder
from bot.engine import Engine
from bot.index.compact import PassageTable, dequantize, line_offsets, quantize
from bot.index.errors import IndexCorrupt
from bot.index.store import IndexStore, LoadedIndex
from bot.models import ArticleMeta, Passage, SpoilerInfo
from bot.search import dense as dense_module
from bot.search.dense import DenseScorer
from bot.search.features import FOLDER, SearchFeatures, write_features
from bot.search.retriever import Retriever

DIM = 384
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WORDS = (
    "jessica luke kilgrave trish harlem finale season villain fight detective bar alias purple man "
    "night city hero mask police brother sister secret dies wins loses kills saves truth lie"
).split()


def unit(count: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def synthetic(count: int, seed: int = 0) -> tuple[list[Passage], list[ArticleMeta]]:
    rng = random.Random(seed)
    articles = [
        ArticleMeta(f"a{n}.txt", f"Article {n} about Jessica Jones", shows=("Jessica Jones",))
        for n in range(5)
    ]
    passages = []
    for row in range(count):
        sentences = tuple(
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 12))).capitalize() + "."
            for _ in range(rng.randint(1, 3))
        )
        passages.append(
            Passage(
                id=f"a{row % 5}.txt#{row}",
                file=f"a{row % 5}.txt",
                text=" ".join(sentences),
                sentences=sentences,
                speaker="Krysten Ritter" if row % 7 == 0 else None,
                paragraph=row,
                spoiler=SpoilerInfo(tuple(False for _ in sentences), "Jessica Jones", 1 + row % 2),
            )
        )
    return passages, articles


def publish(root: Path, passages: list[Passage], articles: list[ArticleMeta], vectors: np.ndarray, **kw):  # type: ignore[no-untyped-def]
    store = IndexStore(root, model=MODEL, dimension=vectors.shape[1], **kw)
    with store.reindex_lock():
        return store, store.publish(passages, articles, vectors, fingerprint="fp", attach=write_features)


# ----------------------------------------------------------------------------- compact forms


def test_quantize_round_trip_within_half_a_step() -> None:
    vectors = unit(500)
    codes, scale = quantize(vectors)
    assert codes.dtype == np.uint8 and scale.dtype == np.float32 and codes.shape == vectors.shape
    error = np.abs(dequantize(codes, scale) - vectors)
    assert (error <= scale / 2 + 1e-7).all()


def test_passage_table_reads_rows_lazily_and_equals_the_list(tmp_path: Path) -> None:
    passages, _ = synthetic(30)
    table = PassageTable.from_passages(passages)
    assert len(table) == 30 and table == passages
    assert table[0] == passages[0] and table[-1] == passages[-1] and table[3:6] == passages[3:6]
    with pytest.raises(IndexError):
        table[30]
    path = tmp_path / "p.jsonl"
    path.write_bytes(table.raw_all())
    opened = PassageTable.open(path)  # offsets recomputed from the file
    assert opened == passages
    np.testing.assert_array_equal(opened.offsets, line_offsets(path.read_bytes()))
    unusual = replace(passages[0], text="line\u2028separator and\nnewline")
    assert PassageTable.from_passages([unusual])[0] == unusual


def test_published_index_serves_compact_vectors_lazy_passages_and_saved_features(tmp_path: Path) -> None:
    passages, articles = synthetic(40)
    vectors = unit(40)
    _, loaded = publish(tmp_path, passages, articles, vectors)
    assert isinstance(loaded.passages, PassageTable) and loaded.passages == passages
    assert loaded.codes is not None and loaded.scale is not None
    np.testing.assert_allclose(
        dequantize(loaded.codes, loaded.scale), vectors, atol=float(loaded.scale.max())
    )
    derived = loaded.manifest["derived_checksums"]
    assert {"vectors.q8.npy", "vectors.scale.npy", "passages.offsets.npy"} <= set(derived)
    assert any(name.startswith(FOLDER + "/") for name in derived)
    saved = SearchFeatures.load(loaded.path / FOLDER, 40)
    assert saved is not None
    fresh = SearchFeatures.compute(passages, {a.file: a for a in articles})
    np.testing.assert_array_equal(np.asarray(saved.meta), fresh.meta)
    np.testing.assert_array_equal(np.asarray(saved.seasons_of), fresh.seasons_of)
    assert saved.vocabulary == fresh.vocabulary and saved.proper_nouns == fresh.proper_nouns
    np.testing.assert_allclose(
        saved.lexical.scores("jessica kills kilgrave"), fresh.lexical.scores("jessica kills kilgrave")
    )


def test_damaged_derived_file_is_refused_and_verify_checks_everything(tmp_path: Path) -> None:
    passages, articles = synthetic(12)
    store, loaded = publish(tmp_path, passages, articles, unit(12))
    assert (loaded.path / ".verified").is_file()  # the read-back check recorded its result
    assert store.verify().version == loaded.version
    path = loaded.path / "vectors.q8.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match=r"vectors\.q8\.npy.*checksum"):
        store.load()
    with pytest.raises(IndexCorrupt, match="checksum"):
        store.verify()


def test_an_index_of_another_embedding_variant_is_refused(tmp_path: Path) -> None:
    passages, articles = synthetic(6)
    publish(tmp_path, passages, articles, unit(6), variant="int8")
    assert IndexStore(tmp_path, model=MODEL, dimension=DIM, variant="int8").load().variant == "int8"
    assert IndexStore(tmp_path, model=MODEL, dimension=DIM).load().variant == "int8"  # listing: any
    with pytest.raises(IndexCorrupt, match="int8 vectors.*fp32"):
        IndexStore(tmp_path, model=MODEL, dimension=DIM, variant="fp32").load()


# ----------------------------------------------------------------------------- scan and shortlist


@pytest.mark.parametrize("engine", ["onnxruntime", "numpy"])
def test_scan_stays_within_its_error_bound(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    vectors = unit(6000, seed=1)
    codes, scale = quantize(vectors)
    if engine == "numpy":
        monkeypatch.setattr(DenseScorer, "_session", False)
    scorer = DenseScorer(vectors, codes, scale)
    assert scorer.approximate
    for seed in range(3):
        query = unit(1, seed=10 + seed)[0]
        exact = vectors @ query
        scanned = scorer.scores(query)
        assert np.abs(scanned - exact).max() <= scorer.error_bound(query)
        rows = np.array([5, 1, 4000, 3])
        np.testing.assert_allclose(scorer.exact(rows, query), exact[rows], rtol=1e-5, atol=1e-6)
    assert dense_module.EXACT_BELOW > 0 and not DenseScorer(vectors[:10], codes[:10], scale).approximate


def test_shortlisted_search_matches_an_exact_float32_search(tmp_path: Path) -> None:
    count = 6000
    passages, articles = synthetic(count, seed=3)
    vectors = unit(count, seed=3)
    _, loaded = publish(tmp_path, passages, articles, vectors)
    compact = Retriever(loaded)
    exact = Retriever(
        LoadedIndex(
            loaded.version, loaded.path, loaded.manifest, loaded.passages, loaded.articles, loaded.vectors
        )
    )
    assert compact._dense.approximate and not exact._dense.approximate
    rng = np.random.default_rng(5)
    for question in (
        "who is kilgrave",
        "how does jessica jones season 2 end",
        "what did luke say about harlem",
    ):
        target = vectors[int(rng.integers(count))]
        query = target + 0.05 * unit(1, seed=int(rng.integers(1000)))[0]
        query /= np.linalg.norm(query)
        focus = unit(1, seed=99)[0]
        got = compact.search(query, question, k=5, focus_vector=focus)
        want = exact.search(query, question, k=5, focus_vector=focus)
        assert [h.passage.id for h in got] == [h.passage.id for h in want]
        assert [round(h.score, 5) for h in got] == [round(h.score, 5) for h in want]


# ----------------------------------------------------------------------------- embedding backends


def test_onnx_backends_agree_with_torch(embedder: Embedder) -> None:
    texts = ["Who plays Jessica Jones?", "Kilgrave dies in the season one finale.", "", "x " * 400]
    torch_vectors = Embedder(backend="torch").embed(texts)
    fp32 = Embedder(backend="onnx")
    assert fp32.variant == "fp32"
    np.testing.assert_allclose((fp32.embed(texts) * torch_vectors).sum(1), 1.0, atol=1e-4)
    int8 = Embedder(backend="onnx-int8")
    assert int8.variant == "int8" and int8.backend == "onnx-int8"
    cosine = (int8.embed(texts) * torch_vectors).sum(1)
    assert (cosine > 0.95).all()
    np.testing.assert_allclose(np.linalg.norm(int8.embed(texts), axis=1), 1.0, atol=1e-5)


def test_int8_vector_of_a_text_does_not_depend_on_its_batchmates() -> None:
    """Dynamic int8 quantisation scales over the whole input, so batched texts used to move each other."""
    int8 = Embedder(backend="onnx-int8")
    text = "Kilgrave dies in the season one finale."
    alone = int8.embed([text])[0]
    crowded = int8.embed(["Who plays Jessica Jones?", text, "purple " * 200, "Luke Cage " * 60])[1]
    assert int8.backend == "onnx-int8"  # not the torch fallback, whose batches differ in rounding
    np.testing.assert_array_equal(alone, crowded)


def test_failed_onnx_export_falls_back_to_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.onnx_model

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(bot.onnx_model, "ensure_exported", broken)
    fallback = Embedder(backend="onnx-int8", cache_dir=tmp_path)
    assert fallback.variant == "int8"
    vector = fallback.embed(["hello"])
    assert fallback.backend == "torch" and fallback.variant == "fp32" and vector.shape == (1, DIM)


def test_engine_refuses_to_search_an_index_of_another_variant(engine: Engine) -> None:
    assert "reindex" not in engine.ask_sync("who plays jessica jones?").messages[0]
    manifest = dict(engine.snapshot.index.manifest, variant="other")  # type: ignore[union-attr]
    snapshot = engine.snapshot
    assert snapshot is not None
    engine._snapshot = replace(snapshot, index=replace(snapshot.index, manifest=manifest))
    answer = engine.ask_sync("who plays jessica jones?")
    assert not answer.answered and "reindex" in answer.messages[0]


# ----------------------------------------------------------------------------- incremental reindex


def test_unchanged_reindex_embeds_nothing_and_keeps_every_flag(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = list(engine.snapshot.index.passages)  # type: ignore[union-attr]
    calls: list[int] = []
    real = engine.embedder.embed

    def counting(texts, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return real(texts, **kwargs)

    monkeypatch.setattr(engine.embedder, "embed", counting)
    report = engine.reindex_sync()
    assert report.embedded == 0 and report.reused == len(before)
    assert sum(calls) <= 1  # at most the warm-up
    assert list(engine.snapshot.index.passages) == before  # type: ignore[union-attr]


def test_changing_one_article_reembeds_only_its_sentences(engine: Engine, tmp_path: Path) -> None:
    corpus = engine.corpus_dir
    article = sorted(p for p in corpus.iterdir() if p.suffix in (".txt", ".md", ".html"))[0]
    copy = corpus / "zz-copy.txt"
    shutil.copyfile(article, copy)
    first = engine.reindex_sync()
    with copy.open("a", encoding="utf-8") as handle:
        handle.write(
            "\n\nTrish Walker, meanwhile, spends the season rebuilding her radio show, and her scenes with "
            "Jessica give the middle episodes a warmth that the rest of the season lacks.\n"
        )
    second = engine.reindex_sync()
    assert 0 < second.embedded <= 3 and second.reused >= first.passages - 1
    cache = json.loads((engine.snapshot.index.path / "manifest.json").read_text())  # type: ignore[union-attr]
    assert cache["embedder"]["variant"] == engine.embedder.variant


def test_vectors_of_another_recipe_are_embedded_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index whose vectors were fed to the model another way is re-embedded whole, once."""
    monkeypatch.setattr(Embedder, "recipe", property(lambda self: f"{self.variant}-e0"))
    changed = engine.reindex_sync()
    assert changed.reused == 0 and changed.embedded == changed.passages > 0
    assert changed.added == changed.removed == []  # the files did not change, only the vectors
    again = engine.reindex_sync()
    assert again.embedded == 0 and again.reused == changed.passages
    manifest = json.loads((engine.snapshot.index.path / "manifest.json").read_text())  # type: ignore[union-attr]
    assert manifest["embedder"]["recipe"] == f"{engine.embedder.variant}-e0"


def test_reindex_runs_the_spoiler_detector_only_on_changed_articles(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.build as builder

    corpus = engine.corpus_dir
    article = sorted(p for p in corpus.iterdir() if p.suffix in (".txt", ".md", ".html"))[0]
    shutil.copyfile(article, corpus / "zz-second.txt")
    engine.reindex_sync()
    flags = {p.id: p.spoiler for p in engine.snapshot.index.passages}  # type: ignore[union-attr]
    seen: list[set[str]] = []
    real = builder.detect_spoilers

    def spying(articles, passages, embed, facts=None):  # type: ignore[no-untyped-def]
        seen.append({p.file for p in passages})
        return real(articles, passages, embed, facts)

    monkeypatch.setattr(builder, "detect_spoilers", spying)
    engine.reindex_sync()
    assert seen == []  # nothing changed: every flag reused
    assert {p.id: p.spoiler for p in engine.snapshot.index.passages} == flags  # type: ignore[union-attr]
    with (corpus / "zz-second.txt").open("a", encoding="utf-8") as handle:
        handle.write("\n\nIn the finale, Jessica finally kills Kilgrave.\n")
    engine.reindex_sync()
    assert seen == [{"zz-second.txt"}]
    kept = {p.id: p.spoiler for p in engine.snapshot.index.passages if p.file != "zz-second.txt"}  # type: ignore[union-attr]
    assert kept == {i: f for i, f in flags.items() if not i.startswith("zz-second.txt")}


def test_fast_bm25_sum_equals_bm25s(tmp_path: Path) -> None:
    from bot.search.lexical import LexicalIndex, tokens

    passages, _ = synthetic(300, seed=11)
    index = LexicalIndex([p.text for p in passages])
    index.save(tmp_path / "bm25")
    for lexical in (index, LexicalIndex.load(tmp_path / "bm25")):
        for question in ("jessica kills kilgrave kilgrave", "luke harlem bar", "nothing known here"):
            words = lexical.known(tokens(question))
            if words:
                want = np.asarray(lexical._model.get_scores(words), dtype=np.float32)
                np.testing.assert_allclose(lexical._raw_scores(words), want, rtol=1e-6, atol=1e-7)
