"""Reading each supported format into text and structure: pages, headings, a title.

A reader takes a file's bytes and returns an ``Extracted``: what the file says, before the
repairs and offsets of ``assembly``. A file that cannot be read raises ``UnreadableFile``
with the reason and the fix. The libraries load inside the readers that need them.

- .txt and .md: UTF-8 text (Markdown headings are found later, in the repaired text), read
  from the file in parts (``text_parts``) so that a file of any size is never held whole;
- .pdf (pypdf, BSD): each page's lines, with a blank line where the vertical gap between
  two lines says a paragraph ended; the title from the PDF's metadata;
- .html and .htm (Beautiful Soup): the main text without scripts, styles, navigation,
  headers, footers and asides, as paragraphs and headings; the title from ``<title>``;
- .docx (python-docx): paragraphs, headings and tables in document order; the title from
  the document properties.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import statistics
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from .errors import DocqaError
from .repair import open_list_item

logger = logging.getLogger(__name__)

MAX_TITLE_CHARS = 200
_NUL_BYTES = "holds NUL bytes, so it is not a text file; remove it or convert it to text"


class UnreadableFile(DocqaError):
    """A corpus file that docqa cannot read; the message says why and what to do."""


@dataclass(frozen=True)
class Block:
    """A paragraph, list item, table row group or heading (``heading`` is its level, 1-6)."""

    text: str
    heading: int = 0


@dataclass(frozen=True)
class Extracted:
    """What a reader found in a file. Exactly one of ``text``, ``pages`` and ``blocks`` is used.

    ``text``: the whole text (plain text and Markdown). ``pages``: the text of each page, in
    order, empty for a page without text (PDF). ``blocks``: paragraphs and headings in order
    (HTML, Word). ``notes``: things the reader wants the user to know (pages without text).
    """

    kind: str  # "text", "markdown", "pages" or "blocks"
    title: str | None = None
    text: str = ""
    pages: tuple[str, ...] = ()
    blocks: tuple[Block, ...] = ()
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------- what a file really is

# The first bytes of common files that are not what a text extension says, and what they are.
_SIGNATURES = (
    (b"%PDF-", "a PDF document", ".pdf"),
    (b"PK\x03\x04", "a ZIP archive (a .docx, .xlsx, .pptx or .zip file)", ".docx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc, .xls or .ppt)", ".doc"),
    (b"{\\rtf", "an RTF document", ".rtf"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", ".png"),
    (b"\xff\xd8\xff", "a JPEG image", ".jpg"),
    (b"GIF87a", "a GIF image", ".gif"),
    (b"GIF89a", "a GIF image", ".gif"),
    (b"\x7fELF", "a program (ELF)", ""),
    (b"MZ\x90\x00", "a Windows program", ".exe"),
    (b"\x1f\x8b", "a gzip archive", ".gz"),
    (b"Rar!\x1a\x07", "a RAR archive", ".rar"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", ".7z"),
    (b"\xca\xfe\xba\xbe", "a program (Mach-O or Java class)", ""),
    (b"SQLite format 3\x00", "an SQLite database", ".sqlite"),
)
_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")


def sniff(data: bytes) -> tuple[str, str] | None:
    """What the file's first bytes say it is (a description and its usual extension), if known."""
    for signature, what, suffix in _SIGNATURES:
        if data.startswith(signature):
            return what, suffix
    return None


