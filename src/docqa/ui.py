"""The Gradio chat app: a thin layer over the pipeline. Nothing happens at import time.

Chat on the left, the sources of the selected answer on the right (each cited passage with
its quote highlighted, and more of the document on request), settings per request, and a
Documents tab to add and remove corpus files. This module builds the page, wires its events,
and serves it with the ``/ask`` endpoint; the work is done elsewhere:

- ``followups``: completing a follow-up question with the previous turn's subject;
- ``ui_render``: the reply and the sources panel, with all document and user text escaped;
- ``uploads``: checking uploads, writing and removing corpus files, re-indexing.
"""


import hmac
import ipaddress
import logging
import os
import queue
import threading
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Mapping, Sequence

from . import config
from .cleaning import replace_surrogates
from .corpus import FORMATS_READ
from .errors import DocqaError, InvalidQuery
from .followups import explain_declined_followup, resolve_followup
from .pipeline import Pipeline
from .retrieve import MODES, RetrievalSettings
from .types import Answer, Chunk, Citation, Document, Hit
from .ui_render import UNEXPECTED, Turn, escape_html, escape_markdown, format_draft, format_reply, render_sources
from .uploads import (MAX_UPLOAD_BYTES, add_documents, corpus_sources, reindex_and_report, remove_document,
                      remove_stale_uploads)

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


# ---------------------------------------------------------------- conversation

def respond(pipeline: Pipeline, message: str, history: list | None, turns: list | None,
            k: int = DEFAULT_K, mode: str | None = None, on_text=None) -> tuple[list, list, str]:
    """Answer ``message`` in the conversation; errors become messages, never stack traces.

    The question is retrieved by ``resolve_followup`` of it and the previous turn's query,
    with ``k`` passages (capped at the index size) and retrieval ``mode``, passed per
    request so that users never change each other's settings.

    Returns:
        The chat history with the exchange added, the turns (a new one when answered), and
        the question box: cleared when answered, the question as typed after an error.
    """
    history, turns, message = list(history or []), list(turns or []), replace_surrogates(message or "")
    # an empty question still gets its bubble, one that can be seen, so that each answer follows its question
    history.append({"role": "user", "content": escape_markdown(message) if message.strip() else "*(an empty question)*"})
    try:
        previous = turns[-1].search_query if turns else None
        stats = pipeline.term_stats
        search_query = (resolve_followup(message, previous, known_term=lambda term: stats.document_frequency.get(term, 0) > 0)
                        if message.strip() else message)
        settings = RetrievalSettings(mode=mode or pipeline.retrieval.mode)
        k = max(1, min(int(k or DEFAULT_K), pipeline.index.size))
        answer = pipeline.ask(message, k=k, retrieval=settings, on_text=on_text,
                              search_query=search_query if search_query != message.strip() else None)
        turn = Turn(len(turns) + 1, message.strip(), search_query, settings.mode, k, answer, len(history))
        turns.append(turn)
        if not answer.answerable and search_query != turn.question:
            # the decline may name words the user never typed: say how the question was read
            content = escape_markdown(explain_declined_followup(turn.question, search_query, answer.text))
        else:
            content = format_reply(answer, turn.number)
    except DocqaError as error:
        content = f"⚠️ {escape_markdown(str(error))}"
    except Exception:  # the UI shows a message, never a stack trace
        logger.exception("failed to answer %r", message)
        content = f"⚠️ {UNEXPECTED}"
    else:
        message = ""  # answered: the box is cleared for the next question
    history.append({"role": "assistant", "content": content})
    # after an error the question stays in the box, to be shortened or corrected
    return history, turns, message


def respond_streaming(pipeline: Pipeline, message: str, history: list | None, turns: list | None,
                      k: int = DEFAULT_K, mode: str | None = None):
    """``respond``, with the model's reply shown as a draft while it streams in.

    Yields ``(history, turns, question box, final)``: drafts (the chat with the draft as the last
    bubble; only the latest of those that came in meanwhile), then the answer as ``respond`` gives it.
    """
    drafts: queue.Queue = queue.Queue()
    done: list = []

    def work() -> None:
        try:
            done.append(respond(pipeline, message, history, turns, k, mode, on_text=drafts.put))
        finally:
            drafts.put(None)

    threading.Thread(target=work, daemon=True, name="docqa-answer").start()
    asked = [*(history or []), {"role": "user", "content": escape_markdown(replace_surrogates(message or ""))}]
    finished = False
    while not finished:
        draft = drafts.get()
        while draft is not None and not drafts.empty():
            draft = drafts.get()
        finished = draft is None
        if not finished:
            yield asked + [{"role": "assistant", "content": format_draft(draft)}], list(turns or []), message, False
    yield (*done[0], True)


