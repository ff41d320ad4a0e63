"""The ``docqa`` command line: the only place, with the UI, that talks to people."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Sequence

from . import __version__, config
from .errors import DocqaError
from .types import Answer, Hit

logger = logging.getLogger("docqa")

DEFAULT_K = 5


def _add_common(parser: argparse.ArgumentParser, *, build_flag: bool = True) -> None:
    parser.add_argument("--corpus", type=Path, default=None,
                        help="folder of documents (default: corpus/, or DOCQA_CORPUS)")
    parser.add_argument("--index", type=Path, default=None,
                        help="index folder (default: index/, or DOCQA_INDEX)")
    if build_flag:
        parser.add_argument("--no-build", action="store_true",
                            help="fail instead of building the index when it is missing or stale")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small; use 1 or more")
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
    _add_common(index, build_flag=False)
    index.add_argument("--rebuild", action="store_true", help="build from scratch even when up to date")

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
    _add_common(ask)

    serve = commands.add_parser("serve", help="start the chat app in the browser")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=7860, help="port (default 7860)")
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
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="docqa: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    from .pipeline import Pipeline

    kwargs = {"embedder": embedder} if embedder is not None else {}
    pipeline = Pipeline(
        corpus_dir=args.corpus or config.default_corpus_dir(),
        index_dir=args.index or config.default_index_dir(),
        **kwargs,
    )
    try:
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
    from .errors import IndexNotFound

    if not args.rebuild:
        try:
            reasons = pipeline.stale_reasons()
        except IndexNotFound:
            reasons = ["no index yet"]
        if not reasons:
            manifest = pipeline.index.manifest
            counts = manifest.get("counts", {})
            print(
                f"{pipeline.index_dir} is up to date ({_plural(counts.get('documents', 0), 'document')}, "
                f"{_plural(counts.get('chunks', 0), 'chunk')}); use --rebuild to build it anyway"
            )
            return 0
        print(f"indexing {pipeline.corpus_dir}: {'; '.join(reasons)}", file=sys.stderr)
    report = pipeline.build(progress=_progress())
    _print_build_report(report, sys.stdout)
    return 0


def _print_build_report(report, stream) -> None:
    print(
        f"indexed {_plural(report.documents, 'document')} into {_plural(report.chunks, 'chunk')} "
        f"in {report.seconds:.1f} s -> {report.index_dir}",
        file=stream,
    )
    for skipped in report.skipped:
        print(f"  skipped {skipped.source}: {skipped.reason}", file=stream)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _prepare(pipeline, args) -> None:
    report = pipeline.ensure_index(build=not args.no_build, progress=_progress())
    if report is not None:
        _print_build_report(report, sys.stderr)


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
    print(f"({len(hits)} passages in {1000 * (time.perf_counter() - started):.0f} ms)", file=sys.stderr)
    return 0


def _print_passage(hit: Hit, width: int = 400) -> None:
    chunk = hit.chunk
    text = " ".join(chunk.text.split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    print(f"{hit.rank}. {hit.score:.3f}  {_place(chunk.source, chunk.start, chunk.end, chunk.page)}")
    print(f"   {text}")


def _place(source: str, start: int, end: int, page: int | None) -> str:
    page_part = f", p. {page}" if page is not None else ""
    return f"{source}{page_part}, characters {start}-{end}"


def _run_ask(pipeline, args) -> int:
    _prepare(pipeline, args)
    answer = pipeline.ask(args.question, k=_k(pipeline, args))
    if args.json:
        print(json.dumps(answer.to_record(), ensure_ascii=False))
        return 0
    print(answer.text)
    print()
    if answer.answerable:
        print("Sources:")
        for citation in answer.citations:
            quote = " ".join(citation.quote.split())
            print(f"[{citation.marker}] {_place(citation.source, citation.start, citation.end, citation.page)}")
            print(f"    “{quote}”")
    else:
        print("Closest passages (they do not answer the question):")
        for hit in answer.passages[:3]:
            _print_passage(hit, width=240)
    return 0


def _run_serve(pipeline, args) -> int:
    from .ui import serve

    _prepare(pipeline, args)
    serve(pipeline, host=args.host, port=args.port)
    return 0


_COMMANDS = {"index": _run_index, "search": _run_search, "ask": _run_ask, "serve": _run_serve}


def entry_point() -> None:
    """The console script."""
    sys.exit(main())
