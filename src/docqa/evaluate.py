"""Measuring retrieval and answers on a labelled set, for one or more configurations."""

from __future__ import annotations

import logging
import platform
import random
import re
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from .answer import RULES, AnswerPolicy
from .chunking import MIN_CHUNK_TOKENS, ChunkingParams
from .datasets import DatasetError, EvalQuestion, EvalSet
from .embedding import Embedder
from .index import LoadedIndex
from .llm import LLMSettings
from .pipeline import Pipeline
from .reader import Reader, default_reader
from .retrieve import RetrievalSettings
from .short_answer import exact_match, f1_score
from .types import Answer, Hit

logger = logging.getLogger(__name__)

CUTOFFS = (1, 3, 5, 10)  # the k of hit@k and recall@k when passages are judged (SQuAD, gold sets)
DOCUMENT_CUTOFFS = (1, 3, 5, 10, 100)  # when documents are (BEIR): recall@100 is the BEIR paper's second column
DOCUMENT_DEPTH = 100  # documents ranked per query at least, when documents are judged
CURVE = tuple(range(1, 11))
RETRIEVE_K = 10
ANSWER_K = 5

RELEVANCE = {
    "span": "passage: a passage is relevant when it overlaps the gold paragraph or evidence and contains a gold "
            "answer; passages are ranked as retrieved",
    "document": "document: the qrels judge documents (graded relevance goes to nDCG); passages are ranked, and a "
                "document ranks as its best passage (MaxP)",
}


def default_cutoffs(relevance: str) -> tuple[int, ...]:
    """The k of hit@k and recall@k reported when none are asked for."""
    return DOCUMENT_CUTOFFS if relevance == "document" else CUTOFFS


@dataclass(frozen=True)
class EvalConfig:
    """One configuration to measure."""

    name: str
    chunking: ChunkingParams
    retrieval: RetrievalSettings = RetrievalSettings()
    policy: AnswerPolicy = AnswerPolicy()


def configurations(
    chunk_tokens: Sequence[int],
    overlap_tokens: Sequence[int],
    modes: Sequence[str] = ("hybrid",),
    dense_weights: Sequence[float] = (0.5,),
    rules_off: Sequence[str] = (),
    ablate: bool = False,
) -> list[EvalConfig]:
    """Every combination of the given chunk sizes, overlaps, modes and (hybrid) dense weights.

    ``rules_off`` names hand rules of the answer stage (``answer.RULES``) to leave out in
    every configuration. With ``ablate``, each combination comes again with each other rule
    left out in turn: what each rule adds, in one run.

    Raises:
        DatasetError: a chunk size or overlap that chunking cannot use (naming the option).
    """
    for size in chunk_tokens:
        if size < MIN_CHUNK_TOKENS:
            raise DatasetError(f"--chunk-tokens {size} is too small: use {MIN_CHUNK_TOKENS} or more, "
                               f"up to the model's window")
    for overlap in overlap_tokens:
        if overlap < 0:
            raise DatasetError(f"--overlap-tokens {overlap} is negative: use 0 (no overlap) up to one less than "
                               f"--chunk-tokens, e.g. --overlap-tokens {ChunkingParams().overlap_tokens}")
        for size in chunk_tokens:
            if overlap >= size:
                raise DatasetError(f"--overlap-tokens {overlap} is not smaller than --chunk-tokens {size}: "
                                   f"use an overlap from 0 to {size - 1}")
    unknown = sorted(set(rules_off) - set(RULES))
    if unknown:
        raise DatasetError(f"--rules-off {' '.join(unknown)}: no such rule; the rules are {', '.join(RULES)}")
    variants = [frozenset(rules_off)]
    if ablate:
        variants += [frozenset(rules_off) | {rule} for rule in RULES if rule not in rules_off]
    configs = []
    for size in chunk_tokens:
        for overlap in overlap_tokens:
            for mode in modes:
                for weight in dense_weights if mode == "hybrid" else [RetrievalSettings().dense_weight]:
                    label = f"hybrid {weight:g}" if mode == "hybrid" else mode
                    for off in variants:
                        suffix = f", rules off: {' '.join(sorted(off))}" if off else ""
                        configs.append(EvalConfig(f"{label}, chunks {size}/{overlap}{suffix}", ChunkingParams(size, overlap),
                                                  RetrievalSettings(mode=mode, dense_weight=weight),
                                                  AnswerPolicy(rules_off=off)))
    return configs