def check_content(data: bytes, suffix: str) -> None:
    """Check a file's content against its extension, before any reader parses it.

    Raises:
        UnreadableFile: a text or HTML file whose bytes are a known binary format or hold NUL
            bytes, a ``.pdf`` without the PDF header, a ``.docx`` that is not a ZIP package.
    """
    found = sniff(data)
    if suffix in _TEXT_SUFFIXES:
        if found is not None:
            raise UnreadableFile(f"its content is {found[0]}, not {suffix} text; "
                                 f"{'rename it to ' + found[1] if found[1] in READERS else 'remove it from the corpus'}")
        if b"\x00" in data[: 1 << 16] and not data.startswith(_UTF16_BOMS):  # UTF-16 is half NUL bytes
            encoding = _utf16_without_bom(data[: 1 << 16])
            if encoding:
                raise UnreadableFile(f"is UTF-16 text ({encoding}) without a byte-order mark, which docqa cannot "
                                     f"tell from binary data; convert it to UTF-8, as `iconv -f {encoding} -t UTF-8 "
                                     f"FILE > NEW-FILE` does, or save it as UTF-8")
            raise UnreadableFile(_NUL_BYTES)
    elif suffix == ".pdf" and b"%PDF-" not in data[:1024]:
        what = found[0] if found else ("empty" if not data.strip() else "something else")
        raise UnreadableFile(f"not a readable PDF (no %PDF- header; its content is {what}); "
                             f"export it as PDF again, or give it its proper extension")
    elif suffix == ".docx" and not data.startswith(b"PK\x03\x04"):
        if found and found[1] == ".doc":
            raise UnreadableFile("not a readable Word .docx file: its content is an old Word .doc file; "
                                 "save it as .docx (Word's current format)")
        raise UnreadableFile(f"not a readable Word .docx file (its content is {found[0] if found else 'not a ZIP package'}); "
                             f"save it as .docx again")


