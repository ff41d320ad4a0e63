"""docqa's retrieval on BEIR SciFact, beside the published figures.

Runs `docqa eval ../shared/data/beir/scifact --modes dense keyword hybrid` (documents judged
as BEIR judges them: each ranked at its best passage), writes its report under
benchmarks/results/scifact/, and plots nDCG@10 and recall@100 of each mode next to the
published BM25 and all-MiniLM-L6-v2 figures (benchmarks/results/scifact/published.png).

    python benchmarks/scifact.py [--plot-only] [extra docqa eval options]

--plot-only redraws the plot from the last report. The data lives in ../shared/data/beir/scifact
(not in the repository; its licence is non-commercial).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "data" / "beir" / "scifact"
RESULTS = ROOT / "benchmarks" / "results" / "scifact"

# Published nDCG@10 (and recall@100 where given) on SciFact's test split, with their sources.
PUBLISHED = {
    "BM25 (BEIR paper)": {"ndcg@10": 0.665, "source": "Thakur et al., BEIR (2021), Table 2"},
    "all-MiniLM-L6-v2 (MTEB)": {"ndcg@10": 0.645, "recall@100": 0.925,
                                "source": "github.com/embeddings-benchmark/results, commit 319e81d, results/"
                                          "sentence-transformers__all-MiniLM-L6-v2/8b3219a92973c328a8e22fadcfa821b5dc75636a/"
                                          "SciFact.json (test: ndcg_at_10 0.64508, recall_at_100 0.925)"},
}


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    plot_only = "--plot-only" in argv
    argv = [a for a in argv if a != "--plot-only"]
    if not plot_only:
        if not DATASET.exists():
            print(f"shared data not found ({DATASET}); it lives in ../shared/data beside the project")
            return 1
        from docqa.cli import main as docqa

        os.environ.setdefault("DOCQA_NO_PROGRESS", "1")
        code = docqa(["eval", str(DATASET), "--modes", "dense", "keyword", "hybrid", "--report", str(RESULTS), *argv])
        if code:
            return code
    report = json.loads((RESULTS / "report.json").read_text(encoding="utf-8"))
    figures = {config["name"].split(",")[0]: config["retrieval"] for config in report["configs"]}
    for name, values in figures.items():
        print(f"docqa {name}: nDCG@10 {values['ndcg@10']:.3f}, recall@100 {values.get('recall@100', float('nan')):.3f}")
    plot(figures, RESULTS / "published.png")
    print(f"plot: {RESULTS / 'published.png'}")
    return 0


def plot(figures: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"docqa {name}" for name in figures] + list(PUBLISHED)
    ndcg = [v["ndcg@10"] for v in figures.values()] + [v["ndcg@10"] for v in PUBLISHED.values()]
    recall = [v.get("recall@100") for v in figures.values()] + [v.get("recall@100") for v in PUBLISHED.values()]
    figure, axes = plt.subplots(figsize=(7.2, 4.2), dpi=120)
    positions = range(len(names))
    axes.bar([p - 0.2 for p in positions], ndcg, width=0.4, label="nDCG@10")
    axes.bar([p + 0.2 for p in positions], [r or 0 for r in recall], width=0.4, label="recall@100")
    for p, (n, r) in enumerate(zip(ndcg, recall)):
        axes.text(p - 0.2, n + 0.01, f"{n:.3f}", ha="center", fontsize=7)
        if r:
            axes.text(p + 0.2, r + 0.01, f"{r:.3f}", ha="center", fontsize=7)
    axes.set_xticks(list(positions), names, rotation=15, fontsize=8)
    axes.set_ylim(0, 1.05)
    axes.set_title("BEIR SciFact, test split: docqa (documents ranked by best passage) and published figures")
    axes.title.set_fontsize(9)
    axes.legend(loc="lower right")
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
