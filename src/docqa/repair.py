"""Repairs for text extracted from PDFs: pure functions of the text.

Three kinds of damage are repaired in any text, in this order:

1. words hyphenated across a line break ("rehabili-" / "tate" -> "rehabilitate"), while
   real compounds keep their hyphen ("terrorist-" / "related" -> "terrorist-related");
2. footnote numbers glued after punctuation ("terrorism.”228As" -> "terrorism.” As");
3. lines broken mid-sentence, joined into one line. Blank lines (paragraphs), list items,
   headings, lines ending in a colon and fenced code keep their line breaks.

PDFs read page by page get three more (``repair_pages``): running headers and footers
repeated on the pages are removed, a short line that ends a sentence ends its paragraph, and
the pages are joined again, a word or sentence that runs on over a page break included.

Offsets everywhere in docqa index the repaired text, so the repairs only need to be
deterministic, not reversible.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Sequence

# Part of the index settings: changing any repair changes what offsets mean.
# 2: PDF pages (running headers and footers, paragraph ends, pages joined).
# 3: text and Markdown over 4 MB repaired a part at a time (readers.text_parts).
REPAIR_VERSION = 3

KnownWord = Callable[[str], bool]

_LETTERS = r"[^\W\d_]"
_HYPHEN_BREAK = re.compile(rf"({_LETTERS}+)-[ \t]*\n[ \t]*({_LETTERS}+)")
# A footnote number glued after sentence punctuation (with an optional closing quote),
# followed by white space, a capital letter or the end of the text.
_FOOTNOTE = re.compile(r"(?P<before>[\w)\]])(?P<punct>[.,;:!?][\"”’')\]]?)(?P<number>\d{1,3})(?=\s|[A-Z]|$)")
_LIST_ITEM = re.compile(r"^\s*(?:[•·▪◦●○■□►‣⁃*+-]\s|\d{1,3}[.)]\s|[a-zA-Z][.)]\s|#{1,6}\s|\|)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_FENCE_LINE = re.compile(r"^[^\S\n]*(?:```|~~~)", re.MULTILINE)


def _no_words(_: str) -> bool:
    return False


def repair_text(raw: str, known_word: KnownWord | None = None, evidence: str | None = None, *,
                in_fence: bool = False) -> str:
    """Return ``raw`` with extraction damage repaired.

    Args:
        raw: the text as read from the file.
        known_word: tells whether a lower-case word is a whole word of the language; it
            decides between "rehabili-tate" (joined) and "terrorist-related" (kept) when the
            document itself gives no evidence. Without it only the document's evidence counts.
        evidence: the whole document, when ``raw`` is a part of it (a page), so that the
            words of the other parts count as evidence too.
        in_fence: ``raw`` is a part of a text that starts inside a fenced code block.

    Returns:
        The repaired text.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = join_hyphenated_words(text, known_word or _no_words, evidence)
    text = remove_footnote_numbers(text)
    text = join_broken_lines(text, in_fence=in_fence)
    return text


def ends_in_fence(text: str, in_fence: bool = False) -> bool:
    """Whether a fenced code block is still open at the end of ``text`` (which starts in one if ``in_fence``)."""
    return in_fence != (len(_FENCE_LINE.findall(text)) % 2 == 1)


def join_hyphenated_words(text: str, known_word: KnownWord, evidence: str | None = None) -> str:
    """Join words split by a hyphen at a line break; keep the hyphen of real compounds.

    The document's own spelling decides first: ``evidence`` (default ``text``) is searched
    for the word with and without its hyphen.
    """
    lowered = (text if evidence is None else evidence).lower()

    def decide(match: re.Match) -> str:
        left, right = match.group(1), match.group(2)
        hyphenated = f"{left}-{right}"
        joined = f"{left}{right}"
        if right[0].isupper():  # "Counter-\nTerrorism": capitalised parts form a name.
            return hyphenated
        if _occurs_as_word(lowered, hyphenated.lower()):
            return hyphenated
        if _occurs_as_word(lowered, joined.lower()):
            return joined
        if known_word(left.lower()) and known_word(right.lower()):
            return hyphenated
        return joined

    return _HYPHEN_BREAK.sub(decide, text)


