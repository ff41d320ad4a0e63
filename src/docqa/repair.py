"""Repairs for text extracted from PDFs: pure functions of the text.

Three kinds of damage are repaired, in this order:

1. words hyphenated across a line break ("rehabili-" / "tate" -> "rehabilitate"), while
   real compounds keep their hyphen ("terrorist-" / "related" -> "terrorist-related");
2. footnote numbers glued after punctuation ("terrorism.”228As" -> "terrorism.” As");
3. lines broken mid-sentence, joined into one line. Blank lines (paragraphs), list items,
   headings, lines ending in a colon and fenced code keep their line breaks.

Offsets everywhere in docqa index the repaired text, so the repairs only need to be
deterministic, not reversible.
"""

from __future__ import annotations

import re
from typing import Callable

# Part of the index settings: changing any repair changes what offsets mean.
REPAIR_VERSION = 1

KnownWord = Callable[[str], bool]

_LETTERS = r"[^\W\d_]"
_HYPHEN_BREAK = re.compile(rf"({_LETTERS}+)-[ \t]*\n[ \t]*({_LETTERS}+)")
# A footnote number glued after sentence punctuation (with an optional closing quote),
# followed by white space, a capital letter or the end of the text.
_FOOTNOTE = re.compile(r"(?P<before>[\w)\]])(?P<punct>[.,;:!?][\"”’')\]]?)(?P<number>\d{1,3})(?=\s|[A-Z]|$)")
_LIST_ITEM = re.compile(r"^\s*(?:[•·▪◦●○■□►‣⁃*+-]\s|\d{1,3}[.)]\s|[a-zA-Z][.)]\s|#{1,6}\s|\|)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _no_words(_: str) -> bool:
    return False


def repair_text(raw: str, known_word: KnownWord | None = None) -> str:
    """Return ``raw`` with extraction damage repaired.

    Args:
        raw: the text as read from the file.
        known_word: tells whether a lower-case word is a whole word of the language; it
            decides between "rehabili-tate" (joined) and "terrorist-related" (kept) when the
            document itself gives no evidence. Without it only the document's evidence counts.

    Returns:
        The repaired text.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = join_hyphenated_words(text, known_word or _no_words)
    text = remove_footnote_numbers(text)
    text = join_broken_lines(text)
    return text


def join_hyphenated_words(text: str, known_word: KnownWord) -> str:
    """Join words split by a hyphen at a line break; keep the hyphen of real compounds."""
    lowered = text.lower()

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


def join_broken_lines(text: str) -> str:
    """Join lines broken mid-sentence; keep paragraph breaks and structural line breaks."""
    text = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", text)
    lines = _drop_blank_lines_inside_list_items(text.split("\n"))
    out: list[str] = []
    in_fence = False
    for i, line in enumerate(lines):
        if i == 0:
            out.append(line)
            in_fence = bool(_FENCE.match(line))
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
            and _LIST_ITEM.match(lines[i - 1]) is not None
            and not lines[i - 1].rstrip().endswith((".", "!", "?", ":", ";"))
            and lines[i + 1].strip()
            and _LIST_ITEM.match(lines[i + 1]) is None
            and _LIST_ITEM.match(lines[i + 2]) is not None
        ):
            continue
        kept.append(line)
    return kept
