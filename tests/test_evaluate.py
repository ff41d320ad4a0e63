"""Metrics against hand-computed values, the dataset loaders, and docqa eval end to end."""

import json
import os
import shutil
import time

import pytest

from docqa.cli import main
from docqa.datasets import DatasetError, load_dataset
from docqa.evaluate import CACHE_DAYS, prune_cache, retrieval_metrics

from conftest import ROOT, HashingEmbedder

DATA = ROOT / "tests" / "data"


def test_retrieval_metrics_match_hand_computed_values():
    qrels = {"q1": {"a": 1, "c": 1}, "q2": {"x": 1}, "q3": {}}
    run = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": {"y": 1.0}, "q3": {"z": 1.0}}
    metrics = retrieval_metrics(qrels, run, ["q1", "q2", "q3"])
    # q1 finds a (rank 1) and c (rank 3); q2 finds nothing; q3 has no relevant chunk: zeros.
    assert metrics["hit@1"] == pytest.approx(1 / 3)
    assert metrics["hit@3"] == pytest.approx(1 / 3)
    assert metrics["recall@1"] == pytest.approx(0.5 / 3)
    assert metrics["recall@3"] == pytest.approx(1 / 3)
    assert metrics["mrr@10"] == pytest.approx(1 / 3)
    assert metrics["map@10"] == pytest.approx((1 + 2 / 3) / 2 / 3)
    ideal = 1 + 1 / 1.5849625007211563  # 1/log2(2) + 1/log2(3)
    assert metrics["ndcg@10"] == pytest.approx((1 + 0.5) / ideal / 3)
    assert metrics["without_relevant_chunk"] == 1 and metrics["questions"] == 3


def test_no_questions_gives_zeros_not_an_error():
    assert retrieval_metrics({}, {}, [])["hit@1"] == 0.0


def test_squad_v11_loader():
    dataset = load_dataset(DATA / "squad-v1.1-excerpt.json")
    assert len(dataset.documents) == 3 and dataset.relevance == "span"
    assert len(dataset.questions) == 18 and {q.kind for q in dataset.questions} == {"answerable"}
    first = dataset.questions[0]
    assert first.gold_sources == ("000_Super_Bowl_50.txt",) and first.gold_paragraph == 0 and first.answers
    assert dataset.documents["000_Super_Bowl_50.txt"].count("\n\n") == 1  # two paragraphs


def test_squad_holdout_makes_out_of_corpus_questions():
    dataset = load_dataset(DATA / "squad-v1.1-excerpt.json", holdout_articles=1)
    assert len(dataset.documents) == 2
    kinds = [q.kind for q in dataset.questions]
    assert kinds.count("out_of_corpus") == 6 and kinds.count("answerable") == 12
    with pytest.raises(DatasetError, match="use 0 to 2"):
        load_dataset(DATA / "squad-v1.1-excerpt.json", holdout_articles=3)


def test_squad_v20_loader_marks_impossible_questions():
    dataset = load_dataset(DATA / "squad-v2.0-excerpt.json")
    kinds = [q.kind for q in dataset.questions]
    assert kinds.count("impossible") == 8 and kinds.count("answerable") == 8


def test_beir_loader():
    dataset = load_dataset(DATA / "beir-tiny")
    assert dataset.relevance == "document" and set(dataset.documents) == {"d1.txt", "d2.txt", "d3.txt"}
    assert [(q.id, q.gold_sources) for q in dataset.questions] == [("q1", ("d1.txt",)), ("q2", ("d2.txt",))]


def test_gold_jsonl_loader_and_its_errors(tmp_path):
    dataset = load_dataset(DATA / "seed_questions.jsonl")
    assert dataset.documents is None
    kinds = [q.kind for q in dataset.questions]
    assert kinds.count("answerable") >= 20 and kinds.count("unanswerable") >= 5
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "question": "q?", "answerable": true}\n')
    with pytest.raises(DatasetError, match="line 1: an answerable question needs its evidence"):
        load_dataset(bad)
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "missing.json")


