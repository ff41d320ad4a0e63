"""Reading PDF, HTML, Word and Markdown: text, pages, sections and titles, checked exactly."""

import pytest

from docqa.assembly import markdown_sections
from docqa.chunking import ChunkingParams, chunk_document
from docqa.corpus import SkippedFile, read_bytes, read_corpus, unsupported_files
from docqa.repair import end_paragraphs_at_short_lines, remove_running_lines

from builders import make_docx, make_pdf
from conftest import HashingEmbedder

REPORT_PAGES = [
    ["Working Group Annual Report 2024", "", "Purpose of the group", "",
     "The working group coordinates the efforts of the United Nations to counter the",
     "use of the internet for terrorist purposes, as its mandate says.4 It also",
     "studies terrorist-", "related propaganda.",
     "In 2010 it organized two expert meetings, the second in collaboration with",
     "Microsoft, and it supports the rehabili-", "Page 1 of 2"],
    ["Working Group Annual Report 2024", "tation of offenders in member states through a programme of",
     "outreach and education run by its members.", "", "Members", "", "Its members meet twice a year.", "Page 2 of 2"],
]
REPORT_TEXT = (
    "Purpose of the group\n\n"
    "The working group coordinates the efforts of the United Nations to counter the use of the internet for "
    "terrorist purposes, as its mandate says. It also studies terrorist-related propaganda.\n\n"
    "In 2010 it organized two expert meetings, the second in collaboration with Microsoft, and it supports the "
    "rehabilitation of offenders in member states through a programme of outreach and education run by its members.\n\n"
    "Members\n\n"
    "Its members meet twice a year."
)


def read(data: bytes, name: str):
    document, reason = read_bytes(data, name, "0" * 64)
    assert document is not None, reason
    return document


# ---------------------------------------------------------------- PDF

def test_pdf_text_is_repaired_and_knows_its_pages():
    document = read(make_pdf(REPORT_PAGES, title="Annual Report 2024"), "report.pdf")
    # The running header and the "Page n of 2" footers are gone; the word hyphenated over
    # the page break is joined, the compound keeps its hyphen, the footnote number is gone,
    # and the sentence that runs over the page break is one sentence.
    assert document.text == REPORT_TEXT
    page_two = REPORT_TEXT.index("tation of offenders")
    assert document.pages == ((0, 1), (page_two, 2))
    assert document.page_at(REPORT_TEXT.index("In 2010")) == 1
    assert document.page_at(REPORT_TEXT.index("Its members meet")) == 2
    assert document.title == "Annual Report 2024"
    assert document.sections == ()


def test_pdf_chunks_carry_the_page_they_start_on():
    document = read(make_pdf(REPORT_PAGES), "report.pdf")
    chunks = chunk_document(document, ChunkingParams(20, 0), HashingEmbedder().token_spans)
    assert [(c.page, c.text[:20]) for c in chunks] == [
        (1, "Purpose of the group"), (1, "The working group co"), (1, "as its mandate says."),
        (1, "In 2010 it organized"), (2, "in member states thr"), (2, "Members\n\nIts members"),
    ]
    assert all(document.text[c.start:c.end] == c.text for c in chunks)


def test_pdf_without_a_text_layer_is_skipped_with_a_warning_that_names_it(tmp_path, caplog):
    (tmp_path / "scan.pdf").write_bytes(make_pdf([[], []]))
    (tmp_path / "notes.txt").write_text("Some notes.", encoding="utf-8")
    corpus = read_corpus(tmp_path)
    assert [d.source for d in corpus.documents] == ["notes.txt"]
    [skipped] = corpus.skipped
    assert skipped.source == "scan.pdf"
    assert "no text layer" in skipped.reason and "OCR" in skipped.reason
    assert "skipping scan.pdf: the PDF has no text layer" in caplog.text


def test_pdf_with_some_pages_without_text_says_which(caplog):
    document = read(make_pdf([["First page text."], [], ["Third page text."]]), "mixed.pdf")
    assert document.text == "First page text.\n\nThird page text."
    assert document.pages[-1][1] == 3
    assert "mixed.pdf: 1 page without text left out (p. 2)" in caplog.text


@pytest.mark.parametrize("data, words", [
    (b"%PDF-1.4\n%%EOF", "not a readable PDF"),
    (b"", "not a readable PDF"),
])
def test_a_broken_pdf_is_skipped_with_the_reason(data, words):
    document, reason = read_bytes(data, "broken.pdf")
    assert document is None and words in reason


def test_running_lines_need_to_repeat_at_the_page_edges():
    pages = ["Report\nIntro text here.\n1", "Report\nMore text.\nReport\n2", "Other\nLast text.\n3"]
    assert remove_running_lines(pages) == ["Intro text here.", "More text.", "Other\nLast text."]
    assert remove_running_lines(["Only one page\n1"]) == ["Only one page\n1"]


