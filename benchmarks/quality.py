"""Measure docqa's retrieval and answers on the shared SQuAD development files.

Runs `docqa eval` on SQuAD v1.1 (4 articles held out, so their questions are out-of-corpus
and should be declined) and on the SQuAD v2.0 sample (with its unanswerable questions), and
writes each report (report.json, report.md, hit_at_k.png) under benchmarks/results/.

    python benchmarks/quality.py [--limit N] [extra docqa eval options, e.g. --chunk-tokens 120 200]

The shared data lives beside the project in ../shared/data/ (not in the repository).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"

RUNS = [
    ("squad-v1.1", DATA / "squad-v1.1-dev-part1.json", ["--holdout-articles", "4"]),
    ("squad-v2.0", DATA / "squad-v2.0-dev-sample.json", []),
]


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from docqa.cli import main as docqa

    missing = [str(path) for _, path, _ in RUNS if not path.exists()]
    if missing:
        print(f"shared data not found ({', '.join(missing)}); it lives in ../shared/data beside the project")
        return 1
    os.environ.setdefault("DOCQA_NO_PROGRESS", "1")
    for name, path, options in RUNS:
        print(f"\n## {name}\n")
        sys.argv = ["docqa", "eval", str(path), "--report", str(RESULTS / name), *options, *argv]
        code = docqa(sys.argv[1:])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