def _utf16_without_bom(data: bytes) -> str | None:
    """"UTF-16LE" or "UTF-16BE" when NUL bytes fill every other position, as in mostly-Latin UTF-16 text."""
    sample = data[: len(data) // 2 * 2]
    half = len(sample) // 2
    if half < 8:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd > 0.3 * half and even < 0.05 * half:
        return "UTF-16LE"
    if even > 0.3 * half and odd < 0.05 * half:
        return "UTF-16BE"
    return None


# ---------------------------------------------------------------- text and Markdown

# Text files are UTF-8, with or without a byte-order mark, or UTF-16 with one (what Windows
# Notepad and PowerShell save as "Unicode"): the mark says which, so nothing is guessed.
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _text_encoding(start: bytes) -> str:
    """The codec for a text file that begins with ``start``: "utf-16" after its byte-order mark, else "utf-8-sig"."""
    return "utf-16" if start.startswith(_UTF16_BOMS) else "utf-8-sig"


def read_text(data: bytes) -> Extracted:
    """A UTF-8 (or UTF-16 with a byte-order mark) text file."""
    return Extracted("text", text=_decode_text(data))


def read_markdown(data: bytes) -> Extracted:
    """A UTF-8 (or UTF-16 with a byte-order mark) Markdown file: its headings become sections once the text is repaired."""
    return Extracted("markdown", text=_decode_text(data))


# A text file is read in blocks and handed on in parts of about this size, each cut where a
# paragraph ends: reading and repairing a file then holds one part at a time, whatever the
# file's size (a 200 MB log needs no more memory to read than a 4 MB one).
PART_CHARS = 4 << 20
_READ_BLOCK = 1 << 20
_TRAILING_BLANKS = re.compile(r"[ \t]+\n")


def text_parts(handle: BinaryIO, part_chars: int = PART_CHARS) -> Iterator[tuple[str, str]]:
    """A UTF-8 text file's text in parts, each with the joint that follows it.

    Parts are cut at a blank line (the joint is a paragraph break, "\n\n"), or, in a run of
    ``2 * part_chars`` without one, at a line break ("\n"), a space (" "), or anywhere
    (""). ``"".join(part + joint ...)`` is the file's text with line ends made "\n", spaces
    at line ends dropped and runs of blank lines made one; each part is as ``repair_text``
    would see it in the whole text, so a file that fits in one part reads exactly as
    ``read_text`` reads it.

    Raises:
        UnreadableFile: the file is not UTF-8 (nor UTF-16 with a byte-order mark), or holds NUL
            bytes (checked in every block).
    """
    decoder = None
    buffer = carry = ""
    offset = 0  # bytes read so far
    while True:
        block = handle.read(_READ_BLOCK)
        if decoder is None:  # the first block says the encoding (a mark of 2 bytes: blocks are larger)
            encoding = _text_encoding(block)
            decoder = codecs.getincrementaldecoder(encoding)()
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            if encoding == "utf-16":
                raise _not_utf16(error) from None
            at = offset - pending + error.start + (_bom_length(block) if offset == 0 else 0)
            handle.seek(at)
            raise _not_utf8(at, handle.read(1)) from None
        offset += len(block)
        if "\x00" in text:
            raise UnreadableFile(_NUL_BYTES)
        text = carry + text
        carry = ""
        if block:  # keep what the next block may change: a "\r" before "\n", spaces before a line end
            kept = text.rstrip(" \t\r")
            text, carry = kept, text[len(kept):]
        buffer += _TRAILING_BLANKS.sub("\n", text.replace("\r\n", "\n").replace("\r", "\n"))
        while len(buffer) >= part_chars:
            cut = _cut(buffer, part_chars)
            if cut is None:
                break
            start, end, joint = cut
            yield buffer[:start], joint
            buffer = buffer[end:]
        if not block:
            yield buffer, ""
            return


def _cut(buffer: str, part_chars: int) -> tuple[int, int, str] | None:
    """Where to end a part in ``buffer``: the part's end, where the next one starts, and the joint."""
    at = buffer.rfind("\n\n")
    while at > 0:
        start, end = at, at + 2
        while start > 0 and buffer[start - 1] == "\n":
            start -= 1
        while end < len(buffer) and buffer[end] == "\n":
            end += 1
        # At the buffer's end the blank lines may go on in the next block; after an unfinished
        # list item the repairs may drop the blank line, which they can only do in one part.
        if start > 0 and end < len(buffer) and not open_list_item(buffer[buffer.rfind("\n", 0, start) + 1 : start]):
            return start, end, "\n\n"
        at = buffer.rfind("\n\n", 0, start)
    if len(buffer) < 2 * part_chars:
        return None
    for joint in ("\n", " "):
        at = buffer.rfind(joint, 0, part_chars)
        at = at if at > 0 else buffer.find(joint, part_chars)
        if at > 0:
            return at, at + 1, joint
    return part_chars, part_chars, ""


def _bom_length(data: bytes) -> int:
    """The length of the UTF-8 byte-order mark ``data`` starts with (a decoding error's position counts from after it)."""
    return len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0


def _not_utf8(at: int, byte: bytes) -> UnreadableFile:
    return UnreadableFile(f"not UTF-8 text (byte {at}: {byte!r}); save it as UTF-8 to include it")


def _not_utf16(error: UnicodeDecodeError) -> UnreadableFile:
    return UnreadableFile(f"not valid UTF-16 text, although it begins with UTF-16's byte-order mark ({error.reason}); "
                          f"save it again, as UTF-8 if you can")


def _decode_text(data: bytes) -> str:
    encoding = _text_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        if encoding == "utf-16":
            raise _not_utf16(error) from None
        at = error.start + _bom_length(data)
        raise _not_utf8(at, data[at:at + 1]) from None
    if "\x00" in text:
        raise UnreadableFile(_NUL_BYTES)
    return text


# ---------------------------------------------------------------- PDF

def read_pdf(data: bytes) -> Extracted:
    """A PDF's text layer, page by page, with paragraph breaks from the vertical gaps between lines."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about every small flaw of a file
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile("the PDF is protected by a password; save an unprotected copy to include it")
        pages = tuple(_page_text(page) for page in reader.pages)
    except UnreadableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as error:
        raise UnreadableFile(f"not a readable PDF ({_short(error)}); open and save it again, or export it anew") from None
    if not pages:
        raise UnreadableFile("the PDF has no pages")
    empty = [number for number, text in enumerate(pages, 1) if not text.strip()]
    if len(empty) == len(pages):
        raise UnreadableFile(
            "the PDF has no text layer (a scan?); docqa does not run OCR: make it searchable first "
            "(for example `ocrmypdf in.pdf out.pdf`) and add that file"
        )
    notes = ()
    if empty:
        notes = (f"{_plural(len(empty), 'page')} without text left out (p. {_ranges(empty)}): "
                 f"scanned pages need OCR before docqa can read them",)
    return Extracted("pages", title=_pdf_title(reader), pages=pages, notes=notes)


def _page_text(page) -> str:
    """The page's lines as pypdf extracts them, a blank line between lines far apart vertically."""
    pieces: list[tuple[str, float | None]] = []

    def visit(text, cm, tm, font, size):
        # The baseline's height on the page: the text matrix mapped by the current matrix.
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5] if text.strip() else None
        pieces.append((text, y))

    try:
        text = page.extract_text(visitor_text=visit)
    except Exception as error:  # pypdf raises many kinds on damaged pages; keep the other pages
        logger.warning("a page could not be read (%s)", _short(error))
        return ""
    if "".join(p for p, _ in pieces) != text:  # the visitor saw something else: no gaps, plain lines
        return text
    lines: list[list] = [["", None]]
    for fragment, y in pieces:
        for i, part in enumerate(fragment.split("\n")):
            if i:
                lines.append(["", None])
            lines[-1][0] += part
            if lines[-1][1] is None and part.strip():
                lines[-1][1] = y
    return "\n".join(_with_paragraph_gaps([(t, y) for t, y in lines]))