def test_a_short_line_that_ends_a_sentence_ends_its_paragraph():
    page = ("A long line of text that fills the whole width of the page here\n"
            "and ends here.\nA new paragraph starts with a line as long as the first one\nis.")
    assert end_paragraphs_at_short_lines(page).split("\n")[2] == ""


# ---------------------------------------------------------------- HTML

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Working Group | United Nations</title>
<style>p { color: red }</style><script>var tracking = "do not index";</script></head>
<body>
<header class="site-header"><a href="/">Home</a> <a href="/about">About us</a></header>
<nav><ul><li><a href="/">Home</a></li><li><a href="/contact">Contact</a></li></ul></nav>
<main>
  <h1>Working Group</h1>
  <p>The group was set up in <b>2006</b>.<br>It meets twice a year.</p>
  <h2>Meetings</h2>
  <p>In 2010 it met in   Berlin.</p>
  <ul><li>First meeting</li><li>Second meeting</li></ul>
  <table><tr><th>Year</th><th>City</th></tr><tr><td>2010</td><td>Berlin</td></tr></table>
  <h3>Notes</h3>
  <p>Nothing <!-- a comment --> else.</p>
  <script>document.write("not text");</script>
</main>
<div class="cookie-banner">We use cookies.</div>
<footer>Copyright United Nations</footer>
</body></html>"""


def test_html_main_text_without_scripts_styles_or_navigation():
    document = read(PAGE, "page.html")
    assert document.text == (
        "Working Group\n\nThe group was set up in 2006. It meets twice a year.\n\nMeetings\n\n"
        "In 2010 it met in Berlin.\n\n• First meeting\n\n• Second meeting\n\nYear: 2010; City: Berlin\n\n"
        "Notes\n\nNothing else."
    )
    text = document.text
    assert document.sections == (
        (0, ("Working Group",)),
        (text.index("Meetings"), ("Working Group", "Meetings")),
        (text.index("Notes"), ("Working Group", "Meetings", "Notes")),
    )
    assert document.title == "Working Group | United Nations"
    for boilerplate in ("tracking", "color", "Home", "Contact", "cookies", "Copyright", "not text", "comment"):
        assert boilerplate not in text


def test_html_without_a_title_takes_its_first_heading():
    document = read(b"<html><body><h2>Agenda</h2><p>Item one.</p></body></html>", "agenda.htm")
    assert document.title == "Agenda" and document.text == "Agenda\n\nItem one."



def nested_html(depth: int, tag: str = "span") -> bytes:
    return (f"<html><body><nav>menu</nav>{'<div>' * 3}{f'<{tag}>' * depth}Deep text here.{f'</{tag}>' * depth}"
            "</div></div></div><p>After.</p></body></html>").encode()


def python_calls(function, *args) -> int:
    """How many Python functions ``function(*args)`` calls: a measure of work that does not depend on the machine."""
    import sys

    count = 0

    def profile(frame, event, arg):
        nonlocal count
        count += event == "call"

    sys.setprofile(profile)
    try:
        function(*args)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("tag", ["span", "div", "li"])
def test_deeply_nested_html_is_read_whole(tag):
    document = read(nested_html(2_000, tag), "deep.html")
    assert "Deep text here." in document.text and document.text.endswith("After.") and "menu" not in document.text
    document = read(nested_html(20_000, tag), "deeper.html")  # no RecursionError
    assert "Deep text here." in document.text and document.text.endswith("After.")


@pytest.mark.parametrize("page", [nested_html, lambda depth: b"<article>" + b"<header>" * depth + b"Title</article>"])
def test_reading_nested_html_takes_work_in_proportion_to_its_size(page):
    from docqa.readers import read_html

    small, large = python_calls(read_html, page(150)), python_calls(read_html, page(600))
    assert large < 6 * small  # four times the tags: about four times the work, not sixteen


# ---------------------------------------------------------------- Word

def test_docx_paragraphs_headings_and_tables():
    document = read(make_docx(title="Working Group Charter"), "charter.docx")
    assert document.text == (
        "Purpose\n\nThe working group coordinates the work of its members.\n\nMeetings\n\nIt met twice in 2010.\n\n"
        "• Berlin, hosted by the Foreign Office\n\nYear: 2010; City: Berlin\n\nYear: 2011; City: Riyadh\n\n"
        "The table lists the meetings."
    )
    assert document.sections == ((0, ("Purpose",)), (document.text.index("Meetings"), ("Purpose", "Meetings")))
    assert document.title == "Working Group Charter"
    assert read(make_docx(), "untitled.docx").title == "Purpose"  # no title property: the first heading


def test_a_broken_docx_is_skipped_with_the_reason():
    document, reason = read_bytes(b"PK\x03\x04 not really a zip", "letter.docx")
    assert document is None and "not a readable Word .docx file" in reason and "save it as .docx again" in reason


# ---------------------------------------------------------------- Markdown

NOTES = """# Purpose

The group coordinates work.

## Meetings

