"""The chat app's pure parts (follow-ups, formatting, upload checks), its handlers, and its /ask endpoint.

The app in a real browser is tested in test_ui_browser.py.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, HashingEmbedder
from docqa.chunking import ChunkingParams
from docqa.followups import resolve_followup
from docqa.pipeline import Pipeline
from docqa.retrieve import RetrievalSettings
from docqa.types import Answer, Chunk, Citation, Document, Hit
from docqa.ui import render_documents, respond, turn_for_message
from docqa.ui_render import Turn, escape_markdown, format_reply, render_sources
from docqa.uploads import (MAX_UPLOAD_BYTES, UploadRejected, add_documents, check_upload, reindex_and_report,
                           remove_document, remove_stale_uploads, save_upload)
from servers import free_port

INJECTION = "<script>alert(1)</script> <img src=x onerror=alert(1)>"


def plain(markdown: str) -> str:
    """A Markdown status line without the backslashes that keep file names literal."""
    return markdown.replace("\\", "")


@pytest.fixture
def pipeline(small_corpus, tmp_path, embedder):
    pipeline = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, chunking=ChunkingParams(40, 8))
    pipeline.ensure_index()
    return pipeline


# ---------------------------------------------------------------- follow-ups

@pytest.mark.parametrize("question, previous, expected", [
    ("When was it published?", "What report did the group write in 2009?",
     "When was it published? report group write 2009"),
    ("What about 2011?", "Which meetings did the group organize in 2010?",
     "What about 2011? meetings group organize 2010"),
    ("Who hosted them?", "What expert meetings were held in 2010?", "Who hosted them? expert meetings held 2010"),
    ("Where?", "Which conference was held in 2011?", "Where? conference held 2011"),
    # words the follow-up already has (by stem) are not repeated
    ("What did it say about the reports?", "What did the report recommend?",
     "What did it say about the reports? recommend"),
    # one word of its own, but no new subject: the previous one's, or a number
    ("Where was the meeting?", "What happened at the November 2008 meeting?", "Where was the meeting? happened november 2008"),
    ("In 2011?", "Which meetings did the group organize in 2010?", "In 2011? meetings group organize 2010"),
])
def test_a_followup_is_completed_with_the_previous_subject(question, previous, expected):
    assert resolve_followup(question, previous) == expected


def test_a_lone_word_the_documents_do_not_use_is_no_new_subject():
    known = {"report", "group", "2009", "documentari"}.__contains__
    assert resolve_followup("Which year?", "What report did the group write in 2009?", known_term=known) == \
        "Which year? report group 2009"
    assert resolve_followup("What are the documentaries about?", "When was it published? report group 2009",
                            known_term=known) == "What are the documentaries about?"


@pytest.mark.parametrize("question, previous", [
    ("Which company did the working group collaborate with in 2010?", "Who leads the working group?"),
    ("Where was the 2011 conference held?", "What are the documentaries about?"),
    # one word of its own, a subject the previous question did not have
    ("What are the documentaries about?", "When was it published? report group 2009"),
    ("Microsoft?", "Quelle entreprise a collaboré avec le groupe en 2010 ?"),
    ("When was it published?", None),
    ("When was it published?", "   "),
])
def test_a_question_that_stands_alone_is_searched_as_it_is(question, previous):
    assert resolve_followup(question, previous) == question


def test_followups_chain_and_stay_bounded():
    first = "What report did the group write in 2009?"
    second = resolve_followup("When was it published?", first)
    third = resolve_followup("What does it recommend?", second)
    assert third == "What does it recommend? published report group write 2009"
    assert resolve_followup("And then?", third).count("report") == 1


def test_followup_set_is_about_the_default_document():
    pairs = [json.loads(line) for line in (ROOT / "tests" / "data" / "followups.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(pairs) >= 10 and len({p["id"] for p in pairs}) == len(pairs)
    documents = Pipeline(ROOT / "corpus", ROOT / "index", embedder=HashingEmbedder()).index.documents
    text = " ".join(" ".join(d.text.split()) for d in documents.values()).casefold()
    for pair in pairs:
        assert pair["first"].strip() and pair["followup"].strip()
        assert all(" ".join(gold.split()).casefold() in text for gold in pair["answers"]), pair["id"]
        resolved = resolve_followup(pair["followup"], pair["first"])
        assert (resolved == pair["followup"]) == bool(pair.get("standalone")), pair["id"]


# ---------------------------------------------------------------- showing answers

DOCUMENT = Document("a<b>.txt", "Intro here. The quote is here. " + INJECTION + " Tail text follows.", "0")
CHUNK = Chunk("c1", "a<b>.txt", 12, 58 + len(INJECTION) - 26, DOCUMENT.text[12:58 + len(INJECTION) - 26], 9)
QUOTE = Citation(1, "a<b>.txt", "c1", 12, 30, "The quote is here.")
ANSWERED = Answer("q?", "The quote is here. [1]", True, (QUOTE,), (Hit(CHUNK, 0.5, 1),))


def test_document_text_is_shown_as_text():
    text = INJECTION + " **bold** [link](http://x)"
    shown = escape_markdown(text)
    assert "<script>" not in shown and "<img" not in shown
    assert "&lt;script&gt;" in shown
    assert "\\*\\*bold\\*\\*" in shown and "\\[link\\]" in shown


def test_markers_link_to_their_source_entries():
    reply = format_reply(ANSWERED, turn=3)
    assert reply == 'The quote is here\\. <a class="docqa-marker" href="#docqa-t3-s1">&#91;1&#93;</a>'
    unsafe = Answer("q?", f"{INJECTION} [1]", True, (QUOTE,), (Hit(CHUNK, 0.5, 1),))
    assert "<script" not in format_reply(unsafe, 1) and "<img" not in format_reply(unsafe, 1)


def test_sources_panel_highlights_the_quote_and_escapes_everything():
    turn = Turn(2, "q?", "q? subject", "hybrid", 5, ANSWERED, 3)
    panel = render_sources(turn, {DOCUMENT.source: DOCUMENT})
    assert 'id="docqa-t2-s1"' in panel and "<mark>The quote is here.</mark>" in panel
    assert "a&lt;b&gt;.txt" in panel and "passage score 0.500" in panel and "quote at characters 12–30" in panel
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel and "<script" not in panel and "<img" not in panel
    assert "Searched for <q>q? subject</q>" in panel and "completed with the previous" in panel
    assert "Intro" not in panel  # no context unless asked for


def test_context_reveals_more_of_the_document_around_the_passage():
    turn = Turn(1, "q?", "q?", "dense", 5, ANSWERED, 1)
    panel = render_sources(turn, {DOCUMENT.source: DOCUMENT}, context_chars=200)
    assert '<span class="docqa-context">Intro here. </span>' in panel
    assert "Tail text follows." in panel and "completed" not in panel
    # the document changed since the answer: the passage as answered, without context
    changed = Document(DOCUMENT.source, "Something else entirely now.", "1")
    panel = render_sources(turn, {DOCUMENT.source: changed}, context_chars=200)
    assert "<mark>The quote is here.</mark>" in panel and "Intro" not in panel and "Something" not in panel


def test_a_declined_answer_still_shows_the_closest_passages_marked():
    declined = Answer("q?", "The documents don't say: none of them mentions “budget”.", False, (),
                      (Hit(CHUNK, 0.2, 1),))
    assert format_reply(declined, 1) == "The documents don't say: none of them mentions “budget”\\."
    panel = render_sources(Turn(1, "q?", "q?", "hybrid", 5, declined, 1), {DOCUMENT.source: DOCUMENT})
    assert "(hybrid, 5 passages)" in panel
    assert "(hybrid, 1 passage)" in render_sources(Turn(1, "q?", "q?", "hybrid", 1, declined, 1), {DOCUMENT.source: DOCUMENT})
    assert "None of these passages supports an answer" in panel
    assert "does not support an answer" in panel and 'id="docqa-t1-p1"' in panel and "<mark>" not in panel


def test_the_empty_panel_explains_itself():
    assert "Sources appear here" in render_sources(None, {})


# ---------------------------------------------------------------- the conversation

def test_a_question_then_a_followup(pipeline):
    history, turns, cleared = respond(pipeline, "Who hosted the first meeting?", [], [], 3, "hybrid")
    assert cleared == "" and len(history) == 2 and len(turns) == 1
    assert "German Foreign Office" in history[-1]["content"] and 'href="#docqa-t1-s1"' in history[-1]["content"]
    history, turns, _ = respond(pipeline, "Who hosted it?", history, turns, 3, "hybrid")
    assert turns[-1].search_query == "Who hosted it? first meeting"
    assert turns[-1].question == "Who hosted it?" and turns[-1].answer.question == "Who hosted it?"


def test_settings_apply_per_request_and_k_is_capped(pipeline):
    _, turns, _ = respond(pipeline, "Who hosted the first meeting?", [], [], 50, "keyword")
    assert turns[0].mode == "keyword" and turns[0].k == pipeline.index.size
    assert all(hit.score == hit.keyword_score for hit in turns[0].answer.passages)  # ranked by BM25 alone
    assert pipeline.retrieval == RetrievalSettings()  # shared state untouched


def test_errors_become_messages(pipeline, monkeypatch):
    history, turns, _ = respond(pipeline, "   ", [], [])
    assert "question is empty" in history[-1]["content"] and turns == []
    assert history[0]["content"] == "*(an empty question)*"  # a bubble that can be seen, not an empty one
    history, turns, _ = respond(pipeline, "Who?", history, turns, 3, "semantic")
    assert "retrieval mode 'semantic' is unknown" in history[-1]["content"]

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(pipeline, "ask", broken)
    history, turns, _ = respond(pipeline, "Who hosted the first meeting?", history, turns)
    assert "went wrong" in history[-1]["content"] and "internal detail" not in history[-1]["content"]
    assert len(history) == 6 and turns == []


def test_a_chat_message_leads_to_its_turn(pipeline):
    history, turns, _ = respond(pipeline, "Who hosted the first meeting?", [], [], 3)
    history, turns, _ = respond(pipeline, "", history, turns, 3)  # an error reply: no turn
    history, turns, _ = respond(pipeline, "Which company held the second meeting?", history, turns, 3)
    assert [turn_for_message(turns, i) for i in range(6)] == [turns[0], turns[0], None, None, turns[1], turns[1]]


# ---------------------------------------------------------------- documents

@pytest.mark.parametrize("name, data, words", [
    ("../../x.txt", b"text", "not a plain file name"),
    ("notes/x.txt", b"text", "not a plain file name"),
    ("..\\x.txt", b"text", "not a plain file name"),
    (".hidden.txt", b"text", "not a plain file name"),
    ("report.pdf", b"%PDF-1.4", "report.pdf: not a readable PDF"),
    ("slides.pptx", b"PK", r"docqa reads \.txt, \.md, \.pdf, \.html, \.docx files; export it as PDF"),
    ("letter.docx", b"PK\x03\x04", "not a readable Word .docx file"),
    ("empty.txt", b"", "is empty"),
    ("blank.md", b" \n\t\n", "is empty"),
    ("latin1.txt", "café".encode("latin-1"), "not UTF-8 text"),
    ("binary.txt", b"abc\x00def", "NUL bytes"),
    ("big.txt", b"x" * 101, "big.txt is 101 bytes; the limit is 100 bytes"),
])
def test_uploads_are_checked(tmp_path, name, data, words):
    with pytest.raises(UploadRejected, match=words):
        check_upload(name, data, tmp_path, max_bytes=100)


def test_checking_an_unchanged_corpus_folder_says_nothing_changed(pipeline):
    assert reindex_and_report(pipeline, ["checked the corpus folder"]) == [
        f"✓ checked the corpus folder; nothing changed: the index holds 3 documents, {pipeline.index.size} passages."]
    (pipeline.corpus_dir / "more.txt").write_text("The observatory opened in 1998.")
    [line] = reindex_and_report(pipeline, ["checked the corpus folder"])
    assert "indexed 4 documents" in line and "embedded 1 new passage)" in line


def test_an_upload_that_fails_to_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def full_disk(path, data):
        with open(path, "wb") as file:
            file.write(data[:3])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space"):
        save_upload(tmp_path / "notes.txt", b"some notes")
    assert list(tmp_path.iterdir()) == []


def test_unfinished_uploads_of_ended_processes_are_removed(tmp_path):
    stale = tmp_path / f".notes.txt.upload-{ended_pid()}"
    current = tmp_path / f".report.pdf.upload-{os.getpid()}"  # an upload being written now
    kept = [tmp_path / "notes.txt", tmp_path / ".hidden.upload-notes"]
    for path in (stale, current, *kept):
        path.write_bytes(b"x")
    assert remove_stale_uploads(tmp_path) == [stale.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (current, *kept))


def ended_pid() -> int:
    """The process id of a process that has ended."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(ended.stdout)


