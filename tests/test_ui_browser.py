"""The chat app in a real headless browser: Chromium driven by Playwright.

The app is served on a free local port over a temporary copy of a small corpus, with the
fake embedder. One slow test serves the default corpus with the real model and takes the
screenshot of docs/screenshot.png (written there only with DOCQA_UPDATE_SCREENSHOT=1).
"""

import os
import re

import pytest
from browsing import TIMEOUT, expect, serve_pipeline
from browsing import ask as ask_in_chat
from conftest import ROOT, SMALL_CORPUS, HashingEmbedder

from docqa.chunking import ChunkingParams
from docqa.errors import DocqaError
from docqa.pipeline import Pipeline

INJECTION_NAME = "<img src=x onerror=alert(2)>.md"
INJECTION_TEXT = "The spreadsheet macro contained <script>alert(1)</script> and <img src=x onerror=alert(1)> in its cells."


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    corpus = root / "corpus"
    for name, text in {**SMALL_CORPUS, INJECTION_NAME: INJECTION_TEXT}.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")
    pipeline = Pipeline(corpus, root / "index", embedder=HashingEmbedder(), chunking=ChunkingParams(40, 8))
    pipeline.ensure_index()
    app, url = serve_pipeline(pipeline)
    yield url, pipeline
    app.close()


def open_app(browser, url):
    """A fresh page on the app; records dialogs (none may open) and every request (all must stay local)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    dialogs, requests = [], []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    expect(page.locator("#docqa-question textarea")).to_be_visible(timeout=TIMEOUT)
    return page, dialogs, requests


@pytest.fixture
def app_page(browser, served):
    page, dialogs, requests = open_app(browser, served[0])
    yield page
    assert dialogs == []
    assert [url for url in requests if not url.startswith(("http://127.0.0.1", "data:", "blob:"))] == []
    page.close()


def ask(page, question: str):
    """Type ``question``, send it, and wait for its answer and its sources; returns the answer's chat bubble."""
    bubble = ask_in_chat(page, question)
    expect(page.locator("#docqa-sources-panel .docqa-question")).to_contain_text(question, timeout=TIMEOUT)
    return bubble


def test_an_answer_cites_its_source_and_a_followup_follows_the_conversation(app_page):
    page = app_page
    answer = ask(page, "When was the first film released?")
    expect(answer).to_contain_text("It released the first film in 2011. [1]")
    panel = page.locator("#docqa-sources-panel")
    expect(panel.locator("#docqa-t1-s1 mark")).to_have_text(
        "The monitoring team produced documentaries on repentant terrorists. It released the first film in 2011.")
    expect(panel.locator("#docqa-t1-s1")).to_contain_text("notes/films.md")
    expect(panel.locator("#docqa-t1-s1")).to_contain_text("score")

    answer.locator("a.docqa-marker").click()  # the marker leads to its source entry
    expect(panel.locator("#docqa-t1-s1")).to_be_in_viewport()
    expect(panel.locator("#docqa-t1-s1.docqa-flash")).to_have_count(1)

    followup = ask(page, "What about the additional one?")
    # Follow-ups are answered as completed with the previous subject, so the first film's sentence
    # may be quoted beside the one asked about; the additional film's sentence must be cited.
    expect(followup).to_contain_text(re.compile(r"An additional film is planned for release in 2012\. \[\d\]"))
    expect(panel.locator(".docqa-query")).to_contain_text("Searched for What about the additional one? first film released")

    # a new subject is searched as typed; more of the document around its passage on request
    ask(page, "Who hosted the first meeting?")
    expect(panel.locator(".docqa-query")).not_to_contain_text("completed")
    expect(panel.locator("#docqa-t3-s1 mark")).to_have_text("The first meeting was hosted by the German Foreign Office.")
    expect(panel.locator("#docqa-t3-s1 .docqa-context")).to_have_count(0)
    context = page.locator("#docqa-context input[type=number]")
    context.fill("300")
    context.press("Enter")
    expect(panel.locator("#docqa-t3-s1 .docqa-context")).to_contain_text("These discussions expanded in 2011", timeout=TIMEOUT)

    # an answer of the earlier question shows its own sources again when clicked
    answer.click()
    expect(panel.locator(".docqa-question")).to_contain_text("When was the first film released?", timeout=TIMEOUT)


