"""Property tests over arbitrary Unicode: reading, repairs, chunking, answering and showing.

Empty and blank text, control and zero-width characters, very long lines without a sentence
end, right-to-left scripts, characters whose case mapping changes their length, and bytes in
mixed encodings. Invariants: no exception but the documented ones (a file is skipped with a
reason; a question can be refused with InvalidQuery), spans stay exact, citations verbatim,
and document text never becomes markup.
"""

import html.parser
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SMALL_CORPUS, HashingEmbedder
from docqa.chunking import ChunkingParams
from docqa.corpus import known_word, read_bytes
from docqa.embedding import MiniLMEmbedder
from docqa.errors import InvalidQuery
from docqa.pipeline import Pipeline
from docqa.repair import repair_text
from docqa.ui_render import Turn, format_reply, render_sources
from test_chunking import check_properties

SPECIALS = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u202e", "\u202c", "\u2066", "\u2028", "\u2029", "\x0b", "\x0c",
            "\x1c", "\x85", "\r", "\r\n", "\t", "\x07", "\x1b[31m", "\u00ad", "e\u0301", "İ", "ß", "ﬁ", "ǅ", "\u0345",
            "مرحبا بالعالم. ", "שלום עולם! ", "日本語の文。", "Привет, мир. ", "🏳️‍🌈", "-\n", ".\n\n", "# ", "• ", "<b>",
            "&amp;", " ", "\n", ". ", "? "]
letters = st.characters(blacklist_categories=("Cs",))
pieces = st.one_of(st.sampled_from(SPECIALS), st.text(letters, min_size=1, max_size=8),
                   st.sampled_from(["The meeting was hosted in Berlin.", "A Word ", "word ", "2010 "]))
any_text = st.lists(pieces, max_size=60).map("".join)
long_line = st.integers(300, 3000).map(lambda n: "longword " * n)  # no sentence end at all
texts = st.one_of(any_text, long_line, st.sampled_from(["", " ", "\n\n\t ", "\u200b\u200b", "\x00"]))
encodings = st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252", "utf-8-sig"])
mixed_bytes = st.lists(st.tuples(any_text, encodings), max_size=4).map(
    lambda parts: b"".join(text.encode(encoding, "replace") for text, encoding in parts))
SUFFIXES = [".txt", ".md", ".html", ".htm"]
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_document(document) -> None:
    text = document.text
    assert text.strip()
    assert all(0 <= start <= len(text) for start, _ in document.sections)
    assert [start for start, _ in document.sections] == sorted(start for start, _ in document.sections)
    assert all(0 <= start <= len(text) for start, _ in document.pages)


@PROPERTY_SETTINGS
@given(data=st.one_of(mixed_bytes, texts.map(lambda t: t.encode("utf-8", "surrogatepass"))),
       suffix=st.sampled_from(SUFFIXES))
def test_reading_any_bytes_gives_a_document_or_a_reason(data, suffix):
    document, reason = read_bytes(data, f"file{suffix}")
    assert (document is None) == bool(reason)
    if document is not None:
        check_document(document)


@PROPERTY_SETTINGS
@given(text=texts)
def test_repairs_take_any_text(text):
    repaired = repair_text(text, known_word)
    assert isinstance(repaired, str) and "\r" not in repaired


@PROPERTY_SETTINGS
@given(text=texts, suffix=st.sampled_from([".txt", ".md"]), max_tokens=st.integers(8, 80))
def test_chunks_of_any_text_are_exact_spans_within_the_limit(text, suffix, max_tokens):
    document, _ = read_bytes(text.encode("utf-8"), f"doc{suffix}")
    if document is None:
        return
    check_properties(document, ChunkingParams(max_tokens, max_tokens // 4), HashingEmbedder().token_spans)


TOKENIZER = MiniLMEmbedder()  # its tokenizer only; no weights load


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_chunks_fit_the_real_tokenizers_window_for_any_text(text):
    document, _ = read_bytes(text.encode("utf-8"), "doc.txt")
    if document is None:
        return
    check_properties(document, ChunkingParams(60, 10), TOKENIZER.token_spans)


ALLOWED_TAGS = {"div", "p", "q", "article", "header", "span", "mark", "details", "summary", "a"}


class TagCollector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, [name for name, _ in attrs]))


def markup_of(fragment: str) -> list:
    collector = TagCollector()
    collector.feed(fragment)
    return collector.tags


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document_text=texts, question=texts)
def test_any_document_and_question_give_a_verbatim_answer_or_a_documented_refusal(document_text, question):
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus"
        corpus.mkdir()
        (corpus / "meetings.txt").write_text(SMALL_CORPUS["meetings.txt"], encoding="utf-8")
        (corpus / "strange.md").write_bytes(document_text.encode("utf-8", "surrogatepass"))
        pipeline = Pipeline(corpus, Path(folder) / "index", embedder=HashingEmbedder(), chunking=ChunkingParams(40, 8))
        pipeline.ensure_index()
        for asked in (question, question + " Who hosted the first meeting?"):
            try:
                answer = pipeline.ask(asked, k=min(3, pipeline.index.size))
            except InvalidQuery as refusal:
                assert not asked.strip() or len(asked) > 2000, refusal
                continue
            documents = pipeline.index.documents
            passages = {hit.chunk.chunk_id for hit in answer.passages}
            assert answer.answerable == bool(answer.citations)
            for marker, citation in enumerate(answer.citations, 1):
                assert citation.marker == marker and f"[{marker}]" in answer.text
                assert documents[citation.source].text[citation.start:citation.end] == citation.quote
                assert citation.chunk_id in passages
            record = answer.to_record()
            assert json.loads(json.dumps(record, ensure_ascii=False)) == record
            # shown in the app, nothing of the documents or the question becomes markup
            turn = Turn(1, asked, asked, "hybrid", 3, answer, 1)
            tags = markup_of(render_sources(turn, documents, 200)) + markup_of(format_reply(answer, 1))
            assert {tag for tag, _ in tags} <= ALLOWED_TAGS
            assert all(not name.startswith("on") for _, names in tags for name in names)
