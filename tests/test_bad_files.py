"""Messy corpus folders: binary files with text names, a 200 MB file, unreadable files, links
that lead outside, odd names, FIFOs. Each is skipped with its reason or indexed; nothing crashes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from builders import make_docx, make_pdf
from docqa.build import build_index
from docqa.chunking import ChunkingParams, chunk_document
from docqa.corpus import list_corpus_files, read_bytes, unsupported_files
from docqa.index import load_index
from docqa.pipeline import Pipeline

FAKE_DOCQA = Path(__file__).resolve().parent / "fake_docqa.py"
CPU_SECONDS = 1800  # a bound on the work (indexing 200 MB takes about 120 s of CPU here), not on the machine's speed

BINARIES = {
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "zip": b"PK\x03\x04\x14\x00\x00\x00" + b"word/document.xml" * 3,
    "elf": b"\x7fELF\x02\x01\x01" + bytes(64),
    "exe": b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64),
    "gzip": b"\x1f\x8b\x08\x00" + bytes(range(200)),
    "pdf": make_pdf([["A real PDF, renamed."]]),
    "ascii-pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    "old-doc": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100),
    "random": bytes((i * 7919 + 13) % 256 for i in range(4096)),
}


@pytest.mark.parametrize("kind", sorted(BINARIES))
@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_a_binary_file_with_a_text_extension_is_skipped_with_what_it_is(kind, suffix):
    document, reason = read_bytes(BINARIES[kind], f"file{suffix}")
    assert document is None and reason
    if kind in ("pdf", "ascii-pdf"):
        assert reason.startswith("its content is a PDF document") and "rename it to .pdf" in reason
    if kind == "zip":
        assert "ZIP archive" in reason


@pytest.mark.parametrize("name, data, words", [
    ("notes.pdf", b"Just some text, saved as .pdf.\n", "not a readable PDF (no %PDF- header; its content is something else)"),
    ("image.pdf", BINARIES["png"], "its content is a PNG image"),
    ("report.docx", b"Plain text named .docx", "not a readable Word .docx file (its content is not a ZIP package)"),
    ("report.docx", BINARIES["old-doc"], "its content is an old Word .doc file; save it as .docx"),
    ("report.docx", BINARIES["pdf"], "its content is a PDF document"),
])
def test_a_document_format_checked_by_its_content(name, data, words):
    document, reason = read_bytes(data, name)
    assert document is None and words in reason


def test_real_files_of_each_format_still_pass_the_content_check():
    assert read_bytes(make_pdf([["It met in Berlin."]]), "a.pdf")[0] is not None
    assert read_bytes(make_docx(), "a.docx")[0] is not None
    assert read_bytes(b"<html><body><p>It met in Berlin.</p></body></html>", "a.html")[0] is not None
    assert read_bytes("Ünïcödé text. ﻿".encode(), "a.md")[0] is not None


def run_fake_docqa(*argv, env=None):
    """`docqa` with the fake embedder in a fresh process, reporting its peak resident memory.

    The process is limited in CPU time, not in wall-clock time: a busy machine makes it slower,
    never failing."""
    # VmHWM, not getrusage's ru_maxrss: that one keeps the forking test process's size across exec
    code = ("import re, resource, runpy, sys\n"
            f"resource.setrlimit(resource.RLIMIT_CPU, ({CPU_SECONDS}, {CPU_SECONDS}))\n"
            f"sys.argv = [{str(FAKE_DOCQA)!r}, *sys.argv[1:]]\n"
            "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit as end:\n    code = end.code\n"
            "peak = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)\n"
            "print('peak-kb', peak, file=sys.stderr)\nsys.exit(code)\n")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          env={**os.environ, "DOCQA_NO_PROGRESS": "1", **(env or {})})


@pytest.mark.stress
def test_a_200_mb_text_file_is_read_in_parts_and_indexed_with_bounded_memory(small_corpus, tmp_path):
    paragraph = ("All work and no play makes a very long day without an end in sight. " * 6 + "\n") * 4 + "\n"
    block = (paragraph * (2**20 // len(paragraph) + 1))[: 2**20 - 1] + "\n"
    with open(small_corpus / "huge.txt", "w", encoding="utf-8") as huge:
        for megabyte in range(200):
            if megabyte == 150:
                huge.write("\n\nThe vault code of the old harbour is kept in Lisbon.\n\n")
            huge.write(block)
    result = run_fake_docqa("index", "--corpus", str(small_corpus), "--index", str(tmp_path / "index"))
    assert result.returncode == 0, result.stderr
    assert "indexed 4 documents (1 md, 3 txt)" in result.stdout
    peak_mb = int(result.stderr.split("peak-kb")[1].split()[0]) / 1024
    # About 1,450 MB here: the index is written from memory, and holds the text twice (the
    # document and its chunks), 256,200 chunks' BM25 terms, and 3.6 million sentence vectors.
    # Reading a file whole took 13 times its size; in parts, reading takes little beyond the text.
    assert peak_mb < 2000, f"peak memory {peak_mb:.0f} MB to index a 200 MB file"

    result = run_fake_docqa("ask", "--json", "Where is the vault code of the old harbour kept?",
                            "--index", str(tmp_path / "index"), "--corpus", str(small_corpus))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["answerable"] and record["citations"][0]["source"] == "huge.txt"
    assert record["citations"][0]["quote"] == "The vault code of the old harbour is kept in Lisbon."
    citation, passage = record["citations"][0], record["passages"][0]
    assert passage["start"] > 150 * 10**6  # offsets count the characters of the whole (repaired) text
    assert passage["text"][citation["start"] - passage["start"]:citation["end"] - passage["start"]] == citation["quote"]


def test_formats_parsed_whole_are_skipped_over_the_size_limit_with_the_setting_named(small_corpus, tmp_path):
    (small_corpus / "report.pdf").write_bytes(make_pdf([["The board met in Oslo in 2019."] * 40] * 20))
    (small_corpus / "page.html").write_text("<html><body>" + "<p>It met in Berlin.</p>" * 400 + "</body></html>")
    result = run_fake_docqa("index", "--corpus", str(small_corpus), "--index", str(tmp_path / "index"),
                            env={"DOCQA_MAX_FILE_MB": "0.005"})
    assert result.returncode == 0, result.stderr
    for name in ("report.pdf", "page.html"):
        size = (small_corpus / name).stat().st_size / 2**20
        assert (f"{name}: is {size:,.1f} MB, over the limit of 0 MB for a {Path(name).suffix} file (it is parsed "
                "whole, in memory); split it into smaller files, or raise DOCQA_MAX_FILE_MB and run "
                "`docqa index --rebuild`") in result.stdout
    assert "indexed 3 documents" in result.stdout  # text and Markdown have no limit: they are read in parts


def test_a_long_line_without_sentence_ends_is_chunked_in_linear_time(embedder):
    document, _ = read_bytes(("word " * 300_000).encode(), "long.txt")
    chunks = chunk_document(document, ChunkingParams(), embedder.token_spans)
    assert len(chunks) == 1200 and all(document.text[c.start:c.end] == c.text for c in chunks)


def test_an_unreadable_file_is_skipped_with_its_name_and_the_rest_indexed(small_corpus, tmp_path, embedder, monkeypatch):
    secret = small_corpus / "secret.txt"
    secret.write_text("Nobody may read this.", encoding="utf-8")
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make opening this one file fail as it would for a user
        import builtins

        import docqa.corpus

        real_open = builtins.open

        def guarded_open(file, *args, **kwargs):
            if Path(file).name == "secret.txt":
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(docqa.corpus, "open", guarded_open, raising=False)
    try:
        report = build_index(small_corpus, tmp_path / "index", embedder, ChunkingParams(40, 8))
    finally:
        secret.chmod(0o644)
    assert report.documents == 3
    assert [(s.source, s.reason) for s in report.skipped] == [
        ("secret.txt", "could not be read (Permission denied); check its permissions")]


def test_links_that_lead_outside_the_corpus_are_not_followed(small_corpus, tmp_path, embedder):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwords.txt").write_text("The password of the vault is swordfish.", encoding="utf-8")
    (small_corpus / "link.txt").symlink_to(outside / "passwords.txt")
    (small_corpus / "linked-folder").symlink_to(outside, target_is_directory=True)
    (small_corpus / "inside-link.txt").symlink_to(small_corpus / "report.txt")  # inside: fine
    (small_corpus / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    assert "link.txt" not in {f.source for f in list_corpus_files(small_corpus)}
    skipped = {s.source: s.reason for s in unsupported_files(small_corpus)}
    assert skipped == {"link.txt": "a link to a file outside the corpus folder, not followed; "
                                   "copy the file into the folder to include it"}
    build_index(small_corpus, tmp_path / "index", embedder, ChunkingParams(40, 8))
    index = load_index(tmp_path / "index")
    assert set(index.documents) == {"meetings.txt", "notes/films.md", "report.txt", "inside-link.txt"}
    assert not any("swordfish" in c.text for c in index.chunks)


ODD_NAMES = ["with space.txt", "ünïcödé.txt", "😀 emoji.md", "quote's \"double\".txt", "<img src=x onerror=alert(1)>.txt",
             "-rf.txt", "semi;colon&amp.txt", "new\nline.txt", "tab\there.txt", "%2e%2e%2f.txt", "a" * 240 + ".txt",
             "back\\slash.txt", "right-to-left \u202ecod.exe.txt", "ＦＵＬＬ.txt"]


def test_odd_file_names_are_indexed_and_cited_by_their_names(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for number, name in enumerate(ODD_NAMES):
        (corpus / name).write_text(f"Document number {number} mentions the codeword zebra{number}.", encoding="utf-8")
    os.close(os.open(os.fsencode(corpus) + b"/latin1-caf\xe9.txt", os.O_CREAT | os.O_WRONLY))  # not UTF-8
    pipeline = Pipeline(corpus, tmp_path / "index", embedder=embedder, chunking=ChunkingParams(40, 8))
    report = pipeline.build()
    assert report.documents == len(ODD_NAMES)
    assert [s.reason for s in report.skipped] == ["its name is not valid UTF-8; rename it"]
    assert pipeline.stale_reasons() == []
    for number, name in enumerate(ODD_NAMES):
        answer = pipeline.ask(f"Which document mentions the codeword zebra{number}?", k=3)
        assert answer.answerable and answer.citations[0].source == name


def test_fifos_and_devices_in_the_corpus_do_not_block_the_build(small_corpus, tmp_path, embedder):
    os.mkfifo(small_corpus / "pipe.txt")
    (small_corpus / "null.txt").symlink_to("/dev/null")
    report = build_index(small_corpus, tmp_path / "index", embedder, ChunkingParams(40, 8))
    assert report.documents == 3


def test_a_file_given_as_the_corpus_folder_gets_a_message_that_says_so(small_corpus):
    from docqa.errors import CorpusNotFound

    with pytest.raises(CorpusNotFound, match=r"is a file, not a folder; pass --corpus with the folder that holds it"):
        list_corpus_files(small_corpus / "report.txt")
    with pytest.raises(CorpusNotFound, match="does not exist"):
        list_corpus_files(small_corpus / "nowhere")
