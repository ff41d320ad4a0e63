"""Index build, round trip, staleness and damage, with the fake embedder."""

import json
import shutil

import numpy as np
import pytest

from docqa.chunking import ChunkingParams
from docqa.errors import CorruptIndex, IndexNotFound, InvalidQuery, StaleIndex
from docqa.build import build_index
from docqa.index import ensure_fresh, load_index, settings_for, stale_reasons
from docqa.pipeline import Pipeline
from docqa.retrieve import RetrievalSettings


def build(corpus, index_dir, embedder, chunking=ChunkingParams(40, 8)):
    return build_index(corpus, index_dir, embedder, chunking)


def test_build_writes_the_index_files_and_a_manifest(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    report = build(small_corpus, index_dir, embedder)
    assert report.documents == 3 and report.chunks >= 3
    names = sorted(p.name for p in index_dir.iterdir())
    assert names == ["bm25", "chunks.jsonl", "documents.jsonl", "manifest.json", "sentences", "vectors.faiss"]
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["settings"]["embedding"] == {"model": embedder.name, "dimension": 64}
    assert manifest["settings"]["chunking"] == {"max_tokens": 40, "overlap_tokens": 8}
    assert set(manifest["corpus"]["files"]) == {"meetings.txt", "notes/films.md", "report.txt"}
    assert all(len(h) == 64 for h in manifest["corpus"]["files"].values())
    assert {"numpy", "faiss-cpu"} <= set(manifest["libraries"])
    assert manifest["counts"] == {"documents": 3, "chunks": report.chunks}
    # Nothing left beside the index but its lock file: the temporary build folder was moved into place.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".index.lock", "corpus", "index"]
    assert set(manifest["files"]) == {p.relative_to(index_dir).as_posix() for p in index_dir.rglob("*")
                                      if p.is_file() and p.name != "manifest.json"}


def test_no_pickle_in_the_index(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    files = [p for p in index_dir.rglob("*") if p.is_file()]
    assert len(files) >= 8
    for path in files:
        data = path.read_bytes()
        assert not data.startswith(b"\x80"), f"{path.name} looks like a pickle"
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)  # plain arrays, loadable without pickle


def test_round_trip_gives_identical_chunks_and_results(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    pipeline = Pipeline(small_corpus, index_dir, embedder=embedder, chunking=ChunkingParams(40, 8))
    pipeline.build()
    before = [(h.chunk, h.score) for h in pipeline.search("expert meetings hosted", k=3)]
    reloaded = Pipeline(small_corpus, index_dir, embedder=embedder, chunking=ChunkingParams(40, 8))
    after = [(h.chunk, h.score) for h in reloaded.search("expert meetings hosted", k=3)]
    assert before == after
    loaded = load_index(index_dir)
    for chunk in loaded.chunks:
        assert loaded.documents[chunk.source].text[chunk.start : chunk.end] == chunk.text


def test_rebuilding_an_unchanged_corpus_changes_nothing(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    first = (index_dir / "chunks.jsonl").read_bytes()
    build(small_corpus, index_dir, embedder)
    assert (index_dir / "chunks.jsonl").read_bytes() == first


def test_fresh_index_has_no_stale_reasons(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    assert stale_reasons(index_dir, small_corpus, settings_for(embedder, ChunkingParams(40, 8))) == []


def test_staleness_names_added_changed_and_removed_files(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    (small_corpus / "new.txt").write_text("A new document.")
    (small_corpus / "report.txt").write_text("An edited report.")
    (small_corpus / "notes" / "films.md").unlink()
    settings = settings_for(embedder, ChunkingParams(40, 8))
    assert stale_reasons(index_dir, small_corpus, settings) == [
        "file added: new.txt",
        "file removed: notes/films.md",
        "file changed: report.txt",
    ]
    with pytest.raises(StaleIndex, match="file added: new.txt.*docqa index"):
        ensure_fresh(index_dir, small_corpus, settings)


def test_staleness_names_model_and_chunking_changes(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    reasons = stale_reasons(index_dir, small_corpus, settings_for(embedder, ChunkingParams(50, 8)))
    assert len(reasons) == 1 and reasons[0].startswith("chunking parameters changed")

    class OtherModel(type(embedder)):
        name = "another/model"
        dimension = 32

    reasons = stale_reasons(index_dir, small_corpus, settings_for(OtherModel(), ChunkingParams(40, 8)))
    assert reasons == [
        "embedding model changed (test/hashing-bag-of-words, 64-d -> another/model, 32-d)"
    ]


def test_a_build_without_manifest_is_not_an_index(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    (index_dir / "manifest.json").unlink()
    with pytest.raises(IndexNotFound, match="docqa index"):
        load_index(index_dir)


def test_inconsistent_index_files_are_reported_not_loaded(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    lines = (index_dir / "chunks.jsonl").read_text().splitlines()
    (index_dir / "chunks.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(CorruptIndex, match="docqa index --rebuild"):
        load_index(index_dir)
    (index_dir / "chunks.jsonl").write_text("{not json\n")
    with pytest.raises(CorruptIndex, match="docqa index --rebuild"):
        load_index(index_dir)


def test_a_folder_of_other_files_is_never_replaced(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "precious"
    index_dir.mkdir()
    (index_dir / "thesis.docx").write_text("mine")
    with pytest.raises(IndexNotFound, match="not a docqa index"):
        build(small_corpus, index_dir, embedder)
    assert (index_dir / "thesis.docx").read_text() == "mine"


def test_a_file_given_as_the_index_folder_is_never_replaced(small_corpus, tmp_path, embedder):
    index_file = tmp_path / "notes.txt"
    index_file.write_text("hello")
    for rebuild in (False, True):
        with pytest.raises(IndexNotFound, match="is a file, not a folder"):
            build_index(small_corpus, index_file, embedder, ChunkingParams(40, 8), rebuild=rebuild)
        assert index_file.read_text() == "hello"


def test_a_folder_with_a_manifest_of_its_own_is_never_replaced(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "project"
    (index_dir / "sub").mkdir(parents=True)
    (index_dir / "manifest.json").write_text('{"name": "my web app"}')
    (index_dir / "notes.txt").write_text("mine")
    for rebuild in (False, True):  # an unreadable manifest's advice is --rebuild: that must not delete either
        with pytest.raises(IndexNotFound, match="not a docqa index"):
            build_index(small_corpus, index_dir, embedder, ChunkingParams(40, 8), rebuild=rebuild)
    assert (index_dir / "notes.txt").read_text() == "mine" and (index_dir / "sub").is_dir()


def test_an_update_never_drops_a_file_put_into_the_index_folder(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    (index_dir / "README-notes.txt").write_text("mine")
    (small_corpus / "more.txt").write_text("The observatory opened in 1998.")
    with pytest.raises(IndexNotFound, match=r"did not write \(README-notes.txt\); an update replaces the whole folder"):
        build(small_corpus, index_dir, embedder)
    assert (index_dir / "README-notes.txt").read_text() == "mine"
    (index_dir / "README-notes.txt").unlink()
    assert build(small_corpus, index_dir, embedder).documents == 4


def test_an_interrupted_swap_restores_the_previous_index(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    shutil.move(index_dir, tmp_path / ".index.old-12345")  # died between the two renames
    loaded = load_index(index_dir)
    assert loaded.size > 0
    assert not (tmp_path / ".index.old-12345").exists()


def test_faiss_search_equals_numpy_brute_force(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    pipeline = Pipeline(small_corpus, index_dir, embedder=embedder, chunking=ChunkingParams(12, 0),
                        retrieval=RetrievalSettings(mode="dense"))
    pipeline.build()
    chunks = pipeline.index.chunks
    matrix = embedder.embed([c.text for c in chunks])
    for query in ["expert meetings", "film release 2012", "report member states", "Riyadh conference"]:
        k = min(4, len(chunks))
        hits = pipeline.search(query, k=k)
        scores = matrix @ embedder.embed([query])[0]
        expected = np.sort(scores)[::-1][:k]
        assert np.allclose([h.score for h in hits], expected, atol=1e-5)
        for hit in hits:  # each returned chunk has the score brute force gives it (ties may reorder)
            assert abs(scores[chunks.index(hit.chunk)] - hit.score) < 1e-5
        assert [h.rank for h in hits] == list(range(1, k + 1))


def min_max(values):
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def test_keyword_and_hybrid_search_equal_a_brute_force_computation(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    pipeline = Pipeline(small_corpus, index_dir, embedder=embedder, chunking=ChunkingParams(12, 0))
    pipeline.build()
    chunks = pipeline.index.chunks
    dense_all = embedder.embed([c.text for c in chunks]) @ embedder.embed(["film release planned"])[0]
    keyword_all = pipeline.index.keyword.scores("film release planned")
    assert keyword_all.max() > 0 and (keyword_all == 0).sum() > 0  # only chunks with the words score
    for mode, expected in [("keyword", keyword_all), ("hybrid", 0.5 * min_max(dense_all) + 0.5 * min_max(keyword_all))]:
        pipeline.retrieval = RetrievalSettings(mode=mode)
        hits = pipeline.search("film release planned", k=len(chunks))
        assert np.allclose([h.score for h in hits], np.sort(expected)[::-1], atol=1e-5)
        for hit in hits:
            assert abs(expected[chunks.index(hit.chunk)] - hit.score) < 1e-5
    pipeline.retrieval = RetrievalSettings(mode="keyword")
    assert "film" in pipeline.search("film release planned", k=1)[0].chunk.text
    for mode in ("dense", "keyword", "hybrid"):  # every hit carries both raw scores
        pipeline.retrieval = RetrievalSettings(mode=mode)
        for hit in pipeline.search("film release planned", k=3):
            row = chunks.index(hit.chunk)
            assert abs(hit.dense_score - dense_all[row]) < 1e-5
            assert abs(hit.keyword_score - keyword_all[row]) < 1e-5


def test_unknown_retrieval_mode_names_the_options():
    with pytest.raises(InvalidQuery, match="use one of dense, keyword, hybrid"):
        RetrievalSettings(mode="fuzzy")
