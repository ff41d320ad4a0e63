"""Check a file of questions written in people's own words before it is used for training.

    python training/check_questions.py training/data/own_words/*.jsonl

Each line: {"article", "paragraph", "question", "answers", "answerable", "evidence"}, as in
benchmarks/data/paraphrased_questions.jsonl. Checked against ../shared/data/squad-v1.1-dev-part1.json:
the article is one of the training half (even positions), the paragraph exists, every answer and
the evidence sentence are verbatim in the paragraph, the evidence holds an answer, an unanswerable
question has no answers and no evidence, no question is repeated, and none copies a run of
``COPIED_WORDS`` words from its paragraph (the point is the reader's own words).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT.parent / "shared" / "data" / "squad-v1.1-dev-part1.json"
COPIED_WORDS = 5


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def problems(path: Path, articles: dict[str, list[str]], seen: set[str]) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path}:{number}"
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as error:
            found.append(f"{where}: not JSON ({error})")
            continue
        missing = {"article", "paragraph", "question", "answers", "answerable", "evidence"} - set(q)
        if missing:
            found.append(f"{where}: missing {sorted(missing)}")
            continue
        if q["article"] not in articles:
            found.append(f"{where}: {q['article']!r} is not a training article ({', '.join(sorted(articles))})")
            continue
        paragraphs = articles[q["article"]]
        if not isinstance(q["paragraph"], int) or not 0 <= q["paragraph"] < len(paragraphs):
            found.append(f"{where}: paragraph {q['paragraph']!r} is not 0..{len(paragraphs) - 1}")
            continue
        context = paragraphs[q["paragraph"]]
        key = " ".join(words(q["question"]))
        if key in seen:
            found.append(f"{where}: repeated question {q['question']!r}")
        seen.add(key)
        if q["answerable"]:
            if not q["answers"]:
                found.append(f"{where}: answerable but no answers")
            for answer in q["answers"]:
                if answer not in context:
                    found.append(f"{where}: answer {answer!r} is not verbatim in paragraph {q['paragraph']}")
            if not q["evidence"] or q["evidence"] not in context:
                found.append(f"{where}: evidence is not verbatim in paragraph {q['paragraph']}")
            elif not any(answer in q["evidence"] for answer in q["answers"]):
                found.append(f"{where}: the evidence holds none of the answers")
        elif q["answers"] or q["evidence"] is not None:
            found.append(f"{where}: unanswerable questions have answers [] and evidence null")
        question_words, context_words = words(q["question"]), words(context)
        runs = {tuple(context_words[i : i + COPIED_WORDS]) for i in range(len(context_words) - COPIED_WORDS + 1)}
        for i in range(len(question_words) - COPIED_WORDS + 1):
            if tuple(question_words[i : i + COPIED_WORDS]) in runs:
                found.append(f"{where}: copies {' '.join(question_words[i : i + COPIED_WORDS])!r} from its paragraph")
                break
    return found


def main(paths: list[str]) -> int:
    if not SQUAD.exists():
        print(f"{SQUAD} not found; the shared SQuAD data lives in ../shared/data beside the project")
        return 1
    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    articles = {a["title"]: [p["context"] for p in a["paragraphs"]] for i, a in enumerate(data) if i % 2 == 0}
    seen: set[str] = set()
    found = [p for path in paths for p in problems(Path(path), articles, seen)]
    print("\n".join(found) if found else f"ok: {len(seen)} questions")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
