"""The Gradio chat app: a thin layer over the pipeline. Nothing happens at import time.

Chat on the left, the sources of the selected answer on the right (each cited passage with
its quote highlighted, and more of the document on request), settings per request, and a
Documents tab to add and remove corpus files. Everything taken from documents or typed by
users is shown as text: it is HTML-escaped before any HTML is built around it.
"""


import html
import logging
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .config import progress_enabled
from .corpus import SUPPORTED_SUFFIXES, list_corpus_files
from .errors import DocqaError
from .pipeline import Pipeline
from .retrieve import MODES, RetrievalSettings
from .terms import QUESTION_WORDS, STOPWORDS, stem, words
from .types import Answer, Citation, Document, Hit

logger = logging.getLogger(__name__)

DEFAULT_DOCUMENT = "un-working-group-internet-terrorist-purposes.txt"
EXAMPLE_QUESTIONS = [
    "Who leads the working group?",
    "Which company did the working group collaborate with in 2010?",
    "What report did the group write in 2009?",
    "What are the documentaries about?",
]
PLACEHOLDER = ("**Ask a question about the documents.**\n\nEvery answer quotes the sentences it comes from. "
               "A follow-up such as “When was it published?” is searched together with the previous question.")
DEFAULT_K = 5
MAX_K = 20
MAX_CONTEXT_CHARS = 3000
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UNEXPECTED = "Something went wrong; the details are in the server log."
_CORPUS_CHANGES = threading.Lock()  # one upload or removal at a time, across all users


class UploadRejected(DocqaError):
    """A file offered for the corpus that docqa will not take, with the reason."""


# ---------------------------------------------------------------- follow-up questions

# Words that point back to something named earlier in the conversation.
ANAPHORS = frozenset("it its itself they them their theirs themselves this these those he him his she her hers one ones".split())
FOLLOWUP_OPENERS = ("and ", "also ", "what about ", "how about ", "what else")


def resolve_followup(question: str, previous_query: str | None, *, max_own_terms: int = 1) -> str:
    """The query to retrieve by for ``question``, given what the previous turn searched for.

    There is no generative model to rewrite a follow-up, so a question that cannot stand on
    its own (it points back with a pronoun, opens with "and"/"what about", or has at most
    ``max_own_terms`` content terms) is completed with the previous query's content words
    that it does not already hold: "When was it published?" after "What report did the group
    write in 2009?" searches for "When was it published? report group write 2009". Other
    questions are searched as they are, so a new subject starts a new chain.

    Args:
        question: the question as typed.
        previous_query: the previous turn's search query (itself resolved), or None.

    Returns:
        The search query: ``question`` itself or ``question`` followed by the added words.
    """
    question = question.strip()
    if not previous_query or not previous_query.strip():
        return question
    question_words = words(question)
    own_terms = {stem(w) for w in question_words if w not in STOPWORDS and w not in QUESTION_WORDS and len(w) > 1}
    lowered = " ".join(question_words) + " "
    if not (ANAPHORS & set(question_words) or lowered.startswith(FOLLOWUP_OPENERS) or len(own_terms) <= max_own_terms):
        return question
    added: list[str] = []
    seen = set(own_terms)
    for word in words(previous_query):
        term = stem(word)
        if word in STOPWORDS or word in QUESTION_WORDS or word in ANAPHORS or len(word) < 2 or term in seen:
            continue
        seen.add(term)
        added.append(word)
    return f"{question} {' '.join(added)}" if added else question


# ---------------------------------------------------------------- showing answers

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
    """The chat message for an answer: its text, each marker [n] a link to its source entry."""
    text = answer.text.replace("listed below", "shown beside the chat")  # the CLI lists them below
    shown = escape_markdown(text)
    if not answer.answerable:
        return shown
    return _ESCAPED_MARKER.sub(
        lambda m: f'<a class="docqa-marker" href="#{source_anchor(turn, int(m.group(1)))}">&#91;{m.group(1)}&#93;</a>', shown
    )


