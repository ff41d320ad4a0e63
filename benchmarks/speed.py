"""How fast docqa is next to the embedding model, from one corpus to a million vectors.

    python benchmarks/speed.py [--sections build bf16 query faiss ivfpq memory startup batch] [--workdir DIR]

Sections (each writes its figures into benchmarks/results/speed.json, beside the others):

- build: `build_index` of the 24 SQuAD v1.1 articles of ../shared/data (one .txt each) against
  the bare ``SentenceTransformer.encode`` of the same chunk texts, in the same process, model
  loaded first; twice each, interleaved (encode, build, encode, build), ratio of the sums.
- bf16: the same chunks embedded in bf16 and fp32: speed-up, cosine to fp32, and the overlap
  of each SQuAD question's dense top 10 with fp32's.
- query: p50/p95 of `Pipeline.ask` (retrieval and answer) and `Pipeline.search`, warm, on
  indexes of 1k, 10k and 100k chunks made from the real index: its documents copied (new
  names, so new chunk ids) as often as needed, each copy's chunk and sentence vectors the real
  ones plus Gaussian noise (sigma 0.015 a dimension, cosine about 0.96 to the original),
  renormalised; BM25 built over all copies' texts. Questions: SQuAD questions of the articles.
- faiss: FAISS search alone over 1M vectors made the same way from the real chunk and
  sentence vectors; the index docqa chooses at that size (HNSW) against exact search:
  latency a query and recall@10 of 300 SQuAD questions, at docqa's search depth and a sweep
  of others; also recall@10 of 1,000 other SQuAD questions, a check that the settings fit
  more than the 300; float16 and 8-bit storage at 100k likewise. (benchmarks/hnsw_sweep.py
  compares HNSW build settings on the same vectors.)
- ivfpq: the IVF-PQ index docqa builds past a few million chunks, on 1M vectors made as for
  faiss: recall@10 against exact search and latency at a sweep of its search settings
  (benchmarks/ivfpq.py measures 10M too; it writes benchmarks/results/ivfpq.json).
- memory: peak RSS of a process that loads the 100k index and answers one question, and of
  a process that builds the SQuAD index (`docqa index --rebuild`).
- startup: `docqa --help`; `python app.py` until its first answer over HTTP, with a fresh index;
  `docqa ask` in a new process (the first run makes the ONNX export if the cache has none,
  then five runs), and the cosine of 200 SQuAD questions' vectors on ONNX Runtime to torch's.
- batch: `docqa batch` on 1,000 SQuAD questions as a command, start-up included.

The load average is recorded before and after each section: the machine is shared.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATASET = ROOT.parent / "shared" / "data" / "squad-v1.1-dev-part1.json"
RESULTS = ROOT / "benchmarks" / "results" / "speed.json"
SECTIONS = ("build", "bf16", "query", "faiss", "ivfpq", "memory", "startup", "batch")
NOISE = 0.015


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    flags = next((line for line in open("/proc/cpuinfo") if line.startswith("flags")), "")
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "bf16_flags": sorted(set(re.findall(r"\b(avx512_bf16|amx_bf16)\b", flags))), "python": platform.python_version(),
            "platform": platform.platform()}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def percentiles(values: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(values, 50)) * 1000, 1),
            "p95_ms": round(float(np.percentile(values, 95)) * 1000, 1), "n": len(values)}


def write_corpus(corpus: Path, articles: int | None = None) -> None:
    if corpus.exists():
        return
    corpus.mkdir(parents=True)
    for number, article in enumerate(json.loads(DATASET.read_text(encoding="utf-8"))["data"][:articles]):
        slug = re.sub(r"[^A-Za-z0-9]+", "_", article["title"]).strip("_")[:40]
        text = "\n\n".join(p["context"] for p in article["paragraphs"])
        (corpus / f"{number:02d}-{slug}.txt").write_text(text, encoding="utf-8")


def questions(limit: int | None = None) -> list[str]:
    found = [q["question"].strip() for a in json.loads(DATASET.read_text())["data"] for p in a["paragraphs"] for q in p["qas"]]
    return found[:limit] if limit else found


def docqa_command() -> str:
    return str(Path(sys.executable).with_name("docqa"))


# --- build -----------------------------------------------------------------------------------

def ensure_squad_index(work: Path) -> None:
    """The index of all 24 articles, which the other sections start from."""
    from docqa.pipeline import Pipeline

    write_corpus(work / "corpus")
    Pipeline(work / "corpus", work / "index").ensure_index()


def section_build(work: Path, articles: int | None = None) -> dict:
    from docqa.build import build_index
    from docqa.chunking import ChunkingParams
    from docqa.embedding import MiniLMEmbedder
    from docqa.index import load_index

    corpus, index_dir = work / f"corpus-{articles or 'all'}", work / f"index-build-{articles or 'all'}"
    write_corpus(corpus, articles)
    embedder = MiniLMEmbedder()
    embedder.embed(["warm up"])  # model loading is not part of either figure
    build_seconds, encode_seconds, embed_seconds = [], [], []
    texts = None
    for round_number in range(2):
        if texts is not None:
            started = time.perf_counter()
            embedder._model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
            encode_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = build_index(corpus, index_dir, embedder, ChunkingParams(), rebuild=True)
        build_seconds.append(time.perf_counter() - started)
        embed_seconds.append(report.embed_seconds)
        texts = [c.text for c in load_index(index_dir).chunks]
        if round_number == 1:
            started = time.perf_counter()
            embedder._model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
            encode_seconds.append(time.perf_counter() - started)
    tokens = sum(c.token_count for c in load_index(index_dir).chunks)
    return {
        "documents": len(list(corpus.iterdir())), "chunks": len(texts), "mean_tokens": round(tokens / len(texts), 1),
        "build_seconds": [round(s, 2) for s in build_seconds], "of_which_embedding_seconds": [round(s, 2) for s in embed_seconds],
        "bare_encode_seconds": [round(s, 2) for s in encode_seconds],
        "ratio": round(sum(build_seconds) / sum(encode_seconds), 3),
        "chunks_per_second_build": round(2 * len(texts) / sum(build_seconds), 1),
        "chunks_per_second_encode": round(2 * len(texts) / sum(encode_seconds), 1),
    }


# --- bf16 ------------------------------------------------------------------------------------

def section_bf16(work: Path, articles: int | None = None) -> dict:
    from docqa.embedding import MiniLMEmbedder, bf16_supported
    from docqa.index import load_index
    from docqa.sentences import passage_sentences

    index = load_index(work / f"index-build-{articles or 'all'}")  # made by the build section
    texts = [c.text for c in index.chunks]
    spans = [passage_sentences(t) for t in texts]
    result = {"bf16_supported": bf16_supported()}
    vectors = {}
    for precision in ("fp32", "bf16", "fp32", "bf16"):
        embedder = MiniLMEmbedder(precision=precision)
        embedder.embed(["warm up"])
        started = time.perf_counter()
        chunk_vectors, _ = embedder.embed_passages(texts, spans)
        result.setdefault(f"{embedder.precision}_seconds", []).append(round(time.perf_counter() - started, 2))
        vectors[embedder.precision] = (embedder, chunk_vectors)
    if "bf16" not in vectors:
        return result
    result["speed_up"] = round(sum(result["fp32_seconds"]) / sum(result["bf16_seconds"]), 2)
    fp32, bf16 = vectors["fp32"][1], vectors["bf16"][1]
    cosines = np.sum(fp32 * bf16, axis=1)
    result["chunk_cosine_min_mean"] = [round(float(cosines.min()), 5), round(float(cosines.mean()), 5)]
    asked = questions(1000)
    q32, q16 = vectors["fp32"][0].embed(asked), vectors["bf16"][0].embed(asked)
    top32 = np.argsort(-(q32 @ fp32.T), axis=1)[:, :10]
    top16 = np.argsort(-(q16 @ bf16.T), axis=1)[:, :10]
    result["questions"] = len(asked)
    result["top10_overlap_with_fp32"] = round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top32, top16)])), 4)
    result["top1_same_as_fp32"] = round(float(np.mean(top32[:, 0] == top16[:, 0])), 4)
    return result


# --- synthetic large indexes -------------------------------------------------------------------

def perturbed(vectors: np.ndarray, rng) -> np.ndarray:
    noisy = vectors.astype(np.float32) + rng.standard_normal(vectors.shape, dtype=np.float32) * NOISE
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def synthetic_index(real_dir: Path, target: Path, size: int, seed: int = 0) -> None:
    """An index of ``size`` chunks: copies of the real documents, vectors perturbed (see module doc)."""
    from dataclasses import replace

    from docqa.chunking import make_chunk_id
    from docqa.index import SentenceVectors, load_index, vector_index_settings, write_index

    # Made from this very real index (its manifest's hash), or made again: a copy left by an
    # older docqa or another corpus would measure the wrong thing, or fail to load.
    made_from = hashlib.sha256((real_dir / "manifest.json").read_bytes()).hexdigest()
    if (target / "manifest.json").exists():
        if json.loads((target / "manifest.json").read_text()).get("synthetic", {}).get("from") == made_from:
            return
        shutil.rmtree(target)
    rng = np.random.default_rng(seed)
    real = load_index(real_dir)
    documents, chunks, matrices, spans, sentence_vectors = [], [], [], [], []
    copy = 0
    while len(chunks) < size:
        for document in real.documents.values():
            documents.append(replace(document, source=f"copy{copy:04d}/{document.source}"))
        for row, chunk in enumerate(real.chunks):
            source = f"copy{copy:04d}/{chunk.source}"
            chunks.append(replace(chunk, source=source, chunk_id=make_chunk_id(source, chunk.start, chunk.end)))
            chunk_spans, chunk_sentences = real.sentences.of_chunk(row)
            spans.append([tuple(s) for s in chunk_spans])
            sentence_vectors.append(perturbed(np.asarray(chunk_sentences, np.float32), rng) if copy else chunk_sentences)
        matrices.append(perturbed(real.matrix, rng) if copy else np.array(real.matrix))
        copy += 1
    chunks = chunks[:size]
    used = {c.source for c in chunks}
    documents = [d for d in documents if d.source in used]
    matrix = np.vstack(matrices)[:size]
    sentences = SentenceVectors.from_lists(spans[:size], sentence_vectors[:size], matrix.shape[1])
    manifest = dict(real.manifest, vectors=vector_index_settings(size),
                    counts={"documents": len(documents), "chunks": size}, synthetic={"copies": copy, "noise_sigma": NOISE, "from": made_from})
    write_index(target, documents, chunks, matrix, manifest, sentences)


def section_query(work: Path) -> dict:
    from docqa.pipeline import Pipeline

    result = {}
    asked = questions()
    rng = np.random.default_rng(1)
    for size in (1_000, 10_000, 100_000):
        target = work / f"synthetic-{size}"
        started = time.perf_counter()
        synthetic_index(work / "index", target, size)
        made = time.perf_counter() - started
        pipeline = Pipeline(work / "corpus", target)
        load_started = time.perf_counter()
        pipeline.index
        loaded = time.perf_counter() - load_started
        pipeline.embedder.embed(["warm up"])
        stats_started = time.perf_counter()
        pipeline.term_stats
        stats = time.perf_counter() - stats_started
        sample = [asked[i] for i in rng.choice(len(asked), 220, replace=False)]
        for question in sample[:20]:  # warm up: first calls page things in
            pipeline.ask(question)
        timings = {"ask": [], "search": []}
        for question in sample[20:]:
            started = time.perf_counter()
            pipeline.ask(question)
            timings["ask"].append(time.perf_counter() - started)
            started = time.perf_counter()
            pipeline.search(question)
            timings["search"].append(time.perf_counter() - started)
        started = time.perf_counter()
        for question in sample[20:70]:
            pipeline.embedder.embed([question])
        embed_ms = (time.perf_counter() - started) / 50 * 1000
        result[str(size)] = {"index": pipeline.index.manifest["vectors"], "ask": percentiles(timings["ask"]),
                             "search": percentiles(timings["search"]), "question_embedding_mean_ms": round(embed_ms, 1),
                             "load_seconds": round(loaded, 2), "term_statistics_seconds": round(stats, 3),
                             "made_in_seconds": round(made, 1)}
        print(size, result[str(size)], flush=True)
    return result


# --- FAISS alone -------------------------------------------------------------------------------

def faiss_vectors(real) -> tuple[np.ndarray, np.ndarray]:
    """The faiss section's vectors: 100k and 1M noisy copies (see module doc) of the real
    index's chunk and sentence vectors, always the same ones (seeded)."""
    base = np.vstack([real.matrix, np.asarray(real.sentences.vectors, np.float32)])
    rng = np.random.default_rng(2)
    hundred_k = perturbed(base[rng.integers(0, len(base), 100_000)], rng)
    million = np.empty((1_000_000, base.shape[1]), dtype=np.float32)
    for start in range(0, len(million), 100_000):
        million[start : start + 100_000] = perturbed(base[rng.integers(0, len(base), 100_000)], rng)
    return hundred_k, million


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return round(float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])), 4)


