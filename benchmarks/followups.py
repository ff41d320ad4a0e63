"""Follow-up questions in the chat: are they answered better when completed with the conversation?

    python benchmarks/followups.py [--k 5] [--modes dense keyword hybrid] [--corpus corpus --index index]

Reads tests/data/followups.jsonl (pairs of a first question and a follow-up, with gold answer
strings from the document) and asks every follow-up with the real model three ways:

- bare:      retrieved by the follow-up alone ("When was it published?");
- resolved:  retrieved by docqa.ui.resolve_followup of it and the first question (what the chat does);
- appended:  retrieved by the follow-up followed by the whole first question (a naive baseline);
- resolved-both: the resolved query used as the question too, for retrieval and for choosing
  and judging sentences (what the pipeline would do if it answered the completed question).

Except in resolved-both, sentences are chosen for the follow-up as typed, as in the chat. An answer counts as
right when its text contains one of the gold strings (case and white space ignored); a
declined answer is wrong. The index is only read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DOCQA_NO_PROGRESS", "1")

from docqa.pipeline import Pipeline  # noqa: E402
from docqa.retrieve import MODES, RetrievalSettings  # noqa: E402
from docqa.ui import resolve_followup  # noqa: E402

# name -> (question to choose sentences for, query to retrieve by: None for the question itself)
STRATEGIES = {
    "bare": lambda pair: (pair["followup"], None),
    "resolved": lambda pair: (pair["followup"], resolve_followup(pair["followup"], pair["first"], known_term=KNOWN[0])),
    "appended": lambda pair: (pair["followup"], f"{pair['followup']} {pair['first']}"),
    "resolved-both": lambda pair: (resolve_followup(pair["followup"], pair["first"], known_term=KNOWN[0]), None),
}
KNOWN = [None]  # set in main(): the documents' own terms, as the app carries them over


def normalise(text: str) -> str:
    return " ".join(text.casefold().replace("’", "'").split())


def is_right(answer_text: str, golds: list[str]) -> bool:
    return any(normalise(gold) in normalise(answer_text) for gold in golds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "followups.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--k", type=int, nargs="+", default=[5])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--verbose", action="store_true", help="print every follow-up's answer")
    args = parser.parse_args(argv)

    pairs = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    pipeline = Pipeline(args.corpus, args.index)
    pipeline.ensure_index(build=False)  # read-only: a stale index is an error, not a rebuild
    KNOWN[0] = lambda term: pipeline.term_stats.document_frequency.get(term, 0) > 0
    started = time.perf_counter()
    followups = [p for p in pairs if not p.get("standalone")]
    print(f"{len(pairs)} pairs ({len(followups)} follow-ups that lean on the first question, "
          f"{len(pairs) - len(followups)} that stand alone); answer contains a gold string:\n")
    print(f"{'mode':8} {'k':>2}  " + "  ".join(f"{name:>18}" for name in STRATEGIES))
    for mode in args.modes:
        for k in args.k:
            k = min(k, pipeline.index.size)
            cells = []
            for name, query_for in STRATEGIES.items():
                right = {}
                for pair in pairs:
                    question, search_query = query_for(pair)
                    answer = pipeline.ask(question, k, retrieval=RetrievalSettings(mode=mode), search_query=search_query)
                    right[pair["id"]] = is_right(answer.text, pair["answers"])
                    if args.verbose:
                        print(f"  [{mode} k={k} {name}] {pair['id']} {'✓' if right[pair['id']] else '✗'} {answer.text[:160]}")
                all_right = sum(right.values())
                leaning = sum(right[p["id"]] for p in followups)
                cells.append(f"{all_right:>2}/{len(pairs)} ({leaning:>2}/{len(followups)})")
            print(f"{mode:8} {k:>2}  " + "  ".join(f"{cell:>18}" for cell in cells))
    print("\n(cells: all pairs, then in brackets the follow-ups that lean on the first question)")
    print(f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
