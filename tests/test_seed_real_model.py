"""The default corpus with the real embedding model (marked slow: loads MiniLM once)."""

import pytest

from docqa.embedding import MiniLMEmbedder
from docqa.pipeline import Pipeline

from conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seed_pipeline(tmp_path_factory):
    pipeline = Pipeline(ROOT / "corpus", tmp_path_factory.mktemp("seed") / "index", embedder=MiniLMEmbedder())
    pipeline.build()
    return pipeline


def exact(answer, pipeline):
    documents = pipeline.index.documents
    for citation in answer.citations:
        assert documents[citation.source].text[citation.start : citation.end] == citation.quote


def test_microsoft_is_named_and_cited(seed_pipeline):
    answer = seed_pipeline.ask("Which company did the working group collaborate with in 2010?")
    assert answer.answerable
    assert "Microsoft" in answer.text
    assert any("Microsoft" in c.quote for c in answer.citations)
    exact(answer, seed_pipeline)


def test_the_leads_are_named(seed_pipeline):
    answer = seed_pipeline.ask("Who leads the working group?")
    assert answer.answerable
    assert "1267 Monitoring Team" in answer.text
    assert "Counter-Terrorism Implementation Task Force office" in answer.text
    exact(answer, seed_pipeline)


@pytest.mark.parametrize("question", [
    "What is the budget of the working group?",
    "What is the boiling point of water?",
    "Who is the president of France?",
])
def test_questions_the_document_does_not_answer_are_declined(seed_pipeline, question):
    answer = seed_pipeline.ask(question)
    assert not answer.answerable
    assert answer.citations == ()
    assert answer.text.startswith("The documents don't say")
    assert answer.passages


def test_every_answer_cites_exact_quotes(seed_pipeline):
    questions = ["Who hosted the first expert meeting?", "What is the first film about?",
                 "How many expert meetings were organized in 2010?", "What does UNODC do about cybercrime?"]
    for answer in seed_pipeline.ask_many(questions):
        assert answer.answerable, answer.question
        exact(answer, seed_pipeline)


def test_odd_questions_get_a_defined_response(seed_pipeline):
    """The odd questions of test_questions.py, with the real model (issue 7)."""
    from docqa.errors import InvalidQuery
    from test_questions import ANSWERED, REFUSED, check_answer

    for question in ANSWERED.values():
        check_answer(seed_pipeline.ask(question).to_record(), seed_pipeline.index.documents)
    assert "system prompt" not in seed_pipeline.ask(ANSWERED["prompt injection"]).text.lower()
    for question, message in REFUSED.values():
        with pytest.raises(InvalidQuery, match=message.split(";")[0]):
            seed_pipeline.ask(question)