def section_faiss(work: Path) -> dict:
    import faiss

    from docqa.embedding import MiniLMEmbedder
    from docqa.index import load_index, make_vector_index, vector_index_settings

    real = load_index(work / "index")
    embedder = MiniLMEmbedder()
    query_vectors = embedder.embed(questions(300))
    # A second, separate check that the HNSW settings were not tuned to the 300 questions above:
    # recall@10 of 1,000 other SQuAD questions of the same articles (not timed).
    other_vectors = embedder.embed(questions()[300:1300])
    result = {"base_vectors": {"chunks": real.size, "sentences": len(real.sentences.vectors)}, "queries": len(query_vectors),
              "other_queries": len(other_vectors)}

    def measure(vectors, settings, label, sweep=()):
        exact = faiss.IndexFlatIP(vectors.shape[1])
        exact.add(vectors)
        started = time.perf_counter()
        for q in query_vectors[:100]:
            exact.search(q[None, :], 10)
        exact_ms = (time.perf_counter() - started) / 100 * 1000
        _, truth = exact.search(query_vectors, 10)
        _, other_truth = exact.search(other_vectors, 10) if sweep else (None, None)
        del exact
        started = time.perf_counter()
        index = make_vector_index(vectors, settings)
        built = time.perf_counter() - started
        index.search(query_vectors[:10], 10)
        latencies = []
        for q in query_vectors:
            started = time.perf_counter()
            index.search(q[None, :], 10)
            latencies.append(time.perf_counter() - started)
        _, found = index.search(query_vectors, 10)
        entry = {"settings": settings, "build_seconds": round(built, 1), "recall_at_10": recall_at_10(found, truth),
                 **percentiles(latencies), "exact_flat_mean_ms": round(exact_ms, 2)}
        if sweep:
            entry["recall_at_10_other_questions"] = recall_at_10(index.search(other_vectors, 10)[1], other_truth)
            entry["index_mib"] = round(faiss.serialize_index(index).nbytes / 2**20)
        for ef in sweep:  # the HNSW search depth: recall against speed
            index.hnsw.efSearch = ef
            times = []
            for q in query_vectors:
                started = time.perf_counter()
                index.search(q[None, :], 10)
                times.append(time.perf_counter() - started)
            entry.setdefault("ef_search_sweep", {})[ef] = {
                "mean_ms": round(float(np.mean(times)) * 1000, 3), **percentiles(times),
                "recall_at_10": recall_at_10(index.search(query_vectors, 10)[1], truth),
                "recall_at_10_other_questions": recall_at_10(index.search(other_vectors, 10)[1], other_truth)}
        print(label, entry, flush=True)
        return entry

    hundred_k, million = faiss_vectors(real)
    for storage in ("float32", "float16", "sq8"):
        result[f"100k_flat_{storage}"] = measure(hundred_k, vector_index_settings(100_000, storage, exact_limit=10**9),
                                                 f"100k flat {storage}")
    del hundred_k
    settings = vector_index_settings(len(million))
    result["1M_" + settings["index"]] = measure(million, settings, "1M chosen", sweep=(256, 512, 768, 1024, 1536))
    return result


