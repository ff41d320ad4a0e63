"""The typed, immutable values that flow between docqa's stages."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

SECTION_SEPARATOR = " › "


@dataclass(frozen=True)
class Document:
    """A corpus file as docqa reads it.

    ``text`` is the repaired text (de-hyphenated, footnote numbers removed, broken lines
    joined); every offset in docqa indexes this text. ``source`` is the corpus-relative
    POSIX path. ``title`` comes from the document itself (PDF metadata, HTML ``<title>``,
    the first heading), or is None.

    ``pages`` holds ``(offset, page number)`` where each page of a paged format starts in
    ``text``; ``sections`` holds ``(offset, heading path)`` where each section starts, the
    path running from the top heading down ("Purpose", "Meetings"). Both are sorted by offset.
    """

    source: str
    text: str
    sha256: str
    title: str | None = None
    pages: tuple[tuple[int, int], ...] = ()
    sections: tuple[tuple[int, tuple[str, ...]], ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The page number that holds character ``offset``, or None for formats without pages."""
        position = bisect_right([start for start, _ in self.pages], offset) - 1
        return self.pages[max(position, 0)][1] if self.pages else None

    def section_at(self, offset: int) -> tuple[str, ...]:
        """The heading path of the section that holds character ``offset`` (empty before any heading)."""
        position = bisect_right([start for start, _ in self.sections], offset) - 1
        return self.sections[position][1] if position >= 0 else ()


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``document.text[start:end] == text`` always."""

    chunk_id: str
    source: str
    start: int
    end: int
    text: str
    token_count: int
    page: int | None = None
    section: tuple[str, ...] = ()  # the heading path of the section the chunk lies in


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its retrieval score (higher is better) and 1-based rank.

    ``dense_score`` (cosine) and ``keyword_score`` (BM25) are the raw scores behind ``score``,
    where the retrieval mode computed them.
    """

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    keyword_score: float | None = None


@dataclass(frozen=True)
class Citation:
    """The sentence(s) that support one claim of an answer: ``quote == document.text[start:end]``.

    ``supported``: docqa checked that the quote says the claim. An extractive answer's claim is
    the quote itself; a generated sentence is cited only once ``verify.py`` found its support.
    """

    marker: int
    source: str
    chunk_id: str
    start: int
    end: int
    quote: str
    page: int | None = None
    section: tuple[str, ...] = ()
    title: str | None = None
    supported: bool = True


@dataclass(frozen=True)
class Answer:
    """An answer with its citations and the passages it was chosen from."""

    question: str
    text: str
    answerable: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Hit, ...] = ()
    id: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def to_record(self) -> dict:
        """The JSON answer record of DESIGN.md (``ask --json``, one line of ``batch``)."""
        record: dict = {}
        if self.id is not None:
            record["id"] = self.id
        record["question"] = self.question
        record["answer"] = self.text
        record["answerable"] = self.answerable
        # who wrote the answer: docqa's quotes ("extractive") or the user's model, checked ("llm")
        record["mode"] = self.extra.get("mode", "extractive")
        record["citations"] = [
            {
                "marker": c.marker,
                "source": c.source,
                "chunk_id": c.chunk_id,
                "start": c.start,
                "end": c.end,
                "page": c.page,
                "quote": c.quote,
                "section": section_label(c.section),
                "title": c.title,
                "supported": c.supported,
            }
            for c in self.citations
        ]
        record["passages"] = [
            {
                "rank": h.rank,
                "chunk_id": h.chunk.chunk_id,
                "source": h.chunk.source,
                "start": h.chunk.start,
                "end": h.chunk.end,
                "page": h.chunk.page,
                "section": section_label(h.chunk.section),
                "score": round(float(h.score), 6),
                "text": h.chunk.text,
            }
            for h in self.passages
        ]
        record.update({key: value for key, value in self.extra.items() if key != "mode"})
        return record


def section_label(path: tuple[str, ...]) -> str | None:
    """A heading path as people read it ("Purpose › Meetings"), or None when there is none."""
    return SECTION_SEPARATOR.join(path) if path else None
