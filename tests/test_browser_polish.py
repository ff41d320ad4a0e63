"""The chat app's finish in a real headless browser (Chromium through Playwright): what a user
sees and does beyond asking, at 1400 and 420 px wide.

Like test_ui_browser.py, the app serves a temporary copy of a small corpus with the fake
embedder on 127.0.0.1, and every wait is on a condition, with a timeout only as a guard.
The screenshots of docs/screenshots/ are written there only with DOCQA_UPDATE_SCREENSHOT=1.
"""

import os
from pathlib import Path

import pytest
from browsing import TIMEOUT, ask, expect, serve_pipeline, sync_api, wait_until_idle
from conftest import ROOT, SMALL_CORPUS, HashingEmbedder

from docqa.chunking import ChunkingParams
from docqa.pipeline import Pipeline

GUIDE = "guide.md"  # a Markdown document whose quoted sentence holds bold words
GUIDE_TEXT = ("## Opening hours\n\nThe reading room of the archive opens at **nine o'clock** on weekdays. "
              "Visitors sign the register at the desk.\n")
GUIDE_QUOTE = "The reading room of the archive opens at nine o'clock on weekdays."
FIRST_FILM = "The monitoring team produced documentaries on repentant terrorists. It released the first film in 2011."


def write_corpus(corpus: Path) -> None:
    for name, text in {**SMALL_CORPUS, GUIDE: GUIDE_TEXT}.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")


def start_app(root: Path):
    write_corpus(root / "corpus")
    pipeline = Pipeline(root / "corpus", root / "index", embedder=HashingEmbedder(), chunking=ChunkingParams(40, 8))
    pipeline.ensure_index()
    return serve_pipeline(pipeline)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """An app that no test changes the corpus of."""
    app, url = start_app(tmp_path_factory.mktemp("polish"))
    yield url
    app.close()


def open_page(browser, url: str, width: int = 1400, height: int = 900, **context):
    """A page in a context of its own (its own local storage), on the loaded app."""
    page = browser.new_context(viewport={"width": width, "height": height}, **context).new_page()
    page.goto(url)
    expect(page.locator("#docqa-question textarea")).to_be_visible(timeout=TIMEOUT)
    return page


@pytest.fixture
def page(browser, url):
    page = open_page(browser, url)
    yield page
    page.context.close()


def save_screenshot(page, name: str, tmp_path: Path) -> Path:
    folder = ROOT / "docs" / "screenshots" if os.environ.get("DOCQA_UPDATE_SCREENSHOT") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    wait_until_idle(page)
    page.screenshot(path=str(folder / name), full_page=True)
    return folder / name


def placeholder_fits(page) -> bool:
    """Whether the empty question box shows its placeholder on its one line (a cut one wraps to a second)."""
    return page.evaluate("""() => {
        const box = document.querySelector('#docqa-question textarea');
        const line = parseFloat(getComputedStyle(box).lineHeight) || 20;
        return box.value === '' && box.scrollHeight - box.clientHeight < line / 2 && box.scrollWidth <= box.clientWidth;
    }""")


# ---------------------------------------------------------------- 11: the scroll-down arrow