def section_ivfpq(work: Path) -> dict:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from ivfpq import measure

    from docqa.embedding import MiniLMEmbedder
    from docqa.index import load_index

    real = load_index(work / "index")
    base = np.vstack([real.matrix, np.asarray(real.sentences.vectors, np.float32)])
    return measure(1_000_000, base, MiniLMEmbedder().embed(questions(300)), work, "float32")


# --- memory, start-up, batch --------------------------------------------------------------------

# Starts the measured command and reports its wall seconds and ru_maxrss (KiB). Run as a fresh,
# small process: a child's ru_maxrss is at least the high-water RSS of the process that spawned
# it (Linux carries the spawner's into the child's exec), so spawned from this benchmark after
# the faiss section every child showed this process's 8.6 GiB.
_MEASURE_CHILD = (
    "import os, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status))\n"
)


def child_peak_rss(command: list[str], env=None) -> tuple[float, float]:
    """Run ``command``; return its wall seconds and its peak RSS in MiB."""
    done = subprocess.run([sys.executable, "-c", _MEASURE_CHILD, *command], capture_output=True, text=True, check=True,
                          env={**os.environ, "DOCQA_NO_PROGRESS": "1", **(env or {})})
    seconds, max_rss_kib, exit_code = done.stdout.split()
    if int(exit_code):
        raise SystemExit(f"{command} exited with {exit_code}")
    return float(seconds), int(max_rss_kib) / 1024


