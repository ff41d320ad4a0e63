"""The evaluation report: a Markdown table, report.json, report.md and a hit@k plot."""

from __future__ import annotations

import json
from pathlib import Path

from .evaluate import CURVE, CUTOFFS, RELEVANCE


def format_table(report: dict) -> str:
    """The report's main figures as a Markdown table, one row per configuration."""
    cutoffs = report.get("cutoffs") or list(CUTOFFS)
    hits = [k for k in cutoffs if k <= 10]
    recalls = [k for k in cutoffs if k >= 10]
    header = ["config", *(f"hit@{k}" for k in hits), "MRR@10", "nDCG@10", *(f"recall@{k}" for k in recalls), "MAP@10"]
    has_answers = any("answers" in c for c in report["configs"])
    if has_answers:
        header += ["answer has gold", "quotes have gold", "words", "short given", "short EM", "short F1"]
    header += ["false declines"]
    generated = any("generated" in c for c in report["configs"])
    if generated:
        header += ["by the model", "its sentences supported"]
    kinds = [k for k in ("impossible", "out_of_corpus", "unanswerable") if any(k in c["declines"] for c in report["configs"])]
    header += [f"{k.replace('_', '-')} declined" for k in kinds]
    header += ["p50 ms", "p95 ms", "chunks", "build s"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for config in report["configs"]:
        r = config["retrieval"]
        measures = [*(f"hit@{k}" for k in hits), "mrr@10", "ndcg@10", *(f"recall@{k}" for k in recalls), "map@10"]
        cells = [config["name"]] + [f"{r[m]:.3f}" if m in r else "" for m in measures]
        if has_answers:
            a = config.get("answers")
            short = config.get("short_answers")
            cells += [f"{a['answer_contains_gold']:.3f}", f"{a['quotes_contain_gold']:.3f}", f"{a['mean_answer_words']:.1f}",
                      f"{short['given']:.3f}", f"{short['exact_match']:.3f}", f"{short['f1']:.3f}"] if a else [""] * 6
        rate = config["false_decline_rate"]
        cells.append("" if rate is None else f"{rate:.3f}")
        if generated:
            g = config.get("generated") or {}
            share = g.get("supported_share")
            cells += [f"{g['by_the_model']} of {g['answers']}" if g else "",
                      "" if share is None else f"{share:.3f} ({g['supported_sentences']} of {g['sentences']})"]
        cells += [f"{config['declines'][k]['declined']:.3f}" if k in config["declines"] else "" for k in kinds]
        build = config["build_seconds"]
        cells += [f"{config['latency_ms']['p50']:.0f}", f"{config['latency_ms']['p95']:.0f}", str(config["chunks"]),
                  "" if build is None else f"{build:.0f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def write_report(report: dict, report_dir: Path, command: str) -> list[Path]:
    """Write report.json, report.md and hit_at_k.png into ``report_dir``."""
    report_dir.mkdir(parents=True, exist_ok=True)
    json_path = report_dir / "report.json"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = ", ".join(f"{n} {k.replace('_', '-')}" for k, n in report["questions"].items())
    split = f" (qrels: {report['split']})" if report.get("split") else ""
    relevance = report.get("relevance") or RELEVANCE["span"]
    item = "document" if relevance.startswith("document") else "passage"
    markdown = (
        f"# docqa eval: {report['dataset']}{split}\n\n"
        f"`{command}`\n\n"
        f"{counts} questions; model {report['embedding_model']}; {report['machine']['platform']}, "
        f"{report['created']}.\n\n"
        f"{format_table(report)}\n\n"
        f"Relevance judged per {relevance}.\n\n"
        f"hit@k: share of answerable questions with a relevant {item} in the top k; recall@k: share of the "
        f"relevant {item}s in the top k. MRR, nDCG and MAP over the top 10. Questions with no relevant "
        f"{item} in the index count as misses.\n"
    )
    markdown_path = report_dir / "report.md"
    markdown_path.write_text(markdown, encoding="utf-8")
    plot_path = report_dir / "hit_at_k.png"
    _plot(report, plot_path)
    return [json_path, markdown_path, plot_path]


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for config in report["configs"]:
        axes.plot(CURVE, config["retrieval"]["hit_curve"], marker="o", label=config["name"])
    axes.set_xlabel("k (passages retrieved)")
    axes.set_ylabel("hit@k (share of questions)")
    axes.set_title(f"docqa retrieval on {report['dataset']}")
    axes.set_xticks(CURVE)
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