def test_starting_the_app_clears_unfinished_uploads(pipeline, monkeypatch):
    from docqa.ui import serve

    class App:
        def queue(self, **kwargs):
            pass

        def launch(self, **kwargs):
            pass

    monkeypatch.setattr("docqa.ui.build_ui", lambda pipeline: App())
    stale = pipeline.corpus_dir / f".notes.txt.upload-{ended_pid()}"
    stale.write_bytes(b"half a file")
    serve(pipeline, port=7999)
    assert not stale.exists()


def test_an_upload_never_overwrites_silently(tmp_path):
    (tmp_path / "notes.txt").write_text("old text", encoding="utf-8")
    with pytest.raises(UploadRejected, match="already in the corpus, unchanged"):
        check_upload("notes.txt", b"old text", tmp_path)
    with pytest.raises(UploadRejected, match="a different notes.txt is already in the corpus"):
        check_upload("notes.txt", b"new text", tmp_path)
    assert check_upload("notes.txt", b"new text", tmp_path, replace=True) == tmp_path / "notes.txt"
    assert check_upload("Notes.MD", "ünïcode".encode(), tmp_path) == tmp_path / "Notes.MD"
    assert MAX_UPLOAD_BYTES == 20 * 1024 * 1024


def test_an_uploaded_document_is_answerable_at_once_and_can_be_removed(pipeline, tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "budget.txt").write_text("The annual budget of the observatory was 4 million euros.", encoding="utf-8")
    (uploads / "scan.pdf").write_bytes(b"%PDF")
    report = add_documents(pipeline, [str(uploads / "budget.txt"), str(uploads / "scan.pdf")])
    assert "scan.pdf: not a readable PDF" in plain(report) and "added budget.txt" in plain(report)
    assert (pipeline.corpus_dir / "budget.txt").is_file() and not (pipeline.corpus_dir / "scan.pdf").exists()
    assert "budget.txt</td><td>1</td>" in render_documents(pipeline)
    history, turns, _ = respond(pipeline, "What was the annual budget of the observatory?", [], [], 3)
    assert turns[0].answer.citations[0].source == "budget.txt"

    assert "already in the corpus, unchanged" in add_documents(pipeline, [str(uploads / "budget.txt")])
    with open(uploads / "huge.txt", "wb") as huge:
        huge.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: checked by its size, never read
    assert "huge.txt is 20.0 MB; the limit is 20.0 MB" in plain(add_documents(pipeline, [str(uploads / "huge.txt")]))
    assert not (pipeline.corpus_dir / "huge.txt").exists()
    assert "not in the corpus" in remove_document(pipeline, "../outside.txt")
    assert "removed budget.txt" in plain(remove_document(pipeline, "budget.txt"))
    assert "budget.txt" not in pipeline.index.documents and not (pipeline.corpus_dir / "budget.txt").exists()
    assert remove_document(pipeline, None) == "Nothing removed."


