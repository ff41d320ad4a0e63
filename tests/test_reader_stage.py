"""The answer stage's reader path and its rule switches (the reader itself is a fake here)."""

import numpy as np
import pytest

from docqa import answer as answer_module
from docqa.answer import RULES, AnswerPolicy, SentenceCandidate, compose_answer, term_statistics
from docqa.cli import main
from docqa.datasets import DatasetError
from docqa.evaluate import configurations
from docqa.features import LinearModel
from docqa.reader import READER_QUESTION_FEATURES, READER_SENTENCE_FEATURES, Reader, default_reader, reader_pair
from docqa.sentences import split_sentences
from docqa.types import Chunk, Document, Hit

TEXT = ("The festival began in 1998 in a small barn. Tickets cost twelve euros at the gate. "
        "The first headliner was a brass band from Lyon.")
ONE = AnswerPolicy(max_sentences=1, decline_threshold=0.0)


def candidates_of(text):
    document = Document("f.txt", text, "0")
    hit = Hit(Chunk("c1", "f.txt", 0, len(text), text, 40), 0.9, 1)
    spans = split_sentences(text)
    return document, hit, [SentenceCandidate(hit, a, b, text[a:b], 0.3, i, len(spans),
                                             text[spans[i - 1][0]:spans[i - 1][1]] if i else "")
                           for i, (a, b) in enumerate(spans)]


@pytest.fixture
def reader_models(monkeypatch):
    """The combiner trusts the reader alone; the decline model answers when the best reader logit is positive."""
    combiner = LinearModel(READER_SENTENCE_FEATURES, (1.0, 0.0), 0.0, (0.0, 0.0), (1.0, 1.0))
    decline = LinearModel(READER_QUESTION_FEATURES, (1.0, 0.0, 0.0), 0.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 0.5)
    real = answer_module.shipped_model

    def shipped(name, features):
        return {"reader_combiner": combiner, "reader_answerability": decline}.get(name) or real(name, features)

    monkeypatch.setattr(answer_module, "shipped_model", shipped)


def test_the_readers_logits_choose_the_quote_and_decide_the_decline(reader_models):
    document, hit, candidates = candidates_of(TEXT)
    read = []

    def reader(pairs):
        read.extend(pairs)
        return np.array([4.0 if "brass band" in b else -4.0 for _, b in pairs])

    question = "Who played first at the festival?"
    answer = compose_answer(question, [hit], candidates, {"f.txt": document}, term_statistics([TEXT]), ONE, reader)
    assert answer.answerable
    assert answer.citations[0].quote == "The first headliner was a brass band from Lyon."
    assert answer.extra["evidence"]["reader_best_logit"] == 4.0
    # the reader read the question with each sentence and the sentence before it
    assert reader_pair(question, candidates[2].text, candidates[1].text) in read
    # when the reader finds no sentence that answers, the answer is declined
    answer = compose_answer(question, [hit], candidates, {"f.txt": document}, term_statistics([TEXT]),
                            AnswerPolicy(max_sentences=1), lambda pairs: np.full(len(pairs), -3.0))
    assert not answer.answerable and not answer.citations


def test_the_reader_reads_only_the_rankers_best_candidates(reader_models):
    document, hit, candidates = candidates_of(TEXT)
    read = []

    def reader(pairs):
        read.extend(pairs)
        return np.zeros(len(pairs))

    compose_answer("What did tickets cost?", [hit], candidates, {"f.txt": document}, term_statistics([TEXT]),
                   AnswerPolicy(reader_candidates=2, decline_threshold=0.0), reader)
    assert len(read) == 2


def test_reader_pair_puts_the_sentence_before_its_context():
    assert reader_pair(" Who  won? ", "A\nwon.", "Before  it.") == ("Who won?", "A won. [SEP] Before it.")
    assert reader_pair("Who won?", "A won.") == ("Who won?", "A won.")


def test_without_its_files_or_when_turned_off_there_is_no_reader(monkeypatch):
    monkeypatch.setenv("DOCQA_READER", "off")
    assert default_reader() is None


MEMBERS = ("Members:\n• Office of Counter-Terrorism (lead)\n• Department of Public Information (DPI)\n\n"
           "Purpose:\nThe group counters the use of the internet for terrorist purposes.")


