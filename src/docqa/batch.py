"""Answering a file of questions: reading .txt/.csv/.jsonl, writing .jsonl/.csv, resuming.

Each record is written and flushed as soon as its question is answered, one line per record
(CSV fields are folded onto one line), so a killed run leaves a valid file minus at most its
last line, which ``--resume`` drops before carrying on.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from .cleaning import json_depth, replace_surrogates_in
from .errors import DocqaError

logger = logging.getLogger(__name__)

INPUT_SUFFIXES = (".txt", ".csv", ".jsonl")
OUTPUT_SUFFIXES = (".jsonl", ".csv")
RECORD_KEYS = ("id", "question", "answer", "answerable", "citations", "passages", "error")
CSV_COLUMNS = ["id", "question", "answer", "answerable", "sources", "quotes", "top_scores", "error"]
HOW_TO_WRITE = {
    ".txt": "write one question a line",
    ".csv": "write a header row with a column named question (and optionally id), then a question a row",
    ".jsonl": 'write one JSON object a line, like {"id": "q1", "question": "…"}',
}


# Lists and objects within one JSONL line: a record is flat; much deeper would exceed Python's
# recursion when the line's fields are written into its answer record.
MAX_JSONL_DEPTH = 32


class BatchInputError(DocqaError):
    """A questions file that cannot be read as given."""


@dataclass(frozen=True)
class BatchQuestion:
    """One question of a batch, with its id and the input's other fields."""

    id: str
    question: str
    fields: dict = field(default_factory=dict)
    problem: str | None = None  # why the line cannot be asked, found while reading it (it gets an error record)


def default_output_path(input_path: Path) -> Path:
    """``<input stem>.answers.jsonl`` beside the input."""
    return input_path.with_name(f"{input_path.stem}.answers.jsonl")