def section_memory(work: Path) -> dict:
    loaded_script = (
        "import sys; from docqa.pipeline import Pipeline; "
        f"p = Pipeline({str(work / 'corpus')!r}, sys.argv[1]); p.ask('Who founded the university?')"
    )
    result = {}
    for size in (1_000, 100_000):
        seconds, rss = child_peak_rss([sys.executable, "-c", loaded_script, str(work / f"synthetic-{size}")])
        result[f"loaded_index_{size}_chunks_and_one_answer"] = {"peak_rss_mib": round(rss), "seconds": round(seconds, 1)}
    seconds, rss = child_peak_rss([docqa_command(), "index", "--rebuild", "--corpus", str(work / "corpus"),
                                   "--index", str(work / "index-memory")])
    result["build_squad_index"] = {"peak_rss_mib": round(rss), "seconds": round(seconds, 1)}
    return result


def section_startup(work: Path) -> dict:
    from gradio_client import Client

    helps = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([docqa_command(), "--help"], capture_output=True, check=True)
        helps.append(time.perf_counter() - started)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        listening = time.perf_counter() - started
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        record = client.predict("Which company did the working group collaborate with in 2010?", 5, api_name="/ask")
        answered = time.perf_counter() - started
    finally:
        app.terminate()
        app.wait(timeout=30)
    # `docqa ask` in a new process each time, the index present; the first also makes the ONNX
    # export when the cache has none (as the first question after installing does)
    asks = []
    for _ in range(6):
        started = time.perf_counter()
        subprocess.run([docqa_command(), "ask", "Which company did the working group collaborate with in 2010?",
                        "--corpus", str(ROOT / "corpus"), "--index", str(ROOT / "index"), "--no-build"],
                       capture_output=True, check=True)
        asks.append(time.perf_counter() - started)
    return {"docqa_help_seconds": {"min": round(min(helps), 3), "median": round(float(np.median(helps)), 3)},
            "app_listening_seconds": round(listening, 2), "app_first_answer_seconds": round(answered, 2),
            "first_answer_answerable": bool(record.get("answerable")),
            "docqa_ask_first_seconds": round(asks[0], 2),
            "docqa_ask_command_seconds": {"p50": round(float(np.median(asks[1:])), 2), "max": round(max(asks[1:]), 2),
                                          "runs": len(asks) - 1},
            "onnx_vs_torch": engines_agree()}