def sample_questions(questions: Sequence[EvalQuestion], limit: int | None, seed: int = 0) -> list[EvalQuestion]:
    """At most ``limit`` questions of each kind, drawn by a seeded shuffle (all when no limit)."""
    if not limit:
        return list(questions)
    chosen: list[EvalQuestion] = []
    for kind in dict.fromkeys(q.kind for q in questions):
        of_kind = [q for q in questions if q.kind == kind]
        random.Random(seed).shuffle(of_kind)
        chosen += of_kind[:limit]
    return chosen


def prepare_corpus(dataset: EvalSet, cache_dir: Path) -> Path:
    """Write the dataset's documents as files of a corpus folder in the cache (once)."""
    corpus = cache_dir / dataset.fingerprint / "corpus"
    marker = corpus / ".complete"
    if not marker.exists():
        corpus.mkdir(parents=True, exist_ok=True)
        for source, text in (dataset.documents or {}).items():
            (corpus / source).write_text(text, encoding="utf-8")
        marker.write_text("")
    return corpus


def relevant_chunks(question: EvalQuestion, chunks_by_source: dict, spans: dict) -> set[str]:
    """Ids of the chunks that count as right for ``question``, when passages are judged.

    ``chunks_by_source`` maps each document to its chunks, so that only the gold documents'
    chunks are looked at.
    """
    relevant: set[str] = set()
    gold_span = spans.get(question.id)
    for chunk in (c for source in question.gold_sources for c in chunks_by_source.get(source, ())):
        if gold_span is None or not (chunk.start < gold_span[1] and gold_span[0] < chunk.end):
            continue
        if not question.answers or any(_normal(a) in _normal(chunk.text) for a in question.answers):
            relevant.add(chunk.chunk_id)
    return relevant