It met in 2010.

```
# not a heading
```

## Members

Its members.

# Annex
Text of the annex.
"""


def test_markdown_headings_are_sections():
    document = read(NOTES.encode(), "notes.md")
    text = document.text
    assert document.sections == (
        (0, ("Purpose",)),
        (text.index("## Meetings"), ("Purpose", "Meetings")),
        (text.index("## Members"), ("Purpose", "Members")),
        (text.index("# Annex"), ("Annex",)),
    )
    assert document.title == "Purpose"
    assert markdown_sections("no headings here") == ()


def test_markdown_chunks_do_not_straddle_sections():
    document = read(NOTES.encode(), "notes.md")
    chunks = chunk_document(document, ChunkingParams(200, 30), HashingEmbedder().token_spans)
    assert [(c.section, c.text) for c in chunks] == [
        (("Purpose",), "# Purpose\n\nThe group coordinates work."),
        (("Purpose", "Meetings"), "## Meetings\n\nIt met in 2010.\n\n```\n# not a heading\n```"),
        (("Purpose", "Members"), "## Members\n\nIts members."),
        (("Annex",), "# Annex\nText of the annex."),
    ]


def test_a_heading_with_nothing_under_it_joins_the_next_section():
    document = read(b"# Report\n\n## Scope\n\nThe scope is small.", "r.md")
    chunks = chunk_document(document, ChunkingParams(200, 30), HashingEmbedder().token_spans)
    assert [(c.section, c.text) for c in chunks] == [(("Report", "Scope"), document.text)]


def test_plain_text_has_no_title_or_sections():
    document = read(b"Countering the use of the internet\n\nThe group meets.", "seed.txt")
    assert document.title is None and document.sections == () and document.pages == ()


# ---------------------------------------------------------------- the corpus

def test_unsupported_and_broken_files_are_skipped_and_the_rest_is_read(tmp_path):
    (tmp_path / "page.html").write_bytes(PAGE)
    (tmp_path / "charter.docx").write_bytes(make_docx())
    (tmp_path / "report.pdf").write_bytes(make_pdf(REPORT_PAGES))
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "slides.pptx").write_bytes(b"PK")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    corpus = read_corpus(tmp_path)
    assert [d.source for d in corpus.documents] == ["charter.docx", "page.html", "report.pdf"]
    reasons = {s.source: s.reason for s in corpus.skipped}
    assert set(reasons) == {"broken.pdf", "old.doc", "slides.pptx"}
    assert reasons["old.doc"] == "docqa does not read .doc files; save it as .docx (Word's current format)"
    assert reasons["slides.pptx"] == "docqa does not read .pptx files; export it as PDF"
    assert "not a readable PDF" in reasons["broken.pdf"]
    assert unsupported_files(tmp_path)[0] == SkippedFile("old.doc", reasons["old.doc"])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_text_with_a_byte_order_mark_reads_as_its_utf8_twin(tmp_path, encoding):
    text = NOTES.replace("It met in 2010.", "It met in 2010 in Zürich 🌍.")
    data = ("\ufeff" + text).encode(encoding) if encoding != "utf-16" else text.encode("utf-16")
    (tmp_path / "utf8.md").write_text(text, encoding="utf-8")
    (tmp_path / "utf16.md").write_bytes(data)
    documents = {d.source: d for d in read_corpus(tmp_path).documents}  # read in parts, from the file
    assert documents["utf16.md"].text == documents["utf8.md"].text
    assert documents["utf16.md"].sections == documents["utf8.md"].sections
    assert read(data, "upload.md").text == documents["utf8.md"].text  # read whole, from bytes (an upload)


def test_utf16_read_in_parts_keeps_characters_split_across_blocks(monkeypatch):
    import io

    from docqa import readers

    text = "Zürich 🌍 and Ōsaka.\n\n" * 50
    monkeypatch.setattr(readers, "_READ_BLOCK", 7)  # odd: blocks end inside code units and surrogate pairs
    parts = list(readers.text_parts(io.BytesIO(text.encode("utf-16")), part_chars=64))
    assert len(parts) > 1 and parts == list(readers.text_parts(io.BytesIO(text.encode("utf-8")), part_chars=64))


@pytest.mark.parametrize("encoding, name", [("utf-16-le", "UTF-16LE"), ("utf-16-be", "UTF-16BE")])
def test_utf16_without_a_byte_order_mark_is_named_with_the_conversion(tmp_path, encoding, name):
    (tmp_path / "notes.md").write_bytes(NOTES.encode(encoding))
    (tmp_path / "other.txt").write_text("Something to index.")
    document, whole = read_bytes(NOTES.encode(encoding), "notes.md")
    assert document is None
    (streamed,) = [s.reason for s in read_corpus(tmp_path).skipped]
    for reason in (whole, streamed):
        assert "UTF-16" in reason and f"iconv -f {name} -t UTF-8" in reason and "NUL" not in reason