def test_the_only_document_cannot_be_removed(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "only.txt").write_text("The only document says one thing.", encoding="utf-8")
    pipeline = Pipeline(corpus, tmp_path / "index", embedder=embedder, chunking=ChunkingParams(40, 8))
    pipeline.ensure_index()
    assert "is the only document" in remove_document(pipeline, "only.txt")
    assert (corpus / "only.txt").is_file()


def test_importing_the_ui_does_no_work():
    code = "import sys, docqa.ui; print(sorted(m for m in ('gradio', 'torch', 'faiss') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- the served app

def test_served_app_answers_through_the_ask_endpoint(pipeline):
    gradio_client = pytest.importorskip("gradio_client", reason="gradio_client comes with the dev extra")
    from docqa.ui import serve

    port = free_port()
    app = serve(pipeline, host="127.0.0.1", port=port, block=False)
    try:
        client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
        record = client.predict("Who hosted the first meeting?", 3, api_name="/ask")
        assert record["answerable"] is True
        assert record["citations"][0]["quote"] == "The first meeting was hosted by the German Foreign Office."
        assert len(record["passages"]) == 3
        record = client.predict("Who hosted the first meeting?", api_name="/ask")  # k is optional
        assert len(record["passages"]) == min(5, pipeline.index.size)
        with pytest.raises(Exception, match="the question is empty"):
            client.predict("  ", 3, api_name="/ask")
    finally:
        app.close()