def _with_paragraph_gaps(lines: list[tuple[str, float | None]]) -> list[str]:
    steps = [a[1] - b[1] for a, b in zip(lines, lines[1:]) if a[1] is not None and b[1] is not None and a[1] > b[1]]
    if len(steps) < 2:
        return [text for text, _ in lines]
    line_height = statistics.median(steps)
    out = [lines[0][0]]
    for previous, (text, y) in zip(lines, lines[1:]):
        if previous[1] is not None and y is not None and previous[1] - y > 1.5 * line_height:
            out.append("")
        out.append(text)
    return out


def _pdf_title(reader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # a damaged information dictionary is no reason to skip the text
        return None
    if not isinstance(title, str):
        return None
    title = " ".join(title.split())
    # Titles that only name the file or the program that wrote it say nothing about the document.
    if not title or title.lower() in ("untitled", "title") or re.search(r"\.(docx?|pdf|txt|indd|pptx?)$", title, re.I):
        return None
    return re.sub(r"^Microsoft (Word|PowerPoint) - ", "", title)[:MAX_TITLE_CHARS] or None


# ---------------------------------------------------------------- HTML

# Elements that are not the page's text, and those that are a page's furniture around it.
_NOT_TEXT = ("script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
             "form", "button", "select", "textarea", "input", "head", "math", "video", "audio", "map")
_FURNITURE = ("nav", "aside", "footer", "dialog")
_FURNITURE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "dialog"}
_FURNITURE_NAME = re.compile(r"(?:^|[-_ ])(?:nav|navbar|navigation|menu|breadcrumbs?|sidebar|footer|cookies?|"
                             r"skip-?link|share|social|banner|masthead)(?:$|[-_ ])", re.I)
