"""Text and Markdown files are read from disk in parts cut at blank lines (readers.text_parts),
so that a file of any size is never held whole: the parts give the Document that reading the
whole file gives, and every error names the byte it is about."""

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import docqa.readers as readers
from conftest import HashingEmbedder
from docqa.assembly import assemble, assemble_parts
from docqa.chunking import ChunkingParams
from docqa.corpus import list_corpus_files, read_bytes, read_document
from docqa.readers import read_markdown, read_text, text_parts
from test_chunking import check_properties

# Pieces of text in the ways files mix them. No "-" at a line end or digit after a full stop:
# a hyphenated line break and a footnote number are judged by the part they lie in (the
# repairs look at the whole part), so those two are left to the single-part property below.
PIECES = ["The group met in Berlin. ", "It was hosted by UNESCO; ", "Ünïcödé and 日本語の文。", "مرحبا بالعالم. ",
          "\n", "\n\n", "\n\n\n  \n", "\r\n", "\r", "  \n", "\t\n", "\n```\n", "\n~~~\n", "\n# Heading\n",
          "\n## Sub heading ##\n", "\n• an item without an end\n", "\n1. an item.\n", "word ", "\u200b", "\ufeff",
          "\u2028", "\x0c"]
ANY = PIECES + ["rehabili-\ntate ", "terrorist-\nrelated ", "in 2012.232 ", "terrorism.”228As ", "-\n", "."]


def parts_of(data: bytes, part_chars: int, block: int, monkeypatch) -> list[tuple[str, str]]:
    monkeypatch.setattr(readers, "_READ_BLOCK", block)
    return list(text_parts(io.BytesIO(data), part_chars))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(ANY), max_size=120), st.integers(1, 40), st.sampled_from(["text", "markdown"]))
def test_a_file_read_in_one_part_reads_as_the_whole_file(pieces, block, kind):
    data = "".join(pieces).encode()
    with pytest.MonkeyPatch.context() as monkeypatch:
        parts = parts_of(data, 10**6, block, monkeypatch)
    whole = assemble((read_text if kind == "text" else read_markdown)(data), "a.md", "x")
    assert len(parts) == 1
    assert assemble_parts(parts, kind, "a.md", "x") == whole


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=400), st.integers(1, 40), st.integers(300, 700),
       st.sampled_from(["text", "markdown"]))
def test_a_file_read_in_many_parts_reads_as_the_whole_file(pieces, block, part_chars, kind):
    # A blank line every few pieces, as in prose, well within a part's length: the parts are cut there.
    text = "".join(piece + ("\n\n" if i % 7 == 6 else "") for i, piece in enumerate(pieces))
    data = text.encode()
    with pytest.MonkeyPatch.context() as monkeypatch:
        parts = parts_of(data, part_chars, block, monkeypatch)
    whole = assemble((read_text if kind == "text" else read_markdown)(data), "a.md", "x")
    assert assemble_parts(parts, kind, "a.md", "x") == whole


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(ANY + ["x" * 50, " " * 9]), max_size=200), st.integers(1, 40), st.integers(8, 100))
def test_any_text_in_any_parts_keeps_chunk_spans_exact(pieces, block, part_chars):
    data = "".join(pieces).encode()
    with pytest.MonkeyPatch.context() as monkeypatch:
        parts = parts_of(data, part_chars, block, monkeypatch)
    assert all(joint in ("\n\n", "\n", " ", "") for _, joint in parts)
    document = assemble_parts(parts, "text", "a.txt", "x")
    check_properties(document, ChunkingParams(max_tokens=20, overlap_tokens=5), HashingEmbedder().token_spans)


def test_a_text_without_blank_lines_is_cut_at_lines_then_spaces_then_anywhere(monkeypatch):
    lines = "".join(f"line {n} of the log\n" for n in range(40)).encode()
    parts = parts_of(lines, 50, 1 << 20, monkeypatch)
    assert len(parts) > 3 and {joint for _, joint in parts[:-1]} == {"\n"}
    assert "".join(p + j for p, j in parts) == lines.decode()

    words = " ".join(f"word{n}" for n in range(100)).encode()
    parts = parts_of(words, 50, 1 << 20, monkeypatch)
    assert {joint for _, joint in parts[:-1]} == {" "} and "".join(p + j for p, j in parts) == words.decode()

    blob = ("x" * 500).encode()
    parts = parts_of(blob, 50, 1 << 20, monkeypatch)
    assert len(parts) == 10 and all(len(p) <= 100 for p, _ in parts) and "".join(p + j for p, j in parts) == "x" * 500


def test_a_large_file_is_read_in_parts_with_the_document_whole_reading_gives(tmp_path, monkeypatch):
    text = "".join(f"Paragraph {n} says that the group met in city number {n}.\nIt ended here.\r\n\r\n"
                   for n in range(3000))
    (tmp_path / "big.txt").write_text(text, encoding="utf-8", newline="")
    monkeypatch.setattr(readers, "_READ_BLOCK", 1000)
    monkeypatch.setattr(text_parts, "__defaults__", (4096,))
    corpus_file = list_corpus_files(tmp_path)[0]
    document, reason = read_document(corpus_file)
    assert reason == "" and document == read_bytes(text.encode(), "big.txt", corpus_file.sha256)[0]
    assert document.text.count("\n\n") == 3000 and "\r" not in document.text
    with open(tmp_path / "big.txt", "rb") as handle:
        assert len(list(text_parts(handle))) > 40  # it was read in parts


@pytest.mark.parametrize("bad, message", [
    (b"\xff", "not UTF-8 text (byte 70000: b'\\xff'); save it as UTF-8 to include it"),
    (b"\x00", "holds NUL bytes, so it is not a text file; remove it or convert it to text"),
])
def test_bad_bytes_far_into_a_file_are_found_and_named(tmp_path, monkeypatch, bad, message):
    monkeypatch.setattr(readers, "_READ_BLOCK", 4096)
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbf" + b"a" * 69997 + bad + b" and more text")
    corpus_file = list_corpus_files(tmp_path)[0]
    assert read_document(corpus_file) == (None, message)
    if bad == b"\xff":  # the whole-file reader names the same byte
        assert read_bytes((tmp_path / "a.txt").read_bytes(), "a.txt") == (None, message)


def test_a_character_split_between_blocks_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "_READ_BLOCK", 3)
    (tmp_path / "a.md").write_text("# Ünïcödé\n\n日本語の文。 🏳️‍🌈 done.\r\n", encoding="utf-8", newline="")
    document, reason = read_document(list_corpus_files(tmp_path)[0])
    assert reason == "" and document.text == "# Ünïcödé\n\n日本語の文。 🏳️‍🌈 done.\n"
    assert document.title == "Ünïcödé" and document.sections == ((0, ("Ünïcödé",)),)