def read_questions(path: Path) -> list[BatchQuestion]:
    """Read a questions file.

    ``.txt``: a question a line (blank lines skipped); ids are line numbers.
    ``.csv``: a ``question`` column and an optional ``id`` column; other columns are kept.
    ``.jsonl``: an object a line with ``question`` and optional ``id``; other keys are kept.
    Rows without an id get their line number.

    Raises:
        BatchInputError: unknown extension, unreadable file, malformed line, missing column.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise BatchInputError(
            f"{path}: docqa batch reads {', '.join(INPUT_SUFFIXES)} files, not {suffix or 'files without an extension'}; "
            f"rename or convert it"
        )
    if path.is_dir():
        raise BatchInputError(f"{path} is a folder, not a file of questions; give the path of a {suffix} file in it")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BatchInputError(f"{path}: no such file; check the path") from None
    except UnicodeDecodeError as error:
        raise BatchInputError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except OSError as error:
        raise BatchInputError(f"{path}: cannot be read ({error.strerror}); check the path and its permissions") from None
    reader = {".txt": _read_txt, ".csv": _read_csv, ".jsonl": _read_jsonl}[suffix]
    return list(reader(path, text))


def _read_txt(path: Path, text: str) -> Iterator[BatchQuestion]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield BatchQuestion(str(number), line.strip())


def _read_csv(path: Path, text: str) -> Iterator[BatchQuestion]:
    unclosed = _unclosed_quote_line(text)
    if unclosed is not None:
        raise BatchInputError(
            f'{path}, line {unclosed}: a quoted field opens here and is never closed, so every row after it '
            f'would be read into it; close the quote (write a quote inside a quoted field as "")'
        )
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [_column_name(c) for c in (reader.fieldnames or [])]
    for name in ("question", "id"):
        if columns.count(name) > 1:
            same = ", ".join(c.strip() for c in reader.fieldnames or [] if _column_name(c) == name)
            raise BatchInputError(f"{path}, line 1: {columns.count(name)} columns named {name} ({same}); keep one")
    if "question" not in columns:
        raise BatchInputError(
            f"{path}, line 1: no 'question' column (columns: {', '.join(columns) or 'none'}); "
            f"add a header row with a column named question (and optionally id)"
        )
    reader.fieldnames = columns
    for row in _rows(reader):
        line = reader.line_num
        if None in row:
            raise BatchInputError(f"{path}, line {line}: more fields than columns in the header; quote fields that hold commas")
        question = row.pop("question") or ""
        identifier = (row.pop("id", None) or "").strip() or str(line)
        yield BatchQuestion(identifier, question.strip(), {k: v for k, v in row.items()})


def _rows(reader: csv.DictReader) -> Iterator[dict]:
    """The rows of ``reader`` with the csv module's field size limit (131,072 characters) lifted.

    The file is in memory already, so a long field costs nothing more to read; refused, it
    would stop the whole file at its row. A question that long is refused on its own, with an
    error record, like any question over the length docqa takes.
    """
    before = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # the limit is a C long; this fits on every platform
    try:
        yield from reader
    finally:
        csv.field_size_limit(before)


def _column_name(name: str) -> str:
    """A header name without surrounding spaces; ``question`` and ``id`` in any case become lower case."""
    name = name.strip()
    return name.lower() if name.lower() in ("question", "id") else name


def _unclosed_quote_line(text: str) -> int | None:
    """The line where a quoted CSV field opens and never closes, or None.

    Follows the csv module's default dialect, which would read the rest of the file into that field.
    """
    state, line, opened, last = "start", 1, 0, 0
    for match in re.finditer(r'[",\n]', text):
        char = match.group()
        if match.start() > last and state in ("start", "closed"):
            state = "field"  # ordinary characters since the last special one
        last = match.end()
        if state == "quoted":
            state = "closed" if char == '"' else state
        elif char == '"':
            if state == "start":
                state, opened = "quoted", line
            elif state == "closed":
                state = "quoted"  # a doubled quote inside a quoted field
        else:
            state = "start"
        if char == "\n":
            line += 1
    return opened if state == "quoted" else None


def _read_jsonl(path: Path, text: str) -> Iterator[BatchQuestion]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        too_deep = (f"line {number} is nested too deeply (more than {MAX_JSONL_DEPTH} levels of lists and objects); "
                    f'write one flat object a line, like {{"id": "q1", "question": "…"}}')
        try:
            record = json.loads(line)
        except RecursionError:  # the parser's recursion ran out: nothing of the line, not even its id, is known
            yield BatchQuestion(str(number), "", problem=too_deep)
            continue
        except json.JSONDecodeError as error:
            raise BatchInputError(
                f"{path}, line {number}: not valid JSON ({error.msg} at column {error.colno}); "
                f'write one object a line, like {{"id": "q1", "question": "…"}}'
            ) from None
        except ValueError:  # valid JSON, but a number of more digits than Python converts (4,300)
            yield BatchQuestion(str(number), "", problem=f"line {number} holds a number too long to read "
                                                         f"(over {sys.get_int_max_str_digits():,} digits); write it as a string")
            continue
        if not isinstance(record, dict) or "question" not in record:
            raise BatchInputError(
                f'{path}, line {number}: expected an object with a "question" key; '
                f'write one object a line, like {{"id": "q1", "question": "…"}}'
            )
        if json_depth(record, MAX_JSONL_DEPTH) > MAX_JSONL_DEPTH:  # its fields would be too deep to write
            identifier = record.get("id")
            identifier = identifier if isinstance(identifier, (str, int)) and not isinstance(identifier, bool) else None
            yield BatchQuestion(_identifier(replace_surrogates_in(identifier), number), "", problem=too_deep)
            continue
        record = replace_surrogates_in(record)
        question = record.pop("question")
        yield BatchQuestion(_identifier(record.pop("id", None), number), question.strip() if isinstance(question, str) else "",
                            record)


def _identifier(value, line: int) -> str:
    """A JSONL record's id as text, or its line number when it has none."""
    return str(value) if value not in (None, "") else str(line)


def duplicate_ids(questions: Sequence[BatchQuestion]) -> list[str]:
    """Ids that occur more than once, in order of first occurrence."""
    counts = Counter(q.id for q in questions)
    return [identifier for identifier in dict.fromkeys(q.id for q in questions) if counts[identifier] > 1]