_HTML_BLOCKS = {"p", "div", "section", "article", "main", "blockquote", "figure", "figcaption", "dl", "dt", "dd",
                "ul", "ol", "address", "details", "summary", "body", "header", "caption", "center", "hr"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


def read_html(data: bytes) -> Extracted:
    """A saved web page's main text: headings and paragraphs, without scripts and page furniture."""
    from bs4 import BeautifulSoup

    try:
        soup = BeautifulSoup(data, "html.parser")
    except Exception as error:  # the parser is lenient; this is a last resort
        raise UnreadableFile(f"not readable HTML ({_short(error)}); save the page again as HTML") from None
    title_tag = soup.find("title")
    title = _clean(title_tag.get_text(" ")) if title_tag else ""
    _remove(soup.find_all(_NOT_TEXT))
    in_content: set[int] = set()  # the tags inside an <article> or <main>, where a <header> holds the title

    def furniture(tag) -> bool:
        if tag.parent.name in ("article", "main") or id(tag.parent) in in_content:
            in_content.add(id(tag))
        return _is_furniture(tag, id(tag) in in_content)

    _remove(soup.find_all(True), furniture)
    root = soup.find("main") or soup.find("article") or soup.find("body") or soup
    blocks = _HtmlBlocks().collect(root)
    if not title:
        title = next((b.text for b in blocks if b.heading), "")
    return Extracted("blocks", title=title[:MAX_TITLE_CHARS] or None, blocks=tuple(blocks))


def _remove(tags: list, condition: Callable[[object], bool] = lambda tag: True) -> None:
    """Remove the tags that meet ``condition`` from the tree, with all they hold.

    ``tags`` are in document order, so a tag inside one already chosen comes after it and is
    passed over unchecked. (Asking a tag whether it was removed, ``tag.decomposed``, would search
    its whole subtree: Beautiful Soup reads an attribute a removed tag no longer has as
    ``find(name)``, which made a page nested n tags deep take n² steps.)
    """
    chosen, inside = [], set()
    for tag in tags:
        if id(tag.parent) in inside or condition(tag):
            if id(tag.parent) not in inside:
                chosen.append(tag)
            inside.add(id(tag))
    for tag in chosen:
        tag.decompose()


def _is_furniture(tag, in_content: bool) -> bool:
    """Whether ``tag`` is page furniture (navigation, a banner, a hidden part); ``in_content``: it is inside <article> or <main>."""
    if tag.name in _FURNITURE:
        return True
    if tag.name == "header" and not in_content:
        return True  # the site's banner; an article's own header holds its title
    if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true":
        return True
    if re.search(r"display\s*:\s*none", str(tag.get("style", "")), re.I):
        return True
    if str(tag.get("role", "")).lower() in _FURNITURE_ROLES:
        return True
    if tag.name in ("main", "article", "body", "html"):
        return False
    names = " ".join([str(tag.get("id", ""))] + list(tag.get("class", []) or []))
    return bool(names.strip()) and _FURNITURE_NAME.search(names) is not None


class _HtmlBlocks:
    """Walks the tree in order, flushing the running text at every block element."""

    def __init__(self):
        self.blocks: list[Block] = []
        self.buffer: list[str] = []

    def collect(self, root) -> list[Block]:
        self._walk(root)
        self._flush()
        return self.blocks

    def _walk(self, root) -> None:
        """Visit the tree under ``root`` in document order.

        An explicit stack, not recursion: browsers show a page nested thousands of tags deep,
        which would exceed Python's recursion limit. Each level holds the children still to
        visit and whether its element is a block (its text is flushed when it ends).
        """
        stack = [(iter(root.children), False)]
        while stack:
            child = next(stack[-1][0], None)
            if child is None:
                if stack.pop()[1]:
                    self._flush()
                continue
            opened = self._visit(child)
            if opened is not None:
                stack.append((iter(child.children), opened))

    def _flush(self) -> None:
        text = _clean("".join(self.buffer))
        self.buffer.clear()
        if text and text != "•":  # a list item whose text sits in nested blocks leaves its bullet alone
            self.blocks.append(Block(text))

    def _visit(self, node) -> bool | None:
        """Take in ``node``; returns None when done with it, else whether it is a block whose children come next."""
        from bs4 import NavigableString
        from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

        if isinstance(node, NavigableString):
            if not isinstance(node, (Comment, Declaration, Doctype, ProcessingInstruction)):
                self.buffer.append(str(node))
            return None
        name = node.name
        if name in _HEADINGS:
            self._flush()
            text = _clean(node.get_text(" "))
            if text:
                self.blocks.append(Block(text, _HEADINGS[name]))
        elif name == "table":
            self._flush()
            self.blocks += _table_blocks([[c.get_text(" ") for c in row.find_all(("td", "th"))]
                                          for row in node.find_all("tr")])
        elif name == "pre":
            self._flush()
            text = node.get_text().strip("\n")
            if text.strip():
                self.blocks.append(Block(text))
        elif name == "li":
            self._flush()
            self.buffer.append("• ")
            return True
        elif name == "br":
            self.buffer.append(" ")
        elif name in _HTML_BLOCKS:
            self._flush()
            return True
        else:
            return False
        return None


# ---------------------------------------------------------------- Word

_WORD_HEADING = re.compile(r"^(?:heading|überschrift|titre|título)\s*(\d)$", re.I)


def read_docx(data: bytes) -> Extracted:
    """A Word file's paragraphs, headings (by their styles) and tables, in document order."""
    import zipfile

    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise UnreadableFile(f"not a readable Word .docx file ({_short(error)}); open it in Word or LibreOffice "
                             f"and save it as .docx again") from None
    except Exception as error:  # python-docx reports malformed parts in many ways
        raise UnreadableFile(f"not a readable Word .docx file ({_short(error)}); save it as .docx again") from None
    blocks: list[Block] = []
    styled_title = ""
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks += _table_blocks([[cell.text for cell in row.cells] for row in item.rows])
            continue
        text = _clean(item.text)
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        level = _word_heading_level(style)
        if style.lower() == "title" and not styled_title:
            styled_title = text
        if level:
            blocks.append(Block(text, level))
        elif style.lower().startswith("list"):
            blocks.append(Block(f"• {text}"))
        else:
            blocks.append(Block(text))
    if not blocks:
        raise UnreadableFile("the Word file holds no text")
    title = _clean(document.core_properties.title or "") or styled_title or next((b.text for b in blocks if b.heading), "")
    return Extracted("blocks", title=title[:MAX_TITLE_CHARS] or None, blocks=tuple(blocks))


def _word_heading_level(style: str) -> int:
    if style.lower() == "title":
        return 1
    match = _WORD_HEADING.match(style.strip())
    return min(int(match.group(1)), 6) if match else 0


# ---------------------------------------------------------------- shared

def _table_blocks(rows: list[list[str]]) -> list[Block]:
    """A table as readable text: each row a paragraph, its cells named by the header row.

    "Country: France; Capital: Paris" reads as a sentence, where "France | Paris" does not.
    Cells merged across columns repeat in the row; they are written once.
    """
    cleaned = []
    for row in rows:
        cells = [_clean(c) for c in row]
        cells = [c for i, c in enumerate(cells) if i == 0 or c != cells[i - 1]]
        if any(cells):
            cleaned.append(cells)
    if not cleaned:
        return []
    header, body = cleaned[0], cleaned[1:]
    if not body or len(cleaned[0]) < 2:
        return [Block("; ".join(c for c in cells if c)) for cells in cleaned]
    lines = []
    for cells in body:
        if len(cells) == len(header):
            pairs = [f"{name}: {value}" if name else value for name, value in zip(header, cells) if value]
            lines.append("; ".join(pairs))
        else:
            lines.append("; ".join(c for c in cells if c))
    return [Block(line) for line in lines if line]  # the header row lives on in every row's names


def _clean(text: str) -> str:
    return " ".join(text.replace("\u00ad", "").split())


def _short(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 120 else text[:119] + "…"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    groups: list[list[int]] = []
    for number in numbers:
        if groups and number == groups[-1][-1] + 1:
            groups[-1].append(number)
        else:
            groups.append([number])
    return ", ".join(f"{g[0]}-{g[-1]}" if len(g) > 1 else str(g[0]) for g in groups)


Reader = Callable[[bytes], Extracted]

READERS: dict[str, Reader] = {
    ".txt": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".pdf": read_pdf,
    ".html": read_html,
    ".htm": read_html,
    ".docx": read_docx,
}

# Formats people often have that docqa does not read, with what to do instead.
CONVERT_HINTS = {
    ".doc": "save it as .docx (Word's current format)",
    ".rtf": "save it as .docx",
    ".odt": "save it as .docx",
    ".pages": "export it as .docx or PDF",
    ".xhtml": "rename it to .html",
    ".ppt": "export it as PDF",
    ".pptx": "export it as PDF",
    ".epub": "convert it to PDF or HTML",
}
