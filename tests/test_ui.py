"""The chat app's formatting, and the app served for real with its /ask endpoint."""

import socket

import pytest

from docqa.chunking import ChunkingParams
from docqa.pipeline import Pipeline
from docqa.types import Answer, Chunk, Citation, Hit
from docqa.ui import escape_markdown, format_answer, reply


def test_document_text_is_shown_as_text():
    text = "<script>alert(1)</script> <img src=x onerror=alert(1)> **bold** [link](http://x)"
    shown = escape_markdown(text)
    assert "<script>" not in shown and "<img" not in shown
    assert "&lt;script&gt;" in shown
    assert "\\*\\*bold\\*\\*" in shown and "\\[link\\]" in shown


def test_answer_lists_its_sources_under_it():
    chunk = Chunk("c", "a.txt", 0, 20, "The quote is here.", 5)
    answer = Answer("q?", "The quote is here. [1]", True,
                    (Citation(1, "a.txt", "c", 0, 18, "The quote is here."),), (Hit(chunk, 0.5, 1),))
    shown = format_answer(answer)
    assert "**Sources**" in shown and "a\\.txt" in shown and "characters 0–18" in shown


def test_errors_become_messages(small_corpus, tmp_path, embedder):
    pipeline = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, chunking=ChunkingParams(40, 8))
    pipeline.build()
    history, cleared = reply(pipeline, "   ", [])
    assert cleared == ""
    assert history[-1]["role"] == "assistant" and "question is empty" in history[-1]["content"]
    history, _ = reply(pipeline, "Who hosted the first meeting?", history)
    assert "German Foreign Office" in history[-1]["content"] and len(history) == 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_served_app_answers_through_the_ask_endpoint(small_corpus, tmp_path, embedder):
    gradio_client = pytest.importorskip("gradio_client", reason="gradio_client comes with the dev extra")
    from docqa.ui import serve

    pipeline = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, chunking=ChunkingParams(40, 8))
    pipeline.ensure_index()
    port = free_port()
    app = serve(pipeline, host="127.0.0.1", port=port, block=False)
    try:
        client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
        record = client.predict("Who hosted the first meeting?", 3, api_name="/ask")
        assert record["answerable"] is True
        assert record["citations"][0]["quote"] == "The first meeting was hosted by the German Foreign Office."
        assert len(record["passages"]) == 3
    finally:
        app.close()
