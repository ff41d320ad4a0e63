"""The FAISS index chosen by size, vector storage, stored sentence vectors and embedding precision."""

import json
import logging

import numpy as np
import pytest

from docqa import embedding, index as index_module
from docqa.build import build_index
from docqa.chunking import ChunkingParams
from docqa.embedding import MiniLMEmbedder, embed_passages
from docqa.index import load_index, make_vector_index, stored_vectors, vector_index_settings
from docqa.pipeline import Pipeline
from docqa.retrieve import RetrievalSettings
from docqa.sentences import passage_sentences

CHUNKING = ChunkingParams(12, 0)


def random_unit_vectors(count, dimension, seed=0):
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_exact_search_up_to_the_limit_and_hnsw_above():
    assert vector_index_settings(10) == {"index": "flat", "storage": "float32"}
    assert vector_index_settings(index_module.EXACT_SEARCH_LIMIT)["index"] == "flat"
    above = vector_index_settings(index_module.EXACT_SEARCH_LIMIT + 1, "sq8")
    assert above["index"] == "hnsw" and above["storage"] == "sq8" and above["ef_search"] >= 10
    with pytest.raises(ValueError, match="float32, float16, sq8"):
        vector_index_settings(10, "int4")


def test_ivfpq_past_a_few_million_vectors():
    assert vector_index_settings(index_module.IVFPQ_LIMIT)["index"] == "hnsw"
    above = vector_index_settings(10_000_000)
    assert above == {"index": "ivfpq", "storage": "float16", "lists": 8192, "subquantizers": 48,
                     "nprobe": index_module.IVFPQ_NPROBE, "k_factor": index_module.IVFPQ_K_FACTOR}
    assert vector_index_settings(10_000_000, "sq8")["storage"] == "sq8"
    assert vector_index_settings(1_000_000, ivfpq_limit=0)["lists"] == 2048


def test_ivfpq_finds_the_exact_top_10_and_its_search_depth_survives_a_reload(tmp_path):
    """On 20k clustered vectors: product-quantised codes find candidates, 8-bit copies re-rank them."""
    import faiss

    centres = random_unit_vectors(200, 384, seed=2)
    rng = np.random.default_rng(3)
    vectors = centres[rng.integers(0, 200, 20_000)] + rng.standard_normal((20_000, 384)).astype(np.float32) * 0.03
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.integers(0, 20_000, 50)] + rng.standard_normal((50, 384)).astype(np.float32) * 0.02
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    settings = vector_index_settings(len(vectors), ivfpq_limit=0, exact_limit=0)
    assert settings["index"] == "ivfpq" and settings["lists"] == 256
    faiss_index = make_vector_index(vectors, settings)
    _, found = faiss_index.search(queries, 10)
    exact = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :10]
    assert np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]) >= 0.95
    assert np.abs(stored_vectors(faiss_index)[:100] - vectors[:100]).max() < 0.001  # the float16 copies
    faiss.write_index(faiss_index, str(tmp_path / "v.faiss"))
    reread = faiss.read_index(str(tmp_path / "v.faiss"))
    assert isinstance(reread, faiss.IndexRefine)
    assert faiss.extract_index_ivf(reread).nprobe == settings["nprobe"] and reread.k_factor == settings["k_factor"]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("storage", ["float32", "float16", "sq8"])
def test_every_index_finds_the_exact_top_10_on_a_small_case(kind, storage):
    vectors = random_unit_vectors(500, 32)
    queries = random_unit_vectors(20, 32, seed=1)
    settings = vector_index_settings(500, storage, exact_limit=0 if kind == "hnsw" else 1000)
    faiss_index = make_vector_index(vectors, settings)
    _, found = faiss_index.search(queries, 10)
    exact = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :10]
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
    # Quantised vectors may swap near-ties at the edge of the top 10; full precision may not.
    assert recall >= (1.0 if storage == "float32" else 0.95)
    decoded = stored_vectors(faiss_index)
    assert decoded.shape == vectors.shape
    assert np.abs(decoded - vectors).max() < (1e-6 if storage == "float32" else 0.02)


def test_the_index_type_is_recorded_in_the_manifest_and_reloads(small_corpus, tmp_path, embedder, monkeypatch):
    exact_dir, approximate_dir = tmp_path / "exact", tmp_path / "approximate"
    build_index(small_corpus, exact_dir, embedder, CHUNKING)
    monkeypatch.setattr(index_module, "EXACT_SEARCH_LIMIT", 2)
    monkeypatch.setenv("DOCQA_VECTOR_STORAGE", "float16")
    build_index(small_corpus, tmp_path / "half", embedder, CHUNKING)
    assert json.loads((tmp_path / "half" / "manifest.json").read_text())["vectors"]["storage"] == "float16"
    assert load_index(tmp_path / "half").vectors.ntotal == load_index(exact_dir).size
    monkeypatch.setenv("DOCQA_VECTOR_STORAGE", "float32")
    build_index(small_corpus, approximate_dir, embedder, CHUNKING)
    manifest = json.loads((approximate_dir / "manifest.json").read_text())
    assert manifest["vectors"]["index"] == "hnsw" and manifest["vectors"]["storage"] == "float32"
    assert json.loads((exact_dir / "manifest.json").read_text())["vectors"] == {"index": "flat", "storage": "float32"}

    import faiss

    loaded = load_index(approximate_dir)
    assert isinstance(loaded.vectors, faiss.IndexHNSW)
    assert loaded.vectors.hnsw.efSearch == manifest["vectors"]["ef_search"] == index_module.HNSW_EF_SEARCH
    # An index built when docqa searched less deep searches as deep as a new one
    manifest["vectors"]["ef_search"] = 256
    (approximate_dir / "manifest.json").write_text(json.dumps(manifest))
    assert load_index(approximate_dir).vectors.hnsw.efSearch == index_module.HNSW_EF_SEARCH
    exact = Pipeline(small_corpus, exact_dir, embedder=embedder, chunking=CHUNKING)
    approximate = Pipeline(small_corpus, approximate_dir, embedder=embedder, chunking=CHUNKING)
    for query in ("expert meetings hosted", "film release planned", "report recommends actions"):
        for mode in ("dense", "hybrid"):
            settings = RetrievalSettings(mode=mode)
            want = exact.search(query, 5, retrieval=settings)
            got = approximate.search(query, 5, retrieval=settings)
            # The fake embedder makes exact ties (chunks sharing no word score 0): order only by score.
            assert [round(h.score, 5) for h in got] == [round(h.score, 5) for h in want]
            assert {h.chunk.chunk_id for h in got if h.score > 0} == {h.chunk.chunk_id for h in want if h.score > 0}


