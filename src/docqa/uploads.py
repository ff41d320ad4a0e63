"""The Documents tab's work: checking uploads, writing and removing corpus files, re-indexing.

An upload is checked before anything is written (a plain file name, a supported type, the size
limit, a file docqa can read: UTF-8 text, a PDF with a text layer, a sound Word file; no silent
overwrite) and then written in one step; a removal only touches files the corpus folder lists.
Each change updates the index at once, as `docqa index` does (only what changed is embedded), and
is reported in Markdown, with names and errors escaped.
"""

import logging
import os
import threading
from pathlib import Path
from typing import Sequence

from .config import progress_enabled
from .corpus import FORMATS_READ, SUPPORTED_SUFFIXES, list_corpus_files, read_bytes
from .readers import CONVERT_HINTS
from .errors import DocqaError
from .index import process_may_be_running
from .pipeline import Pipeline
from .ui_render import UNEXPECTED, escape_markdown

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_CORPUS_CHANGES = threading.Lock()  # one upload or removal at a time, across all users


class UploadRejected(DocqaError):
    """A file offered for the corpus that docqa will not take, with the reason."""

# ---------------------------------------------------------------- documents

def check_upload(name: str, data: bytes, corpus_dir: Path, *, replace: bool = False,
                 max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Where an uploaded file may go in the corpus folder, or why it may not.

    Returns:
        The destination path, directly inside ``corpus_dir``.

    Raises:
        UploadRejected: a name with a folder part or hidden, an unsupported type, too large,
            a file docqa cannot read (empty, not UTF-8 text, a broken PDF or Word file, a scan
            without text), or a file of that name already there (unless ``replace``).
    """
    shown = name if len(name) <= 80 else name[:79] + "…"
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if base != name or not base or base.startswith(".") or "\x00" in name:
        raise UploadRejected(f"{shown!r} is not a plain file name; upload the file itself, named like report.txt")
    suffix = Path(base).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        hint = CONVERT_HINTS.get(suffix, "convert it to one of these first")
        raise UploadRejected(f"{shown}: docqa reads {FORMATS_READ} files; {hint}")
    check_upload_size(name, len(data), max_bytes)
    if not data.strip():
        raise UploadRejected(f"{shown} is empty; there is nothing to index")
    document, reason = read_bytes(data, base)  # the same reading as the index's, so what passes here indexes
    if document is None:
        raise UploadRejected(f"{shown}: {reason}")
    destination = Path(corpus_dir) / base
    if not destination.resolve().parent == Path(corpus_dir).resolve():
        raise UploadRejected(f"{shown!r} would land outside the corpus folder; rename it")
    if destination.exists() and not replace:
        if destination.read_bytes() == data:
            raise UploadRejected(f"{shown} is already in the corpus, unchanged")
        raise UploadRejected(f"a different {base} is already in the corpus; rename the upload, "
                             f"or tick “Replace files with the same name”")
    return destination


def check_upload_size(name: str, size: int, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
    """Raise UploadRejected when a file of ``size`` bytes is over the limit."""
    if size > max_bytes:
        raise UploadRejected(f"{name} is {_size(size)}; the limit is {_size(max_bytes)}: split it into smaller files")


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MB" if count >= 2**20 else f"{count:,} bytes"


_TEMPORARY = ".upload-"  # an upload is written as ".<name>.upload-<pid>", then renamed


def save_upload(destination: Path, data: bytes) -> None:
    """Write ``data`` to ``destination`` in one step (a hidden temporary file, then a rename).

    When the write fails (a full disk), the partial temporary file is removed.
    """
    temporary = destination.parent / f".{destination.name}{_TEMPORARY}{os.getpid()}"
    try:
        temporary.write_bytes(data)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def remove_stale_uploads(corpus_dir: Path) -> list[str]:
    """Delete the temporary files of uploads whose process has ended (it stopped mid-write).

    Returns the names removed. A temporary file of a process still running is left alone.
    """
    removed = []
    for path in sorted(corpus_dir.glob(f".*{_TEMPORARY}*")):
        pid = path.name.rpartition(_TEMPORARY)[2]
        if not pid.isdigit() or not path.is_file() or int(pid) == os.getpid() or process_may_be_running(int(pid)):
            continue
        try:
            path.unlink()
            removed.append(path.name)
        except OSError as error:
            logger.warning("could not remove the unfinished upload %s: %s", path, error)
    return removed


def add_documents(pipeline: Pipeline, paths: Sequence[str] | None, replace: bool = False, progress=None) -> str:
    """Check and copy uploaded files into the corpus folder, then re-index. Returns a Markdown report.

    Args:
        paths: the uploaded files; each file's own name is its name in the corpus.
        progress: a callable ``progress(fraction, desc=...)`` (Gradio's), told when indexing starts.
    """
    if not paths:
        return f"Choose files to add ({FORMATS_READ})."
    lines, added = [], []
    with _CORPUS_CHANGES:  # two uploads of one name must not both pass the existence check
        for path in map(Path, paths):
            try:
                check_upload_size(path.name, path.stat().st_size)  # before reading a huge file
                data = path.read_bytes()
                destination = check_upload(path.name, data, pipeline.corpus_dir, replace=replace)
                save_upload(destination, data)
                added.append(destination.name)
            except DocqaError as error:
                lines.append(f"✗ {escape_markdown(str(error))}")
            except OSError as error:
                logger.warning("could not add %s: %s", path, error)
                lines.append(f"✗ {escape_markdown(path.name)} could not be saved in the corpus folder ({escape_markdown(error.strerror or 'I/O error')})")
        if added:
            if progress is not None:
                progress(0.1, desc=f"Indexing {len(added)} new file(s)…")
            lines += reindex_and_report(pipeline, [f"added {name}" for name in added])
    return "\n\n".join(lines)


def remove_document(pipeline: Pipeline, source: str | None, progress=None) -> str:
    """Delete corpus file ``source`` (one of ``corpus_sources``) and re-index. Returns a Markdown report."""
    if not source:
        return "Nothing removed."
    with _CORPUS_CHANGES:
        try:
            files = {f.source: f.path for f in list_corpus_files(pipeline.corpus_dir)}
            if source not in files:  # only listed files: a crafted name cannot reach outside the folder
                return f"✗ {escape_markdown(source)} is not in the corpus (any more); refresh the list"
            documents = pipeline.index.documents
            if source in documents and len(documents) == 1:
                return f"✗ {escape_markdown(source)} is the only document; add another before removing it"
            files[source].unlink()
        except DocqaError as error:
            return f"✗ {escape_markdown(str(error))}"
        except OSError as error:
            logger.warning("could not remove %s: %s", source, error)
            return f"✗ {escape_markdown(source)} could not be removed ({escape_markdown(error.strerror or 'I/O error')})"
        if progress is not None:
            progress(0.1, desc="Indexing the remaining documents…")
        return "\n\n".join(reindex_and_report(pipeline, [f"removed {source}"]))


def reindex_and_report(pipeline: Pipeline, done: list[str]) -> list[str]:
    """Bring the index up to date with the corpus folder after the changes described in ``done``.

    Returns:
        The Markdown report lines: what was done and the index's new size, or why indexing failed.
    """
    try:
        report = pipeline.ensure_index(progress=progress_enabled())
        index = pipeline.index
    except DocqaError as error:
        return [f"✗ {escape_markdown(str(error))}"]
    except Exception:
        logger.exception("indexing failed")
        return [f"✗ {UNEXPECTED}"]
    if report is None:  # the index was up to date
        return [f"✓ {escape_markdown(', '.join(done))}; nothing changed: the index holds "
                f"{_count(len(index.documents), 'document')}, {_count(index.size, 'passage')}."]
    built = f" in {report.seconds:.1f} s (embedded {_count(report.embedded, 'new passage')})"
    return [f"✓ {escape_markdown(', '.join(done))}; indexed {_count(len(index.documents), 'document')}, "
            f"{_count(index.size, 'passage')}{built}. Ask away."]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def corpus_sources(pipeline: Pipeline) -> list[str]:
    """The corpus files that can be removed, as corpus-relative paths."""
    try:
        return [f.source for f in list_corpus_files(pipeline.corpus_dir)]
    except DocqaError:
        return []