def gold_spans(dataset: EvalSet, questions: Sequence[EvalQuestion], index: LoadedIndex) -> tuple[dict, list[EvalQuestion]]:
    """The gold span of each answerable question in the indexed text, and the sources it is in.

    Returns:
        ({question id: (start, end)}, questions with their gold sources filled in).
    """
    spans: dict[str, tuple[int, int]] = {}
    resolved: list[EvalQuestion] = []
    paragraph_spans: dict[str, list[tuple[int, int]]] = {}
    for question in questions:
        if question.kind != "answerable" or dataset.relevance == "document":
            resolved.append(question)
            continue
        if question.evidence is not None:
            for source, document in index.documents.items():
                at = document.text.find(question.evidence)
                if at >= 0:
                    spans[question.id] = (at, at + len(question.evidence))
                    question = EvalQuestion(question.id, question.question, question.answers, question.kind,
                                            (source,), None, question.evidence)
                    break
            else:
                logger.warning("question %s: its evidence is not in the indexed documents", question.id)
        else:
            source = question.gold_sources[0]
            if source not in paragraph_spans:
                paragraph_spans[source] = _paragraph_spans(index.documents[source].text)
            paragraphs = paragraph_spans[source]
            if question.gold_paragraph >= len(paragraphs):
                raise DatasetError(f"{source}: paragraph {question.gold_paragraph} not found after reading")
            spans[question.id] = paragraphs[question.gold_paragraph]
        resolved.append(question)
    return spans, resolved


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for match in re.finditer(r"\n\n", text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _answer_words(answer: Answer) -> int:
    """Words of the answer text, markers and dashes excluded."""
    return sum(1 for token in re.sub(r"\[\d+\]", " ", answer.text).split() if re.search(r"\w", token))


def _contains_gold(text: str, answers: Sequence[str]) -> bool:
    normal = _normal(text)
    return any(_normal(a) in normal for a in answers)


def _answer_holds_gold(question: EvalQuestion, answer: Answer) -> bool:
    """Whether ``answer`` was given and its text contains one of ``question``'s gold answers."""
    return answer.answerable and _contains_gold(answer.text, question.answers)


def ranked_run(hits: Sequence[Hit], relevance: str, depth: int) -> dict[str, float]:
    """The run of one query as pytrec_eval reads it: ids and scores that keep docqa's order.

    Passages are ranked as retrieved; documents (``relevance`` "document") as their best
    passage, the first of theirs in the ranking (MaxP). The scores are ranks counted down
    (pytrec_eval sorts by score and breaks ties by id, which would reorder equal scores).
    """
    ids = list(dict.fromkeys(h.chunk.source for h in hits)) if relevance == "document" else [h.chunk.chunk_id for h in hits]
    ids = ids[:depth]
    return {item: float(len(ids) - position) for position, item in enumerate(ids)}


def retrieval_metrics(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], query_ids: Sequence[str],
                      cutoffs: Sequence[int] = CUTOFFS) -> dict:
    """Mean hit@k and recall@k (k in ``cutoffs``), MRR@10, nDCG@10 and MAP@10 over ``query_ids``, by pytrec_eval.

    Items are passages or documents, as the qrels and the run name them; a qrels grade above 1
    counts as more relevant in nDCG. MRR@10 and MAP@10 read the first 10 of the run only,
    however deep it is. A query with no relevant item anywhere in the index scores 0 on every
    measure (pytrec_eval itself leaves such queries out, which would flatter the mean).
    """
    import pytrec_eval

    cutoffs = tuple(sorted(set(cutoffs)))
    deep = {f"success.{','.join(map(str, sorted(set(CURVE) | set(cutoffs))))}",
            f"recall.{','.join(map(str, cutoffs))}", "ndcg_cut.10"}
    top_ten = {"recip_rank", "map_cut.10"}
    judged = {q: rels for q, rels in qrels.items() if rels}
    runs = {q: run.get(q, {}) or {"none": 0.0} for q in judged}
    per_query: dict[str, dict[str, float]] = {q: {} for q in judged}
    if judged:
        for measures, of_query in ((deep, runs), (top_ten, {q: _first(r, 10) for q, r in runs.items()})):
            for query_id, scores in pytrec_eval.RelevanceEvaluator(judged, measures).evaluate(of_query).items():
                per_query[query_id].update(scores)
    names = ([f"success_{k}" for k in sorted(set(CURVE) | set(cutoffs))] + [f"recall_{k}" for k in cutoffs]
             + ["recip_rank", "ndcg_cut_10", "map_cut_10"])
    totals = {name: 0.0 for name in names}
    for query_id in query_ids:
        scores = per_query.get(query_id, {})
        for name in names:
            totals[name] += scores.get(name, 0.0)
    count = max(len(query_ids), 1)
    means = {name: total / count for name, total in totals.items()}
    result = {f"hit@{k}": means[f"success_{k}"] for k in cutoffs}
    result.update({f"recall@{k}": means[f"recall_{k}"] for k in cutoffs})
    result.update({"mrr@10": means["recip_rank"], "ndcg@10": means["ndcg_cut_10"], "map@10": means["map_cut_10"]})
    result["hit_curve"] = [means[f"success_{k}"] for k in CURVE]
    result["questions"] = len(query_ids)
    result["without_relevant_chunk"] = sum(1 for q in query_ids if not qrels.get(q))
    return result


def _first(run: dict[str, float], n: int) -> dict[str, float]:
    """The ``n`` best-scored items of a run (ties broken by id, as pytrec_eval does)."""
    return dict(sorted(run.items(), key=lambda item: (-item[1], item[0]))[:n])


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[position]