def test_followups_carry_only_the_words_the_documents_know():
    known = {"report", "group", "2009"}.__contains__
    assert resolve_followup("When was it published?", "What report did the group write in 2009?",
                            known_term=known) == "When was it published? report group 2009"


def test_the_ask_endpoint_replaces_lone_surrogates(pipeline, monkeypatch):
    from docqa.ui import ask_record

    texts: list[str] = []
    embed = pipeline.embedder.embed
    monkeypatch.setattr(pipeline.embedder, "embed", lambda batch, **kw: texts.extend(batch) or embed(batch, **kw))
    record = ask_record(pipeline, "Who hosted the first \ud800 meeting?", 3)
    assert record["question"] == "Who hosted the first \ufffd meeting?"
    assert texts and not any("\ud800" <= char <= "\udfff" for text in texts for char in text)
    json.dumps(record, ensure_ascii=False).encode("utf-8")  # what the server sends


@pytest.mark.parametrize("k", [1e308, float("inf"), float("nan"), 2.5, -3, "1e308"])
def test_the_ask_endpoint_refuses_a_k_out_of_range_without_echoing_it(pipeline, k):
    from docqa.errors import InvalidQuery
    from docqa.ui import ask_record

    with pytest.raises(InvalidQuery, match=rf"k must be a whole number from 1 to {pipeline.index.size}") as raised:
        ask_record(pipeline, "Who hosted the first meeting?", k)
    assert len(str(raised.value)) < 200


