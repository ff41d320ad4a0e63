"""How much an incremental `docqa index` saves: SQuAD paragraphs as files, one of them edited.

    python benchmarks/incremental.py [--dataset ../shared/data/squad-v1.1-dev-part1.json]

1. writes every paragraph of the dataset as its own .txt file (913 for the default dataset);
2. times `docqa index --rebuild` (a full build, as a command: start-up included);
3. edits one file and times `docqa index` (the update, as a command: start-up included);
4. edits it again and times the update inside one Python process whose model is already
   loaded (start-up excluded).

It prints the figures and writes them to benchmarks/results/incremental.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = ROOT.parent / "shared" / "data" / "squad-v1.1-dev-part1.json"
RESULTS = ROOT / "benchmarks" / "results" / "incremental.json"


def write_corpus(dataset: Path, corpus: Path) -> int:
    """One .txt file per paragraph; returns how many."""
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    count = 0
    for number, article in enumerate(json.loads(dataset.read_text(encoding="utf-8"))["data"]):
        slug = re.sub(r"[^A-Za-z0-9]+", "_", article.get("title", "article")).strip("_")[:40]
        for paragraph_number, paragraph in enumerate(article["paragraphs"]):
            (corpus / f"{number:02d}-{slug}-{paragraph_number:03d}.txt").write_text(paragraph["context"], encoding="utf-8")
            count += 1
    return count


def run_index(corpus: Path, index: Path, *extra: str) -> tuple[float, str]:
    """Run `docqa index` as a command; returns its wall-clock seconds and its output."""
    command = [str(Path(sys.executable).with_name("docqa")), "index", "--corpus", str(corpus), "--index", str(index), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "DOCQA_NO_PROGRESS": "1"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds, done.stdout


def embedded(output: str) -> int:
    return int(re.search(r"embedded (\d+) chunk", output).group(1))


def edit(path: Path, sentence: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + " " + sentence, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/docqa-incremental"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not args.dataset.is_file():
        raise SystemExit(f"{args.dataset} not found; pass --dataset with a SQuAD JSON file")
    corpus, index = args.workdir / "corpus", args.workdir / "index"
    files = write_corpus(args.dataset, corpus)
    load_before = os.getloadavg()

    full_seconds, full_output = run_index(corpus, index, "--rebuild")
    print(f"full build (command): {full_seconds:.1f} s\n{full_output}")
    edited = sorted(corpus.iterdir())[files // 2]
    edit(edited, "This sentence was added to measure an incremental update.")
    update_seconds, update_output = run_index(corpus, index)
    print(f"update after editing {edited.name} (command): {update_seconds:.1f} s\n{update_output}")
    _, unchanged_output = run_index(corpus, index)
    print(f"nothing changed: {unchanged_output.strip()}")

    # Start-up excluded: one process, the model loaded, the index loaded once.
    sys.path.insert(0, str(ROOT / "src"))
    from docqa.build import build_index
    from docqa.chunking import ChunkingParams
    from docqa.embedding import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    embedder.embed(["warm up"])
    edit(edited, "And a second sentence, to measure the update inside a running process.")
    started = time.perf_counter()
    report = build_index(corpus, index, embedder, ChunkingParams())
    in_process = time.perf_counter() - started
    print(f"update in a running process: {in_process:.2f} s, embedded {report.embedded} chunk(s) "
          f"in {report.embed_seconds:.2f} s")

    results = {
        "command": "python benchmarks/incremental.py --dataset " + os.path.relpath(args.dataset, ROOT),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, no GPU",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "files": files,
        "chunks": report.chunks,
        "full_build": {"command": "docqa index --rebuild", "seconds_wall": round(full_seconds, 2),
                       "chunks_embedded": embedded(full_output), "output": full_output.strip().splitlines()},
        "update_after_editing_one_file": {
            "command": "docqa index", "file": edited.name, "seconds_wall": round(update_seconds, 2),
            "chunks_embedded": embedded(update_output), "share_of_full_build": round(update_seconds / full_seconds, 3),
            "output": update_output.strip().splitlines()},
        "update_in_a_running_process": {"seconds": round(in_process, 3), "chunks_embedded": report.embedded,
                                        "embed_seconds": round(report.embed_seconds, 3),
                                        "share_of_full_build": round(in_process / full_seconds, 4)},
        "nothing_changed": unchanged_output.strip().splitlines(),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"-> {args.results}")


if __name__ == "__main__":
    main()