def evaluate_config(
    dataset: EvalSet,
    questions: Sequence[EvalQuestion],
    config: EvalConfig,
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    progress: bool = False,
    retrieval_only: bool = False,
    reader: Reader | None = None,
    cutoffs: Sequence[int] | None = None,
    llm: LLMSettings | None = None,
) -> dict:
    """Build (or reuse) the index for ``config``, ask every question, and measure.

    With ``retrieval_only``, questions are searched, not answered: only retrieval is measured.
    ``reader``: the answer stage's reader (None: without one). ``cutoffs``: the k of hit@k and
    recall@k (default ``default_cutoffs``); the ranking reaches the largest, and at least 10
    items, or ``DOCUMENT_DEPTH`` documents when documents are judged.
    """
    pipeline = Pipeline(corpus_dir, index_dir, embedder=embedder, chunking=config.chunking, retrieval=config.retrieval,
                        policy=config.policy, reader=reader, llm=None if retrieval_only else llm)
    pipeline.ensure_index(progress=progress)
    index = pipeline.index
    spans, questions = gold_spans(dataset, questions, index)
    chunks_by_source: dict[str, list] = {}
    for chunk in index.chunks:
        chunks_by_source.setdefault(chunk.source, []).append(chunk)
    by_document = dataset.relevance == "document"
    cutoffs = tuple(sorted(set(cutoffs or default_cutoffs(dataset.relevance))))
    depth = max(cutoffs[-1], RETRIEVE_K, DOCUMENT_DEPTH if by_document else 0)
    # passages enough for ``depth`` documents, as a rule: documents have several passages each
    per_document = index.size / max(len(index.documents), 1) if by_document else 1.0
    retrieve_k = min(index.size, max(depth, round(depth * per_document * 1.5)))
    answer_k = min(ANSWER_K, index.size)

    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    outcomes: list[tuple[EvalQuestion, Answer]] = []
    iterator = questions
    if progress:
        from tqdm import tqdm

        iterator = tqdm(questions, desc=config.name, unit="question")
    if questions:
        # One untimed question first: the model (and the answer models) load on first use, and
        # that load, seconds long, would otherwise be the first question's latency and the p95.
        if retrieval_only:
            pipeline.search(questions[0].question, retrieve_k)
        else:
            pipeline.retrieve_and_answer([questions[0].question], answer_k, retrieve_k)
    deepened = 0
    for question in iterator:
        started = time.perf_counter()
        if retrieval_only:
            hits = pipeline.search(question.question, retrieve_k)
            answer = None
        else:
            hits, answer = pipeline.retrieve_and_answer([question.question], answer_k, retrieve_k)[0]
        k = retrieve_k
        while by_document and k < index.size and len({h.chunk.source for h in hits}) < depth:
            k = min(index.size, 2 * k)  # this query's best passages crowd into few documents: look deeper
            hits = pipeline.search(question.question, k)
            deepened += 1
        latencies.append(1000 * (time.perf_counter() - started))
        outcomes.append((question, answer))
        if question.kind == "answerable":
            if by_document:
                qrels[question.id] = dict(zip(question.gold_sources, question.gold_grades or [1] * len(question.gold_sources)))
            else:
                qrels[question.id] = {c: 1 for c in relevant_chunks(question, chunks_by_source, spans)}
            run[question.id] = ranked_run(hits, dataset.relevance, depth)
    if deepened:
        logger.info("%s: %d searches went deeper than %d passages to rank %d documents", config.name, deepened,
                    retrieve_k, depth)

    answerable = [(q, a) for q, a in outcomes if q.kind == "answerable"]
    result = {
        "name": config.name,
        "settings": {"retrieval": asdict(config.retrieval), "chunking": config.chunking.to_dict(), "answer_k": answer_k},
        "chunks": index.size,
        "build_seconds": index.manifest.get("build_seconds"),
        "latency_ms": {"p50": round(_percentile(latencies, 0.5), 1), "p95": round(_percentile(latencies, 0.95), 1)},
        "retrieval": {**retrieval_metrics(qrels, run, [q.id for q, _ in answerable], cutoffs), "depth": depth,
                      "passages_searched": retrieve_k},
    }
    if retrieval_only:
        result["declines"] = {}
        result["false_decline_rate"] = None
        return result
    with_gold = [(q, a) for q, a in answerable if q.answers]
    declined_answerable = sum(1 for _, a in answerable if not a.answerable)
    if with_gold:
        result["answers"] = {
            "questions": len(with_gold),
            "answer_contains_gold": sum(_answer_holds_gold(q, a) for q, a in with_gold) / len(with_gold),
            "quotes_contain_gold": sum(
                any(_contains_gold(c.quote, q.answers) for c in a.citations) for q, a in with_gold
            ) / len(with_gold),
            "mean_answer_words": statistics.fmean(_answer_words(a) for _, a in with_gold if a.answerable)
            if any(a.answerable for _, a in with_gold) else 0.0,
        }
        shorts = [(q, a.extra.get("short_answer")) for q, a in with_gold if a.answerable and a.extra.get("short_answer")]
        result["short_answers"] = {
            "given": len(shorts) / len(with_gold),
            "exact_match": statistics.fmean(exact_match(s, q.answers) for q, s in shorts) if shorts else 0.0,
            "f1": statistics.fmean(f1_score(s, q.answers) for q, s in shorts) if shorts else 0.0,
            "exact_match_all": sum(exact_match(s, q.answers) for q, s in shorts) / len(with_gold),
            "f1_all": sum(f1_score(s, q.answers) for q, s in shorts) / len(with_gold),
        }
    result["false_decline_rate"] = declined_answerable / len(answerable) if answerable else None
    declines = {}
    for kind in ("impossible", "out_of_corpus", "unanswerable"):
        of_kind = [a for q, a in outcomes if q.kind == kind]
        if of_kind:
            declined = sum(1 for a in of_kind if not a.answerable)
            declines[kind] = {
                "questions": len(of_kind),
                "declined": declined / len(of_kind),
                "precision": declined / (declined + declined_answerable) if declined + declined_answerable else None,
            }
    result["declines"] = declines
    if llm is not None:
        result["generated"] = generated_figures([a for _, a in outcomes])
    result["per_question"] = [
        {"id": q.id, "kind": q.kind, "answerable": a.answerable,
         "hit@5": bool(set(qrels.get(q.id, {})) & {h.chunk.source if by_document else h.chunk.chunk_id for h in a.passages})
         if q.kind == "answerable" else None,
         "answer_has_gold": _answer_holds_gold(q, a) if q.kind == "answerable" else None,
         # what the decline rested on: with these, a threshold of one's own can be chosen from the report
         "answerable_probability": a.extra.get("evidence", {}).get("answerable_probability"),
         "mode": a.extra.get("mode", "extractive"), "answer": a.text}
        for q, a in outcomes
    ]
    return result