def test_a_refused_ask_is_one_line_in_the_server_log(pipeline, capfd, caplog):
    gradio_client = pytest.importorskip("gradio_client", reason="gradio_client comes with the dev extra")
    from docqa.ui import serve

    port = free_port()
    app = serve(pipeline, host="127.0.0.1", port=port, block=False)
    try:
        client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
        capfd.readouterr()
        caplog.clear()
        with pytest.raises(Exception, match="the question is empty"):
            client.predict("  ", 3, api_name="/ask")
        with pytest.raises(Exception, match="k must be a whole number from 1 to"):
            client.predict("Who hosted the first meeting?", 1e308, api_name="/ask")
    finally:
        app.close()
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    refused = [r.getMessage() for r in caplog.records if r.name == "docqa.ui"]
    assert len(refused) == 2 and "the question is empty" in refused[0] and all("\n" not in m for m in refused)


# ---------------------------------------------------------------- finish (issue 20, items 13-18)

def test_an_error_leaves_the_question_in_the_box_and_an_answer_clears_it(pipeline):
    too_long = "Who hosted the first meeting? " + "x" * 2000
    history, turns, box = respond(pipeline, too_long, [], [], 3)
    assert "docqa takes up to 2,000" in history[-1]["content"] and box == too_long and turns == []
    _, turns, box = respond(pipeline, "Who hosted the first meeting?", history, turns, 3)
    assert box == "" and len(turns) == 1


def test_a_declined_followup_says_how_it_was_read(pipeline):
    history, turns, _ = respond(pipeline, "Which meetings did the group organize in 2010?", [], [], 5)
    history, turns, _ = respond(pipeline, "When was it founded?", history, turns, 5)
    reply = plain(history[-1]["content"])
    assert turns[-1].search_query == "When was it founded? meetings group organize 2010" and not turns[-1].answer.answerable
    assert reply.startswith("“When was it founded?” was read as a follow-up of the previous question and searched "
                            "for as “When was it founded? meetings group organize 2010”. The documents don't say")
    assert "“2010” comes from the previous question, not from yours" in reply


