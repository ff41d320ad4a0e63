"""Sentence-aware chunking with exact character spans: pure functions."""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import asdict, dataclass, replace
from typing import Callable, Iterable, Iterator, Sequence

from .sentences import split_sentences
from .types import Chunk, Document

# Part of the index settings: a change here changes chunks, so old indexes become stale.
# 2: chunks do not straddle sections, and carry their section and page.
CHUNKING_VERSION = 2

# Character spans of the tokens in a text, as the embedding model's tokenizer sees them.
TokenSpans = Callable[[str], Sequence[tuple[int, int]]]


MIN_CHUNK_TOKENS = 8  # the smallest chunk size chunk_document accepts


@dataclass(frozen=True)
class ChunkingParams:
    """How documents are cut into chunks.

    ``max_tokens`` counts the model's tokens without its two special tokens, so it must
    stay at or below the model's window minus two (254 for MiniLM's 256).
    ``overlap_tokens`` is the budget for whole sentences repeated from the previous chunk.
    """

    # Chosen by `docqa eval` on SQuAD v1.1 (1,500 questions, hybrid retrieval): 100 to 250
    # tokens were compared, and overlaps of 0, 30 and 60; 250/30 ranked best on hit@5 and MRR@10.
    max_tokens: int = 250
    overlap_tokens: int = 30

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    paragraph: int
    section: int = -1  # index into document.sections; -1 before the first heading
    heading: bool = False  # the unit is a section's heading


def make_chunk_id(source: str, start: int, end: int) -> str:
    """A stable id from the document's path and the chunk's span."""
    return hashlib.sha1(f"{source}\x00{start}\x00{end}".encode("utf-8")).hexdigest()[:16]


def chunk_document(document: Document, params: ChunkingParams, token_spans: TokenSpans) -> list[Chunk]:
    """Cut a document into chunks of whole sentences that fit ``params.max_tokens``.

    Sentences are packed greedily; a chunk does not run on into a new paragraph once it is
    half full, and each new chunk repeats the previous chunk's last sentences up to
    ``params.overlap_tokens``. A sentence longer than the limit is cut at token boundaries
    (at white space where there is some). A chunk never runs on into a new section (a
    heading of ``document.sections``) once it holds more than headings, and repeats nothing
    of the section before: a chunk's section is the one all its text belongs to.

    Returns:
        Chunks in document order with ``document.text[chunk.start:chunk.end] == chunk.text``,
        each with its section's heading path and the page where it starts.
    """
    if params.max_tokens < MIN_CHUNK_TOKENS or params.overlap_tokens < 0 or params.overlap_tokens >= params.max_tokens:
        raise ValueError(f"invalid chunking parameters: {params}")
    units = _with_sections(_units(document.text, params.max_tokens, token_spans), document)
    chunks: list[Chunk] = []
    current: list[_Unit] = []

    def emit() -> None:
        start, end = current[0].start, current[-1].end
        chunks.append(
            Chunk(
                chunk_id=make_chunk_id(document.source, start, end),
                source=document.source,
                start=start,
                end=end,
                text=document.text[start:end],
                token_count=sum(u.tokens for u in current),
                page=document.page_at(start),
                section=document.sections[current[-1].section][1] if current[-1].section >= 0 else (),
            )
        )

    emitted_upto = 0  # number of units of `current` already covered by an emitted chunk
    for unit in units:
        if current and unit.section != current[-1].section and not all(u.heading for u in current):
            if len(current) > emitted_upto:
                emit()
            current, emitted_upto = [], 0
        total = sum(u.tokens for u in current)
        new_paragraph = bool(current) and unit.paragraph != current[-1].paragraph
        if current and (total + unit.tokens > params.max_tokens or (new_paragraph and total >= params.max_tokens // 2)):
            emit()
            current = _overlap_tail(current, params.overlap_tokens, unit.tokens, params.max_tokens)
            emitted_upto = len(current)
        current.append(unit)
    if current and len(current) > emitted_upto:
        emit()
    return chunks


def _with_sections(units: Iterable[_Unit], document: Document) -> Iterator[_Unit]:
    """The units with the index of the section each lies in, and whether it is a heading."""
    if not document.sections:
        yield from units
        return
    starts = [start for start, _ in document.sections]
    heading_starts = set(starts)
    for u in units:
        yield replace(u, section=bisect_right(starts, u.start) - 1, heading=u.start in heading_starts)


def _overlap_tail(units: list[_Unit], budget: int, next_tokens: int, max_tokens: int) -> list[_Unit]:
    tail: list[_Unit] = []
    used = 0
    for unit in reversed(units):
        if used + unit.tokens > budget or used + unit.tokens + next_tokens > max_tokens:
            break
        tail.insert(0, unit)
        used += unit.tokens
    return tail


def _units(text: str, max_tokens: int, token_spans: TokenSpans) -> Iterator[_Unit]:
    """Sentences with their token counts and paragraph numbers; over-long ones cut to fit.

    Made one at a time, as the chunks need them: a long document's sentences are never all
    in memory at once.
    """
    paragraph = 0
    previous_end = 0
    for start, end in _sentences(text):
        if "\n\n" in text[previous_end:start]:
            paragraph += 1
        previous_end = end
        spans = token_spans(text[start:end])
        if len(spans) <= max_tokens:
            yield _Unit(start, end, max(len(spans), 1), paragraph)
            continue
        yield from _cut_long_sentence(text, start, end, spans, max_tokens, paragraph)


_SENTENCE_WINDOW = 1 << 16


def _sentences(text: str) -> Iterator[tuple[int, int]]:
    """``split_sentences(text)``, split a run of whole lines at a time (a line break always
    ends a sentence, so the spans are the same)."""
    position = 0
    while position < len(text):
        stop = text.find("\n", position + _SENTENCE_WINDOW)
        stop = len(text) if stop == -1 else stop
        yield from split_sentences(text, position, stop)
        position = stop + 1


def _cut_long_sentence(
    text: str, start: int, end: int, spans: Sequence[tuple[int, int]], max_tokens: int, paragraph: int
) -> list[_Unit]:
    pieces: list[_Unit] = []
    first_token = 0
    piece_start = start
    while first_token < len(spans):
        last_token = min(first_token + max_tokens, len(spans))  # exclusive
        if last_token < len(spans):
            # Prefer to cut where a token is preceded by white space (a word boundary).
            for candidate in range(last_token, first_token + max_tokens // 2, -1):
                if text[start + spans[candidate][0] - 1].isspace():
                    last_token = candidate
                    break
            piece_end = start + spans[last_token - 1][1]
        else:
            piece_end = end
        pieces.append(_Unit(piece_start, piece_end, last_token - first_token, paragraph))
        first_token = last_token
        if first_token < len(spans):
            piece_start = start + spans[first_token][0]
    return pieces


def chunk_documents(documents: Sequence[Document], params: ChunkingParams, token_spans: TokenSpans) -> list[Chunk]:
    """Chunk every document, in order."""
    return [chunk for document in documents for chunk in chunk_document(document, params, token_spans)]
