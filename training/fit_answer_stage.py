"""Fit the two small models that put the reader to work, on the calibration articles.

    python training/fit_answer_stage.py --reader src/docqa/models/reader.safetensors [--write]

The reader (training/train_reader.py) never saw the calibration articles (``CALIBRATION``
there). They are indexed with three of the reader's training articles beside them (passages
that retrieval may bring), and two more of those are left out, so that their questions are
out-of-corpus. Every question is answered as docqa answers it (hybrid retrieval, top 5
passages, ``score_candidates`` with the reader), and:

1. the reader combiner, a logistic regression over (reader logit, ranker logit), is fitted on
   the candidates the reader read, for the answerable questions (label: holds a gold answer);
2. the reader decline model, a logistic regression over (best reader logit, best combined
   logit, feature answerability logit), on every question (label: answerable); its threshold
   is the highest that declines at most ``MAX_FALSE_DECLINES`` of SQuAD's answerable questions
   and at most ``MAX_OWN_WORDS_FALSE_DECLINES`` of those asked in people's own words.

With ``--write`` both go to src/docqa/models/ (reader_combiner.json, reader_answerability.json);
the figures on the calibration articles go to benchmarks/results/answer_stage_fit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "training"))

from docqa.answer import AnswerPolicy, reader_question_row, reader_sentence_rows, score_candidates  # noqa: E402
from docqa.datasets import load_squad  # noqa: E402
from docqa.embedding import MiniLMEmbedder  # noqa: E402
from docqa.evaluate import prepare_corpus  # noqa: E402
from docqa.features import LinearModel  # noqa: E402
from docqa.pipeline import Pipeline  # noqa: E402
from docqa.reader import READER_QUESTION_FEATURES, READER_SENTENCE_FEATURES, Reader  # noqa: E402
from docqa.retrieve import retrieve  # noqa: E402
from paraphrased import read_questions, with_paraphrased_questions  # noqa: E402
from train_answer_models import fit, normal  # noqa: E402
from train_reader import SHARED, articles_by_half, auc, own_words_questions  # noqa: E402

MODELS = ROOT / "src" / "docqa" / "models"
RESULTS = ROOT / "benchmarks" / "results"
DISTRACTORS, OUT_OF_CORPUS = 3, 2
MAX_FALSE_DECLINES = 0.04
# and at most this share of the questions asked in people's own words (paraphrased and own-words)
MAX_OWN_WORDS_FALSE_DECLINES = 0.06
MAX_OUT_OF_CORPUS = 300


def calibration_set(v1: dict, v2: dict, calibration: list[str], others: list[str]) -> dict:
    """A SQuAD v2.0 file: the calibration articles with v2.0's unanswerable questions and the
    paraphrased ones added, then distractor articles, then the out-of-corpus ones (last)."""
    impossible: dict[str, list] = {}
    for article in v2["data"]:
        for paragraph in article["paragraphs"]:
            impossible.setdefault(paragraph["context"], []).extend(q for q in paragraph["qas"] if q.get("is_impossible"))
    by_title = {a["title"]: a for a in v1["data"]}
    articles = []
    for title in calibration:
        article = by_title[title]
        articles.append({"title": title, "paragraphs": [
            {"context": p["context"], "qas": list(p["qas"]) + impossible.get(p["context"], [])}
            for p in article["paragraphs"]]})
    articles = with_paraphrased_questions(articles, read_questions() + own_words_questions(), keep_original=True)
    for title in others[: DISTRACTORS + OUT_OF_CORPUS]:
        articles.append(by_title[title] if title in others[DISTRACTORS:] else
                        {"title": title, "paragraphs": [{"context": p["context"], "qas": []} for p in by_title[title]["paragraphs"]]})
    return {"version": "v2.0", "data": articles}


def highest_threshold(answerable: np.ndarray, share: float) -> float:
    """The highest threshold that declines at most ``share`` of questions with these
    probabilities of being answerable (all answerable)."""
    return float(np.sort(answerable)[int(share * len(answerable))])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader", type=Path, required=True, help="the reader's weights (safetensors)")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("DOCQA_CACHE", Path.home() / ".cache" / "docqa"))
                        / "fit-answer-stage")
    parser.add_argument("--write", action="store_true", help="write the two models to src/docqa/models/")
    parser.add_argument("--limit", type=int, default=None, help="at most N questions of each kind (a quick check)")
    args = parser.parse_args()
    v1 = json.loads((SHARED / "squad-v1.1-dev-part1.json").read_text())
    v2 = json.loads((SHARED / "squad-v2.0-dev-part1.json").read_text())
    train_titles, calibration_titles, _ = articles_by_half(v1)
    args.cache.mkdir(parents=True, exist_ok=True)
    subset = args.cache / "calibration.json"
    subset.write_text(json.dumps(calibration_set(v1, v2, calibration_titles, train_titles)))
    dataset = load_squad(subset, holdout_articles=OUT_OF_CORPUS)
    embedder = MiniLMEmbedder()
    corpus = prepare_corpus(dataset, args.cache)
    pipeline = Pipeline(corpus, corpus.parent / "index", embedder=embedder, reader=None)
    pipeline.ensure_index()
    reader = Reader(args.reader)
    questions = [q for q in dataset.questions if q.kind != "out_of_corpus"]
    outside = [q for q in dataset.questions if q.kind == "out_of_corpus"]
    random.Random(0).shuffle(outside)
    questions += outside[:MAX_OUT_OF_CORPUS]
    if args.limit:
        random.Random(1).shuffle(questions)
        questions = [q for kind in ("answerable", "impossible", "out_of_corpus")
                     for q in [q for q in questions if q.kind == kind][: args.limit]]

    policy = AnswerPolicy()
    index, stats = pipeline.index, pipeline.term_stats
    vectors = embedder.embed([q.question for q in questions])
    all_hits = retrieve(index, [q.question for q in questions], vectors, 5, pipeline.retrieval)
    gathered = []
    for question, vector, hits in zip(questions, vectors, all_hits):
        candidates = pipeline.sentence_candidates(vector, hits)
        scores = score_candidates(question.question, hits, candidates, index.documents, stats, policy, reader.logits)
        labels = np.array([any(normal(a) in normal(c.text) for a in question.answers) for c in candidates], dtype=bool)
        gathered.append((question, scores, labels))

    answerable = [(q, s, y) for q, s, y in gathered if q.kind == "answerable" and s.reader_logits is not None]
    # how deep in the ranker's order the first sentence holding the answer lies: what reading
    # fewer candidates would cost
    depths = [int(np.flatnonzero(y[np.argsort(-s.ranker, kind="stable")])[0]) + 1 if y.any() else None
              for _, s, y in answerable]
    sentence_rows = np.vstack([reader_sentence_rows(s)[s.read] for _, s, _ in answerable])
    sentence_labels = np.concatenate([y[s.read] for _, s, y in answerable])
    combiner = fit(sentence_rows, sentence_labels, READER_SENTENCE_FEATURES)

    rows, labels, kinds, para, right = [], [], [], [], []
    for question, scores, y in gathered:
        if scores.reader_logits is None:
            continue
        combined = combiner.probabilities(reader_sentence_rows(scores))
        rows.append(reader_question_row(scores, combined))
        labels.append(question.kind == "answerable")
        kinds.append(question.kind)
        para.append(question.id.startswith("para-"))
        right.append(bool(y[int(np.argmax(combined))]) if len(y) else False)
    rows_a, labels_a = np.array(rows), np.array(labels)
    kinds_a, para_a, right_a = np.array(kinds), np.array(para), np.array(right)
    decline = fit(rows_a, labels_a.astype(int), READER_QUESTION_FEATURES)
    p = decline.probabilities(rows_a)
    squad_answerable = labels_a & ~para_a
    own_words_answerable = labels_a & para_a
    threshold = min(highest_threshold(p[squad_answerable], MAX_FALSE_DECLINES),
                    highest_threshold(p[own_words_answerable], MAX_OWN_WORDS_FALSE_DECLINES))
    decline = LinearModel(decline.features, decline.weights, decline.bias, decline.mean, decline.scale, round(threshold, 4))
    declined = p < decline.threshold

    def share(mask):
        return round(float(mask.mean()), 4) if mask.size else None

    report = {
        "command": "python training/fit_answer_stage.py " + " ".join(sys.argv[1:]),
        "articles": calibration_titles,
        "questions": {kind: int((kinds_a == kind).sum()) for kind in sorted(set(kinds))},
        "combiner_weights": dict(zip(READER_SENTENCE_FEATURES, combiner.weights)),
        "decline_weights": dict(zip(READER_QUESTION_FEATURES, decline.weights)),
        "threshold": decline.threshold,
        "gold_within_ranker_top": {str(k): share(np.array([d is not None and d <= k for d in depths]))
                                   for k in (1, 2, 4, 6, 8, 12, 20)},
        "calibration_articles": {
            "squad_best_sentence_holds_gold": share(right_a[squad_answerable]),
            "squad_answer_holds_gold": share((right_a & ~declined)[squad_answerable]),
            "squad_false_declines": share(declined[squad_answerable]),
            "impossible_declined": share(declined[(kinds_a == "impossible") & ~para_a]),
            "out_of_corpus_declined": share(declined[kinds_a == "out_of_corpus"]),
            "own_words_answer_holds_gold": share((right_a & ~declined)[labels_a & para_a]),
            "own_words_false_declines": share(declined[labels_a & para_a]),
            "own_words_unanswerable_declined": share(declined[(kinds_a == "impossible") & para_a]),
            "answerable_auc": round(auc(p, labels_a), 4),
        },
    }
    if args.write:
        (MODELS / "reader_combiner.json").write_text(json.dumps(combiner.to_dict(), indent=2) + "\n")
        (MODELS / "reader_answerability.json").write_text(json.dumps(decline.to_dict(), indent=2) + "\n")
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "answer_stage_fit.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
