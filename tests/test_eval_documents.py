"""docqa eval where the labels judge documents (BEIR): scored per document, as the field scores it.

docqa ranks passages; BEIR's qrels judge documents. A document ranks as its best passage
(MaxP), graded relevance goes through to nDCG, and the figures are pytrec_eval's on that
document run.
"""

import json
import math
import shutil

import pytest
import pytrec_eval

from docqa.cli import build_parser, main
from docqa.chunking import ChunkingParams
from docqa.datasets import DatasetError, load_dataset
from docqa.evaluate import ranked_run, retrieval_metrics
from docqa.pipeline import Pipeline
from docqa.retrieve import RetrievalSettings
from docqa.types import Chunk, Hit

from conftest import ROOT

DATA = ROOT / "tests" / "data"


def hits(*chunk_ids: str) -> list[Hit]:
    """A passage ranking, best first; a chunk id "a2" is the second passage of document "a.txt"."""
    return [Hit(Chunk(f"{c[0]}.txt#{c[1:]}", f"{c[0]}.txt", 0, 10, f"text of {c}", 3), 1.0 / rank, rank)
            for rank, c in enumerate(chunk_ids, start=1)]


# q1: document a (graded 2) has three passages, two of them in the ranking; b (graded 1) one;
# e (graded 1) is never retrieved. q2: its only relevant document is never retrieved.
QRELS = {"q1": {"a.txt": 2, "b.txt": 1, "e.txt": 1}, "q2": {"e.txt": 1}}
RANKINGS = {"q1": hits("a2", "c1", "a1", "b1", "d1", "a3"), "q2": hits("c1", "a1", "d1")}


def test_a_document_ranks_as_its_best_passage():
    assert ranked_run(RANKINGS["q1"], "document", 100) == {"a.txt": 4.0, "c.txt": 3.0, "b.txt": 2.0, "d.txt": 1.0}
    assert list(ranked_run(RANKINGS["q1"], "span", 100)) == ["a.txt#2", "c.txt#1", "a.txt#1", "b.txt#1", "d.txt#1", "a.txt#3"]
    assert list(ranked_run(RANKINGS["q1"], "document", 2)) == ["a.txt", "c.txt"]


def test_document_scores_match_hand_computed_values():
    run = {q: ranked_run(RANKINGS[q], "document", 100) for q in QRELS}
    metrics = retrieval_metrics(QRELS, run, ["q1", "q2"], cutoffs=(1, 3, 10, 100))
    # q1's documents: a (gain 2) at 1, c, b (gain 1) at 3, d. Ideal: a, b, e.
    dcg = 2 / math.log2(2) + 1 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics["ndcg@10"] == pytest.approx(dcg / ideal / 2)
    assert metrics["recall@1"] == pytest.approx(1 / 3 / 2)
    assert metrics["recall@3"] == metrics["recall@100"] == pytest.approx(2 / 3 / 2)
    assert metrics["map@10"] == pytest.approx((1 + 2 / 3) / 3 / 2)
    assert metrics["mrr@10"] == pytest.approx(1 / 2)
    assert metrics["hit@1"] == pytest.approx(1 / 2)


def test_document_scores_equal_pytrec_evals_on_the_document_run_written_by_hand():
    by_hand = {"q1": {"a.txt": 4.0, "c.txt": 3.0, "b.txt": 2.0, "d.txt": 1.0},
               "q2": {"c.txt": 3.0, "a.txt": 2.0, "d.txt": 1.0}}
    assert {q: ranked_run(RANKINGS[q], "document", 100) for q in QRELS} == by_hand
    expected = pytrec_eval.RelevanceEvaluator(QRELS, {"ndcg_cut.10", "recall.10,100", "map_cut.10"}).evaluate(by_hand)
    metrics = retrieval_metrics(QRELS, by_hand, ["q1", "q2"], cutoffs=(10, 100))
    for ours, theirs in [("ndcg@10", "ndcg_cut_10"), ("recall@10", "recall_10"), ("recall@100", "recall_100"),
                         ("map@10", "map_cut_10")]:
        assert metrics[ours] == pytest.approx(sum(q[theirs] for q in expected.values()) / 2)


def test_a_perfect_ranking_scores_one_though_its_document_has_many_passages():
    """The under-scoring of docqa eval before it scored documents: every passage of a relevant
    document counted as a relevant item, while the ranking held one passage per document."""
    perfect = hits("a1", "a2", "a3", "c1")
    chunk_qrels = {"q": {"a.txt#1": 1, "a.txt#2": 1, "a.txt#3": 1}}
    one_passage_each = {"q": {"a.txt#1": 2.0, "c.txt#1": 1.0}}
    before = pytrec_eval.RelevanceEvaluator(chunk_qrels, {"ndcg_cut.10", "recall.10"}).evaluate(one_passage_each)["q"]
    assert before["ndcg_cut_10"] == pytest.approx(1 / (1 + 1 / math.log2(3) + 1 / math.log2(4)))
    assert before["recall_10"] == pytest.approx(1 / 3)
    now = retrieval_metrics({"q": {"a.txt": 1}}, {"q": ranked_run(perfect, "document", 100)}, ["q"], cutoffs=(10,))
    assert now["ndcg@10"] == 1.0 and now["recall@10"] == 1.0