def turn_for_message(turns: Sequence[Turn], message_index: int) -> Turn | None:
    """The turn whose question or answer is message ``message_index`` of the chat (None for error replies)."""
    return next((turn for turn in turns if message_index in (turn.message_index - 1, turn.message_index)), None)


def ask_record(pipeline: Pipeline, question: str, k: int | None = DEFAULT_K, mode: str | None = None) -> dict:
    """The answer record of DESIGN.md, for the ``/ask`` API endpoint (k defaults to 5, capped at the index)."""
    size = pipeline.index.size
    if k is None or k == DEFAULT_K:
        k = min(DEFAULT_K, size)
    # a client sends any JSON number (1e308, NaN) or text: the range is said, the value not echoed
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not (k == k and 1 <= k <= size and k == int(k)):
        raise InvalidQuery(f"k must be a whole number from 1 to {size}, the passages in the index")
    retrieval = RetrievalSettings(mode=mode) if mode else None
    return pipeline.ask(question, k=int(k), retrieval=retrieval).to_record()


# ---------------------------------------------------------------- the conversation kept in the browser

CONVERSATION_VERSION = 1
CONVERSATION_KEY = "docqa-conversation"  # its key in the browser's local storage


def conversation_record(history: list | None, turns: Sequence[Turn] | None) -> dict:
    """The conversation as JSON for the browser to keep, so that a reload does not lose it."""
    return {"version": CONVERSATION_VERSION, "history": list(history or []),
            "turns": [_turn_record(turn) for turn in turns or []]}


def restore_conversation(record, documents: Mapping[str, Document]) -> tuple[list, list[Turn]]:
    """The chat history and turns of a ``conversation_record`` read back from the browser.

    What the browser sends is input like any other: a record of another shape (an older
    version, edited by hand, cut short) gives an empty conversation, never an error.
    """
    if not isinstance(record, dict) or record.get("version") != CONVERSATION_VERSION:
        return [], []
    try:
        history = record["history"]
        if not isinstance(history, list) or not all(
                isinstance(m, dict) and m.get("role") in ("user", "assistant") for m in history):
            raise ValueError("a message without a role")
        turns = [_turn_from_record(item) for item in record["turns"]]
        if [turn.number for turn in turns] != list(range(1, len(turns) + 1)) or any(
                not 0 < turn.message_index < len(history) for turn in turns):
            raise ValueError("turns out of order")
        for turn in turns:  # each is shown again: its values must render
            render_sources(turn, documents)
            format_reply(turn.answer, turn.number)
    except (KeyError, TypeError, ValueError, AttributeError):
        logger.info("the conversation kept in the browser could not be read; starting a new one", exc_info=True)
        return [], []
    return history, turns


def _turn_record(turn: Turn) -> dict:
    answer = turn.answer
    return {"number": turn.number, "question": turn.question, "search_query": turn.search_query, "mode": turn.mode,
            "k": turn.k, "message_index": turn.message_index,
            "answer": {"question": answer.question, "text": answer.text, "answerable": answer.answerable,
                       "citations": [asdict(citation) for citation in answer.citations],
                       "passages": [asdict(hit) for hit in answer.passages]}}


def _turn_from_record(item: dict) -> Turn:
    answer = item["answer"]
    citations = tuple(Citation(**{**c, "section": tuple(c["section"])}) for c in answer["citations"])
    passages = tuple(Hit(**{**h, "chunk": Chunk(**{**h["chunk"], "section": tuple(h["chunk"]["section"])})})
                     for h in answer["passages"])
    for value, kind in [(item["number"], int), (item["k"], int), (item["message_index"], int), (item["question"], str),
                        (item["search_query"], str), (item["mode"], str), (answer["text"], str), (answer["answerable"], bool),
                        *((c.start, int) for c in citations), *((c.end, int) for c in citations),
                        *((h.chunk.start, int) for h in passages), *((h.chunk.end, int) for h in passages),
                        *((h.chunk.text, str) for h in passages), *((h.score, (int, float)) for h in passages)]:
        if not isinstance(value, kind):
            raise TypeError(f"{value!r} is not {kind}")
    return Turn(item["number"], item["question"], item["search_query"], item["mode"], item["k"],
                Answer(answer["question"], answer["text"], answer["answerable"], citations, passages),
                item["message_index"])