@pytest.mark.parametrize("dataset", ["squad-v1.1-excerpt.json", "squad-v2.0-excerpt.json", "beir-tiny"])
def test_eval_writes_a_report(tmp_path, embedder, capsys, monkeypatch, dataset):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    report_dir = tmp_path / "report"
    argv = ["eval", str(DATA / dataset), "--report", str(report_dir), "--cache", str(tmp_path / "cache"),
            "--chunk-tokens", "60", "120", "--overlap-tokens", "10", "--modes", "dense", "hybrid"]
    assert main(argv, embedder=embedder) == 0
    out = capsys.readouterr().out
    assert "| dense, chunks 60/10 |" in out and "| hybrid 0.5, chunks 120/10 |" in out
    report = json.loads((report_dir / "report.json").read_text())
    assert [c["name"] for c in report["configs"]] == [
        "dense, chunks 60/10", "hybrid 0.5, chunks 60/10", "dense, chunks 120/10", "hybrid 0.5, chunks 120/10"]
    for config in report["configs"]:
        assert 0 <= config["retrieval"]["hit@1"] <= config["retrieval"]["hit@10"] <= 1
        assert config["latency_ms"]["p50"] <= config["latency_ms"]["p95"]
        if dataset.startswith("squad"):  # each answerable question says whether its answer holds a gold one
            answered = [q["answer_has_gold"] for q in config["per_question"] if q["kind"] == "answerable"]
            assert sum(answered) / len(answered) == pytest.approx(config["answers"]["answer_contains_gold"])
    if dataset.startswith("squad-v2"):
        assert report["configs"][0]["declines"]["impossible"]["questions"] == 8
    assert (report_dir / "report.md").read_text().startswith("# docqa eval")
    assert (report_dir / "hit_at_k.png").read_bytes()[:4] == b"\x89PNG"
    # The second run reuses the cached indexes.
    assert main(argv, embedder=embedder) == 0


def test_the_eval_cache_keeps_what_was_used_lately(tmp_path, embedder, monkeypatch):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    cache = tmp_path / "cache"
    long_ago = time.time() - (CACHE_DAYS + 1) * 86400
    old, recent, unmarked_old = cache / "eval" / "0123456789abcdef", cache / "eval" / "corpus-0123456789ab", \
        cache / "eval" / "fedcba9876543210"
    foreign = cache / "eval" / "my-notes"  # not an entry of docqa's, however old
    for entry in (old, recent, unmarked_old, foreign):
        (entry / "index-250-30").mkdir(parents=True)
        (entry / "index-250-30" / "vectors.faiss").write_bytes(b"x")
    (old / ".last-used").touch()
    (recent / ".last-used").touch()
    os.utime(old / ".last-used", (long_ago, long_ago))
    os.utime(unmarked_old, (long_ago, long_ago))
    os.utime(foreign, (long_ago, long_ago))

    argv = ["eval", str(DATA / "squad-v1.1-excerpt.json"), "--report", str(tmp_path / "report"), "--cache", str(cache),
            "--modes", "dense", "--retrieval-only"]
    assert main(argv, embedder=embedder) == 0
    kept = sorted(p.name for p in (cache / "eval").iterdir())
    assert old.name not in kept and unmarked_old.name not in kept and recent.name in kept and foreign.name in kept
    assert len(kept) == 3  # and the one this run used, marked as used now
    used = next(p for p in (cache / "eval").iterdir() if p.name not in (recent.name, foreign.name))
    assert time.time() - (used / ".last-used").stat().st_mtime < 600
    assert prune_cache(cache / "eval") == [] and prune_cache(tmp_path / "no-cache") == []


def test_eval_rejects_chunks_past_the_window(tmp_path, embedder, capsys):
    code = main(["eval", str(DATA / "beir-tiny"), "--chunk-tokens", "300", "--cache", str(tmp_path)], embedder=embedder)
    assert code == 1 and "use --chunk-tokens up to 254" in capsys.readouterr().err


# Malformed datasets: each is stopped with a message naming the place and the fix.

GOOD_LINE = {"id": "q1", "question": "Who hosted the first meeting?", "answers": ["the German Foreign Office"],
             "evidence": "The first meeting was hosted by the German Foreign Office.", "answerable": True}