def render_sources(turn: Turn | None, documents: Mapping[str, Document], context_chars: int = 0) -> str:
    """The sources panel for one answer, as HTML in which every piece of document text is escaped.

    Answered: one entry per citation (file, page, characters, score, the passage with the
    quote marked, ``context_chars`` of the document around it), then the other passages.
    Declined: the closest passages, each marked as not supporting an answer.
    """
    if turn is None:
        return ('<div class="docqa-sources docqa-empty">Sources appear here: every passage an answer '
                'cites, with the quoted sentence highlighted.</div>')
    answer = turn.answer
    parts = ['<div class="docqa-sources">',
             f'<p class="docqa-question">Sources for <q>{_escape(turn.question)}</q></p>',
             f'<p class="docqa-query">Searched for <q>{_escape(turn.search_query)}</q> '
             f'({_escape(turn.mode)}, {turn.k} passages)'
             + (' — the question was completed with the previous one’s subject' if turn.search_query != turn.question else '')
             + '</p>']
    hits = {hit.chunk.chunk_id: hit for hit in answer.passages}
    if answer.answerable:
        for citation in answer.citations:
            hit = hits.get(citation.chunk_id)
            parts.append(_entry(source_anchor(turn.number, citation.marker), f"[{citation.marker}]", citation.source,
                                citation.page, citation.start, citation.end, hit, [citation], documents, context_chars))
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


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _passage_entry(turn: int, hit: Hit, documents, context_chars: int, unsupported: bool = False) -> str:
    return _entry(f"docqa-t{turn}-p{hit.rank}", f"#{hit.rank}", hit.chunk.source, hit.chunk.page, hit.chunk.start,
                  hit.chunk.end, hit, [], documents, context_chars, unsupported=unsupported)


def _entry(element_id: str, label: str, source: str, page: int | None, start: int, end: int, hit: Hit | None,
           citations: Sequence[Citation], documents: Mapping[str, Document], context_chars: int,
           unsupported: bool = False) -> str:
    place = f"p. {page} · " if page is not None else ""
    place += "quote at " if citations else ""
    score = f" · passage score {hit.score:.3f}" if hit is not None else ""
    badge = '<span class="docqa-badge">does not support an answer</span>' if unsupported else ""
    css = "docqa-unsupported" if unsupported else ("docqa-cited" if citations else "docqa-other")
    header = (f'<header><span class="docqa-label">{_escape(label)}</span> <span class="docqa-file">{_escape(source)}</span>'
              f'{badge}<div class="docqa-meta">{place}characters {start}–{end}{score}</div></header>')
    body = _passage_html(hit, citations, documents.get(source), context_chars) if hit is not None else (
        f"<mark>{_escape(citations[0].quote)}</mark>" if citations else "")
    return f'<article id="{element_id}" class="docqa-source {css}">{header}<div class="docqa-passage">{body}</div></article>'


def _passage_html(hit: Hit, citations: Sequence[Citation], document: Document | None, context_chars: int) -> str:
    """The passage with its quotes in <mark>, and ``context_chars`` of the document on each side."""
    chunk = hit.chunk
    if document is not None and document.text[chunk.start:chunk.end] == chunk.text:
        text, offset = document.text, 0
    else:  # the document changed or was removed since: show the passage as it was answered from
        text, offset, context_chars = chunk.text, chunk.start, 0
    start = min([chunk.start] + [c.start for c in citations]) - offset
    end = max([chunk.end] + [c.end for c in citations]) - offset
    start, end = max(0, start), min(len(text), end)
    window_start, window_end = _word_window(text, start, end, max(0, int(context_chars)))
    quotes = [(c.start - offset, c.end - offset) for c in citations]
    cuts = sorted({window_start, window_end, start, end, *(p for q in quotes for p in q if window_start < p < window_end)})
    pieces = ["… " if window_start > 0 else ""]
    for a, b in zip(cuts, cuts[1:]):
        piece = _escape(text[a:b])
        if any(qa <= a and b <= qb for qa, qb in quotes):
            piece = f"<mark>{piece}</mark>"
        if b <= start or a >= end:
            piece = f'<span class="docqa-context">{piece}</span>'
        pieces.append(piece)
    pieces.append(" …" if window_end < len(text) else "")
    return "".join(pieces)


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


