"""Updating the index: only what changed is read and embedded, and the result equals a fresh build."""

import json

import numpy as np
import pytest

from docqa.build import build_index
from docqa.chunking import ChunkingParams
from docqa.cli import _place, main
from docqa.features import term_statistics
from docqa.index import load_index
from docqa.pipeline import Pipeline, with_places
from docqa.retrieve import MODES, RetrievalSettings
from docqa.types import Answer, Citation
from docqa.uploads import add_documents, remove_document

from builders import make_docx, make_pdf
from conftest import HashingEmbedder

CHUNKING = ChunkingParams(40, 8)
QUERIES = ["expert meetings hosted", "films released", "report recommends actions", "budget of the observatory",
           "minutes of the meeting", "Berlin table year"]


def update(corpus, index_dir, embedder, **kwargs):
    embedder.calls.clear()
    report = build_index(corpus, index_dir, embedder, CHUNKING, **kwargs)
    assert sum(embedder.calls) == report.embedded  # what it says it embedded is what it embedded
    return report


def assert_same_as_fresh_build(corpus, index_dir, tmp_path):
    fresh_dir = tmp_path / "fresh"
    build_index(corpus, fresh_dir, HashingEmbedder(), CHUNKING, rebuild=True)
    updated, fresh = load_index(index_dir), load_index(fresh_dir)
    assert updated.chunks == fresh.chunks
    assert updated.documents == fresh.documents
    assert np.array_equal(updated.matrix, fresh.matrix)
    assert updated.manifest["corpus"] == fresh.manifest["corpus"]
    assert updated.manifest["counts"] == fresh.manifest["counts"]
    for name in ("chunks.jsonl", "documents.jsonl"):
        assert (index_dir / name).read_bytes() == (fresh_dir / name).read_bytes()
    k = min(4, fresh.size)
    for mode in MODES:
        settings = RetrievalSettings(mode=mode)
        ours = Pipeline(corpus, index_dir, embedder=HashingEmbedder(), chunking=CHUNKING, retrieval=settings)
        theirs = Pipeline(corpus, fresh_dir, embedder=HashingEmbedder(), chunking=CHUNKING, retrieval=settings)
        for query in QUERIES:
            assert [(h.chunk, h.score) for h in ours.search(query, k)] == [(h.chunk, h.score) for h in theirs.search(query, k)]
    assert np.allclose(updated.keyword.scores("meetings report"), fresh.keyword.scores("meetings report"))
    # the answer features' term statistics, read from the BM25 index, count the chunks as they are now
    stats = Pipeline(corpus, index_dir, embedder=HashingEmbedder(), chunking=CHUNKING).term_stats
    counted = term_statistics([chunk.text for chunk in updated.chunks])
    assert dict(stats.document_frequency) == dict(counted.document_frequency) and counted.document_frequency
    assert stats.chunk_count == counted.chunk_count == updated.size