def generated_figures(answers: Sequence[Answer]) -> dict:
    """What the model's answers came to: how many answers it wrote (``mode`` llm), how many fell
    back to docqa's own, and the share of its sentences that their citations support."""
    sentences = sum(a.extra.get("generated_sentences", 0) for a in answers if a.extra.get("mode") == "llm")
    sentences += sum(len(a.extra.get("unsupported", [])) for a in answers if a.extra.get("mode") != "llm")
    supported = sum(a.extra.get("supported_sentences", 0) for a in answers if a.extra.get("mode") == "llm")
    notes: dict[str, int] = {}
    for a in answers:
        note = a.extra.get("llm_note")
        if note:
            reason = re.sub(r"\d+(\.\d+)?", "N", note.split(";")[0])
            notes[reason] = notes.get(reason, 0) + 1
    return {"answers": len(answers), "by_the_model": sum(a.extra.get("mode") == "llm" for a in answers),
            "fell_back": sum(bool(a.extra.get("llm_note")) for a in answers),
            "sentences": sentences, "supported_sentences": supported,
            "supported_share": round(supported / sentences, 4) if sentences else None,
            "fell_back_because": dict(sorted(notes.items(), key=lambda item: -item[1]))}


def run_evaluation(
    dataset: EvalSet,
    configs: Sequence[EvalConfig],
    embedder: Embedder,
    *,
    cache_dir: Path,
    corpus_dir: Path | None = None,
    limit: int | None = None,
    progress: bool = False,
    retrieval_only: bool = False,
    cutoffs: Sequence[int] | None = None,
    llm: LLMSettings | None = None,
) -> dict:
    """Measure every configuration on the dataset; the report as a dict.

    ``cutoffs``: the k of hit@k and recall@k (default: ``default_cutoffs`` of the dataset).
    """
    questions = sample_questions(dataset.questions, limit)
    if dataset.documents is None:
        if corpus_dir is None:
            raise DatasetError(f"{dataset.name} asks about a corpus folder; pass --corpus DIR")
        corpus = Path(corpus_dir)
        base = cache_dir / f"corpus-{_path_key(corpus)}"
    else:
        started = time.perf_counter()
        corpus = prepare_corpus(dataset, cache_dir)
        logger.info("%s: its documents are in %s (%.1f s)", dataset.name, corpus, time.perf_counter() - started)
        base = corpus.parent
    _mark_used(base)
    prune_cache(cache_dir, keep=base)
    results = []
    # one reader for every configuration, remembering what it read: configurations that differ
    # only after retrieval (rules left out) read the same (question, sentence) pairs
    reader = None if retrieval_only else default_reader(remember=True)
    for config in configs:
        index_dir = base / f"index-{config.chunking.max_tokens}-{config.chunking.overlap_tokens}"
        results.append(evaluate_config(dataset, questions, config, corpus, index_dir, embedder, progress=progress,
                                       retrieval_only=retrieval_only, reader=reader, cutoffs=cutoffs, llm=llm))
    kinds: dict[str, int] = {}
    for question in questions:
        kinds[question.kind] = kinds.get(question.kind, 0) + 1
    return {
        "dataset": dataset.name,
        "split": dataset.split,
        "relevance": RELEVANCE[dataset.relevance],
        "cutoffs": list(sorted(set(cutoffs or default_cutoffs(dataset.relevance)))),
        "questions": kinds,
        "limit_per_kind": limit,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "embedding_model": embedder.name,
        "configs": results,
    }