def test_the_scroll_down_arrow_covers_no_message(page):
    for question in ["When was the first film released?", "Who hosted the first meeting?",
                     "What report did the group write in 2009?", "When does the reading room of the archive open?"]:
        ask(page, question)
    # Scrolled to the top, until Gradio's own scrolling down after its late renders has stopped;
    # then: messages are drawn only inside the log's box, so an arrow outside it covers none of
    # them, and the arrow itself is uncovered (a click on its centre reaches it).
    try:
        found = page.wait_for_function("""() => {
        const log = document.querySelector('#docqa-chat [role=log]');
        const arrow = document.querySelector('#docqa-chat .scroll-down-button-container');
        window.lastState = [log.scrollTop, log.scrollHeight, log.clientHeight, !!arrow];
        if (log.scrollHeight < log.clientHeight + 200) return false;  // not yet long enough to scroll
        if (log.scrollTop > 0) { log.scrollTo(0, 0); return false; }
        if (!arrow) { log.scrollTo(0, 1); return false; }  // a scroll event of its own, which shows the arrow
        const a = arrow.getBoundingClientRect(), l = log.getBoundingClientRect();
        const hit = document.elementFromPoint((a.left + a.right) / 2, (a.top + a.bottom) / 2);
        return {overlap: Math.max(0, Math.min(a.bottom, l.bottom) - Math.max(a.top, l.top))
                         * Math.max(0, Math.min(a.right, l.right) - Math.max(a.left, l.left)),
                reachable: arrow.contains(hit)};
    }""", timeout=TIMEOUT).json_value()
    except sync_api.TimeoutError:
        pytest.fail(f"the chat's log never stayed scrolled up (scrollTop, scrollHeight, clientHeight, arrow): "
                    f"{page.evaluate('window.lastState')}")
    assert found == {"overlap": 0, "reachable": True}


# ---------------------------------------------------------------- 12: the head of the sources panel

def test_the_sources_head_stays_in_view_when_a_marker_scrolls_the_panel(browser, url):
    page = open_page(browser, url, height=360)  # the panel is taller than the window, so it scrolls
    answer = ask(page, "When was the first film released?")
    panel = page.locator("#docqa-sources-panel")
    expect(panel.locator(".docqa-question")).to_contain_text("When was the first film released?", timeout=TIMEOUT)
    panel.evaluate("panel => { panel.scrollTop = panel.scrollHeight; }")  # the entry is above: scrolled back up to
    marker = answer.locator("a.docqa-marker").first
    marker.scroll_into_view_if_needed()
    marker.click()
    entry = panel.locator("#docqa-t1-s1")
    expect(entry).to_be_in_viewport(timeout=TIMEOUT)
    # "Sources for …" is in view, on top, and the entry scrolled to starts below the head (not under it)
    page.wait_for_function("""() => {
        const panel = document.getElementById('docqa-sources-panel');
        const head = panel.querySelector('.docqa-panel-head') || panel.querySelector('.docqa-question');
        const question = panel.querySelector('.docqa-question').getBoundingClientRect();
        const entry = document.getElementById('docqa-t1-s1').getBoundingClientRect();
        const box = panel.getBoundingClientRect();
        const top = document.elementFromPoint(question.left + 5, question.top + question.height / 2);
        return question.top >= box.top - 0.5 && question.bottom <= box.bottom + 0.5
            && top !== null && head.contains(top) && entry.top >= head.getBoundingClientRect().bottom - 0.5;
    }""", timeout=TIMEOUT)
    page.context.close()


# ---------------------------------------------------------------- 13: Markdown in the sources panel

def test_markdown_shows_as_headings_and_emphasis_with_the_quote_exact(page):
    ask(page, "When does the reading room of the archive open?")
    entry = page.locator("#docqa-sources-panel #docqa-t1-s1")
    expect(entry).to_contain_text(GUIDE, timeout=TIMEOUT)
    passage = entry.locator(".docqa-passage")
    # the quote holds "**nine o'clock**": its highlight is the sentence as read, bold shown as bold
    assert "".join(passage.locator("mark").all_text_contents()) == GUIDE_QUOTE
    expect(passage.locator(".docqa-md-strong")).to_have_text("nine o'clock")
    assert "*" not in passage.inner_text()
    page.locator("#docqa-context input[type=number]").fill("300")
    page.locator("#docqa-context input[type=number]").press("Enter")
    expect(passage.locator(".docqa-md-h2")).to_have_text("Opening hours", timeout=TIMEOUT)
    assert "#" not in passage.inner_text() and "".join(passage.locator("mark").all_text_contents()) == GUIDE_QUOTE