def test_add_edit_rename_and_delete_give_the_index_of_a_fresh_build(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    first = update(small_corpus, index_dir, embedder)
    assert not first.incremental and first.embedded == first.chunks and first.files_read == 3

    (small_corpus / "minutes.md").write_text(
        "# Minutes\n\n## Opening\n\nThe chair opened the meeting of the observatory.\n\n"
        "## Budget\n\nThe annual budget of the observatory was 4 million euros.", encoding="utf-8")
    report = update(small_corpus, index_dir, embedder)
    new_chunks = [c for c in load_index(index_dir).chunks if c.source == "minutes.md"]
    assert report.incremental and report.files_read == 1 and report.embedded == len(new_chunks) == 2
    assert report.changes == {"added": ["minutes.md"], "changed": [], "removed": [], "renamed": []}
    assert_same_as_fresh_build(small_corpus, index_dir, tmp_path)

    (small_corpus / "report.txt").write_text(
        "The February 2009 report gives an overview of the approaches taken by member states. "
        "The report recommends new actions for the Security Council.", encoding="utf-8")
    report = update(small_corpus, index_dir, embedder)
    assert report.files_read == 1 and report.embedded == 1 and report.changes["changed"] == ["report.txt"]
    assert_same_as_fresh_build(small_corpus, index_dir, tmp_path)

    (small_corpus / "archive").mkdir()
    (small_corpus / "meetings.txt").rename(small_corpus / "archive" / "meetings.txt")
    report = update(small_corpus, index_dir, embedder)
    assert report.files_read == 0 and report.embedded == 0  # known content: new ids, same vectors
    assert report.changes["renamed"] == ["meetings.txt -> archive/meetings.txt"]
    assert {c.source for c in load_index(index_dir).chunks} >= {"archive/meetings.txt"}
    assert_same_as_fresh_build(small_corpus, index_dir, tmp_path)

    (small_corpus / "notes" / "films.md").unlink()
    report = update(small_corpus, index_dir, embedder)
    assert report.embedded == 0 and report.changes["removed"] == ["notes/films.md"]
    assert "notes/films.md" not in load_index(index_dir).documents
    assert_same_as_fresh_build(small_corpus, index_dir, tmp_path)

    (small_corpus / "charter.docx").write_bytes(make_docx(title="Charter"))
    (small_corpus / "report.pdf").write_bytes(make_pdf([["Report", "The group met in Berlin."], ["Report", "It met again."]]))
    (small_corpus / "scan.pdf").write_bytes(make_pdf([[]]))
    report = update(small_corpus, index_dir, embedder)
    assert report.files_read == 3 and [s.source for s in report.skipped] == ["scan.pdf"]
    assert report.formats == {"docx": 1, "md": 1, "pdf": 1, "txt": 2}
    assert_same_as_fresh_build(small_corpus, index_dir, tmp_path)

    report = update(small_corpus, index_dir, embedder)  # nothing changed: nothing read, the skip remembered
    assert report.files_read == 0 and report.embedded == 0 and [s.source for s in report.skipped] == ["scan.pdf"]


def test_rebuild_reads_and_embeds_everything(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    update(small_corpus, index_dir, embedder)
    report = update(small_corpus, index_dir, embedder, rebuild=True)
    assert not report.incremental and report.files_read == 3 and report.embedded == report.chunks


def test_new_chunking_rereads_but_keeps_the_vectors_of_unchanged_chunk_texts(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    update(small_corpus, index_dir, embedder)
    embedder.calls.clear()
    report = build_index(small_corpus, index_dir, embedder, ChunkingParams(40, 0))
    assert report.files_read == 3  # the chunking settings changed: every file is read again
    assert report.embedded < report.chunks  # short documents chunk the same way: their vectors are reused


def test_a_damaged_previous_index_is_not_reused(small_corpus, tmp_path, embedder, caplog):
    index_dir = tmp_path / "index"
    update(small_corpus, index_dir, embedder)
    (index_dir / "chunks.jsonl").write_text("not json\n")
    report = update(small_corpus, index_dir, embedder)
    assert not report.incremental and report.embedded == report.chunks
    assert "cannot be reused" in caplog.text
    assert_same_as_fresh_build(small_corpus, index_dir, tmp_path)


def test_the_manifest_records_what_the_update_did(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    update(small_corpus, index_dir, embedder)
    (small_corpus / "report.txt").write_text("An edited report.", encoding="utf-8")
    report = update(small_corpus, index_dir, embedder)
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert report.chunks > 2
    timings = {key: manifest["last_update"].pop(key) for key in ("read_seconds", "embed_seconds")}
    assert manifest["last_update"] == {"incremental": True, "files_read": 1, "chunks_embedded": 1,
                                       "chunks_reused": report.chunks - 1,
                                       "added": 0, "changed": 1, "removed": 0, "renamed": 0}
    # where the update's time went, within the whole build's
    assert 0 <= timings["read_seconds"] and 0 <= timings["embed_seconds"]
    assert timings["read_seconds"] + timings["embed_seconds"] <= manifest["build_seconds"] + 0.001


def test_docqa_index_says_what_it_updated(small_corpus, tmp_path, capsys):
    embedder = HashingEmbedder()
    paths = ["--corpus", str(small_corpus), "--index", str(tmp_path / "index")]
    assert main(["index", *paths], embedder=embedder) == 0
    (small_corpus / "report.txt").write_text("An edited report about the budget.", encoding="utf-8")
    (small_corpus / "old.doc").write_bytes(b"\xd0\xcf")
    capsys.readouterr()
    assert main(["index", *paths], embedder=embedder) == 0
    out = capsys.readouterr().out
    assert out.startswith("indexed 3 documents (1 md, 2 txt) into 3 chunks in ")
    assert "  updated: changed report.txt\n" in out
    assert "  read 1 file; embedded 1 chunk in " in out and "reused the vectors of 2\n" in out
    assert "  skipped 1 file:\n    old.doc: docqa does not read .doc files; save it as .docx" in out
    assert main(["index", "--rebuild", *paths], embedder=embedder) == 0
    assert "full build: read 3 files; embedded 3 chunks" in capsys.readouterr().out


def test_uploads_and_removals_update_the_index_the_same_way(small_corpus, tmp_path, embedder):
    pipeline = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, chunking=CHUNKING)
    pipeline.ensure_index()
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "charter.docx").write_bytes(make_docx(title="Charter"))
    embedder.calls.clear()
    report = add_documents(pipeline, [str(uploads / "charter.docx")])
    charter_chunks = [c for c in pipeline.index.chunks if c.source == "charter.docx"]
    assert "added charter\\.docx" in report and f"embedded {len(charter_chunks)} new passages" in report
    assert sum(embedder.calls) == len(charter_chunks) == 3
    embedder.calls.clear()
    report = remove_document(pipeline, "report.txt")
    assert "removed report\\.txt" in report and sum(embedder.calls) == 0
    assert_same_as_fresh_build(small_corpus, tmp_path / "index", tmp_path)


@pytest.mark.parametrize("name", ["charter.docx", "report.pdf"])
def test_citations_and_passages_name_the_page_section_and_title(tmp_path, embedder, name, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    if name.endswith(".docx"):
        (corpus / name).write_bytes(make_docx(title="Working Group Charter"))
        query, passage = "met twice in 2010", "charter.docx, Purpose › Meetings, characters 65-219"
        quoted = "charter.docx, “Working Group Charter”, Purpose › Meetings, characters"
    else:
        (corpus / name).write_bytes(make_pdf([["Annual report", "The group was founded in 2005.", "1"],
                                               ["Annual report", "The group met in Berlin in 2010.", "2"]],
                                              title="Annual Report"))
        query, passage = "met in Berlin in 2010", "report.pdf, p. 1, characters 0-64"  # the chunk starts on p. 1
        quoted = "report.pdf, p. 2, “Annual Report”, characters"  # its sentence about 2010 is on p. 2
    paths = ["--corpus", str(corpus), "--index", str(tmp_path / "index")]
    assert main(["search", query, "-k", "1", *paths], embedder=embedder) == 0
    assert passage in capsys.readouterr().out
    assert main(["search", query, "-k", "1", "--json", *paths], embedder=embedder) == 0
    [record] = json.loads(capsys.readouterr().out)["passages"]
    assert record["page"] == (1 if name.endswith(".pdf") else None)
    assert record["section"] == (None if name.endswith(".pdf") else "Purpose › Meetings")

    pipeline = Pipeline(corpus, tmp_path / "index", embedder=embedder)
    document = pipeline.index.documents[name]
    start = document.text.index("2010")
    answer = Answer("q", "a [1]", True, (Citation(1, name, "c", start, start + 4, "2010"),))
    [citation] = with_places(answer, pipeline.index.documents).citations
    assert _place(citation.source, citation.start, citation.end, citation.page, citation.section,
                  citation.title).startswith(quoted)
    record = with_places(answer, pipeline.index.documents).to_record()["citations"][0]
    assert record["title"] == document.title and record["page"] == citation.page
    assert record["section"] == ("Purpose › Meetings" if name.endswith(".docx") else None)