def beir_folder(tmp_path, splits=("test",)):
    """A BEIR folder whose first document is long enough for several passages, with graded qrels."""
    folder = tmp_path / "beir"
    shutil.copytree(DATA / "beir-tiny", folder)
    long_text = " ".join(f"Sentence {n} of the long report says that the archive of meeting records grew in year {2000 + n}."
                         for n in range(40))
    with (folder / "corpus.jsonl").open("a", encoding="utf-8") as corpus:
        corpus.write(json.dumps({"_id": "d4", "title": "Archive report", "text": long_text}) + "\n")
    with (folder / "queries.jsonl").open("a", encoding="utf-8") as queries:
        queries.write(json.dumps({"_id": "q4", "text": "How did the archive of meeting records grow?"}) + "\n")
    for split in splits:
        (folder / "qrels" / f"{split}.tsv").write_text(
            "query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\nq4\td4\t2\nq4\td1\t1\n", encoding="utf-8")
    return folder


def test_eval_scores_documents_as_pytrec_eval_does_on_the_same_run(tmp_path, embedder, monkeypatch):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    folder = beir_folder(tmp_path)
    argv = ["eval", str(folder), "--cache", str(tmp_path / "cache"), "--report", str(tmp_path / "r"),
            "--chunk-tokens", "40", "--overlap-tokens", "0", "--modes", "dense", "--retrieval-only"]
    assert main(argv, embedder=embedder) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    measured = report["configs"][0]["retrieval"]
    assert report["relevance"].startswith("document") and report["split"] == "test"
    assert measured["depth"] == 100 and {"recall@10", "recall@100", "ndcg@10", "mrr@10"} <= set(measured)

    # the same searches, the document run written here: each document at its best passage's rank
    dataset = load_dataset(folder)
    index_dir = next((tmp_path / "cache" / "eval").glob("*/index-40-0"))
    pipeline = Pipeline(index_dir.parent / "corpus", index_dir, embedder=embedder, chunking=ChunkingParams(40, 0))
    assert sum(1 for c in pipeline.index.chunks if c.source == "d4.txt") > 2  # the long document: many passages
    run, qrels = {}, {}
    for question in dataset.questions:
        sources = []
        for hit in pipeline.search(question.question, pipeline.index.size, retrieval=RetrievalSettings(mode="dense")):
            if hit.chunk.source not in sources:
                sources.append(hit.chunk.source)
        run[question.id] = {source: float(len(sources) - rank) for rank, source in enumerate(sources)}
        qrels[question.id] = dict(zip(question.gold_sources, question.gold_grades))
    assert qrels["q4"] == {"d4.txt": 2, "d1.txt": 1}  # graded, as the qrels give it
    expected = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10", "map_cut.10"}).evaluate(run)
    for ours, theirs in [("ndcg@10", "ndcg_cut_10"), ("recall@10", "recall_10"), ("map@10", "map_cut_10")]:
        assert measured[ours] == pytest.approx(sum(q[theirs] for q in expected.values()) / len(expected))
    assert "Relevance judged per document" in (tmp_path / "r" / "report.md").read_text()
    assert "recall@100" in (tmp_path / "r" / "report.md").read_text()


def test_split_chooses_the_qrels_file(tmp_path):
    folder = beir_folder(tmp_path, splits=("test", "dev"))
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td3\t1\n", encoding="utf-8")
    dev = load_dataset(folder, split="dev")
    assert [(q.id, q.gold_sources) for q in dev.questions] == [("q2", ("d3.txt",))] and dev.split == "dev"
    assert dev.fingerprint == load_dataset(folder).fingerprint  # one corpus, one index, whatever the split
    with pytest.raises(DatasetError, match=r"no qrels/train.tsv; this dataset's splits are dev, test: pass --split dev"):
        load_dataset(folder, split="train")
    with pytest.raises(DatasetError, match="--split applies to BEIR folders only"):
        load_dataset(DATA / "squad-v1.1-excerpt.json", split="dev")


def test_qrels_scores_must_be_whole_numbers(tmp_path):
    folder = beir_folder(tmp_path)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t0.5\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"test.tsv, line 2: expected query-id, corpus-id and a whole-number score"):
        load_dataset(folder)


def test_options_may_follow_the_dataset(tmp_path, embedder, monkeypatch, capsys):
    """``docqa eval DIR -v --k-values 1 5``: -v after the command, as people type it."""
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    argv = ["eval", str(DATA / "beir-tiny"), "-v", "--cache", str(tmp_path / "cache"), "--report", str(tmp_path / "r"),
            "--retrieval-only", "--k-values", "1", "5"]
    assert main(argv, embedder=embedder) == 0
    out, err = capsys.readouterr()
    assert "| hit@1 | hit@5 | MRR@10 | nDCG@10 | recall@10 | MAP@10 |" not in out  # the k asked for, no others
    assert "| config | hit@1 | hit@5 | MRR@10 | nDCG@10 | MAP@10 |" in out
    assert build_parser().parse_args(["eval", "x", "-v"]).verbose  # -v took effect where it was typed
    assert build_parser().parse_args(["-v", "eval", "x"]).verbose and not build_parser().parse_args(["eval", "x"]).verbose
    measured = json.loads((tmp_path / "r" / "report.json").read_text())["configs"][0]["retrieval"]
    assert {"recall@1", "recall@5"} <= set(measured) and "recall@100" not in measured
