"""What the chat app shows for an answer: the Markdown reply and the HTML of the sources panel.

Pure functions of their inputs (an ``Answer``, the documents it came from), so they are tested
without a server or a browser. Everything taken from documents or typed by users is shown as
text: it is HTML-escaped before any HTML is built around it.
"""

import html
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from .types import Answer, Chunk, Citation, Document, Hit, section_label

UNEXPECTED = "Something went wrong; the details are in the server log."

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$])")
_ESCAPED_MARKER = re.compile(r"\\\[(\d+)\\\]")


def escape_markdown(text: str) -> str:
    """Show text as text in a Markdown message: HTML escaped, Markdown syntax neutralised, white space folded."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(" ".join(text.split()), quote=False))


def source_anchor(turn: int, marker: int) -> str:
    """The element id of citation ``marker`` of answer ``turn`` in the sources panel."""
    return f"docqa-t{turn}-s{marker}"


@dataclass(frozen=True)
class Turn:
    """One answered question of a conversation, as the sources panel shows it."""

    number: int
    question: str
    search_query: str
    mode: str
    k: int
    answer: Answer
    message_index: int  # the answer's place in the chat; the question is the message before


def format_reply(answer: Answer, turn: int) -> str:
    """The chat message for an answer: its text, each marker [n] a link to its source entry, then
    who wrote it when a model server was asked (and what of the model's answer was left out)."""
    shown = escape_markdown(answer.text)
    if answer.answerable:
        shown = _ESCAPED_MARKER.sub(
            lambda m: f'<a class="docqa-marker" href="#{source_anchor(turn, int(m.group(1)))}">&#91;{m.group(1)}&#93;</a>',
            shown)
    return shown + written_by(answer)


def written_by(answer: Answer) -> str:
    """A line under an answer when a model server was asked: the model wrote it, every sentence
    checked; or docqa answered itself, and why. Nothing for docqa's usual answers."""
    extra = answer.extra
    if extra.get("mode") == "llm":
        line = "Written by your model; docqa checked each sentence against the sentence it cites."
    elif extra.get("llm_note"):
        line = f"docqa's own answer: {extra['llm_note'].split(';')[0]}."
    else:
        return ""
    parts = [f'\n\n<span class="docqa-mode">{escape_html(line)}</span>']
    left_out = extra.get("unsupported") or []
    if left_out:
        count = len(left_out)
        items = "".join(f"<li>{escape_html(item['sentence'])} <em>({escape_html(item['reason'])})</em></li>"
                        for item in left_out)
        parts.append(f'<details class="docqa-left-out"><summary>{count} sentence{"" if count == 1 else "s"} of the '
                     f"model's answer left out: not supported by the passage cited</summary><ul>{items}</ul></details>")
    return "".join(parts)


def format_draft(text: str) -> str:
    """The model's reply as it streams in, shown as a draft until docqa has checked it."""
    return ('<span class="docqa-mode">Your model is writing; docqa checks each sentence when it is done.</span>'
            "\n\n" + escape_markdown(text))


def render_sources(turn: Turn | None, documents: Mapping[str, Document], context_chars: int = 0) -> str:
    """The sources panel for one answer, as HTML in which every piece of document text is escaped.

    Answered: one entry per citation (file, document title and section, page, characters,
    score, the passage with the quote marked, ``context_chars`` of the document around it), then the other passages.
    Declined: the closest passages, each marked as not supporting an answer.
    """
    if turn is None:
        return ('<div class="docqa-sources docqa-empty">Sources appear here: every passage an answer '
                'cites, with the quoted sentence highlighted.</div>')
    answer = turn.answer
    # the head stays at the top of the panel while it scrolls to a marker's entry (ui.css)
    parts = ['<div class="docqa-sources">', '<div class="docqa-panel-head">',
             f'<p class="docqa-question">Sources for <q>{escape_html(turn.question)}</q></p>',
             f'<p class="docqa-query">Searched for <q>{escape_html(turn.search_query)}</q> '
             f'({escape_html(turn.mode)}, {turn.k} passage{"" if turn.k == 1 else "s"})'
             + (' — the question was completed with the previous one’s subject' if turn.search_query != turn.question else '')
             + '</p>', '</div>']
    hits = {hit.chunk.chunk_id: hit for hit in answer.passages}
    if answer.answerable:
        for citation in answer.citations:
            hit = hits.get(citation.chunk_id)
            parts.append(_entry(source_anchor(turn.number, citation.marker), f"[{citation.marker}]", citation.source,
                                citation.page, citation.start, citation.end, hit, [citation], documents, context_chars,
                                section=citation.section, title=citation.title))
        cited = {c.chunk_id for c in answer.citations}
        others = [hit for hit in answer.passages if hit.chunk.chunk_id not in cited]
        if others:
            parts.append(f'<details class="docqa-others"><summary>{len(others)} more passages searched</summary>')
            parts += [_passage_entry(turn.number, hit, documents, context_chars) for hit in others]
            parts.append("</details>")
    else:
        parts.append('<p class="docqa-notice">None of these passages supports an answer; they are the '
                     'closest the documents hold.</p>')
        parts += [_passage_entry(turn.number, hit, documents, context_chars, unsupported=True) for hit in answer.passages]
    parts.append("</div>")
    return "\n".join(parts)


def escape_html(text: str) -> str:
    """Show text as text in HTML, quotes included, so it is safe inside elements and attribute values."""
    return html.escape(text, quote=True)


def _passage_entry(turn: int, hit: Hit, documents, context_chars: int, unsupported: bool = False) -> str:
    document = documents.get(hit.chunk.source)
    return _entry(f"docqa-t{turn}-p{hit.rank}", f"#{hit.rank}", hit.chunk.source, hit.chunk.page, hit.chunk.start,
                  hit.chunk.end, hit, [], documents, context_chars, unsupported=unsupported,
                  section=hit.chunk.section, title=document.title if document is not None else None)


def _entry(element_id: str, label: str, source: str, page: int | None, start: int, end: int, hit: Hit | None,
           citations: Sequence[Citation], documents: Mapping[str, Document], context_chars: int,
           unsupported: bool = False, section: tuple[str, ...] = (), title: str | None = None) -> str:
    where = []
    if title and (not section or section[0] != title):
        where.append(f'<span class="docqa-doc-title">{escape_html(title)}</span>')
    if section:
        where.append(f'<span class="docqa-section">{escape_html(section_label(section))}</span>')
    where_html = f'<div class="docqa-where">{" › ".join(where)}</div>' if where else ""
    place = f"p. {page} · " if page is not None else ""
    place += "quote at " if citations else ""
    score = f" · passage score {hit.score:.3f}" if hit is not None else ""
    badge = '<span class="docqa-badge">does not support an answer</span>' if unsupported else ""
    css = "docqa-unsupported" if unsupported else ("docqa-cited" if citations else "docqa-other")
    header = (f'<header><span class="docqa-label">{escape_html(label)}</span> <span class="docqa-file">{escape_html(source)}</span>'
              f'{badge}{where_html}<div class="docqa-meta">{place}characters {start}–{end}{score}</div></header>')
    body = _passage_html(hit, citations, documents.get(source), context_chars) if hit is not None else (
        f"<mark>{escape_html(citations[0].quote)}</mark>" if citations else "")
    notice = _change_notice(hit, source, documents) if hit is not None else ""
    return (f'<article id="{element_id}" class="docqa-source {css}">{header}{notice}'
            f'<div class="docqa-passage">{body}</div></article>')


def passage_is_current(chunk: Chunk, document: Document | None) -> bool:
    """Whether the document still holds ``chunk`` where it was when the answer was given."""
    return document is not None and document.text[chunk.start:chunk.end] == chunk.text


def _change_notice(hit: Hit, source: str, documents: Mapping[str, Document]) -> str:
    """A line on an entry whose file was changed or removed after the answer (the passage is shown as answered)."""
    if passage_is_current(hit.chunk, documents.get(source)):
        return ""
    what = "has been removed" if source not in documents else "has changed"
    return (f'<p class="docqa-notice docqa-changed">{escape_html(source)} {what} since this answer: the passage is '
            f'shown as it was when answered.</p>')


def _passage_html(hit: Hit, citations: Sequence[Citation], document: Document | None, context_chars: int) -> str:
    """The passage with its quotes in <mark>, and ``context_chars`` of the document on each side."""
    chunk = hit.chunk
    if passage_is_current(chunk, document):
        text, offset = document.text, 0
    else:  # the document changed or was removed since: show the passage as it was answered from
        text, offset, context_chars = chunk.text, chunk.start, 0
    start = min([chunk.start] + [c.start for c in citations]) - offset
    end = max([chunk.end] + [c.end for c in citations]) - offset
    start, end = max(0, start), min(len(text), end)
    window_start, window_end = _word_window(text, start, end, max(0, int(context_chars)))
    quotes = [(c.start - offset, c.end - offset) for c in citations]
    hidden, styled = markdown_spans(text, window_start, window_end) if _is_markdown(chunk.source) else ([], [])
    bounds = [p for q in [*quotes, *hidden, *((a, b) for a, b, _ in styled)] for p in q]
    cuts = sorted({window_start, window_end, start, end, *(p for p in bounds if window_start < p < window_end)})
    pieces = ["… " if window_start > 0 else ""]
    for a, b in zip(cuts, cuts[1:]):
        if any(ha <= a and b <= hb for ha, hb in hidden):
            continue  # Markdown syntax ("## ", "**"): its effect is shown instead
        piece = escape_html(text[a:b])
        if any(qa <= a and b <= qb for qa, qb in quotes):
            piece = f"<mark>{piece}</mark>"
        if b <= start or a >= end:
            piece = f'<span class="docqa-context">{piece}</span>'
        for sa, sb, css in styled:
            if sa <= a and b <= sb:
                piece = f'<span class="{css}">{piece}</span>'
        pieces.append(piece)
    pieces.append(" …" if window_end < len(text) else "")
    return "".join(pieces)


# Markdown as docqa reads it (corpus.STREAMED): the passage shows headings, emphasis and code as such,
# and hides their syntax, while every character shown keeps its place (the quote's <mark> stays exact).
_MARKDOWN_SUFFIXES = (".md", ".markdown")
_HEADING = re.compile(r"^(#{1,6})([ \t]+)(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_INLINE = [  # code first: what is inside backticks is shown as typed
    (re.compile(r"(`)([^`\n]+)`"), "docqa-md-code"),
    (re.compile(r"(?<![\w*])(\*\*|__)(?=\S)([^\n]*?\S)\1"), "docqa-md-strong"),
    (re.compile(r"(?<![*\w])(\*)(?=[^\s*])([^*\n]*?[^\s*])\*(?![*\w])"), "docqa-md-em"),
]


def _is_markdown(source: str) -> bool:
    return source.lower().endswith(_MARKDOWN_SUFFIXES)


def markdown_spans(text: str, start: int, end: int) -> tuple[list[tuple[int, int]], list[tuple[int, int, str]]]:
    """The Markdown syntax in the lines of ``text[start:end]``: what to hide, and what to style how.

    Returns:
        ``hidden``, spans of syntax characters (the "## " of a heading, the "**" around bold
        words), and ``styled``, spans with the CSS class that shows their effect
        (``docqa-md-h2``, ``docqa-md-strong``); offsets are into ``text``.
    """
    # whole lines: a heading's "#" or a closing "**" may lie outside the window
    first, last = text.rfind("\n", 0, start) + 1, text.find("\n", end)
    lines = text[first:len(text) if last == -1 else last]
    hidden: list[tuple[int, int]] = []
    styled: list[tuple[int, int, str]] = []
    for match in _HEADING.finditer(lines):
        hidden.append((first + match.start(1), first + match.end(2)))
        hidden.append((first + match.end(3), first + match.end()))
        styled.append((first + match.start(3), first + match.end(3), f"docqa-md-h{len(match.group(1))}"))
    taken: list[tuple[int, int]] = []
    for pattern, css in _INLINE:
        for match in pattern.finditer(lines):
            if any(a < match.end() and match.start() < b for a, b in taken):
                continue  # overlaps code or emphasis found first: left as typed
            taken.append(match.span())
            hidden.append((first + match.start(1), first + match.end(1)))
            hidden.append((first + match.end(2), first + match.end()))
            styled.append((first + match.start(2), first + match.end(2), css))
    return [(a, b) for a, b in hidden if a < b], styled


def _word_window(text: str, start: int, end: int, context_chars: int) -> tuple[int, int]:
    """``[start, end)`` widened by up to ``context_chars`` on each side, cut at spaces, not inside words."""
    if context_chars == 0:
        return start, end
    window_start, window_end = max(0, start - context_chars), min(len(text), end + context_chars)
    if window_start > 0:
        space = text.find(" ", window_start, start)
        window_start = space + 1 if space != -1 else start
    if window_end < len(text):
        space = text.rfind(" ", end, window_end)
        window_end = space if space != -1 else end
    return window_start, window_end