def test_each_chunk_stores_a_vector_for_each_of_its_sentences(small_corpus, tmp_path, embedder):
    build_index(small_corpus, tmp_path / "index", embedder, CHUNKING)
    loaded = load_index(tmp_path / "index")
    assert loaded.sentences.vectors.dtype == np.float16
    for row, chunk in enumerate(loaded.chunks):
        spans, vectors = loaded.sentences.of_chunk(row)
        assert [tuple(s) for s in spans] == passage_sentences(chunk.text)
        expected = embedder.embed([chunk.text[a:b] for a, b in spans])
        assert np.allclose(np.asarray(vectors, np.float32), expected, atol=1e-3)


def test_answering_embeds_only_the_question(small_corpus, tmp_path, embedder):
    pipeline = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, chunking=CHUNKING)
    pipeline.ensure_index()
    embedder.calls.clear()
    pipeline.ask("Who hosted the first meeting?", k=3)
    pipeline.ask_many(["When was the first film released?", "What does the report recommend?"], k=3)
    assert embedder.calls == [1, 2]  # the questions; sentence vectors come from the index


def test_an_index_without_sentence_vectors_still_answers(small_corpus, tmp_path, embedder):
    import shutil

    pipeline = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, chunking=CHUNKING)
    pipeline.ensure_index()
    stored = pipeline.ask("Who hosted the first meeting?", k=3)
    shutil.rmtree(tmp_path / "index" / "sentences")  # as an embedder without one-pass sentence vectors writes it
    manifest_path = tmp_path / "index" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"] = {name: entry for name, entry in manifest["files"].items() if not name.startswith("sentences/")}
    manifest_path.write_text(json.dumps(manifest))
    fallback = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, chunking=CHUNKING)
    assert fallback.ask("Who hosted the first meeting?", k=3).citations == stored.citations


def test_embedders_without_one_pass_embed_each_sentence_alone(embedder):
    class Plain:
        dimension = embedder.dimension

        def embed(self, texts, *, progress=False):
            return embedder.embed(texts)

    texts = ["The first meeting was hosted in Berlin. It was large.", "Microsoft helped."]
    spans = [passage_sentences(t) for t in texts]
    vectors, sentences = embed_passages(Plain(), texts, spans)
    assert np.allclose(vectors, embedder.embed(texts))
    assert [len(s) for s in sentences] == [2, 1]
    assert np.allclose(sentences[0][1], embedder.embed(["It was large."])[0])


def test_bf16_falls_back_to_fp32_where_the_cpu_lacks_it(monkeypatch, caplog):
    monkeypatch.setattr(embedding, "bf16_supported", lambda: False)
    with caplog.at_level(logging.WARNING):
        assert MiniLMEmbedder(precision="bf16").precision == "fp32"
    assert "bfloat16" in caplog.text
    monkeypatch.setattr(embedding, "bf16_supported", lambda: True)
    assert MiniLMEmbedder(precision="bf16").precision == "bf16"
    monkeypatch.setenv("DOCQA_PRECISION", "bf16")
    assert MiniLMEmbedder().requested_precision == "bf16"
    assert MiniLMEmbedder(precision="fp32").precision == "fp32"
    with pytest.raises(ValueError, match="fp32, bf16"):
        MiniLMEmbedder(precision="int8")


@pytest.mark.slow
def test_one_pass_gives_the_models_own_vectors_and_sentence_vectors():
    model = MiniLMEmbedder()
    texts = ["In 2010 the group met twice. The first meeting was in Berlin.", "Microsoft hosted the second one.",
             "A short one."]
    spans = [passage_sentences(t) for t in texts]
    vectors, sentences = model.embed_passages(texts, spans)
    reference = model._model.encode(texts, normalize_embeddings=True)
    assert np.abs(vectors - reference).max() < 1e-5  # what SentenceTransformer.encode gives
    assert [len(s) for s in sentences] == [2, 1, 1]
    for per_chunk in sentences:
        assert np.allclose(np.linalg.norm(per_chunk, axis=1), 1.0, atol=1e-5)
    # A sentence's vector is pooled in its passage's context: close to, not equal to, the sentence alone.
    alone = model.embed(["The first meeting was in Berlin."])[0]
    assert 0.6 < float(sentences[0][1] @ alone) < 0.999