def test_the_sources_panel_scrolls_by_itself_and_a_marker_keeps_the_chat_in_view(browser, served):
    page = browser.new_page(viewport={"width": 1400, "height": 360})
    page.goto(served[0])
    expect(page.get_by_role("textbox", name="Question")).to_be_visible(timeout=TIMEOUT)  # its name for screen readers
    answer = ask(page, "When was the first film released?")
    panel = page.locator("#docqa-sources-panel")
    # taller than the window: it scrolls on its own (Gradio's styles had made it overflow, clipped)
    assert panel.evaluate("e => getComputedStyle(e).overflowY") == "auto"
    assert panel.evaluate("e => e.scrollHeight > e.clientHeight")
    where = "() => [scrollY, document.querySelector('.gradio-container').scrollTop]"
    answer.locator("a.docqa-marker").last.scroll_into_view_if_needed()  # where a user's click would be
    before = page.evaluate(where)
    answer.locator("a.docqa-marker").last.click()
    entry = panel.locator("#" + answer.locator("a.docqa-marker").last.get_attribute("href")[1:])
    expect(entry).to_be_in_viewport()
    # only the panel moved: the page, and the chat in it, stayed where they were (scrolling the
    # hidden-overflow container took the chat out of view with no way back)
    assert page.evaluate(where) == before
    page.close()


def test_an_uploaded_file_is_answerable_at_once(app_page, tmp_path):
    page = app_page
    (tmp_path / "budget.txt").write_text("The annual budget of the observatory was 4 million euros.", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    page.get_by_role("tab", name="Documents").click()
    replace = page.get_by_label("Replace files with the same name")
    replace.check()  # (nothing to replace here) it is unticked again after the upload
    page.locator("#docqa-upload input[type=file]").set_input_files([str(tmp_path / "budget.txt"), str(tmp_path / "empty.txt")])
    status = page.locator("#docqa-status")
    expect(status).to_contain_text("added budget.txt", timeout=TIMEOUT)
    expect(status).to_contain_text("empty.txt is empty")
    expect(page.locator("#docqa-documents")).to_contain_text("budget.txt")
    expect(replace).not_to_be_checked()

    page.get_by_role("tab", name="Chat").click()
    answer = ask(page, "What was the annual budget of the observatory?")
    expect(answer).to_contain_text("4 million euros")
    expect(page.locator("#docqa-sources-panel #docqa-t1-s1")).to_contain_text("budget.txt")


def test_document_text_and_names_render_as_text_and_run_nothing(app_page):
    page = app_page
    answer = ask(page, "What did the spreadsheet macro contain?")
    expect(answer).to_contain_text(INJECTION_TEXT)
    panel = page.locator("#docqa-sources-panel")
    expect(panel.locator("#docqa-t1-s1 mark")).to_have_text(INJECTION_TEXT)
    expect(panel.locator("#docqa-t1-s1")).to_contain_text(INJECTION_NAME)

    typed = "What did it contain <img src=x onerror=alert(3)>?"
    ask(page, typed)
    expect(page.locator("#docqa-chat [data-testid=user]").last).to_contain_text(typed)

    page.get_by_role("tab", name="Documents").click()
    expect(page.locator("#docqa-documents")).to_contain_text(INJECTION_NAME, timeout=TIMEOUT)
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("[...document.scripts].filter(s => s.textContent.includes('alert(')).length") == 0
    # app_page then checks that no dialog (alert) opened


@pytest.mark.slow
def test_a_real_answer_on_the_default_corpus(browser, tmp_path):
    """The real model on the default corpus (index used read-only), with the screenshot for the README."""
    pipeline = Pipeline(ROOT / "corpus", ROOT / "index")
    try:
        pipeline.ensure_index(build=False)
    except DocqaError as error:
        pytest.skip(f"the default index is not usable as is: {error}")
    app, url = serve_pipeline(pipeline)
    try:
        page, dialogs, _ = open_app(browser, url)
        page.locator("#docqa-chat").get_by_text("What report did the group write in 2009?").click()  # an example
        expect(page.locator("#docqa-chat [data-testid=bot]")).to_have_count(1, timeout=3 * TIMEOUT)
        expect(page.locator("#docqa-chat [data-testid=bot]")).to_contain_text("February 2009 report")
        answer = ask(page, "When was it published?")
        expect(answer).to_contain_text("February 2009")
        panel = page.locator("#docqa-sources-panel")
        expect(panel.locator("#docqa-t2-s1 mark")).to_contain_text("February 2009 report")
        expect(panel.locator(".docqa-query")).to_contain_text("When was it published? report group 2009")
        page.wait_for_function("!document.querySelector('.pending, .generating')", timeout=TIMEOUT)
        page.wait_for_timeout(500)  # let the last fade-in finish before the picture
        update = os.environ.get("DOCQA_UPDATE_SCREENSHOT") == "1"
        path = ROOT / "docs" / "screenshot.png" if update else tmp_path / "screenshot.png"
        page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000 and dialogs == []
        page.close()
    finally:
        app.close()
