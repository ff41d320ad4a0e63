"""The ``docqa`` command line: the only place, with the UI, that talks to people."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

from . import __version__, config
from .answer import RULES
from .cleaning import replace_surrogates
from .errors import DocqaError
from .retrieve import MODES, RetrievalSettings
from .types import Answer, Hit, section_label

logger = logging.getLogger("docqa")

DEFAULT_K = 5
DEFAULT_MODE = RetrievalSettings().mode


def _add_common(parser: argparse.ArgumentParser, *, build_flag: bool = True, mode_flag: bool = True) -> None:
    # -v after the command too ("docqa eval DIR -v"); SUPPRESS: when absent here, docqa's own -v stands
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log what docqa does to stderr")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="folder of documents (default: corpus/, or DOCQA_CORPUS)")
    parser.add_argument("--index", type=Path, default=None,
                        help="index folder (default: index/, or DOCQA_INDEX)")
    if build_flag:
        parser.add_argument("--no-build", action="store_true",
                            help="fail instead of building the index when it is missing or stale")
    parser.add_argument("--device", choices=config.DEVICES, default=None,
                        help="where the embedding model runs: auto (default, or DOCQA_DEVICE: a CUDA GPU when "
                             "there is one), cpu or cuda (falls back to the CPU, saying so, without one)")
    if mode_flag:
        parser.add_argument("--mode", choices=MODES, default=None,
                            help=f"retrieval: dense (embeddings), keyword (BM25) or hybrid (default {DEFAULT_MODE})")


def _add_llm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--llm", default=None, metavar="URL",
                        help="answer with your own language-model server (OpenAI-compatible API base, such as "
                             "http://127.0.0.1:8080/v1; or DOCQA_LLM_URL), every sentence's citation checked by "
                             "docqa; DOCQA_LLM_MODEL names the model, DOCQA_LLM_API_KEY is sent as its key")


def _positive_int(text: str) -> int:
    shown = text if len(text) <= 20 else text[:20] + "…"  # a message need not echo 5,000 digits back
    try:
        value = int(text)
    except ValueError:  # also a number of more digits than Python converts (4,300)
        raise argparse.ArgumentTypeError(f"{shown!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{shown} is too small; use 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docqa",
        description="Answer questions from a folder of documents, citing the exact sentences.",
    )
    parser.add_argument("--version", action="version", version=f"docqa {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what docqa does to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    index = commands.add_parser("index", help="build or update the index of the corpus")
    _add_common(index, build_flag=False, mode_flag=False)
    index.add_argument("--rebuild", action="store_true", help="build from scratch even when up to date")
    index.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                       help="embed on a Ray cluster: ADDRESS (e.g. ray://host:10001), or without one the cluster "
                            "`ray start` began on this machine, else a local one (needs pip install -e \".[ray]\")")
    index.add_argument("--ray-actors", type=_positive_int, default=None, metavar="N",
                       help="with --ray: actors embedding at once, one model each (default: one per CPU, at most 8)")

    search = commands.add_parser("search", help="show the passages that best match a query")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("-k", type=_positive_int, default=None, help=f"number of passages (default {DEFAULT_K})")
    search.add_argument("--json", action="store_true", help="print JSON only on stdout")
    _add_common(search)

    ask = commands.add_parser("ask", help="answer a question with cited sentences")
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("-k", type=_positive_int, default=None,
                     help=f"number of passages to answer from (default {DEFAULT_K})")
    ask.add_argument("--json", action="store_true", help="print the answer record as JSON on stdout")
    _add_llm(ask)
    _add_common(ask)

    batch = commands.add_parser("batch", help="answer a file of questions (.txt, .csv, .jsonl)")
    batch.add_argument("input", metavar="INPUT", type=Path,
                       help=".txt (a question a line), .csv (column question, optional id) or .jsonl ({\"id\", \"question\"})")
    batch.add_argument("-o", "--output", type=Path, default=None,
                       help="answers file, .jsonl or .csv (default: <input stem>.answers.jsonl beside the input)")
    batch.add_argument("-k", type=_positive_int, default=None,
                       help=f"number of passages to answer from (default {DEFAULT_K})")
    existing = batch.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true", help="keep the answers already in OUTPUT and answer the rest")
    existing.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    batch.add_argument("--batch-size", type=_positive_int, default=64, help="questions embedded together (default 64)")
    _add_llm(batch)
    _add_common(batch)

    evaluate = commands.add_parser("eval", help="measure retrieval and answers on a labelled set")
    evaluate.add_argument("dataset", metavar="DATASET", type=Path,
                          help="a SQuAD .json (v1.1 or v2.0), a BEIR folder, or a .jsonl gold set over --corpus")
    evaluate.add_argument("--report", type=Path, default=None,
                          help="folder for report.json, report.md and hit_at_k.png (default reports/<dataset>)")
    evaluate.add_argument("--limit", type=_positive_int, default=None,
                          help="at most N questions of each kind, drawn by a seeded shuffle (default: all)")
    evaluate.add_argument("--split", choices=("test", "dev", "train"), default=None,
                          help="BEIR: the qrels file to measure on, qrels/SPLIT.tsv (default test)")
    evaluate.add_argument("--k-values", type=_positive_int, nargs="+", default=None, metavar="K",
                          help="the k of hit@k and recall@k (default 1 3 5 10; BEIR 1 3 5 10 100); the ranking "
                               "reaches the largest")
    evaluate.add_argument("--holdout-articles", type=int, default=0,
                          help="SQuAD: leave the last N articles out of the index and ask their questions, "
                               "which should be declined")
    evaluate.add_argument("--chunk-tokens", type=_positive_int, nargs="+", default=None,
                          help="chunk sizes to compare (default: docqa's)")
    evaluate.add_argument("--overlap-tokens", type=int, nargs="+", default=None,
                          help="chunk overlaps to compare (default: docqa's)")
    evaluate.add_argument("--modes", choices=MODES, nargs="+", default=None,
                          help=f"retrieval modes to compare (default: {DEFAULT_MODE})")
    evaluate.add_argument("--dense-weights", type=float, nargs="+", default=None,
                          help="hybrid: weights of the dense score to compare (default: docqa's)")
    evaluate.add_argument("--rules-off", nargs="+", default=[], choices=list(RULES), metavar="RULE",
                          help="leave these hand rules of the answer stage out, to measure what each adds: "
                               + ", ".join(RULES))
    evaluate.add_argument("--ablate", action="store_true",
                          help="compare docqa with each hand rule left out in turn (one configuration per rule)")
    evaluate.add_argument("--retrieval-only", action="store_true",
                          help="search the questions without answering them: measure retrieval alone, faster")
    evaluate.add_argument("--cache", type=Path, default=None,
                          help="where datasets' indexes are kept (default DOCQA_CACHE or ~/.cache/docqa)")
    _add_llm(evaluate)
    _add_common(evaluate, build_flag=False, mode_flag=False)

    serve = commands.add_parser("serve", help="start the chat app in the browser")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1, this machine only; any other address "
                            "without DOCQA_AUTH=user:password or DOCQA_AUTH_FILE gets a warning)")
    serve.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    _add_llm(serve)
    _add_common(serve)
    return parser


def main(argv: Sequence[str] | None = None, *, embedder=None) -> int:
    """Run the command line. Returns the exit code: 0 ok, 1 a problem with input or data, 2 usage.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        embedder: the embedding model to use (default: the offline MiniLM model); tests pass a fake.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    for name in ("question", "query"):  # a byte that is not UTF-8 arrives as a surrogate, which cannot be printed
        if isinstance(getattr(args, name, None), str):
            setattr(args, name, replace_surrogates(getattr(args, name)))
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="docqa: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    from .pipeline import Pipeline

    kwargs = {"embedder": embedder} if embedder is not None else {}
    if embedder is None and getattr(args, "device", None):
        from .embedding import MiniLMEmbedder

        kwargs["embedder"] = MiniLMEmbedder(device=args.device)
    if getattr(args, "mode", None):
        kwargs["retrieval"] = RetrievalSettings(mode=args.mode)
    try:
        config.check_settings()  # a wrong DOCQA_* value stops here, before any reading or embedding
        pipeline = Pipeline(
            corpus_dir=args.corpus or config.default_corpus_dir(),
            index_dir=args.index or config.default_index_dir(),
            **kwargs,
        )
        if "llm" in args:
            from .llm import llm_settings

            pipeline.llm = llm_settings(args.llm)
        return _COMMANDS[args.command](pipeline, args)
    except DocqaError as error:
        print(f"docqa: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("docqa: interrupted", file=sys.stderr)
        return 130


def _progress() -> bool:
    return config.progress_enabled()


def _run_index(pipeline, args) -> int:
    from .errors import CorruptIndex, IndexNotFound
    from .index import REBUILD_HINT

    if args.ray is not None:
        pipeline.embedder = _on_ray(pipeline.embedder, args.ray or None, args.ray_actors)

    rebuild = args.rebuild
    if not rebuild:
        try:
            reasons = pipeline.stale_reasons()
            if not reasons:
                counts = pipeline.index.manifest.get("counts", {})  # loads the index: damage is found here
                print(
                    f"{pipeline.index_dir} is up to date ({_plural(counts.get('documents', 0), 'document')}, "
                    f"{_plural(counts.get('chunks', 0), 'chunk')}); use --rebuild to build it anyway"
                )
                return 0
        except IndexNotFound:
            if not pipeline.corpus_dir.is_dir():
                reasons = []  # the build says what is wrong with the corpus folder; "no index yet" is beside the point
            else:
                reasons = ["no index yet"]
        except CorruptIndex as error:
            # the advice of the message is what this command is about to do
            reasons, rebuild = [f"{str(error).removesuffix('; ' + REBUILD_HINT)}: building it again"], True
        if reasons:
            print(f"indexing {pipeline.corpus_dir}: {'; '.join(reasons)}", file=sys.stderr)
    report = pipeline.build(progress=_progress(), rebuild=rebuild)
    _print_build_report(report, sys.stdout)
    return 0


def _on_ray(local, address: str | None, actors: int | None):
    """``local``'s embedding moved to a Ray cluster: each actor makes the same model."""
    from functools import partial

    from .embedding import MiniLMEmbedder
    from .ray_embedder import RayEmbedder

    if isinstance(local, MiniLMEmbedder):
        factory = partial(MiniLMEmbedder, precision=local.requested_precision, engine="torch",
                          device=local.requested_device)
    else:  # an embedder given by the caller (tests): made on each actor by its class
        factory = type(local)
    return RayEmbedder(local, factory, address=address, actors=actors)


def _print_build_report(report, stream) -> None:
    formats = ", ".join(f"{count} {kind}" for kind, count in report.formats.items())
    print(
        f"indexed {_plural(report.documents, 'document')} ({formats}) into {_plural(report.chunks, 'chunk')} "
        f"in {report.seconds:.1f} s -> {report.index_dir}",
        file=stream,
    )
    if report.incremental:
        changes = [f"{kind} {_names(names)}" for kind, names in report.changes.items() if names]
        print(f"  updated: {'; '.join(changes) if changes else 'no file changed'}", file=stream)
        print(f"  read {_plural(report.files_read, 'file')}; embedded {_plural(report.embedded, 'chunk')} "
              f"in {report.embed_seconds:.1f} s, reused the vectors of {report.reused}", file=stream)
    else:
        print(f"  full build: read {_plural(report.files_read, 'file')}; embedded {_plural(report.embedded, 'chunk')} "
              f"in {report.embed_seconds:.1f} s", file=stream)
    if report.skipped:
        print(f"  skipped {_plural(len(report.skipped), 'file')}:", file=stream)
    for skipped in report.skipped:
        print(f"    {skipped.source}: {skipped.reason}", file=stream)


def _duration(seconds: float) -> str:
    """A time as people read it: "42 ms" under a second, "13.2 s" above."""
    return f"{1000 * seconds:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _names(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _prepare(pipeline, args) -> None:
    from .errors import IndexNotFound, StaleIndex

    try:
        report = pipeline.ensure_index(build=not args.no_build, progress=_progress())
    except (IndexNotFound, StaleIndex) as error:
        # the command to run must build the index this command reads: the same --corpus and --index
        command = _index_command(args)
        if command == "docqa index" or "`docqa index`" not in str(error):
            raise
        message = str(error).replace("`docqa index`", f"`{command}`")
        raise (StaleIndex(message, error.reasons) if isinstance(error, StaleIndex) else IndexNotFound(message)) from None
    if report is not None:
        _print_build_report(report, sys.stderr)


def _index_command(args) -> str:
    """``docqa index`` with the --corpus and --index of this command line, as a shell reads it."""
    words = ["docqa", "index"]
    for flag in ("corpus", "index"):
        if getattr(args, flag, None) is not None:
            words += [f"--{flag}", str(getattr(args, flag))]
    return shlex.join(words)


def _k(pipeline, args) -> int:
    """The -k given, or the default capped at the size of a small index."""
    return args.k if args.k is not None else min(DEFAULT_K, pipeline.index.size)


def _run_search(pipeline, args) -> int:
    _prepare(pipeline, args)
    started = time.perf_counter()
    hits = pipeline.search(args.query, k=_k(pipeline, args))
    if args.json:
        record = {"query": args.query, "passages": Answer(args.query, "", False, (), tuple(hits)).to_record()["passages"]}
        print(json.dumps(record, ensure_ascii=False))
        return 0
    for hit in hits:
        _print_passage(hit)
    print(f"({_plural(len(hits), 'passage')} in {_duration(time.perf_counter() - started)})", file=sys.stderr)
    return 0


def _print_passage(hit: Hit, width: int = 400, *, score: bool = True) -> None:
    chunk = hit.chunk
    text = " ".join(chunk.text.split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    shown = f"{hit.score:.3f}  " if score else ""
    print(f"{hit.rank}. {shown}{_place(chunk.source, chunk.start, chunk.end, chunk.page, chunk.section)}")
    print(f"   {text}")


def _place(source: str, start: int, end: int, page: int | None, section: tuple[str, ...] = (),
           title: str | None = None) -> str:
    """Where a passage or quote is: "report.pdf, p. 3, “Annual report”, Purpose › Meetings, characters 10-50"."""
    parts = [source]
    if page is not None:
        parts.append(f"p. {page}")
    if title and (not section or section[0] != title):
        parts.append(f"“{title}”")
    if section:
        parts.append(section_label(section))
    parts.append(f"characters {start}-{end}")
    return ", ".join(parts)


def _run_ask(pipeline, args) -> int:
    if pipeline.reader is not None:
        pipeline.reader.open_in_background()  # while the index loads and the question is embedded
    _prepare(pipeline, args)
    answer = pipeline.ask(args.question, k=_k(pipeline, args))
    if args.json:
        print(json.dumps(answer.to_record(), ensure_ascii=False))
        return 0
    print(answer.text)
    print()
    note = answer.extra.get("llm_note")
    if note:
        print(f"(The model's answer was not used: {note}.)")
        print()
    left_out = answer.extra.get("unsupported") or []
    if answer.extra.get("mode") == "llm" and left_out:
        print(f"Left out of the model's answer ({_plural(len(left_out), 'sentence')} its citations do not support):")
        for item in left_out:
            print(f"  - {item['sentence']} ({item['reason']})")
        print()
    if answer.answerable:
        print("Sources:")
        for citation in answer.citations:
            quote = " ".join(citation.quote.split())
            place = _place(citation.source, citation.start, citation.end, citation.page, citation.section, citation.title)
            print(f"[{citation.marker}] {place}")
            print(f"    “{quote}”")
    else:
        # in the order of their likeliest sentences, not of their search scores: no score is shown
        # (a search score of 0.000 listed above one of 1.000 reads as a mistake)
        print("Closest passages (they do not answer the question):")
        for hit in answer.passages[:3]:
            _print_passage(hit, width=240, score=False)
    return 0


def _run_batch(pipeline, args) -> int:
    from .batch import (HOW_TO_WRITE, BatchInputError, RecordWriter, check_output_path, check_question_text,
                        completed_ids, default_output_path, duplicate_ids, error_record, read_questions, with_fields)
    from .pipeline import MAX_QUESTION_CHARS
    from .retrieve import check_k

    questions = read_questions(args.input)
    if not questions:
        raise BatchInputError(f"{args.input}: no questions in the file; {HOW_TO_WRITE[args.input.suffix.lower()]}")
    output = args.output or default_output_path(args.input)
    check_output_path(output)
    if output.resolve() == args.input.resolve():
        raise BatchInputError(f"{output}: the output would overwrite the input; choose another -o")
    if output.exists() and output.stat().st_size > 0 and not (args.resume or args.overwrite):
        raise BatchInputError(f"{output} exists; pass --resume to continue it or --overwrite to replace it")
    duplicates = duplicate_ids(questions)
    if duplicates:
        shown = ", ".join(duplicates[:10]) + (" …" if len(duplicates) > 10 else "")
        print(f"docqa: warning: {len(duplicates)} ids occur more than once in {args.input}: {shown}; "
              f"each question is answered, under its id", file=sys.stderr)
    done = completed_ids(output) if args.resume else None
    todo = []
    for question in questions:
        if done and done[question.id] > 0:
            done[question.id] -= 1
            continue
        todo.append(question)
    skipped = len(questions) - len(todo)
    _prepare(pipeline, args)
    k = _k(pipeline, args)
    check_k(k, pipeline.index)  # before the output is touched
    if todo:  # load the model now: the rate counts answering, not start-up
        pipeline.warm_up()
    extra_columns = list(dict.fromkeys(key for q in questions for key in q.fields))
    writer = RecordWriter(output, extra_columns, append=bool(args.resume))
    started = time.perf_counter()
    errors = 0
    bar = None
    if _progress():
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="question", desc="answering")
    try:
        for first in range(0, len(todo), args.batch_size):
            group = todo[first : first + args.batch_size]
            problems = {id(q): check_question_text(q, MAX_QUESTION_CHARS) for q in group}
            askable = [q for q in group if problems[id(q)] is None]
            answers = iter(pipeline.ask_many([q.question for q in askable], k=k) if askable else [])
            for question in group:
                if problems[id(question)] is not None:
                    record = error_record(question, problems[id(question)])
                    errors += 1
                else:
                    answer = next(answers)
                    record = {"id": question.id, **answer.to_record()}
                writer.write(with_fields(record, question))
            if bar is not None:
                bar.update(len(group))
    finally:
        writer.close()
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - started
    rate = len(todo) / seconds if seconds > 0 else 0.0
    resumed = f", {skipped} already answered" if args.resume else ""
    print(f"answered {_plural(len(todo), 'question')} ({errors} with errors{resumed}) in {seconds:.1f} s, "
          f"{rate:.1f} questions/s -> {output}")
    return 0


def _run_eval(pipeline, args) -> int:
    from .chunking import ChunkingParams
    from .datasets import load_dataset
    from .evaluate import configurations, run_evaluation
    from .report import format_table, write_report

    dataset = load_dataset(args.dataset, holdout_articles=args.holdout_articles, split=args.split)
    defaults = ChunkingParams()
    configs = configurations(
        args.chunk_tokens or [defaults.max_tokens],
        args.overlap_tokens or [defaults.overlap_tokens],
        args.modes or [DEFAULT_MODE],
        args.dense_weights or [RetrievalSettings().dense_weight],
        args.rules_off,
        args.ablate,
    )
    for candidate in configs:
        chunking = candidate.chunking
        if chunking.max_tokens > pipeline.embedder.max_tokens:  # sizes and overlaps are checked in configurations()
            raise DocqaError(
                f"chunks of {chunking.max_tokens} tokens do not fit the model's window: "
                f"use --chunk-tokens up to {pipeline.embedder.max_tokens}"
            )
    report = run_evaluation(
        dataset, configs, pipeline.embedder,
        cache_dir=(args.cache or config.cache_dir()) / "eval",
        corpus_dir=args.corpus or config.default_corpus_dir(),
        limit=args.limit, progress=_progress(), retrieval_only=args.retrieval_only, cutoffs=args.k_values,
        llm=pipeline.llm,
    )
    report_dir = args.report or Path("reports") / args.dataset.stem
    command = "docqa " + shlex.join(args.argv)
    paths = write_report(report, report_dir, command)
    print(format_table(report))
    print(f"\nreport: {', '.join(str(p) for p in paths)}")
    return 0


def _run_serve(pipeline, args) -> int:
    from .ui import serve

    config.auth_credentials()  # a malformed DOCQA_AUTH stops here, before any indexing
    _prepare(pipeline, args)
    app = serve(pipeline, host=args.host, port=args.port, block=False)
    print(f"docqa: the chat app is running on {app.local_url} (Ctrl+C stops it)", flush=True)
    if pipeline.llm is not None:
        print(f"docqa: answers are written by the model at {pipeline.llm.url} and checked by docqa", flush=True)
    try:
        _wait_until_closed(app)
    finally:
        app.close()
    return 0


def _wait_until_closed(app) -> None:
    while app.is_running:
        time.sleep(0.5)


_COMMANDS = {"index": _run_index, "search": _run_search, "ask": _run_ask, "batch": _run_batch,
             "eval": _run_eval, "serve": _run_serve}


def run_console(argv: Sequence[str] | None = None, *, embedder=None) -> int:
    """``main``, for a process of its own: its exit status.

    Output piped into a reader that stops early (``docqa search ... | head -3``) ends docqa
    quietly, as it ends other command-line tools, not with a traceback.
    """
    try:
        code = main(argv, embedder=embedder)
        sys.stdout.flush()
    except BrokenPipeError:
        # what is still buffered for the closed pipe would fail again at exit: send it nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141  # 128 + SIGPIPE, the status a shell gives a command the pipe stopped
    return code


def entry_point() -> None:
    """The console script."""
    sys.exit(run_console())
