"""Many people at once, with the real model: 20 clients of the served app while an upload is indexed.

    python benchmarks/load.py [--clients 20] [--per-client 10] [--articles 4]

1. copies the default corpus and the first ``--articles`` SQuAD articles (one .txt each) into a
   temporary folder, indexes it with the real model and serves the app on it, in this process;
2. answers every question of the pool once, alone, as the reference (the seed gold set and
   five questions per article);
3. starts ``--clients`` gradio_client clients in another process, each asking
   ``--per-client`` questions of the pool through the ``/ask`` endpoint, one after the other;
4. once they are all asking, uploads the next SQuAD article through the Documents tab's
   handler, which indexes it while the clients keep asking;
5. checks every answer against the references (each record must carry its own question and
   the answer that question gets alone, from the old index or the new one), and reports
   throughput and latency (p50, p95, max), overall and while the upload was being indexed.

It writes benchmarks/results/load.json. It reads ../shared/data/squad-v1.1-dev-part1.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATASET = ROOT.parent / "shared" / "data" / "squad-v1.1-dev-part1.json"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "load.json"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def article_text(article: dict) -> str:
    return "\n\n".join(paragraph["context"] for paragraph in article["paragraphs"])


def slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")[:40] or "article"


# ---------------------------------------------------------------- the clients (another process)

def run_clients(url: str, questions: list[str], clients: int, per_client: int, ready: Path) -> list[dict]:
    from gradio_client import Client

    connected = list(ThreadPoolExecutor(clients).map(lambda _: Client(url, verbose=False), range(clients)))
    ready.write_text("asking", encoding="utf-8")
    barrier = threading.Barrier(clients)

    def client(number: int) -> list[dict]:
        records = []
        barrier.wait()
        for turn in range(per_client):
            question = questions[(number * 7 + turn) % len(questions)]
            started = time.time()
            try:
                record = connected[number].predict(question, 5, "", api_name="/ask")
                error = None
            except Exception as failure:  # counted and reported, never hidden
                record, error = {}, f"{type(failure).__name__}: {failure}"
            records.append({"client": number, "question": question, "start": started, "end": time.time(),
                            "echo": record.get("question"), "answer": record.get("answer"), "error": error})
        return records

    with ThreadPoolExecutor(clients) as pool:
        return [r for records in pool.map(client, range(clients)) for r in records]


# ---------------------------------------------------------------- the server (this process)

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--articles", type=int, default=4)
    parser.add_argument("--client-process", nargs=3, metavar=("URL", "QUESTIONS", "READY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_process:
        url, questions_file, ready = args.client_process
        questions = json.loads(Path(questions_file).read_text(encoding="utf-8"))
        print(json.dumps(run_clients(url, questions, args.clients, args.per_client, Path(ready))))
        return 0

    os.environ.setdefault("DOCQA_NO_PROGRESS", "1")
    from docqa.pipeline import Pipeline
    from docqa.ui import serve
    from docqa.uploads import add_documents

    load_before = os.getloadavg()
    articles = json.loads(DATASET.read_text(encoding="utf-8"))["data"]
    work = Path(tempfile.mkdtemp(prefix="docqa-load-"))
    corpus = work / "corpus"
    corpus.mkdir()
    for path in (ROOT / "corpus").iterdir():
        shutil.copy(path, corpus / path.name)
    questions = [json.loads(line)["question"] for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()]
    for article in articles[: args.articles]:
        (corpus / f"{slug(article['title'])}.txt").write_text(article_text(article), encoding="utf-8")
        questions += [qa["question"] for qa in article["paragraphs"][0]["qas"][:5]]
    uploaded = articles[args.articles]
    upload_file = work / "upload" / f"{slug(uploaded['title'])}.txt"
    upload_file.parent.mkdir()
    upload_file.write_text(article_text(uploaded), encoding="utf-8")
    upload_question = uploaded["paragraphs"][0]["qas"][0]["question"]

    pipeline = Pipeline(corpus, work / "index")
    started = time.perf_counter()
    pipeline.ensure_index()
    build_seconds = time.perf_counter() - started
    before = {q: pipeline.ask(q, k=5).text for q in questions}  # alone: the reference answers
    documents_before, chunks_before = len(pipeline.index.documents), pipeline.index.size

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = serve(pipeline, port=port, block=False)
    (work / "questions.json").write_text(json.dumps(questions), encoding="utf-8")
    ready = work / "ready"
    client = subprocess.Popen([sys.executable, __file__, "--clients", str(args.clients), "--per-client",
                               str(args.per_client), "--client-process", f"http://127.0.0.1:{port}/",
                               str(work / "questions.json"), str(ready)], stdout=subprocess.PIPE, text=True)
    while not ready.exists():
        time.sleep(0.05)
    time.sleep(1.0)  # let every client be asking
    window = {"start": time.time()}
    window["report"] = add_documents(pipeline, [str(upload_file)])
    window["end"] = time.time()
    output, _ = client.communicate()
    records = json.loads(output)
    app.close()
    after = {q: pipeline.ask(q, k=5).text for q in questions}
    upload_answer = pipeline.ask(upload_question, k=5)

    errors = [r for r in records if r["error"]]
    mixed = [r for r in records if not r["error"] and (r["echo"] != r["question"]
                                                        or r["answer"] not in (before[r["question"]], after[r["question"]]))]
    latencies = [r["end"] - r["start"] for r in records if not r["error"]]
    during = [r["end"] - r["start"] for r in records if not r["error"]
              and r["start"] < window["end"] and r["end"] > window["start"]]
    span = max(r["end"] for r in records) - min(r["start"] for r in records)
    result = {
        "command": " ".join(["python benchmarks/load.py", *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "corpus": {"documents_before_upload": documents_before, "chunks_before_upload": chunks_before,
                   "chunks_after_upload": pipeline.index.size, "build_seconds": round(build_seconds, 2)},
        "clients": args.clients, "questions_per_client": args.per_client, "questions": len(records),
        "distinct_questions": len(questions),
        "errors": len(errors), "wrong_or_mixed_answers": len(mixed),
        "throughput_questions_per_second": round(len(latencies) / span, 2),
        "latency_seconds": {"p50": round(percentile(latencies, 0.5), 3), "p95": round(percentile(latencies, 0.95), 3),
                            "max": round(max(latencies), 3)},
        "upload": {"file": upload_file.name, "indexing_seconds": round(window["end"] - window["start"], 2),
                   "report": window["report"], "questions_overlapping_it": len(during),
                   "latency_p50_during": round(percentile(during, 0.5), 3),
                   "latency_p95_during": round(percentile(during, 0.95), 3),
                   "answered_after": upload_answer.answerable and upload_answer.citations[0].source == upload_file.name},
        "examples_of_problems": (errors + mixed)[:5],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "examples_of_problems"}, indent=2, ensure_ascii=False))
    shutil.rmtree(work, ignore_errors=True)
    return 1 if errors or mixed else 0


if __name__ == "__main__":
    sys.exit(main())
