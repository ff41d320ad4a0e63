"""The Gradio chat app: a thin layer over the pipeline. Nothing happens at import time."""

from __future__ import annotations

import html
import logging
import os
import re

from .errors import DocqaError
from .pipeline import Pipeline
from .types import Answer

logger = logging.getLogger(__name__)

EXAMPLE_QUESTIONS = [
    "Who leads the working group?",
    "Which company did the working group collaborate with in 2010?",
    "What did the February 2009 report provide?",
    "What are the documentaries about?",
]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def escape_markdown(text: str) -> str:
    """Show document text as text: HTML escaped, Markdown syntax neutralised, white space folded."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(" ".join(text.split()), quote=False))


def format_answer(answer: Answer) -> str:
    """The chat reply: the answer, then its sources (or the closest passages) under it."""
    lines = [escape_markdown(answer.text)]
    if answer.answerable:
        lines.append("\n**Sources**")
        for citation in answer.citations:
            lines.append(
                f"\n[{citation.marker}] `{escape_markdown(citation.source)}`, characters "
                f"{citation.start}–{citation.end}: “{escape_markdown(citation.quote)}”"
            )
    else:
        lines.append("\n**Closest passages** (they do not answer the question)")
        for hit in answer.passages[:3]:
            text = hit.chunk.text if len(hit.chunk.text) <= 300 else hit.chunk.text[:299] + "…"
            lines.append(f"\n{hit.rank}. `{escape_markdown(hit.chunk.source)}` (score {hit.score:.2f}): {escape_markdown(text)}")
    return "\n".join(lines)


def reply(pipeline: Pipeline, message: str, history: list | None, k: int = 5) -> tuple[list, str]:
    """Answer ``message`` and append the exchange to ``history``; errors become messages."""
    history = list(history or [])
    history.append({"role": "user", "content": message})
    try:
        content = format_answer(pipeline.ask(message, k=min(k, pipeline.index.size)))
    except DocqaError as error:
        content = f"⚠️ {escape_markdown(str(error))}"
    except Exception:  # the UI shows a message, never a stack trace
        logger.exception("failed to answer %r", message)
        content = "⚠️ Something went wrong while answering; the details are in the server log."
    history.append({"role": "assistant", "content": content})
    return history, ""


def ask_record(pipeline: Pipeline, question: str, k: int = 5) -> dict:
    """The answer record of DESIGN.md, for the ``/ask`` API endpoint."""
    return pipeline.ask(question, k=int(k)).to_record()


def build_ui(pipeline: Pipeline):
    """The chat app over ``pipeline`` as a ``gr.Blocks`` (not launched)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    with gr.Blocks(title="docqa") as app:
        gr.Markdown("## docqa\nAsk about the documents; every answer quotes the sentences it comes from.")
        chatbot = gr.Chatbot(label="Chat", height=480, sanitize_html=True, feedback_options=None)
        question = gr.Textbox(label="Question", placeholder="Ask a question about the documents", autofocus=True)
        with gr.Row():
            send = gr.Button("Ask", variant="primary")
            clear = gr.Button("Clear")
        gr.Examples(EXAMPLE_QUESTIONS, inputs=question, label="Examples")

        def on_submit(message, history):
            return reply(pipeline, message, history)

        send.click(on_submit, [question, chatbot], [chatbot, question], api_visibility="private")
        question.submit(on_submit, [question, chatbot], [chatbot, question], api_visibility="private")
        clear.click(lambda: ([], ""), None, [chatbot, question], api_visibility="private")

        api_question = gr.Textbox(visible=False)
        api_k = gr.Number(value=5, precision=0, visible=False)
        api_answer = gr.JSON(visible=False)
        api_button = gr.Button(visible=False)
        api_button.click(lambda q, k: ask_record(pipeline, q, k), [api_question, api_k], api_answer, api_name="ask")
    return app


def serve(pipeline: Pipeline, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True):
    """Launch the app on ``host:port`` and print its address."""
    app = build_ui(pipeline)
    app.queue(default_concurrency_limit=4)
    app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=False, footer_links=["api"])
    return app
