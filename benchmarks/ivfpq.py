"""IVF-PQ at 1M and 10M vectors: recall@10 against exact search, latency, memory and build time.

    python benchmarks/ivfpq.py [--sizes 1000000 10000000] [--workdir /tmp/docqa-speed]

The vectors are made as benchmarks/speed.py makes its large indexes: noisy copies (sigma
0.015 a dimension) of the real chunk and sentence vectors of the SQuAD index that speed.py
builds in the work folder (run `python benchmarks/speed.py --sections startup` first if it is
not there), generated in seeded parts of 500k so that 10M never sit in memory as float32.
Queries: 300 SQuAD questions. Exact top 10: a flat scan of every part, merged. The index is
docqa's own (`make_vector_index` with `vector_index_settings(size, ivfpq_limit=0)`), then
searched at a sweep of nprobe (lists scanned) and k_factor (candidates re-ranked per result),
one query at a time on one thread, as docqa searches. Results: benchmarks/results/ivfpq.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results" / "ivfpq.json"
PART = 500_000


def parts(base: np.ndarray, size: int, seed: int):
    """The ``size`` vectors in parts of ``PART``, the same each time for the same seed."""
    from speed import perturbed

    for number, start in enumerate(range(0, size, PART)):
        rng = np.random.default_rng([seed, number])
        count = min(PART, size - start)
        yield start, perturbed(base[rng.integers(0, len(base), count)], rng)


def exact_top10(base, size, queries, seed) -> np.ndarray:
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 10), dtype=np.int64)
    for start, part in parts(base, size, seed):
        scores = queries @ part.T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        merged_scores = np.hstack([best_scores, np.take_along_axis(scores, top, 1)])
        merged_rows = np.hstack([best_rows, top + start])
        keep = np.argsort(-merged_scores, axis=1, kind="stable")[:, :10]
        best_scores, best_rows = np.take_along_axis(merged_scores, keep, 1), np.take_along_axis(merged_rows, keep, 1)
    return best_rows


def measure(size: int, base: np.ndarray, queries: np.ndarray, work: Path, storage: str, seed: int = 7) -> dict:
    import faiss

    from docqa.index import _ivfpq, set_ivfpq_search, vector_index_settings

    settings = vector_index_settings(size, storage, ivfpq_limit=0)
    started = time.perf_counter()
    truth = exact_top10(base, size, queries, seed)
    exact_seconds = time.perf_counter() - started
    index = _ivfpq(base.shape[1], settings)
    started = time.perf_counter()
    # trained on a seeded sample, as make_vector_index does, taken from the first parts
    sample_size = min(size, max(40 * settings["lists"], 65_536))
    sample = np.vstack([part for _, part in parts(base, min(size, sample_size), seed + 1)])
    index.train(sample)
    trained = time.perf_counter() - started
    del sample
    for _, part in parts(base, size, seed):
        index.add(part)
    built = time.perf_counter() - started
    path = work / f"ivfpq-{size}.faiss"
    faiss.write_index(index, str(path))
    entry = {"settings": settings, "train_seconds": round(trained, 1), "build_seconds": round(built, 1),
             "exact_truth_seconds": round(exact_seconds, 1), "index_mib": round(path.stat().st_size / 2**20),
             "sweep": []}
    path.unlink()
    faiss.omp_set_num_threads(1)
    for nprobe in (8, 16, 32, 64):
        for k_factor in (16, 32, 64, 128, 256):
            set_ivfpq_search(index, {"nprobe": nprobe, "k_factor": k_factor})
            index.search(queries[:5], 10)
            times, found = [], []
            for q in queries:
                began = time.perf_counter()
                found.append(index.search(q[None, :], 10)[1][0])
                times.append(time.perf_counter() - began)
            recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
            row = {"nprobe": nprobe, "k_factor": k_factor, "recall_at_10": round(recall, 4),
                   "p50_ms": round(float(np.percentile(times, 50)) * 1000, 2),
                   "p95_ms": round(float(np.percentile(times, 95)) * 1000, 2)}
            entry["sweep"].append(row)
            print(size, row, flush=True)
    faiss.omp_set_num_threads(2)
    chosen = next((r for r in entry["sweep"] if r["nprobe"] == settings["nprobe"] and r["k_factor"] == settings["k_factor"]), None)
    entry["docqa_settings_result"] = chosen
    entry["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000_000, 10_000_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/docqa-speed"))
    parser.add_argument("--storage", choices=("float32", "sq8"), default="float32",
                        help="DOCQA_VECTOR_STORAGE: float32 re-ranks by float16 copies (the default), sq8 by 8-bit ones")
    args = parser.parse_args()
    from docqa.embedding import MiniLMEmbedder
    from docqa.index import load_index
    from speed import machine, questions

    real = load_index(args.workdir / "index")
    base = np.vstack([real.matrix, np.asarray(real.sentences.vectors, np.float32)])
    queries = MiniLMEmbedder().embed(questions(300))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = machine()
    for size in args.sizes:
        started = time.perf_counter()
        entry = measure(size, base, queries, args.workdir, args.storage)
        results[f"{size}_{entry['settings']['storage']}"] = {
                              **entry, "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "command": f"python benchmarks/ivfpq.py --sizes {size} --storage {args.storage}",
                              "section_seconds": round(time.perf_counter() - started, 1)}
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