# ---------------------------------------------------------------- documents

def render_documents(pipeline: Pipeline) -> str:
    """The table of indexed files with their passage counts, and files that were skipped (escaped HTML)."""
    try:
        index = pipeline.index
    except DocqaError as error:
        return f'<p class="docqa-notice">{escape_html(str(error))}</p>'
    counts = Counter(chunk.source for chunk in index.chunks)
    rows = "".join(
        f"<tr><td>{escape_html(source)}</td><td>{counts[source]}</td><td>{len(document.text):,}</td></tr>"
        for source, document in sorted(index.documents.items())
    )
    skipped = index.manifest.get("corpus", {}).get("skipped", {})
    notes = "".join(f"<li>{escape_html(source)}: {escape_html(reason)}</li>" for source, reason in sorted(skipped.items()))
    return ('<table class="docqa-documents"><thead><tr><th>File</th><th>Passages</th><th>Characters</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
            + (f'<p>Not indexed:</p><ul class="docqa-skipped">{notes}</ul>' if notes else ""))


# ---------------------------------------------------------------- the app

ASSETS = Path(__file__).resolve().parent  # ui.css and ui.js, the page's style and behaviour


def page_assets() -> tuple[str, str]:
    """The CSS and the JavaScript (one function run when the page loads) of the app."""
    return (ASSETS / "ui.css").read_text(encoding="utf-8"), (ASSETS / "ui.js").read_text(encoding="utf-8")


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
        if pipeline.llm is None:
            history, turns, cleared = respond(pipeline, message, history, turns, k, mode)
            # the browser keeps the conversation from the same reply, so a reload right after it loses nothing
            yield history, turns, None, shown(turns, None, context), cleared, conversation_record(history, turns)
            return
        # the model's reply streams in as a draft; the checked answer replaces it
        for history, turns, cleared, final in respond_streaming(pipeline, message, history, turns, k, mode):
            if final:
                yield history, turns, None, shown(turns, None, context), cleared, conversation_record(history, turns)
            else:
                yield history, turns, None, gr.skip(), gr.skip(), gr.skip()

    def on_example(event: gr.SelectData, history, turns, k, mode, context):
        yield from on_ask(event.value["text"], history, turns, k, mode, context)

    def on_select(event: gr.SelectData, turns, context):
        index = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        turn = turn_for_message(turns, int(index))
        number = turn.number if turn else None
        return number, shown(turns, number, context)

    def on_documents_changed(message):
        choices = corpus_sources(pipeline)
        return message, render_documents(pipeline), gr.Dropdown(choices=choices, value=None)

    def on_upload(paths, replace, progress=gr.Progress(track_tqdm=True)):
        # the replace box is unticked again: a later upload must not overwrite without being asked to
        return (*on_documents_changed(add_documents(pipeline, paths, replace, progress)), None, False)

    def on_remove(source, progress=gr.Progress(track_tqdm=True)):
        return on_documents_changed(remove_document(pipeline, source, progress))

    def on_refresh():
        return on_documents_changed("\n\n".join(reindex_and_report(pipeline, ["checked the corpus folder"])))

    def on_api_ask(question, k, mode):
        try:
            return ask_record(pipeline, question, k, mode or None)
        except DocqaError as error:
            # the client is told why; the server's log needs a line, not Gradio's traceback of a refusal
            logger.warning("/ask refused: %s", error)
            raise gr.Error(str(error), print_exception=False) from None

    def on_load(record):
        history, restored = restore_conversation(record, documents())
        return history, restored, None, shown(restored, None, 0)

    with gr.Blocks(title="docqa", analytics_enabled=False) as app:
        turns = gr.State([])
        selected = gr.State(None)
        # the conversation survives a reload: the browser keeps it (its local storage, this browser only)
        kept = gr.BrowserState(None, storage_key=CONVERSATION_KEY)
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
                            question = gr.Textbox(label="Question", show_label=False,
                                                  placeholder="Ask a question about the documents",
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
                        upload = gr.File(label=f"Add documents ({FORMATS_READ}; up to {MAX_UPLOAD_BYTES // 2**20} MB each)",
                                         file_count="multiple", elem_id="docqa-upload")
                        replace = gr.Checkbox(label="Replace files with the same name", value=False)
                    with gr.Column():
                        choice = gr.Dropdown(label="Remove a document from the corpus folder", choices=[])
                        remove = gr.Button("Remove", variant="stop")
                        refresh = gr.Button("Check the corpus folder for changes", variant="secondary")
                status = gr.Markdown(elem_id="docqa-status")

        ask_inputs = [question, chatbot, turns, k, mode, context]
        ask_outputs = [chatbot, turns, selected, sources, question, kept]
        send.click(on_ask, ask_inputs, ask_outputs, api_visibility="private")
        question.submit(on_ask, ask_inputs, ask_outputs, api_visibility="private")
        chatbot.example_select(on_example, [chatbot, turns, k, mode, context], ask_outputs, api_visibility="private")
        chatbot.select(on_select, [turns, context], [selected, sources], api_visibility="private")
        context.change(shown, [turns, selected, context], sources, api_visibility="private")
        clear.click(lambda: ([], [], None, render_sources(None, {}), "", None), None, ask_outputs, api_visibility="private")
        chatbot.clear(lambda: ([], None, render_sources(None, {}), None), None, [turns, selected, sources, kept],
                      api_visibility="private")
        status_outputs = [status, documents_table, choice]
        upload.upload(on_upload, [upload, replace], [*status_outputs, upload, replace], api_visibility="private")
        remove.click(on_remove, choice, status_outputs,
                     js="(source) => (source && confirm('Remove ' + source + ' from the corpus folder?')) ? source : null",
                     api_visibility="private")
        refresh.click(on_refresh, None, status_outputs, api_visibility="private")
        app.load(lambda: on_documents_changed(""), None, status_outputs, api_visibility="private")
        app.load(on_load, kept, [chatbot, turns, selected, sources], api_visibility="private")

        api_question = gr.Textbox(visible=False)
        api_k = gr.Number(value=DEFAULT_K, precision=0, visible=False)
        api_mode = gr.Textbox(value="", visible=False)
        api_answer = gr.JSON(visible=False)
        api_button = gr.Button(visible=False)
        api_button.click(on_api_ask, [api_question, api_k, api_mode], api_answer, api_name="ask")
    return app


def serve(pipeline: Pipeline, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True,
          auth: Sequence[tuple[str, str]] | None = None):
    """Launch the app on ``host:port``; with ``block=False`` return it at once (its address is ``app.local_url``).

    Gradio's own start-up lines are left out; ``docqa serve`` prints where the app runs.

    Args:
        auth: the users who may log in, as (user, password) pairs; by default those of
            ``DOCQA_AUTH`` / ``DOCQA_AUTH_FILE``. Without any, there is no login, and listening
            on an address other than the loopback logs a warning: anyone who reaches the
            port could read the documents and change the corpus.
    """
    credentials = list(config.auth_credentials() if auth is None else auth)
    if not credentials and not is_loopback(host):
        logger.warning("listening on %s without authentication: anyone who can reach port %s can read the "
                       "documents and add or remove files; set DOCQA_AUTH=user:password (or DOCQA_AUTH_FILE) "
                       "to require a login, or serve on 127.0.0.1", host, port)
    if pipeline.corpus_dir.is_dir():
        for name in remove_stale_uploads(pipeline.corpus_dir):
            logger.info("removed %s, left by an upload that did not finish", name)
    app = build_ui(pipeline)
    app.queue(default_concurrency_limit=4)
    # The model loads in a few seconds; do it while the page opens rather than on the first question.
    threading.Thread(target=_warm_up, args=(pipeline,), name="docqa-warm-up", daemon=True).start()
    css, js = page_assets()
    # quiet: Gradio's own lines end with "set share=True", which a docqa user has no way to act on
    app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=True,
               footer_links=["api"], css=css, js=js, max_file_size=MAX_UPLOAD_BYTES, show_error=False,
               auth=_password_check(credentials) if credentials else None,
               auth_message="docqa: log in with the user name and password you were given.")
    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.1, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _password_check(credentials: Sequence[tuple[str, str]]):
    """A login check that compares in constant time, so timing does not leak how much matched."""
    pairs = [(user.encode(), password.encode()) for user, password in credentials]

    def check(user: str, password: str) -> bool:
        given = (str(user).encode(), str(password).encode())
        matched = False
        for expected_user, expected_password in pairs:
            matched |= hmac.compare_digest(given[0], expected_user) & hmac.compare_digest(given[1], expected_password)
        return matched

    return check


def _warm_up(pipeline: Pipeline) -> None:
    try:
        pipeline.warm_up()
    except Exception:  # the first question will say what is wrong
        logger.warning("could not load the model ahead of the first question", exc_info=True)