def test_a_decline_names_only_the_words_the_user_did_not_type():
    from docqa.followups import explain_declined_followup

    decline = "The documents don't say: the passages found that mention “2010” or “meetings” do not give the date asked for."
    borrowed = explain_declined_followup("When were the meetings?", "When were the meetings? group 2010", decline)
    assert borrowed.endswith("“2010” comes from the previous question, not from yours: to ask about something else, "
                             "name it in the question.")
    typed = explain_declined_followup("And in 2010?", "And in 2010? meetings", "… no document mentions “2010”.")
    assert "comes from" not in typed and "searched for as “And in 2010? meetings”" in typed


MARKDOWN = Document("guide.md", "# Guide\n\n## Opening hours\n\nThe room opens at **nine** on `weekdays`. Bring a *pass*.\n", "0")
MD_CHUNK = Chunk("m1", "guide.md", 27, 84, MARKDOWN.text[27:84], 14, section=("Guide", "Opening hours"))
MD_QUOTE = Citation(1, "guide.md", "m1", 27, 68, MARKDOWN.text[27:68])


def test_markdown_passages_show_headings_and_emphasis_and_mark_the_quote_exactly():
    answer = Answer("q?", "x [1]", True, (MD_QUOTE,), (Hit(MD_CHUNK, 0.5, 1),))
    panel = render_sources(Turn(1, "q?", "q?", "hybrid", 5, answer, 1), {MARKDOWN.source: MARKDOWN}, context_chars=100)
    passage = panel[panel.index('<div class="docqa-passage">'):]
    assert '<span class="docqa-md-h1"><span class="docqa-context">Guide</span></span>' in passage
    assert '<span class="docqa-md-h2"><span class="docqa-context">Opening hours</span></span>' in passage
    assert "#" not in passage and "**" not in passage and "`" not in passage
    assert '<mark>The room opens at </mark><span class="docqa-md-strong"><mark>nine</mark></span>' in passage
    marked = "".join(part.split("</mark>")[0] for part in passage.split("<mark>")[1:])
    assert marked == "The room opens at nine on weekdays."  # the quote, its syntax hidden, nothing else
    from docqa.ui_render import markdown_spans

    hidden, styled = markdown_spans(MARKDOWN.text, 0, len(MARKDOWN.text))
    shown = "".join(ch for i, ch in enumerate(MARKDOWN.text) if not any(a <= i < b for a, b in hidden))
    assert shown == "Guide\n\nOpening hours\n\nThe room opens at nine on weekdays. Bring a pass.\n"
    assert {css for _, _, css in styled} == {"docqa-md-h1", "docqa-md-h2", "docqa-md-strong", "docqa-md-code", "docqa-md-em"}
    plain_text = render_sources(Turn(1, "q?", "q?", "hybrid", 5, ANSWERED, 1), {DOCUMENT.source: DOCUMENT})
    assert "docqa-md" not in plain_text  # a .txt file is shown as typed


def test_sources_say_when_their_file_changed_or_was_removed_since_the_answer():
    turn = Turn(1, "q?", "q?", "dense", 5, ANSWERED, 1)
    assert "since this answer" not in render_sources(turn, {DOCUMENT.source: DOCUMENT})
    changed = Document(DOCUMENT.source, "A new first line. " + DOCUMENT.text, "1")
    panel = render_sources(turn, {DOCUMENT.source: changed}, context_chars=200)
    assert "a&lt;b&gt;.txt has changed since this answer: the passage is shown as it was" in panel
    assert "<mark>The quote is here.</mark>" in panel and "A new first line" not in panel
    assert "a&lt;b&gt;.txt has been removed since this answer" in render_sources(turn, {})