@pytest.mark.parametrize("width", [1400, 420])
def test_a_conversation_at_1400_and_420_px_wide(browser, url, width, tmp_path):
    """Two questions, a marker followed to a Markdown document; the screenshots of docs/screenshots/."""
    page = open_page(browser, url, width=width, height=900)
    ask(page, "What report did the group write in 2009?")
    answer = ask(page, "When was the first film released?")
    panel = page.locator("#docqa-sources-panel")
    expect(panel.locator("#docqa-t2-s1 mark")).to_have_text(FIRST_FILM, timeout=TIMEOUT)
    page.locator("#docqa-context input[type=number]").fill("200")
    page.locator("#docqa-context input[type=number]").press("Enter")
    expect(panel.locator("#docqa-t2-s1 .docqa-md-h1")).to_have_text("Films", timeout=TIMEOUT)
    assert "# Films" not in panel.inner_text()
    answer.locator("a.docqa-marker").first.click()
    expect(panel.locator("#docqa-t2-s1")).to_be_in_viewport(timeout=TIMEOUT)
    expect(panel.locator(".docqa-panel-head")).to_be_in_viewport()
    assert placeholder_fits(page)
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")  # nothing wider than the window
    assert save_screenshot(page, f"chat-{width}.png", tmp_path).stat().st_size > 10_000
    page.context.close()


# ---------------------------------------------------------------- 14: a narrow window

def test_at_420_px_the_placeholder_fits_and_the_empty_chat_keeps_clear_of_its_border(browser, url):
    page = open_page(browser, url, width=420)
    assert placeholder_fits(page)
    expect(page.locator("#docqa-chat .placeholder-content strong")).to_be_visible(timeout=TIMEOUT)
    insets = page.evaluate("""() => {
        const chat = document.getElementById('docqa-chat').getBoundingClientRect();
        return [...document.querySelectorAll('#docqa-chat .placeholder-content p')].map(p => {
            const range = document.createRange();
            range.selectNodeContents(p);
            const text = range.getBoundingClientRect();
            return [text.left - chat.left, chat.right - text.right];
        });
    }""")
    assert insets and all(inset >= 8 for pair in insets for inset in pair), insets
    page.context.close()


# ---------------------------------------------------------------- 15: an error keeps the question

def test_after_an_error_the_question_stays_in_the_box(page):
    question = "Who hosted the first meeting? " + "and then what happened " * 90  # over 2,000 characters
    reply = ask(page, question)
    expect(reply).to_contain_text("docqa takes up to 2,000")
    expect(page.locator("#docqa-question textarea")).to_have_value(question)
    answer = ask(page, "Who hosted the first meeting?")  # once answered, the box is cleared for the next
    expect(answer).to_contain_text("German Foreign Office")
    expect(page.locator("#docqa-question textarea")).to_have_value("")


# ---------------------------------------------------------------- 16: a declined follow-up

def test_a_declined_followup_says_how_it_was_read_and_why(page):
    ask(page, "Which meetings did the group organize in 2010?")
    reply = ask(page, "When was it founded?")
    expect(reply).to_contain_text("“When was it founded?” was read as a follow-up of the previous question and "
                                  "searched for as “When was it founded? meetings group organize 2010”")
    expect(reply).to_contain_text("The documents don't say")
    expect(reply).to_contain_text("“2010” comes from the previous question, not from yours")


# ---------------------------------------------------------------- 17: copying, reloading, changed files

def test_copy_buttons_copy_the_text_as_it_reads(browser, url):
    page = open_page(browser, url, permissions=["clipboard-read", "clipboard-write"])
    answer = ask(page, "When was the first film released?")
    answer.hover()
    copy = page.locator("#docqa-chat .message-buttons-left").get_by_role("button", name="Copy message").last
    copy.click()
    page.wait_for_function("async () => (await navigator.clipboard.readText()).includes('2011')", timeout=TIMEOUT)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"2011 — {FIRST_FILM} [1]"
    page.get_by_role("button", name="Copy conversation").click()
    page.wait_for_function("async () => (await navigator.clipboard.readText()).includes('released?')", timeout=TIMEOUT)
    conversation = page.evaluate("navigator.clipboard.readText()")
    assert "When was the first film released?" in conversation and f"{FIRST_FILM} [1]" in conversation
    assert not any(markup in conversation for markup in ["<a", "&#", "\\.", "docqa-marker"])
    page.context.close()