def _gold_file(tmp_path, *entries, name="gold.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries), encoding="utf-8")
    return path


@pytest.mark.parametrize("answers, message", [
    ("Zzyzx Corporation", r'"answers" is "Zzyzx Corporation"; it must be a list of non-empty strings, '
                          r'like \["Zzyzx Corporation"\]'),
    ([""], r'"answers" is \[""\]; it must be a list of non-empty strings'),
    (["Microsoft", 2010], r'"answers" is \["Microsoft", 2010\]; it must be a list of non-empty strings'),
    ({"text": "Microsoft"}, r'"answers" is \{"text": "Microsoft"\}; it must be a list'),
])
def test_gold_answers_must_be_a_list_of_strings(tmp_path, answers, message):
    # A string was split into characters, and every passage held a "gold answer": hit@1 of 1.0.
    path = _gold_file(tmp_path, GOOD_LINE, {**GOOD_LINE, "id": "q2", "answers": answers})
    with pytest.raises(DatasetError, match=rf"gold.jsonl, line 2: {message}"):
        load_dataset(path)


def test_eval_stops_on_string_answers_with_the_line(tmp_path, embedder, capsys):
    path = _gold_file(tmp_path, {**GOOD_LINE, "answers": "Zzyzx Corporation"})
    code = main(["eval", str(path), "--report", str(tmp_path / "report"), "--cache", str(tmp_path / "cache")],
                embedder=embedder)
    err = capsys.readouterr().err
    assert code == 1 and "line 1" in err and '["Zzyzx Corporation"]' in err
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("change, message", [
    ({"answerable": "false"}, r'"answerable" is "false"; it must be true or false \(JSON booleans'),
    ({"answerable": 0}, r'"answerable" is 0; it must be true or false'),
    ({"id": ["q1"]}, r'"id" is \["q1"\]; it must be a non-empty string'),
    ({"id": True}, r'"id" is true'),
    ({"question": 42}, r'"question" is 42; it must be the question as a non-empty string'),
    ({"question": "  "}, r'"question" is "  "'),
    ({"evidence": ["The first meeting was hosted by the German Foreign Office."]}, r'"evidence" is \["The first'),
    ({"evidence": ""}, r"an answerable question needs its evidence text; add \"evidence\""),
])
def test_gold_fields_of_the_wrong_type_are_rejected(tmp_path, change, message):
    entry = {key: value for key, value in {**GOOD_LINE, **change}.items()}
    path = _gold_file(tmp_path, GOOD_LINE, {**entry, "id": entry["id"] if "id" in change else "q2"})
    with pytest.raises(DatasetError, match=rf"line 2: {message}"):
        load_dataset(path)


def test_gold_lines_missing_a_question_or_sharing_an_id_are_rejected(tmp_path):
    no_question = {key: value for key, value in GOOD_LINE.items() if key != "question"}
    with pytest.raises(DatasetError, match=r'line 1: "question" is missing'):
        load_dataset(_gold_file(tmp_path, no_question))
    with pytest.raises(DatasetError, match=r'line 2: id "q1" is already used on line 1'):
        load_dataset(_gold_file(tmp_path, GOOD_LINE, GOOD_LINE))
    with pytest.raises(DatasetError, match=r"line 1: not JSON"):
        (tmp_path / "broken.jsonl").write_text('{"id": "q1",\n')
        load_dataset(tmp_path / "broken.jsonl")
    unanswerable = {"id": 7, "question": "Who won?", "answers": None, "evidence": None, "answerable": False}
    question = load_dataset(_gold_file(tmp_path, unanswerable)).questions[0]
    assert (question.id, question.answers, question.kind) == ("7", (), "unanswerable")


def test_datasets_that_are_not_utf8_are_named(tmp_path):
    latin1 = json.dumps({**GOOD_LINE, "question": "Qui a organisé la réunion ?"}, ensure_ascii=False).encode("latin-1")
    gold = tmp_path / "gold.jsonl"
    gold.write_bytes(json.dumps(GOOD_LINE).encode() + b"\n" + latin1 + b"\n")
    offset = gold.read_bytes().index(b"\xe9")
    with pytest.raises(DatasetError, match=rf"gold.jsonl, line 2: not UTF-8 text \(byte 0xe9 at offset {offset}\); "
                                           r"save the file as UTF-8"):
        load_dataset(gold)
    squad = tmp_path / "squad.json"
    squad.write_bytes((DATA / "squad-v1.1-excerpt.json").read_bytes().replace(b"Super Bowl", "Süper Bowl".encode("latin-1")))
    with pytest.raises(DatasetError, match=r"squad.json, line \d+: not UTF-8 text"):
        load_dataset(squad)
    beir = tmp_path / "beir"
    shutil.copytree(DATA / "beir-tiny", beir)
    corpus = beir / "corpus.jsonl"
    corpus.write_bytes(corpus.read_bytes().replace(b"Cybercrime", "Cybercrimé".encode("latin-1")))
    with pytest.raises(DatasetError, match=r"corpus.jsonl, line 3: not UTF-8 text"):
        load_dataset(beir)
    # A byte-order mark (Notepad's UTF-8) is no error.
    gold.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD_LINE).encode() + b"\n")
    assert load_dataset(gold).questions[0].id == "q1"


SQUAD_QUESTION = {"id": "a1", "question": "Who?", "answers": [{"text": "Denver", "answer_start": 0}]}