def _occurs_as_word(lowered_text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?![\w-])", lowered_text) is not None


def remove_footnote_numbers(text: str) -> str:
    """Remove footnote numbers glued to the punctuation that ends a sentence or clause.

    After a letter ("terrorism.”228As", "fundraising.229 The") a number is taken as a
    footnote. After a digit ("in 2012.232") it could be a decimal, so it is taken only when
    it continues the document's footnote sequence (the previous footnote plus one).
    """
    pieces: list[str] = []
    position = 0
    last_footnote: int | None = None
    for match in _FOOTNOTE.finditer(text):
        number = int(match.group("number"))
        before = match.group("before")
        if before.isdigit():
            if last_footnote is None or number != last_footnote + 1:
                continue
        elif not _is_word_end(text, match.start("before")):
            continue
        last_footnote = number
        pieces.append(text[position : match.end("punct")])
        following = text[match.end() : match.end() + 1]
        if following and not following.isspace():
            pieces.append(" ")
        position = match.end()
    pieces.append(text[position:])
    return "".join(pieces)


def _is_word_end(text: str, index: int) -> bool:
    """True when the character at index ends a word of two or more letters (not "A.1")."""
    char = text[index]
    if char in ")]":
        return True
    return index >= 1 and text[index - 1].isalpha() and char.isalpha()


def join_broken_lines(text: str, *, in_fence: bool = False) -> str:
    """Join lines broken mid-sentence; keep paragraph breaks and structural line breaks.

    ``in_fence``: the text starts inside a fenced code block (it is a part of a longer text).
    """
    text = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", text)
    lines = _drop_blank_lines_inside_list_items(text.split("\n"))
    out: list[str] = []
    for i, line in enumerate(lines):
        if i == 0:
            out.append(line)
            in_fence = in_fence != bool(_FENCE.match(line))
            continue
        previous = lines[i - 1]
        keep_break = (
            in_fence
            or not previous.strip()
            or not line.strip()
            or previous.rstrip().endswith(":")
            or _LIST_ITEM.match(line) is not None
            or _FENCE.match(line) is not None
            or _FENCE.match(previous) is not None
            or previous.lstrip().startswith(("#", "|"))
        )
        if _FENCE.match(line):
            in_fence = not in_fence
        if keep_break:
            out.append("\n" + line)
        else:
            out.append(" " + line.lstrip())
    return "".join(out)


def open_list_item(line: str) -> bool:
    """A list item that does not end a sentence: a blank line after it may be dropped (below)."""
    return _LIST_ITEM.match(line) is not None and not line.rstrip().endswith((".", "!", "?", ":", ";"))


def _drop_blank_lines_inside_list_items(lines: list[str]) -> list[str]:
    """Remove a blank line that splits one list item in two.

    PDF extraction often breaks a long bullet ("• Special Rapporteur on ... of Human",
    blank line, "Rights and Fundamental Freedoms ...", "• next item"). The blank line sits
    after an unfinished list item and before a non-item line that the next item follows.
    """
    kept: list[str] = []
    for i, line in enumerate(lines):
        if (
            not line.strip()
            and 0 < i < len(lines) - 2
            and open_list_item(lines[i - 1])
            and lines[i + 1].strip()
            and _LIST_ITEM.match(lines[i + 1]) is None
            and _LIST_ITEM.match(lines[i + 2]) is not None
        ):
            continue
        kept.append(line)
    return kept


# ---------------------------------------------------------------- PDF pages

