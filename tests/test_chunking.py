"""Chunking properties: exact spans, full coverage, the token limit, stable ids."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from docqa.chunking import ChunkingParams, chunk_document, make_chunk_id
from docqa.corpus import known_word
from docqa.embedding import MiniLMEmbedder
from docqa.repair import repair_text
from docqa.sentences import split_sentences
from docqa.types import Document

from conftest import SEED


def word_spans(text):
    return [m.span() for m in re.finditer(r"\S+", text)]


def check_properties(document: Document, params: ChunkingParams, token_spans) -> list:
    chunks = chunk_document(document, params, token_spans)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert chunk.token_count <= params.max_tokens
        assert len(token_spans(chunk.text)) <= params.max_tokens
        assert chunk.chunk_id == make_chunk_id(document.source, chunk.start, chunk.end)
    # Every non-blank character of the document lies in some chunk.
    covered = [False] * len(document.text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    assert all(covered[i] for i, c in enumerate(document.text) if not c.isspace())
    # Chunks move forward through the document.
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    return chunks


sentence = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
                    min_size=1, max_size=30).map(" ".join)
documents = st.lists(st.tuples(sentence, st.sampled_from([". ", "! ", "\n", "\n\n", " ", ".\n\n"])),
                     min_size=0, max_size=40).map(lambda parts: "".join(s + sep for s, sep in parts))


@settings(max_examples=150, deadline=None)
@given(text=documents, max_tokens=st.integers(8, 60), overlap=st.integers(0, 7))
def test_chunk_properties_hold_for_any_text(text, max_tokens, overlap):
    check_properties(Document("doc.txt", text, "0"), ChunkingParams(max_tokens, overlap), word_spans)


def test_a_sentence_longer_than_the_limit_is_cut_at_word_boundaries():
    text = " ".join(f"word{i}" for i in range(100)) + "."
    chunks = check_properties(Document("long.txt", text, "0"), ChunkingParams(30, 5), word_spans)
    assert len(chunks) == 4
    assert all(not c.text.startswith(" ") and not c.text.endswith(" ") for c in chunks)


def test_chunks_hold_whole_sentences_and_overlap_by_sentences():
    sentences_text = [f"Sentence number {i} has exactly seven words." for i in range(10)]
    text = " ".join(sentences_text)
    chunks = check_properties(Document("s.txt", text, "0"), ChunkingParams(30, 8), word_spans)
    sentence_texts = {text[s:e] for s, e in split_sentences(text)}
    for chunk in chunks:
        spans = split_sentences(chunk.text)
        assert all(chunk.text[s:e] in sentence_texts for s, e in spans)
    for previous, current in zip(chunks, chunks[1:]):
        assert current.start < previous.end  # one sentence repeated
        assert text[current.start : previous.end].endswith("words.")


def test_ids_are_stable_across_runs():
    document = Document("a.txt", "One sentence here. Another one there.", "0")
    first = chunk_document(document, ChunkingParams(8, 0), word_spans)
    second = chunk_document(document, ChunkingParams(8, 0), word_spans)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]


def test_seed_chunks_fit_the_models_window_counted_by_its_tokenizer():
    embedder = MiniLMEmbedder()  # the tokenizer only: no model weights are loaded
    text = repair_text(SEED.read_text(encoding="utf-8"), known_word)
    chunks = check_properties(Document(SEED.name, text, "0"), ChunkingParams(), embedder.token_spans)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert len(embedder.token_spans(chunk.text)) + 2 <= 256
