"""The seed gold set through docqa eval, with the real model (slow)."""

import json

import pytest

from docqa.cli import main
from docqa.embedding import MiniLMEmbedder

from conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seed_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed-eval")
    argv = ["eval", str(ROOT / "tests" / "data" / "seed_questions.jsonl"), "--corpus", str(ROOT / "corpus"),
            "--cache", str(folder / "cache"), "--report", str(folder / "report")]
    assert main(argv, embedder=MiniLMEmbedder()) == 0
    return json.loads((folder / "report" / "report.json").read_text())["configs"][0]


def test_every_answerable_question_has_its_evidence_in_the_top_5(seed_report):
    misses = [q["id"] for q in seed_report["per_question"] if q["kind"] == "answerable" and not q["hit@5"]]
    assert misses == []
    assert seed_report["retrieval"]["hit@5"] == 1.0


@pytest.mark.xfail(strict=True, reason="since the reader shipped, seed-u8 ('Which countries answered the letter of "
                   "inquiry?') is answered with the sentence on responses to a letter sent to UN member states; "
                   "the other 12 are declined (docs/reader.md)")
def test_every_unanswerable_question_is_declined(seed_report):
    answered = [q["id"] for q in seed_report["per_question"] if q["kind"] == "unanswerable" and q["answerable"]]
    assert answered == []
    assert seed_report["declines"]["unanswerable"]["declined"] == 1.0


@pytest.mark.xfail(strict=True, reason="the decision to answer is learned on SQuAD, whose questions echo the "
                   "text: paraphrased seed questions are declined, and a few get the wrong sentence (issue 4)")
def test_every_answerable_question_is_answered_right(seed_report):
    wrong = [q["id"] for q in seed_report["per_question"] if q["kind"] == "answerable" and not q["answer_has_gold"]]
    assert wrong == []