def engines_agree(count: int = 200) -> dict:
    """Cosine of each SQuAD question's vector on ONNX Runtime to its vector on torch."""
    from docqa.embedding import MiniLMEmbedder

    asked = questions(count)
    onnx = np.vstack([MiniLMEmbedder(engine="onnx").embed([q]) for q in asked])
    torch = MiniLMEmbedder(engine="torch").embed(asked)
    cosines = np.sum(onnx * torch, axis=1)
    # and many texts at once, as a build embeds them: 300 SQuAD paragraphs, twice each, interleaved
    data = json.loads(DATASET.read_text(encoding="utf-8"))["data"]
    paragraphs = [p["context"] for article in data for p in article["paragraphs"]][:300]
    seconds: dict[str, list[float]] = {"torch": [], "onnx": []}
    embedders = {engine: MiniLMEmbedder(engine=engine) for engine in seconds}
    embedders["onnx"]._onnx(len(paragraphs) * 256)  # loaded before the clock starts, as torch is
    for engine in ["torch", "onnx", "torch", "onnx"]:
        started = time.perf_counter()
        embedders[engine].embed(paragraphs)
        seconds[engine].append(round(time.perf_counter() - started, 2))
    return {"questions": len(asked), "cosine_min": round(float(cosines.min()), 7), "cosine_mean": round(float(cosines.mean()), 7),
            "paragraphs": len(paragraphs), "paragraph_seconds": seconds,
            "onnx_speed_relative_to_torch": round(sum(seconds["torch"]) / sum(seconds["onnx"]), 2)}