def test_the_conversation_kept_in_the_browser_comes_back_as_it_was(pipeline):
    from docqa.ui import conversation_record, restore_conversation

    history, turns, _ = respond(pipeline, "Who hosted the first meeting?", [], [], 3)
    history, turns, _ = respond(pipeline, "", history, turns, 3)  # an error reply is kept too
    history, turns, _ = respond(pipeline, "Who hosted it?", history, turns, 3)
    record = json.loads(json.dumps(conversation_record(history, turns)))  # as the browser stores it
    restored_history, restored = restore_conversation(record, pipeline.index.documents)
    assert restored_history == history and restored == turns
    assert restore_conversation(None, {}) == ([], [])
    damaged = json.loads(json.dumps(record))
    damaged["turns"][0]["answer"]["passages"][0]["chunk"]["start"] = "0"
    assert restore_conversation(damaged, {}) == ([], [])  # a record of another shape: a new conversation
    assert restore_conversation({**record, "version": 0}, {}) == ([], [])
    assert restore_conversation({**record, "history": [{"role": "system", "content": "x"}]}, {}) == ([], [])


# ---------------------------------------------------------------- wording (issue 20, item 18)

def test_the_upload_report_counts_in_the_singular(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "only.txt").write_text("The only document says one thing.", encoding="utf-8")
    pipeline = Pipeline(corpus, tmp_path / "index", embedder=embedder, chunking=ChunkingParams(40, 8))
    report = plain(reindex_and_report(pipeline, ["added only.txt"])[0])
    assert "indexed 1 document, 1 passage in" in report and "(embedded 1 new passage)" in report
    assert "the index holds 1 document, 1 passage." in plain(reindex_and_report(pipeline, ["checked"])[0])


def test_search_says_how_many_passages_and_how_long_as_people_read_it(small_corpus, tmp_path, embedder, capsys, monkeypatch):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    from docqa.cli import main

    assert main(["search", "meetings", "-k", "1", "--corpus", str(small_corpus), "--index", str(tmp_path / "index")],
                embedder=embedder) == 0
    err = capsys.readouterr().err
    assert "(1 passage in " in err and "passages" not in err.splitlines()[-1]
    from docqa.cli import _duration

    assert (_duration(13.183), _duration(0.0421)) == ("13.2 s", "42 ms")


def test_no_build_names_the_folders_given_in_the_command_to_run(small_corpus, tmp_path, embedder, capsys):
    from docqa.cli import main

    folders = ["--corpus", str(small_corpus), "--index", str(tmp_path / "my index")]
    assert main(["ask", "Who?", "--no-build", *folders], embedder=embedder) == 1
    assert f"run `docqa index --corpus {small_corpus} --index '{tmp_path / 'my index'}'` to build it" in capsys.readouterr().err
    assert main(["index", *folders], embedder=embedder) == 0
    (small_corpus / "added.txt").write_text("Something new.", encoding="utf-8")
    capsys.readouterr()
    assert main(["search", "meetings", "--no-build", *folders], embedder=embedder) == 1
    assert f"run `docqa index --corpus {small_corpus} --index '{tmp_path / 'my index'}'` to update it" in capsys.readouterr().err


def test_a_missing_corpus_is_the_first_thing_said(tmp_path, embedder, capsys):
    from docqa.cli import main

    assert main(["index", "--corpus", str(tmp_path / "nowhere"), "--index", str(tmp_path / "index")], embedder=embedder) == 1
    err = capsys.readouterr().err
    assert err.startswith("docqa: error: corpus folder") and "no index yet" not in err


def test_the_server_prints_no_share_hint_a_docqa_user_cannot_act_on(pipeline, capfd):
    from docqa.ui import serve

    app = serve(pipeline, host="127.0.0.1", port=free_port(), block=False)
    app.close()
    out, err = capfd.readouterr()
    assert "share" not in out + err


def test_docqa_serve_says_where_the_app_runs(pipeline, capfd, monkeypatch):
    from docqa import cli

    closed = []
    monkeypatch.setattr(cli, "_wait_until_closed", lambda app: closed.append(app.local_url))  # instead of serving on
    port = free_port()
    assert cli.main(["serve", "--port", str(port), "--corpus", str(pipeline.corpus_dir), "--index", str(pipeline.index_dir)],
                    embedder=pipeline.embedder) == 0
    out, err = capfd.readouterr()
    assert closed == [f"http://127.0.0.1:{port}/"]
    assert f"docqa: the chat app is running on http://127.0.0.1:{port}/ (Ctrl+C stops it)" in out
    assert "Running on local URL" not in out  # Gradio's line, which would say it twice
