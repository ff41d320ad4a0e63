"""Paraphrased questions on SQuAD articles, as a SQuAD v2.0 file that `docqa eval` reads.

    python benchmarks/paraphrased.py [--half train|test|all] [--out FILE]
    docqa eval FILE --report benchmarks/results/paraphrased-test

SQuAD's questions were written by people looking at the paragraph, so they reuse its words;
people asking docqa have read the page once and ask in their own words. The questions in
benchmarks/data/paraphrased_questions.jsonl were written for docqa in that way, on 12 articles
of ../shared/data/squad-v1.1-dev-part1.json: per article, 12 paragraphs with 3 answerable
questions each (answers verbatim from the paragraph) and 2 that the article does not answer
(a detail it never gives). The articles at even positions of the file are the training half
of benchmarks/train_answer_models.py, the odd ones its held-out half.

The file written has those articles whole, each question at its paragraph; the unanswerable
ones are marked ``is_impossible`` (docqa eval reports the share it declines).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "benchmarks" / "data" / "paraphrased_questions.jsonl"
SQUAD = ROOT.parent / "shared" / "data" / "squad-v1.1-dev-part1.json"


def read_questions(path: Path = QUESTIONS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def half_titles(squad: dict, half: str) -> set[str]:
    """The titles of the articles in ``half``: train (even positions), test (odd) or all."""
    return {a["title"] for i, a in enumerate(squad["data"]) if half == "all" or i % 2 == (0 if half == "train" else 1)}


def with_paraphrased_questions(articles: list[dict], questions: list[dict], *, keep_original: bool) -> list[dict]:
    """Copies of ``articles`` whose paragraphs carry the paraphrased questions (ids ``para-N``).

    With ``keep_original`` the SQuAD questions stay beside them; without, only articles that have
    paraphrased questions are kept, and only those questions.
    """
    by_place: dict[tuple[str, int], list[dict]] = {}
    for number, question in enumerate(questions):
        qa = {"id": f"para-{number}", "question": question["question"],
              "answers": [{"text": a} for a in question["answers"]], "is_impossible": not question["answerable"]}
        by_place.setdefault((question["article"], question["paragraph"]), []).append(qa)
    titles = {q["article"] for q in questions}
    result = []
    for article in articles:
        if not keep_original and article["title"] not in titles:
            continue
        paragraphs = []
        for number, paragraph in enumerate(article["paragraphs"]):
            added = by_place.get((article["title"], number), [])
            qas = (list(paragraph["qas"]) if keep_original else []) + added
            paragraphs.append({"context": paragraph["context"], "qas": qas})
        result.append({"title": article["title"], "paragraphs": paragraphs})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("train", "test", "all"), default="test")
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--out", type=Path, default=None, help="default: paraphrased-<half>.json in the current folder")
    args = parser.parse_args()
    if not args.squad.exists():
        print(f"{args.squad} not found; the shared SQuAD data lives in ../shared/data beside the project")
        return 1
    squad = json.loads(args.squad.read_text(encoding="utf-8"))
    titles = half_titles(squad, args.half)
    questions = [q for q in read_questions() if q["article"] in titles]
    out = args.out or Path(f"paraphrased-{args.half}.json")
    data = with_paraphrased_questions(squad["data"], questions, keep_original=False)
    out.write_text(json.dumps({"version": "v2.0", "data": data}), encoding="utf-8")
    answerable = sum(q["answerable"] for q in questions)
    print(f"{out}: {len(data)} articles, {answerable} answerable and {len(questions) - answerable} unanswerable questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
