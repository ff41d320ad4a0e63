"""The held-out half of the shared SQuAD files, as files that `docqa eval` reads.

    python benchmarks/halves.py [--half test|train] [--out-dir DIR]
    docqa eval DIR/squad-v1.1-test.json --holdout-articles 2 --report benchmarks/results/squad-v1.1-test

docqa's trained models (the answer models of benchmarks/train_answer_models.py, the reader of
training/train_reader.py) learn on the articles at even positions of
../shared/data/squad-v1.1-dev-part1.json; the odd ones are held out. The v2.0 file orders its
articles differently, so its half is taken by the same titles. Written: squad-v1.1-<half>.json
and squad-v2.0-<half>.json (the v2.0 articles that are in that half).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from paraphrased import half_titles

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def half_of(squad: dict, titles: set[str]) -> dict:
    return {**squad, "data": [a for a in squad["data"] if a["title"] in titles]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("train", "test"), default="test")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the folder of the shared SQuAD files")
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    args = parser.parse_args()
    v1_file, v2_file = args.shared / "squad-v1.1-dev-part1.json", args.shared / "squad-v2.0-dev-part1.json"
    for path in (v1_file, v2_file):
        if not path.is_file():
            print(f"{path} not found; the shared SQuAD files live in ../shared/data beside the project "
                  f"(or pass --shared)", file=sys.stderr)
            return 1
    v1 = json.loads(v1_file.read_text(encoding="utf-8"))
    titles = half_titles(v1, args.half)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, squad in (("squad-v1.1", v1), ("squad-v2.0", json.loads(v2_file.read_text(encoding="utf-8")))):
        part = half_of(squad, titles)
        out = args.out_dir / f"{name}-{args.half}.json"
        out.write_text(json.dumps(part), encoding="utf-8")
        questions = sum(len(p["qas"]) for a in part["data"] for p in a["paragraphs"])
        print(f"{out}: {len(part['data'])} articles, {questions} questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