def section_batch(work: Path) -> dict:
    questions_file = work / "questions-1000.txt"
    questions_file.write_text("\n".join(questions(1000)) + "\n", encoding="utf-8")
    output = work / "answers-1000.jsonl"
    command = [docqa_command(), "batch", str(questions_file), "-o", str(output), "--overwrite", "--no-build",
               "--corpus", str(work / "corpus"), "--index", str(work / "index")]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "DOCQA_NO_PROGRESS": "1"})
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(done.stderr)
    answered = sum(1 for _ in output.open())
    return {"questions": answered, "seconds": round(seconds, 2), "questions_per_second": round(answered / seconds, 1),
            "reported": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/docqa-speed"))
    parser.add_argument("--build-articles", type=int, default=None,
                        help="build section: index only the first N articles (default all 24)")
    args = parser.parse_args()
    if not DATASET.exists():
        print(f"{DATASET} not found; the shared SQuAD data lives in ../shared/data beside the project")
        return 1
    os.environ.setdefault("DOCQA_NO_PROGRESS", "1")
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = machine()
    ensure_squad_index(args.workdir)
    functions = {"build": lambda work: section_build(work, args.build_articles), "bf16": lambda work: section_bf16(work, args.build_articles), "query": section_query, "faiss": section_faiss, "ivfpq": section_ivfpq,
                 "memory": section_memory, "startup": section_startup, "batch": section_batch}
    for name in args.sections:
        before = load()
        started = time.perf_counter()
        figures = functions[name](args.workdir)
        results[name] = {**figures, "load_average_before": before, "load_average_after": load(),
                         "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         "command": f"python benchmarks/speed.py --sections {name}"
                                    + (f" --build-articles {args.build_articles}" if name in ("build", "bf16") and args.build_articles else ""),
                         "section_seconds": round(time.perf_counter() - started, 1)}
        print(f"\n## {name}\n{json.dumps(results[name], indent=2)}", flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
