"""Which HNSW build settings docqa should use: recall, latency and build time by M and efConstruction.

    python benchmarks/hnsw_sweep.py [--configs 32:80 32:128 32:200 48:80] [--sizes 1000000 200000]
                                    [--ef-search 256 384 512 768 1024 1536] [--workdir DIR]

The vectors are speed.py's faiss section's (its 1M noisy copies of the real SQuAD index's chunk
and sentence vectors; a smaller size takes the first rows), built with ``make_vector_index`` as
docqa builds them. For each size and each ``M:efConstruction``: build seconds (wall and CPU, with
the load average), the index's size, and at each efSearch the recall@10 against exact search of
speed.py's 300 SQuAD questions and of 1,000 other SQuAD questions (so the settings are not fitted
to the 300), and p50/p95 of one query on one thread (as docqa's ``dense_search``).

Writes benchmarks/results/hnsw_sweep.json. Each 1M build takes minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402  (also puts the project's src on the path)

RESULTS = speed.ROOT / "benchmarks" / "results" / "hnsw_sweep.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["32:80", "32:128", "32:200", "48:80"],
                        help="M:efConstruction pairs")
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000_000, 200_000])
    parser.add_argument("--ef-search", nargs="+", type=int, default=[256, 384, 512, 768, 1024, 1536])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/docqa-speed"))
    args = parser.parse_args()
    os.environ.setdefault("DOCQA_NO_PROGRESS", "1")

    import faiss

    from docqa.embedding import MiniLMEmbedder
    from docqa.index import load_index, make_vector_index

    args.workdir.mkdir(parents=True, exist_ok=True)
    speed.ensure_squad_index(args.workdir)
    embedder = MiniLMEmbedder()
    query_sets = {"benchmark_300": embedder.embed(speed.questions(300)),
                  "other_1000": embedder.embed(speed.questions()[300:1300])}
    _, million = speed.faiss_vectors(load_index(args.workdir / "index"))
    results = {"machine": speed.machine(), "command": "python benchmarks/hnsw_sweep.py " + " ".join(sys.argv[1:]),
               "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "runs": []}
    threads = faiss.omp_get_max_threads()
    for size in args.sizes:
        vectors = million[:size]
        exact = faiss.IndexFlatIP(vectors.shape[1])
        exact.add(vectors)
        truth = {name: exact.search(queries, 10)[1] for name, queries in query_sets.items()}
        del exact
        for config in args.configs:
            m, ef_construction = (int(x) for x in config.split(":"))
            settings = {"index": "hnsw", "storage": "float32", "neighbours": m, "ef_construction": ef_construction,
                        "ef_search": args.ef_search[0]}
            faiss.omp_set_num_threads(threads)  # built as docqa builds: all cores
            before, wall, cpu = speed.load(), time.perf_counter(), time.process_time()
            index = make_vector_index(vectors, settings)
            run = {"size": size, "M": m, "ef_construction": ef_construction,
                   "build_seconds": round(time.perf_counter() - wall, 1),
                   "build_cpu_seconds": round(time.process_time() - cpu, 1),
                   "load_average_before": before, "load_average_after": speed.load(),
                   "index_mib": round(faiss.serialize_index(index).nbytes / 2**20), "ef_search": {}}
            faiss.omp_set_num_threads(1)
            for ef in args.ef_search:
                index.hnsw.efSearch = ef
                index.search(query_sets["benchmark_300"][:20], 10)
                times = []
                for q in query_sets["benchmark_300"]:
                    started = time.perf_counter()
                    index.search(q[None, :], 10)
                    times.append(time.perf_counter() - started)
                run["ef_search"][ef] = {
                    **{f"recall_at_10_{name}": speed.recall_at_10(index.search(queries, 10)[1], truth[name])
                       for name, queries in query_sets.items()},
                    **speed.percentiles(times), "load_average": speed.load()}
            print(json.dumps(run), flush=True)
            results["runs"].append(run)
            del index
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    faiss.omp_set_num_threads(threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