# A dataset's (or corpus folder's) cached indexes go after this many days without an evaluation.
CACHE_DAYS = 30
_USED = ".last-used"
_ENTRY_NAME = re.compile(r"[0-9a-f]{16}|corpus-[0-9a-f]{12}")  # a dataset's fingerprint, a corpus folder's key


def _mark_used(entry: Path) -> None:
    entry.mkdir(parents=True, exist_ok=True)
    (entry / _USED).touch()


def prune_cache(cache_dir: Path, *, keep: Path | None = None, days: float = CACHE_DAYS) -> list[Path]:
    """Delete the cache entries no evaluation has used for ``days`` days; the entries removed.

    An entry is one dataset's corpus and indexes, or one corpus folder's indexes, named by a
    fingerprint; anything else in the folder is not docqa's and stays. Its last use is the time
    of its ``.last-used`` file (or of the entry itself, for one made before it).
    """
    import shutil

    if not cache_dir.is_dir():
        return []
    cutoff = time.time() - days * 86400
    removed = []
    for entry in sorted(cache_dir.iterdir()):
        if not entry.is_dir() or entry == keep or not _ENTRY_NAME.fullmatch(entry.name):
            continue
        stamp = entry / _USED
        try:
            last_used = (stamp if stamp.exists() else entry).stat().st_mtime
        except OSError:
            continue
        if last_used < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            logger.info("removed %s from the evaluation cache: unused for %d days", entry, days)
            removed.append(entry)
    return removed


def _path_key(path: Path) -> str:
    import hashlib

    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