def test_without_the_clipboard_api_a_copy_is_the_text_as_it_reads_too(browser, url):
    """Served on an address that is not secure (http on the network), browsers give no clipboard API."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    # what the clipboard gets, read after every other handler of the copy event: the data a handler
    # set, or else (the browser's own copy) the selected text of Gradio's hidden field
    context.add_init_script("""delete Navigator.prototype.clipboard;
        window.copied = [];
        window.addEventListener('copy', e => copied.push(e.defaultPrevented
            ? e.clipboardData.getData('text/plain') : document.activeElement.value));""")
    page = context.new_page()
    page.goto(url)
    # as open_page does: a question sent before the page has loaded went unanswered once in a run of the whole UI suite
    expect(page.locator("#docqa-question textarea")).to_be_visible(timeout=TIMEOUT)
    answer = ask(page, "When was the first film released?")
    answer.hover()
    page.locator("#docqa-chat .message-buttons-left").get_by_role("button", name="Copy message").last.click()
    page.wait_for_function("window.copied.length > 0", timeout=TIMEOUT)
    assert page.evaluate("window.copied") == [f"2011 — {FIRST_FILM} [1]"]
    context.close()


def test_a_reload_keeps_the_conversation(page):
    ask(page, "Who hosted the first meeting?")
    ask(page, "When was the first film released?")
    page.reload()
    expect(page.locator("#docqa-question textarea")).to_be_visible(timeout=TIMEOUT)
    bubbles = page.locator("#docqa-chat [data-testid=bot]")
    expect(bubbles).to_have_count(2, timeout=TIMEOUT)
    expect(bubbles.first).to_contain_text("German Foreign Office")
    panel = page.locator("#docqa-sources-panel")
    expect(panel.locator(".docqa-question")).to_contain_text("When was the first film released?", timeout=TIMEOUT)
    bubbles.first.locator("a.docqa-marker").click()  # the earlier answer's sources came back with it
    expect(panel.locator("#docqa-t1-s1 mark")).to_have_text("The first meeting was hosted by the German Foreign Office.",
                                                            timeout=TIMEOUT)
    followup = ask(page, "What about the additional one?")  # the conversation goes on from where it was
    expect(followup).to_contain_text("An additional film is planned for release in 2012")
    expect(panel.locator(".docqa-query")).to_contain_text("What about the additional one? first film released")


def test_sources_of_an_earlier_answer_say_that_their_file_changed(browser, tmp_path):
    app, url = start_app(tmp_path)
    try:
        page = open_page(browser, url)
        ask(page, "Who hosted the first meeting?")
        answer = ask(page, "When was the first film released?")
        meetings = tmp_path / "corpus" / "meetings.txt"
        meetings.write_text("Minutes, revised.\n\n" + SMALL_CORPUS["meetings.txt"], encoding="utf-8")
        (tmp_path / "corpus" / "notes" / "films.md").unlink()
        page.get_by_role("tab", name="Documents").click()
        page.get_by_role("button", name="Check the corpus folder for changes").click()
        expect(page.locator("#docqa-status")).to_contain_text("indexed", timeout=TIMEOUT)
        page.get_by_role("tab", name="Chat").click()
        panel = page.locator("#docqa-sources-panel")
        answer.click()  # its sources are shown again, from the documents as they are now
        expect(panel.locator("#docqa-t2-s1 .docqa-changed")).to_contain_text(
            "notes/films.md has been removed since this answer", timeout=TIMEOUT)
        expect(panel.locator("#docqa-t2-s1 mark")).to_have_text(FIRST_FILM)  # as it was when answered
        page.locator("#docqa-chat [data-testid=bot]").first.click()
        expect(panel.locator("#docqa-t1-s1 .docqa-changed")).to_contain_text(
            "meetings.txt has changed since this answer", timeout=TIMEOUT)
        expect(panel.locator("#docqa-t1-s1 mark")).to_have_text("The first meeting was hosted by the German Foreign Office.")
        page.context.close()
    finally:
        app.close()
