"""What the browser tests share: Debian's Chromium driven by Playwright, and asking in the chat.

Imported by a test module, it skips that module, saying why, when Playwright or the browser
is missing.
"""

from contextlib import contextmanager
from pathlib import Path

import pytest
from servers import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright comes with the dev extra: pip install -e '.[dev]'")
if not CHROMIUM.exists():
    pytest.skip(f"no browser at {CHROMIUM}: apt-get install -y chromium", allow_module_level=True)
expect = sync_api.expect

TIMEOUT = 30_000  # ms, a guard only: answers take well under a second with the fake embedder


@contextmanager
def launch_chromium():
    """A headless Chromium for as long as the ``with`` lasts (the ``browser`` fixture of conftest.py)."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def serve_pipeline(pipeline):
    """The chat app on a free local port, not blocking; returns the app and its address."""
    from docqa.ui import serve

    port = free_port()
    return serve(pipeline, host="127.0.0.1", port=port, block=False), f"http://127.0.0.1:{port}/"


def ask(page, question: str):
    """Type ``question``, send it, and wait for the reply; returns the reply's chat bubble."""
    bubbles = page.locator("#docqa-chat [data-testid=bot]")
    wait_until_idle(page)  # Gradio drops a question sent while the previous one's event is still running
    before = bubbles.count()
    page.fill("#docqa-question textarea", question)
    page.keyboard.press("Enter")
    expect(bubbles).to_have_count(before + 1, timeout=TIMEOUT)
    wait_until_idle(page)
    return bubbles.nth(before)


def wait_until_idle(page) -> None:
    """Wait until no event of the app is pending: the page shows what its last event returned."""
    page.wait_for_function("!document.querySelector('.pending, .generating')", timeout=TIMEOUT)
