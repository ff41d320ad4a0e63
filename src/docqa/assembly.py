"""From what a reader extracted to a Document: repaired text, pages, sections, title. Pure.

Every offset is computed on the final text, so ``document.text[start:end]`` is what a
chunk or a citation shows, and pages and sections are looked up by offset.
"""

from __future__ import annotations

import re

from typing import Iterable

from .readers import Block, Extracted
from .repair import KnownWord, ends_in_fence, repair_pages, repair_text
from .types import Document

_MARKDOWN_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_LINE = re.compile(r"^.*$", re.MULTILINE)
MAX_HEADING_CHARS = 120


def assemble(extracted: Extracted, source: str, sha256: str, known_word: KnownWord | None = None) -> Document:
    """The Document of one file: its text repaired, with its pages, sections and title."""
    if extracted.kind == "pages":
        text, pages = repair_pages(extracted.pages, known_word)
        return Document(source, text, sha256, extracted.title, pages=pages)
    if extracted.kind == "blocks":
        text, sections = join_blocks(extracted.blocks)
        return Document(source, text, sha256, extracted.title, sections=sections)
    text = repair_text(extracted.text, known_word)
    if extracted.kind == "markdown":
        sections = markdown_sections(text)
        return Document(source, text, sha256, extracted.title or _markdown_title(sections), sections=sections)
    return Document(source, text, sha256, extracted.title)


def assemble_parts(parts: Iterable[tuple[str, str]], kind: str, source: str, sha256: str,
                   known_word: KnownWord | None = None) -> Document:
    """The Document of a text or Markdown file read in parts (``readers.text_parts``).

    Each part is repaired alone, so only one part's copies are in memory at a time; a
    hyphenated line break is judged by its own part's spelling. A file that fits in one part
    gives the Document ``assemble`` gives.
    """
    pieces: list[str] = []
    in_fence = False
    for part, joint in parts:
        repaired = repair_text(part, known_word, in_fence=in_fence)
        in_fence = ends_in_fence(repaired, in_fence)
        pieces += (repaired, joint)
    text = "".join(pieces)
    del pieces
    if kind == "markdown":
        sections = markdown_sections(text)
        return Document(source, text, sha256, _markdown_title(sections), sections=sections)
    return Document(source, text, sha256)


def _markdown_title(sections: tuple[tuple[int, tuple[str, ...]], ...]) -> str | None:
    """The first top-level heading, or else the first heading."""
    return next((path[-1] for _, path in sections if len(path) == 1), None) or (sections[0][1][-1] if sections else None)


def join_blocks(blocks: tuple[Block, ...]) -> tuple[str, tuple[tuple[int, tuple[str, ...]], ...]]:
    """Blocks as paragraphs of one text, and where each heading's section starts in it."""
    pieces: list[str] = []
    sections: list[tuple[int, tuple[str, ...]]] = []
    stack: list[tuple[int, str]] = []
    offset = 0
    for block in blocks:
        text = block.text.strip()
        if not text:
            continue
        if pieces:
            offset += 2  # the paragraph break before this block
        if block.heading:
            stack = [(level, name) for level, name in stack if level < block.heading] + [
                (block.heading, _heading_name(text))]
            sections.append((offset, tuple(name for _, name in stack)))
        pieces.append(text)
        offset += len(text)
    return "\n\n".join(pieces), tuple(sections)


def markdown_sections(text: str) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """Where each Markdown ATX heading ("## Meetings") starts a section, with its heading path.

    Lines inside fenced code blocks are not headings.
    """
    sections: list[tuple[int, tuple[str, ...]]] = []
    stack: list[tuple[int, str]] = []
    in_fence = False
    for found in _LINE.finditer(text):  # line by line, without a list of all lines
        line, offset = found.group(), found.start()
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            match = _MARKDOWN_HEADING.match(line)
            if match:
                level = len(match.group(1))
                name = _heading_name(re.sub(r"[*_`]+", "", match.group(2)))
                if name:
                    stack = [(lvl, n) for lvl, n in stack if lvl < level] + [(level, name)]
                    sections.append((offset, tuple(n for _, n in stack)))
    return tuple(sections)


def _heading_name(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_HEADING_CHARS else text[: MAX_HEADING_CHARS - 1] + "…"