@pytest.mark.parametrize("data, message", [
    ([{"title": "x"}], r'article 1 \("x"\) has no "paragraphs"'),
    ([{"title": "x", "paragraphs": [{"context": "Denver won."}]}], r'article 1 \("x"\), paragraph 1 has no "qas"'),
    ([{"paragraphs": [{"qas": [SQUAD_QUESTION]}]}], r'article 1, paragraph 1 has no "context"'),
    ([{"title": "x", "paragraphs": [{"context": "Denver won.", "qas": [{"id": "a1", "answers": []}]}]}],
     r'article 1 \("x"\), paragraph 1, question "a1" has no "question"'),
    ([{"title": "x", "paragraphs": [{"context": "Denver won.", "qas": [{"id": "a1", "question": "Who?"}]}]}],
     r'question "a1" has no "answers"'),
    ([{"title": "x", "paragraphs": [{"context": "Denver won.", "qas": [{**SQUAD_QUESTION, "answers": [{"answer_start": 0}]}]}]}],
     r'question "a1", answer 1 has no "text"'),
    ([{"title": "x", "paragraphs": [{"context": "Denver won.", "qas": [{"question": "Who?", "answers": []}]}]}],
     r'paragraph 1, question 1 has no "id"'),
    ([{"title": "x", "paragraphs": [{"context": "Denver won.", "qas": [{**SQUAD_QUESTION, "is_impossible": "false"}]}]}],
     r'"is_impossible": "false"; it must be true or false'),
    (["x"], r'article 1 is "x", not a JSON object'),
])
def test_squad_files_missing_a_field_say_which(tmp_path, data, message):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"data": data}))
    with pytest.raises(DatasetError, match=rf"squad.json: (article 1.*)?{message}") as error:
        load_dataset(path)
    assert "is_impossible" in message or "the file does not follow SQuAD's format" in str(error.value)


def test_datasets_without_questions_are_rejected(tmp_path, embedder, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    code = main(["eval", str(empty), "--report", str(tmp_path / "report"), "--cache", str(tmp_path / "cache")],
                embedder=embedder)
    assert code == 1 and "empty.jsonl: holds no questions" in capsys.readouterr().err
    squad = tmp_path / "squad.json"
    for data in ([], [{"title": "x", "paragraphs": [{"context": "Denver won.", "qas": []}]}]):
        squad.write_text(json.dumps({"data": data}))
        with pytest.raises(DatasetError, match="squad.json: .*no (articles|questions)"):
            load_dataset(squad)
    beir = tmp_path / "beir"
    shutil.copytree(DATA / "beir-tiny", beir)
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td9\t1\n")
    with pytest.raises(DatasetError, match="beir: holds no questions"):
        load_dataset(beir)


@pytest.mark.parametrize("flags, message", [
    (["--overlap-tokens", "-5"], "--overlap-tokens -5 is negative: use 0 (no overlap) up to one less than --chunk-tokens"),
    (["--chunk-tokens", "100", "--overlap-tokens", "100"], "use an overlap from 0 to 99"),
    (["--chunk-tokens", "5"], "--chunk-tokens 5 is too small: use 8 or more"),
])
def test_eval_rejects_chunking_it_cannot_use(tmp_path, embedder, capsys, flags, message):
    code = main(["eval", str(DATA / "beir-tiny"), "--cache", str(tmp_path / "cache"), "--report", str(tmp_path / "r"),
                 *flags], embedder=embedder)
    assert code == 1 and message in capsys.readouterr().err


class SlowToLoadEmbedder(HashingEmbedder):
    """Takes a second over its first question, as the real model does while it loads."""

    def __init__(self):
        super().__init__()
        self.loaded = False

    def embed(self, texts, *, progress: bool = False):
        if not self.loaded:
            time.sleep(1.0)
            self.loaded = True
        return super().embed(texts)

    def embed_passages(self, texts, sentence_spans, *, progress: bool = False):
        vectors = self._vectors(texts)  # the index was built earlier: no load here
        return vectors, [self._vectors([text[a:b] for a, b in spans]) for text, spans in zip(texts, sentence_spans)]


@pytest.mark.parametrize("retrieval_only", [False, True])
def test_eval_latency_leaves_out_the_model_load(tmp_path, small_corpus, monkeypatch, retrieval_only):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    questions = [
        GOOD_LINE,
        {"id": "q2", "question": "Which company did the second meeting collaborate with?", "answers": ["Microsoft"],
         "evidence": "The second meeting was held in collaboration with Microsoft.", "answerable": True},
        {"id": "q3", "question": "When was the first film released?", "answers": ["2011"],
         "evidence": "It released the first film in 2011.", "answerable": True},
    ]
    report_dir = tmp_path / "report"
    argv = ["eval", str(_gold_file(tmp_path, *questions)), "--corpus", str(small_corpus), "--report", str(report_dir),
            "--cache", str(tmp_path / "cache"), "--modes", "dense", *(["--retrieval-only"] if retrieval_only else [])]
    assert main(argv, embedder=SlowToLoadEmbedder()) == 0
    config = json.loads((report_dir / "report.json").read_text())["configs"][0]
    assert config["latency_ms"]["p95"] < 500  # not the second the first embedding took
    assert config["retrieval"]["questions"] == 3