def check_output_path(path: Path) -> None:
    """Raise BatchInputError unless ``path`` can be an answers file: a .jsonl or .csv name, not a folder."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise BatchInputError(
            f"{path}: docqa batch writes {' or '.join(OUTPUT_SUFFIXES)} files; choose -o with one of those extensions"
        )
    if path.is_dir():
        raise BatchInputError(f"{path} is a folder, not a file for the answers; choose -o with a file name in it")


class RecordWriter:
    """Appends answer records to a .jsonl or .csv file, one line each, flushed at once.

    A file to replace is emptied at the first record, not before, and a file this writer
    created is removed again when closed without a record: a run that fails before its
    first answer leaves the output as it found it.
    """

    def __init__(self, path: Path, extra_columns: Sequence[str], *, append: bool):
        self.path = Path(path)
        self.format = self.path.suffix.lower()
        check_output_path(self.path)
        self.columns = CSV_COLUMNS + [c for c in extra_columns if c not in CSV_COLUMNS]
        self._created = not self.path.exists()
        self._new_file = not append or self._created or self.path.stat().st_size == 0
        self.written = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8", newline="")
        except OSError as error:
            raise BatchInputError(f"{self.path}: cannot be written ({error.strerror}); choose another -o") from None

    def write(self, record: dict) -> None:
        if self._new_file:
            self._new_file = False
            self._handle.seek(0)
            self._handle.truncate()
            if self.format == ".csv":
                self._write_line(self._csv_line(self.columns))
        if self.format == ".jsonl":
            self._write_line(json.dumps(record, ensure_ascii=False))
        else:
            self._write_line(self._csv_line([_csv_value(record, column) for column in self.columns]))
        self.written += 1

    def _csv_line(self, values: Sequence[str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow([" ".join(str(v).split()) for v in values])
        return buffer.getvalue()

    def _write_line(self, line: str) -> None:
        self._handle.write(line + "\n")
        self._handle.flush()

    def close(self) -> None:
        os.fsync(self._handle.fileno())
        self._handle.close()
        if self._created and not self.written:
            self.path.unlink(missing_ok=True)


def _csv_value(record: dict, column: str) -> str:
    if column == "sources":
        return "; ".join(dict.fromkeys(c["source"] for c in record.get("citations", [])))
    if column == "quotes":
        return " | ".join(f"[{c['marker']}] {c['quote']}" for c in record.get("citations", []))
    if column == "top_scores":
        return " ".join(f"{p['score']:.3f}" for p in record.get("passages", [])[:3])
    value = record.get(column)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def completed_ids(path: Path) -> Counter:
    """Ids already answered in an output file, counted; a partial last line is cut off first.

    Raises:
        BatchInputError: a line before the last one is damaged (the file was edited).
    """
    path = Path(path)
    if not path.exists():
        return Counter()
    _drop_partial_last_line(path)
    done: Counter = Counter()
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix.lower() == ".csv":
        rows = list(csv.reader(lines))
        if rows:
            header = rows[0]
            if "id" not in header:
                raise BatchInputError(f"{path}, line 1: no id column, so it cannot be resumed; write to a new file")
            position = header.index("id")
            done.update(row[position] for row in rows[1:] if len(row) > position)
        return done
    for number, line in enumerate(lines, start=1):
        try:
            done[str(json.loads(line)["id"])] += 1
        except (ValueError, KeyError, TypeError, RecursionError):  # ValueError: bad JSON, a number too long
            raise BatchInputError(
                f"{path}, line {number}: not an answer record, so the file cannot be resumed; "
                f"fix or remove that line, or write to a new file"
            ) from None
    return done


def _drop_partial_last_line(path: Path) -> None:
    """Cut a last line that has no newline: the run that wrote it was killed mid-write."""
    with open(path, "rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            handle.seek(cut)
            handle.truncate()
            logger.warning("%s: dropped an incomplete last line left by an interrupted run", path)


def error_record(question: BatchQuestion, message: str) -> dict:
    """The record of a question that could not be asked."""
    return {"id": question.id, "question": question.question, "answer": None, "answerable": None,
            "citations": [], "passages": [], "error": message}


def with_fields(record: dict, question: BatchQuestion) -> dict:
    """Carry the input's other fields into the record, without overwriting record keys."""
    for key, value in question.fields.items():
        record[key if key not in RECORD_KEYS and key not in record else f"input_{key}"] = value
    return record


def check_question_text(question: BatchQuestion, max_chars: int) -> str | None:
    """Why a batch question cannot be asked, or None."""
    if question.problem is not None:
        return question.problem
    if not question.question.strip():
        return "the question is empty"
    if len(question.question) > max_chars:
        return f"the question is {len(question.question):,} characters long; docqa takes up to {max_chars:,}"
    return None


__all__ = [
    "BatchInputError", "BatchQuestion", "HOW_TO_WRITE", "RecordWriter", "check_output_path", "check_question_text",
    "completed_ids", "default_output_path", "duplicate_ids", "error_record", "read_questions", "with_fields",
]