# ---------------------------------------------------------------- conversation

def respond(pipeline: Pipeline, message: str, history: list | None, turns: list | None,
            k: int = DEFAULT_K, mode: str | None = None) -> tuple[list, list, str]:
    """Answer ``message`` in the conversation; errors become messages, never stack traces.

    The question is retrieved by ``resolve_followup`` of it and the previous turn's query,
    with ``k`` passages (capped at the index size) and retrieval ``mode``, passed per
    request so that users never change each other's settings.

    Returns:
        The chat history with the exchange added, the turns (a new one when answered), and
        the cleared question box.
    """
    history, turns, message = list(history or []), list(turns or []), message or ""
    history.append({"role": "user", "content": escape_markdown(message)})
    try:
        previous = turns[-1].search_query if turns else None
        search_query = resolve_followup(message, previous) if message.strip() else message
        settings = RetrievalSettings(mode=mode or pipeline.retrieval.mode)
        k = max(1, min(int(k or DEFAULT_K), pipeline.index.size))
        answer = pipeline.ask(message, k=k, retrieval=settings,
                              search_query=search_query if search_query != message.strip() else None)
        turn = Turn(len(turns) + 1, message.strip(), search_query, settings.mode, k, answer, len(history))
        turns.append(turn)
        content = format_reply(answer, turn.number)
    except DocqaError as error:
        content = f"⚠️ {escape_markdown(str(error))}"
    except Exception:  # the UI shows a message, never a stack trace
        logger.exception("failed to answer %r", message)
        content = f"⚠️ {UNEXPECTED}"
    history.append({"role": "assistant", "content": content})
    return history, turns, ""


def turn_for_message(turns: Sequence[Turn], message_index: int) -> Turn | None:
    """The turn whose question or answer is message ``message_index`` of the chat (None for error replies)."""
    return next((turn for turn in turns if message_index in (turn.message_index - 1, turn.message_index)), None)


def ask_record(pipeline: Pipeline, question: str, k: int | None = DEFAULT_K, mode: str | None = None) -> dict:
    """The answer record of DESIGN.md, for the ``/ask`` API endpoint (k defaults to 5, capped at the index)."""
    k = DEFAULT_K if k is None else int(k)
    if k == DEFAULT_K:
        k = min(k, pipeline.index.size)
    retrieval = RetrievalSettings(mode=mode) if mode else None
    return pipeline.ask(question, k=k, retrieval=retrieval).to_record()


# ---------------------------------------------------------------- documents

