"""Sentence spans: a pure, rule-based splitter that returns character offsets."""

from __future__ import annotations

import re

# Words that end in a period without ending a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt vs etc e.g i.e cf al approx ca no nos fig figs vol
    inc ltd co corp dept univ gov gen col lt sgt rev est jan feb mar apr jun jul aug sep
    sept oct nov dec u.s u.k u.n e.u op art para pp ed eds""".split()
)
_BOUNDARY = re.compile(r"[.!?]+[\"”’')\]]*(?=\s)")
_NEXT_STARTS_SENTENCE = re.compile(r"\s+[\"“‘(\[]?[A-Z0-9•·▪*-]")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentences.

    Line breaks that survive the repairs are structural (paragraphs, list items, headings),
    so they always end a sentence. Within a line, a sentence ends at ``.``, ``!`` or ``?``
    (with closing quotes or brackets) followed by white space and a capital, digit or quote,
    unless the word before the period is a known abbreviation or a single initial.

    Returns:
        ``(start, end)`` spans into ``text``, trimmed of surrounding white space, in order,
        non-overlapping; empty sentences are dropped.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    line_start = start
    while line_start < end:
        newline = text.find("\n", line_start, end)
        line_end = end if newline == -1 else newline
        _split_line(text, line_start, line_end, spans)
        line_start = line_end + 1
    return spans


def _split_line(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    sentence_start = start
    for match in _BOUNDARY.finditer(text, start, end):
        boundary = match.end()
        if not _NEXT_STARTS_SENTENCE.match(text, boundary, end):
            continue
        if match.group().startswith(".") and _ends_with_abbreviation(text, sentence_start, match.start()):
            continue
        _append_trimmed(text, sentence_start, boundary, spans)
        sentence_start = boundary
    _append_trimmed(text, sentence_start, end, spans)


def _ends_with_abbreviation(text: str, sentence_start: int, period: int) -> bool:
    word_start = period
    while word_start > sentence_start and not text[word_start - 1].isspace() and text[word_start - 1] not in "(\"“":
        word_start -= 1
    word = text[word_start:period].lower()
    if not word:
        return False
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. Smith"
    return word in _ABBREVIATIONS


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


def passage_sentences(text: str) -> list[tuple[int, int]]:
    """The sentences of a passage that the answer step weighs: those holding a word character.

    The index stores a vector for each (``index.py``); ``answer.candidate_spans`` picks the
    same sentences.
    """
    return [(a, b) for a, b in split_sentences(text) if _WORD.search(text, a, b)]


_WORD = re.compile(r"\w")
