"""Build small PDF and Word files in code, so tests need no binary fixtures."""

from __future__ import annotations

import io
from typing import Sequence


def make_pdf(pages: Sequence[Sequence[str]], title: str | None = None, line_height: int = 14) -> bytes:
    """A PDF whose pages hold the given lines of Helvetica text, top down; "" leaves a blank line.

    Each line is drawn on its own, so the text layer holds exactly these lines. A page with
    no lines has no text layer, like a scan.
    """
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"), NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
    })
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        operations, y = [], 750
        for line in lines:
            if line:
                escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                operations.append(f"BT /F1 11 Tf 72 {y} Td ({escaped}) Tj ET")
            y -= line_height
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        stream = DecodedStreamObject()
        stream.set_data("\n".join(operations).encode("cp1252"))
        page.replace_contents(stream)
    if title:
        writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(title: str | None = None) -> bytes:
    """A Word file with a title, a heading, paragraphs, a sub-heading, a list item and a table."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("Purpose", level=1)
    document.add_paragraph("The working group coordinates the work of its members.")
    document.add_heading("Meetings", level=2)
    document.add_paragraph("It met twice in 2010.")
    document.add_paragraph("Berlin, hosted by the Foreign Office", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for row, cells in enumerate([("Year", "City"), ("2010", "Berlin"), ("2011", "Riyadh")]):
        for column, text in enumerate(cells):
            table.cell(row, column).text = text
    document.add_paragraph("The table lists the meetings.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