def check_upload(name: str, data: bytes, corpus_dir: Path, *, replace: bool = False,
                 max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Where an uploaded file may go in the corpus folder, or why it may not.

    Returns:
        The destination path, directly inside ``corpus_dir``.

    Raises:
        UploadRejected: a name with a folder part or hidden, an unsupported type, too large,
            empty, not UTF-8 text, or a file of that name already there (unless ``replace``).
    """
    shown = name if len(name) <= 80 else name[:79] + "…"
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if base != name or not base or base.startswith(".") or "\x00" in name:
        raise UploadRejected(f"{shown!r} is not a plain file name; upload the file itself, named like report.txt")
    if Path(base).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UploadRejected(f"{shown}: docqa reads {' and '.join(SUPPORTED_SUFFIXES)} files; save it as plain text first")
    check_upload_size(name, len(data), max_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UploadRejected(f"{shown} is not UTF-8 text (byte {error.start}); save it as UTF-8 and upload it again") from None
    if "\x00" in text:
        raise UploadRejected(f"{shown} holds NUL bytes, so it is not a text file; upload plain text")
    if not text.strip():
        raise UploadRejected(f"{shown} is empty; there is nothing to index")
    destination = Path(corpus_dir) / base
    if not destination.resolve().parent == Path(corpus_dir).resolve():
        raise UploadRejected(f"{shown!r} would land outside the corpus folder; rename it")
    if destination.exists() and not replace:
        if destination.read_bytes() == data:
            raise UploadRejected(f"{shown} is already in the corpus, unchanged")
        raise UploadRejected(f"a different {base} is already in the corpus; rename the upload, "
                             f"or tick “Replace files with the same name”")
    return destination


def check_upload_size(name: str, size: int, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
    """Raise UploadRejected when a file of ``size`` bytes is over the limit."""
    if size > max_bytes:
        raise UploadRejected(f"{name} is {_size(size)}; the limit is {_size(max_bytes)}: split it into smaller files")


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MB" if count >= 2**20 else f"{count:,} bytes"


def save_upload(destination: Path, data: bytes) -> None:
    """Write ``data`` to ``destination`` in one step (a hidden temporary file, then a rename)."""
    temporary = destination.parent / f".{destination.name}.upload-{os.getpid()}"
    temporary.write_bytes(data)
    os.replace(temporary, destination)


def add_documents(pipeline: Pipeline, paths: Sequence[str] | None, replace: bool = False, progress=None) -> str:
    """Check and copy uploaded files into the corpus folder, then re-index. Returns a Markdown report.

    Args:
        paths: the uploaded files; each file's own name is its name in the corpus.
        progress: a callable ``progress(fraction, desc=...)`` (Gradio's), told when indexing starts.
    """
    if not paths:
        return "Choose .txt or .md files to add."
    lines, added = [], []
    with _CORPUS_CHANGES:  # two uploads of one name must not both pass the existence check
        for path in map(Path, paths):
            try:
                check_upload_size(path.name, path.stat().st_size)  # before reading a huge file
                data = path.read_bytes()
                destination = check_upload(path.name, data, pipeline.corpus_dir, replace=replace)
                save_upload(destination, data)
                added.append(destination.name)
            except DocqaError as error:
                lines.append(f"✗ {escape_markdown(str(error))}")
            except OSError as error:
                logger.warning("could not add %s: %s", path, error)
                lines.append(f"✗ {escape_markdown(path.name)} could not be saved in the corpus folder ({escape_markdown(error.strerror or 'I/O error')})")
        if added:
            if progress is not None:
                progress(0.1, desc=f"Indexing {len(added)} new file(s)…")
            lines += _reindex(pipeline, [f"added {name}" for name in added])
    return "\n\n".join(lines)


def remove_document(pipeline: Pipeline, source: str | None, progress=None) -> str:
    """Delete corpus file ``source`` (one of ``corpus_sources``) and re-index. Returns a Markdown report."""
    if not source:
        return "Nothing removed."
    with _CORPUS_CHANGES:
        try:
            files = {f.source: f.path for f in list_corpus_files(pipeline.corpus_dir)}
            if source not in files:  # only listed files: a crafted name cannot reach outside the folder
                return f"✗ {escape_markdown(source)} is not in the corpus (any more); refresh the list"
            documents = pipeline.index.documents
            if source in documents and len(documents) == 1:
                return f"✗ {escape_markdown(source)} is the only document; add another before removing it"
            files[source].unlink()
        except DocqaError as error:
            return f"✗ {escape_markdown(str(error))}"
        except OSError as error:
            logger.warning("could not remove %s: %s", source, error)
            return f"✗ {escape_markdown(source)} could not be removed ({escape_markdown(error.strerror or 'I/O error')})"
        if progress is not None:
            progress(0.1, desc="Indexing the remaining documents…")
        return "\n\n".join(_reindex(pipeline, [f"removed {source}"]))


def _reindex(pipeline: Pipeline, done: list[str]) -> list[str]:
    try:
        report = pipeline.ensure_index(progress=progress_enabled())
        index = pipeline.index
    except DocqaError as error:
        return [f"✗ {escape_markdown(str(error))}"]
    except Exception:
        logger.exception("indexing failed")
        return [f"✗ {UNEXPECTED}"]
    built = f" in {report.seconds:.1f} s" if report is not None else ""
    return [f"✓ {escape_markdown(', '.join(done))}; indexed {len(index.documents)} documents, "
            f"{index.size} passages{built}. Ask away."]


def render_documents(pipeline: Pipeline) -> str:
    """The table of indexed files with their passage counts, and files that were skipped (escaped HTML)."""
    try:
        index = pipeline.index
    except DocqaError as error:
        return f'<p class="docqa-notice">{_escape(str(error))}</p>'
    counts = Counter(chunk.source for chunk in index.chunks)
    rows = "".join(
        f"<tr><td>{_escape(source)}</td><td>{counts[source]}</td><td>{len(document.text):,}</td></tr>"
        for source, document in sorted(index.documents.items())
    )
    skipped = index.manifest.get("corpus", {}).get("skipped", {})
    notes = "".join(f"<li>{_escape(source)}: {_escape(reason)}</li>" for source, reason in sorted(skipped.items()))
    return ('<table class="docqa-documents"><thead><tr><th>File</th><th>Passages</th><th>Characters</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
            + (f'<p>Not indexed:</p><ul class="docqa-skipped">{notes}</ul>' if notes else ""))


def corpus_sources(pipeline: Pipeline) -> list[str]:
    """The corpus files that can be removed, as corpus-relative paths."""
    try:
        return [f.source for f in list_corpus_files(pipeline.corpus_dir)]
    except DocqaError:
        return []


# ---------------------------------------------------------------- the app

CSS = """
.docqa-title h1 { margin: 0 0 2px 0; font-size: 1.6rem; }
.docqa-title p { margin: 0; color: var(--body-text-color-subdued); }
#docqa-sources-panel { max-height: 72vh; overflow-y: auto; }
.docqa-sources { font-size: 0.95rem; line-height: 1.5; }
.docqa-empty { color: var(--body-text-color-subdued); padding: 12px; border: 1px dashed var(--border-color-primary); border-radius: 8px; }
.docqa-question, .docqa-query { margin: 0 0 6px 0; }
.docqa-query { color: var(--body-text-color-subdued); font-size: 0.88rem; }
.docqa-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px; margin: 8px 0; scroll-margin-top: 12px; }
.docqa-source header { margin-bottom: 6px; }
.docqa-label { font-weight: 700; color: var(--color-accent); }
.docqa-file { font-weight: 600; }
.docqa-meta { color: var(--body-text-color-subdued); font-size: 0.85rem; }
.docqa-passage { white-space: pre-wrap; overflow-wrap: anywhere; }
.docqa-passage mark { background: #fde68a; color: #1f2937; border-radius: 2px; padding: 0 1px; }
.docqa-context { color: var(--body-text-color-subdued); }
.docqa-unsupported { border-style: dashed; }
.docqa-unsupported .docqa-label { color: var(--body-text-color-subdued); }
.docqa-badge { margin-left: 8px; font-size: 0.78rem; padding: 1px 6px; border-radius: 10px; background: var(--background-fill-secondary); color: var(--body-text-color-subdued); border: 1px solid var(--border-color-primary); white-space: nowrap; }
.docqa-notice { background: #fef3c7; color: #78350f; border-radius: 6px; padding: 8px 10px; margin: 6px 0; }
.docqa-others summary { cursor: pointer; margin-top: 6px; color: var(--body-text-color-subdued); }
.docqa-flash { outline: 3px solid var(--color-accent); }
a.docqa-marker { font-weight: 700; text-decoration: none; color: var(--color-accent); }
.docqa-documents { width: 100%; border-collapse: collapse; }
.docqa-documents th, .docqa-documents td { text-align: left; padding: 4px 8px; border: none !important; border-bottom: 1px solid var(--border-color-primary) !important; }
.docqa-documents th:first-child { width: 70%; }
"""

# A marker [n] in an answer scrolls the sources panel to its entry. Clicking a message also
# selects its answer, so the entry may appear a moment after the click: look for it briefly.
JS = """
() => {
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a.docqa-marker");
    if (!link) return;
    event.preventDefault();
    const id = (link.getAttribute("href") || "").slice(1);
    let tries = 0;
    const show = () => {
      const entry = document.getElementById(id);
      if (entry) {
        entry.scrollIntoView({behavior: "smooth", block: "nearest"});
        entry.classList.add("docqa-flash");
        setTimeout(() => entry.classList.remove("docqa-flash"), 1600);
      } else if (tries++ < 30) {
        setTimeout(show, 100);
      }
    };
    show();
  }, true);
}
"""


def build_ui(pipeline: Pipeline, *, examples: Sequence[str] | None = None):
    """The chat app over ``pipeline`` as a ``gr.Blocks`` (not launched).

    Args:
        examples: questions offered on the empty chat; by default the examples for the
            default corpus when its document is in the corpus folder, else none.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    if examples is None:
        examples = EXAMPLE_QUESTIONS if (pipeline.corpus_dir / DEFAULT_DOCUMENT).is_file() else []

    def documents() -> Mapping[str, Document]:
        try:
            return pipeline.index.documents
        except DocqaError:
            return {}

    def shown(turns, number, context):
        turn = next((t for t in turns if t.number == number), turns[-1] if turns else None)
        return render_sources(turn, documents(), context)

    def on_ask(message, history, turns, k, mode, context):
        history, turns, cleared = respond(pipeline, message, history, turns, k, mode)
        return history, turns, None, shown(turns, None, context), cleared

    def on_example(event: gr.SelectData, history, turns, k, mode, context):
        return on_ask(event.value["text"], history, turns, k, mode, context)

    def on_select(event: gr.SelectData, turns, context):
        index = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        turn = turn_for_message(turns, int(index))
        number = turn.number if turn else None
        return number, shown(turns, number, context)

    def on_documents_changed(message):
        choices = corpus_sources(pipeline)
        return message, render_documents(pipeline), gr.Dropdown(choices=choices, value=None)

    def on_upload(paths, replace, progress=gr.Progress(track_tqdm=True)):
        return (*on_documents_changed(add_documents(pipeline, paths, replace, progress)), None)

    def on_remove(source, progress=gr.Progress(track_tqdm=True)):
        return on_documents_changed(remove_document(pipeline, source, progress))

    def on_refresh():
        return on_documents_changed("\n\n".join(_reindex(pipeline, ["checked the corpus folder"])))

    def on_api_ask(question, k, mode):
        try:
            return ask_record(pipeline, question, k, mode or None)
        except DocqaError as error:
            raise gr.Error(str(error)) from None

    with gr.Blocks(title="docqa", analytics_enabled=False) as app:
        turns = gr.State([])
        selected = gr.State(None)
        gr.HTML('<div class="docqa-title"><h1>docqa</h1><p>Ask about the documents: every answer quotes '
                'the sentences it comes from, and the sources show where.</p></div>')
        with gr.Tabs():
            with gr.Tab("Chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="Chat", show_label=False, height=540, elem_id="docqa-chat", feedback_options=None,
                            sanitize_html=True, placeholder=PLACEHOLDER,
                            buttons=["copy", "copy_all"],
                            examples=[{"text": q} for q in examples] or None,
                        )
                        with gr.Row():
                            question = gr.Textbox(show_label=False, placeholder="Ask a question about the documents",
                                                  autofocus=True, scale=6, elem_id="docqa-question", submit_btn=False)
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="docqa-ask")
                        with gr.Row(equal_height=False):
                            with gr.Accordion("Settings", open=False, elem_id="docqa-settings"):
                                k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label="Passages to search (k)",
                                              info="capped at the number of passages in the index")
                                mode = gr.Radio(list(MODES), value=pipeline.retrieval.mode, label="Retrieval",
                                                info="dense: meaning; keyword: BM25 words; hybrid: both")
                            clear = gr.Button("New conversation", variant="secondary", size="md", scale=0, min_width=210)
                    with gr.Column(scale=2):
                        context = gr.Slider(0, MAX_CONTEXT_CHARS, value=0, step=100, elem_id="docqa-context",
                                            label="More of the document around each passage (characters)")
                        sources = gr.HTML(render_sources(None, {}), elem_id="docqa-sources-panel")
            with gr.Tab("Documents"):
                documents_table = gr.HTML(elem_id="docqa-documents")
                with gr.Row():
                    with gr.Column():
                        upload = gr.File(label=f"Add documents (.txt or .md, UTF-8, up to {MAX_UPLOAD_BYTES // 2**20} MB)",
                                         file_count="multiple", elem_id="docqa-upload")
                        replace = gr.Checkbox(label="Replace files with the same name", value=False)
                    with gr.Column():
                        choice = gr.Dropdown(label="Remove a document from the corpus folder", choices=[])
                        remove = gr.Button("Remove", variant="stop")
                        refresh = gr.Button("Check the corpus folder for changes", variant="secondary")
                status = gr.Markdown(elem_id="docqa-status")

        ask_inputs = [question, chatbot, turns, k, mode, context]
        ask_outputs = [chatbot, turns, selected, sources, question]
        send.click(on_ask, ask_inputs, ask_outputs, api_visibility="private")
        question.submit(on_ask, ask_inputs, ask_outputs, api_visibility="private")
        chatbot.example_select(on_example, [chatbot, turns, k, mode, context], ask_outputs, api_visibility="private")
        chatbot.select(on_select, [turns, context], [selected, sources], api_visibility="private")
        context.change(shown, [turns, selected, context], sources, api_visibility="private")
        clear.click(lambda: ([], [], None, render_sources(None, {}), ""), None, ask_outputs, api_visibility="private")
        chatbot.clear(lambda: ([], None, render_sources(None, {})), None, [turns, selected, sources], api_visibility="private")
        status_outputs = [status, documents_table, choice]
        upload.upload(on_upload, [upload, replace], [*status_outputs, upload], api_visibility="private")
        remove.click(on_remove, choice, status_outputs,
                     js="(source) => (source && confirm('Remove ' + source + ' from the corpus folder?')) ? source : null",
                     api_visibility="private")
        refresh.click(on_refresh, None, status_outputs, api_visibility="private")
        app.load(lambda: on_documents_changed(""), None, status_outputs, api_visibility="private")

        api_question = gr.Textbox(visible=False)
        api_k = gr.Number(value=DEFAULT_K, precision=0, visible=False)
        api_mode = gr.Textbox(value="", visible=False)
        api_answer = gr.JSON(visible=False)
        api_button = gr.Button(visible=False)
        api_button.click(on_api_ask, [api_question, api_k, api_mode], api_answer, api_name="ask")
    return app


def serve(pipeline: Pipeline, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True):
    """Launch the app on ``host:port`` and print its address; with ``block=False`` return at once."""
    app = build_ui(pipeline)
    app.queue(default_concurrency_limit=4)
    # The model loads in a few seconds; do it while the page opens rather than on the first question.
    threading.Thread(target=_warm_up, args=(pipeline,), name="docqa-warm-up", daemon=True).start()
    app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=False,
               footer_links=["api"], css=CSS, js=JS, max_file_size=MAX_UPLOAD_BYTES, show_error=False)
    return app


def _warm_up(pipeline: Pipeline) -> None:
    try:
        pipeline.embedder.embed(["warm up"])
        pipeline.term_stats
    except Exception:  # the first question will say what is wrong
        logger.warning("could not load the model ahead of the first question", exc_info=True)