def test_a_rule_turned_off_is_left_out():
    document = Document("group.txt", MEMBERS, "0")
    hit = Hit(Chunk("c1", "group.txt", 0, len(MEMBERS), MEMBERS, 40), 0.9, 1)
    spans = split_sentences(MEMBERS)
    candidates = [SentenceCandidate(hit, a, b, MEMBERS[a:b], 0.9 if i == 0 else 0.1, i, len(spans))
                  for i, (a, b) in enumerate(spans)]
    stats = term_statistics([MEMBERS])
    with_rule = compose_answer("Who are the members?", [hit], candidates, {"group.txt": document}, stats, ONE)
    assert with_rule.citations[0].quote.startswith("Members:\n•")
    without = compose_answer("Who are the members?", [hit], candidates, {"group.txt": document}, stats,
                             AnswerPolicy(max_sentences=1, decline_threshold=0.0, rules_off=frozenset({"labels"})))
    assert not without.citations or without.citations[0].quote != with_rule.citations[0].quote


def test_eval_names_the_rules_off_and_refuses_an_unknown_rule(capsys):
    configs = configurations([128], [32], ["hybrid"], [0.5], ["years", "money"])
    assert configs[0].policy.rules_off == {"years", "money"}
    assert configs[0].name.endswith("rules off: money years")
    with pytest.raises(DatasetError, match="no such rule; the rules are labels"):
        configurations([128], [32], ["hybrid"], [0.5], ["yers"])
    assert set(RULES) >= {"labels", "kind_missing", "money", "years", "leaned_on", "lists", "short_answer"}
    assert main(["eval", "nowhere.json", "--rules-off", "yers"]) == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'yers'" in error and "labels" in error


def test_ablate_adds_one_configuration_per_rule_left_out_in_turn():
    configs = configurations([128], [32], ["hybrid"], [0.5], ["years"], ablate=True)
    assert [c.policy.rules_off for c in configs] == [{"years"}] + [{"years", r} for r in RULES if r != "years"]
    assert configs[0].name == "hybrid 0.5, chunks 128/32, rules off: years"
    assert configs[1].name == "hybrid 0.5, chunks 128/32, rules off: labels years"
    assert len({c.name for c in configs}) == len(configs) == len(RULES)


def test_a_remembering_reader_reads_each_pair_once(monkeypatch):
    read = []

    def fake_read(self, pairs):
        read.append(list(pairs))
        return np.array([len(q) + len(s) for q, s in pairs], dtype=np.float32)

    monkeypatch.setattr(Reader, "_read", fake_read)
    reader = Reader(remember=True)
    first = reader.logits([("Who?", "A."), ("Who?", "Bb."), ("Who?", "A.")])
    again = reader.logits([("Who?", "Bb."), ("When?", "C.")])
    assert first.tolist() == [6, 7, 6] and again.tolist() == [7, 7]
    assert read == [[("Who?", "A."), ("Who?", "Bb.")], [("When?", "C.")]]
    Reader().logits([("Who?", "A.")])
    assert len(read) == 3  # without remember, every call reads


class CountingReader:
    """A fake reader: a fixed logit per sentence, and a count of its calls."""

    def __init__(self):
        self.calls = []

    def export_while_torch_is_loaded(self):
        pass  # nothing to export

    def logits(self, pairs):
        self.calls.append(list(pairs))
        return np.array([3.0 if "Microsoft" in b or "2012" in b else -3.0 for _, b in pairs], dtype=np.float32)


def test_several_questions_are_read_together_and_answered_as_one_by_one(reader_models, small_corpus, tmp_path,
                                                                         embedder):
    from docqa.pipeline import Pipeline

    questions = ["Which company helped with the second meeting?", "When is the next film due?",
                 "Which company helped with the second meeting?"]
    together = CountingReader()
    pipeline = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, reader=together)
    pipeline.ensure_index()
    answers = pipeline.ask_many(questions, k=3)
    assert len(together.calls) == 1  # one read for all three questions
    assert len(together.calls[0]) == len(set(together.calls[0]))  # a pair asked twice is read once
    alone = CountingReader()
    pipeline.reader = alone
    one_by_one = [pipeline.ask(question, k=3) for question in questions]
    assert len(alone.calls) == 3
    assert [a.to_record() for a in answers] == [a.to_record() for a in one_by_one]
    assert "Microsoft" in answers[0].citations[0].quote and "2012" in answers[1].citations[0].quote