_PAGE_NUMBER = re.compile(r"^(?:page|p\.|seite|página)?\s*[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
_EDGE_LINES = 3  # how many lines at the top and at the bottom of a page can be a running header or footer
_SENTENCE_END = re.compile(r"[.!?][\"”’')\]]*$")


def repair_pages(pages: Sequence[str], known_word: KnownWord | None = None) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Repair a paged document and join its pages into one text.

    Args:
        pages: each page's text as extracted, in order (page numbers count from 1); empty
            for a page without text.
        known_word: as for ``repair_text``.

    Returns:
        The text, and ``(offset, page number)`` where each page with text starts in it.
    """
    pages = remove_running_lines(pages)
    pages = [end_paragraphs_at_short_lines(page) for page in pages]
    evidence = "\n".join(pages)
    text = ""
    starts: list[tuple[int, int]] = []
    for number, page in enumerate(pages, 1):
        page = repair_text(page, known_word, evidence).strip()
        if not page:
            continue
        if not text:
            text = page
            starts.append((0, number))
            continue
        joint, page = _page_joint(text, page, known_word or _no_words, evidence)
        text = text[: len(text) - 1] if joint == "-" else text + joint  # "-": the hyphen goes
        starts.append((len(text), number))
        text += page
    return text, tuple(starts)


def _page_joint(before: str, page: str, known_word: KnownWord, evidence: str) -> tuple[str, str]:
    """How a page follows the text before it: "" (a hyphenated compound runs on), "-" (a word
    hyphenated over the break is joined), " " (a sentence runs on) or a paragraph break."""
    last_line = before.rsplit("\n", 1)[-1]
    first_line = page.split("\n", 1)[0]
    hyphenated = re.search(rf"({_LETTERS}+)-$", last_line)
    next_word = re.match(rf"{_LETTERS}+", first_line)
    if hyphenated and next_word:
        probe = f"{hyphenated.group(1)}-\n{next_word.group(0)}"
        joined = join_hyphenated_words(probe, known_word, evidence)
        return ("" if "-" in joined else "-"), page
    runs_on = (
        last_line.strip()
        and not _SENTENCE_END.search(last_line)
        and not last_line.rstrip().endswith(":")
        and _LIST_ITEM.match(first_line) is None
        and not last_line.lstrip().startswith(("#", "|"))
    )
    return (" " if runs_on else "\n\n"), page


def remove_running_lines(pages: Sequence[str]) -> list[str]:
    """Remove running headers and footers: lines at the top or bottom of the pages that repeat.

    A line among the first or last three of a page is a running line when the same line,
    its numbers aside ("Annual report 2023 — page 4"), stands at an edge of at least half
    of the pages (and of two at least). A bare page number ("4", "- 4 -", "Page 4 of 9")
    at an edge counts the same way.
    """
    split = [page.split("\n") for page in pages]
    with_text = [lines for lines in split if any(line.strip() for line in lines)]
    if len(with_text) < 2:
        return list(pages)
    seen: Counter[str] = Counter()
    for lines in with_text:
        seen.update({_running_key(line) for line in _edge_lines(lines)})
    needed = max(2, (len(with_text) + 1) // 2)
    running = {key for key, count in seen.items() if count >= needed and key}
    return ["\n".join(_strip_edges(lines, running)) for lines in split]


def _running_key(line: str) -> str:
    line = " ".join(line.split()).lower()
    if _PAGE_NUMBER.match(line):
        return "<page number>"
    return re.sub(r"\d+", "#", line)


def _edge_lines(lines: list[str]) -> list[str]:
    filled = [line for line in lines if line.strip()]
    return filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]


def _strip_edges(lines: list[str], running: set[str]) -> list[str]:
    lines = list(lines)
    for direction in (1, -1):
        removed = 0
        while lines and removed < _EDGE_LINES:
            index = 0 if direction == 1 else len(lines) - 1
            if not lines[index].strip():
                lines.pop(index)
                continue
            if _running_key(lines[index]) not in running:
                break
            lines.pop(index)
            removed += 1
    return lines


def end_paragraphs_at_short_lines(page: str) -> str:
    """Put a paragraph break after a line that ends a sentence well short of the page's width.

    PDF text has no paragraph marks; the last line of a paragraph is the one that stops
    early. Without the break, joining broken lines would run paragraphs together.
    """
    lines = page.split("\n")
    widths = sorted(len(line.strip()) for line in lines if line.strip())
    if len(widths) < 3:
        return page
    full = widths[int(0.8 * (len(widths) - 1))]  # a typical full line
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if (following.strip() and line.strip() and len(line.strip()) < 0.7 * full
                and _SENTENCE_END.search(line.rstrip())):
            out.append("")
    return "\n".join(out)
