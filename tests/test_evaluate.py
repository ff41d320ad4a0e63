"""Metrics against hand-computed values, the dataset loaders, and docqa eval end to end."""

import json
import os
import time

import pytest

from docqa.cli import main
from docqa.datasets import DatasetError, load_dataset
from docqa.evaluate import CACHE_DAYS, prune_cache, retrieval_metrics

from conftest import ROOT

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
    old, recent, unmarked_old = cache / "eval" / "old", cache / "eval" / "recent", cache / "eval" / "before-stamps"
    for entry in (old, recent, unmarked_old):
        (entry / "index-250-30").mkdir(parents=True)
        (entry / "index-250-30" / "vectors.faiss").write_bytes(b"x")
    (old / ".last-used").touch()
    (recent / ".last-used").touch()
    os.utime(old / ".last-used", (long_ago, long_ago))
    os.utime(unmarked_old, (long_ago, long_ago))

    argv = ["eval", str(DATA / "squad-v1.1-excerpt.json"), "--report", str(tmp_path / "report"), "--cache", str(cache),
            "--modes", "dense", "--retrieval-only"]
    assert main(argv, embedder=embedder) == 0
    kept = sorted(p.name for p in (cache / "eval").iterdir())
    assert "old" not in kept and "before-stamps" not in kept and "recent" in kept
    assert len(kept) == 2  # and the one this run used, marked as used now
    used = next(p for p in (cache / "eval").iterdir() if p.name != "recent")
    assert time.time() - (used / ".last-used").stat().st_mtime < 600
    assert prune_cache(cache / "eval") == [] and prune_cache(tmp_path / "no-cache") == []


def test_eval_rejects_chunks_past_the_window(tmp_path, embedder, capsys):
    code = main(["eval", str(DATA / "beir-tiny"), "--chunk-tokens", "300", "--cache", str(tmp_path)], embedder=embedder)
    assert code == 1 and "use --chunk-tokens up to 254" in capsys.readouterr().err
