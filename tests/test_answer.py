"""Answers: citations quote the documents exactly, declines are plain."""

import pytest

from docqa.answer import SentenceCandidate, compose_answer, term_statistics
from docqa.chunking import ChunkingParams
from docqa.errors import InvalidQuery
from docqa.pipeline import Pipeline
from docqa.types import Chunk, Document, Hit


@pytest.fixture
def pipeline(small_corpus, tmp_path, embedder):
    p = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, chunking=ChunkingParams(40, 8))
    p.build()
    return p


def check_citations(answer, pipeline):
    documents = pipeline.index.documents
    passage_ids = {h.chunk.chunk_id for h in answer.passages}
    for number, citation in enumerate(answer.citations, start=1):
        assert citation.marker == number
        assert documents[citation.source].text[citation.start : citation.end] == citation.quote
        assert citation.chunk_id in passage_ids
        assert f"[{number}]" in answer.text


def test_answer_quotes_the_supporting_sentence(pipeline):
    answer = pipeline.ask("Who hosted the first meeting?", k=3)
    assert answer.answerable
    assert "German Foreign Office" in answer.text
    assert answer.citations[0].quote == "The first meeting was hosted by the German Foreign Office."
    check_citations(answer, pipeline)
    record = answer.to_record()
    assert set(record) >= {"question", "answer", "answerable", "citations", "passages"}
    assert "id" not in record
    assert record["citations"][0]["quote"] == answer.citations[0].quote


def test_citations_are_exact_for_many_questions(pipeline):
    questions = ["When was the additional film planned?", "What did the report recommend?",
                 "Which company was a partner?", "Where was the 2011 conference?", "What did the monitoring team produce?"]
    for answer in pipeline.ask_many(questions, k=4):
        check_citations(answer, pipeline)


def test_question_about_something_absent_is_declined(pipeline):
    # None of its words shares a hash bucket with a corpus word under the fake embedder ("boil"
    # and "mercuri" did, which made the question look half similar to the corpus).
    answer = pipeline.ask("What is the freezing point of helium?", k=3)
    assert not answer.answerable
    assert answer.citations == ()
    assert answer.text.startswith("The documents don't say")
    assert "helium" in answer.text
    assert len(answer.passages) == 3  # the closest passages are still shown


def test_a_sentence_that_leans_on_the_one_before_is_quoted_with_it():
    text = "The monitoring team produced documentaries on repentant terrorists. It released the first film in 2011."
    document = Document("films.txt", text, "0")
    chunk = Chunk("c1", "films.txt", 0, len(text), text, 20)
    hit = Hit(chunk, 0.9, 1)
    second = text.index("It released")
    candidates = [
        SentenceCandidate(hit, 0, second - 1, text[: second - 1], 0.3),
        SentenceCandidate(hit, second, len(text), text[second:], 0.8),
    ]
    answer = compose_answer("When was the first film released?", [hit], candidates, {"films.txt": document},
                            term_statistics([text]))
    assert answer.answerable
    assert answer.citations[0].quote == text  # both sentences, one span
    assert answer.citations[0].start == 0


def test_empty_and_overlong_questions_are_refused_with_the_fix(pipeline):
    with pytest.raises(InvalidQuery, match="empty"):
        pipeline.ask("   ")
    with pytest.raises(InvalidQuery, match="shorten it"):
        pipeline.ask("why " * 1000)


def test_questions_are_embedded_in_one_batch(pipeline, embedder):
    embedder.calls.clear()
    pipeline.ask_many(["Who hosted the first meeting?", "What did the report recommend?"], k=2)
    assert embedder.calls[0] == 2
