"""Building the index, and keeping it current by redoing only what changed.

An update reads and chunks only the files that are new or changed (a file renamed or copied
is recognised by its content and not read again), and embeds only chunks whose text has no
vector in the previous index yet: vectors are looked up by the sha256 of the chunk's text.
Chunks of removed files are dropped. The keyword index is rebuilt from all chunk texts,
which is cheap. Each chunk's sentence vectors come from the same forward pass as its vector
and are reused with it. The result is the index a full build would make (same chunks, same order,
same vectors), written beside the old one and moved into place like a full build.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .chunking import ChunkingParams, chunk_document
from .corpus import CorpusFile, SkippedFile, check_not_empty, list_corpus_files, read_document, unsupported_files
from . import config
from .embedding import Embedder, embed_passages, progress_bar
from .errors import CorruptIndex, IndexNotFound
from .index import (LoadedIndex, SentenceVectors, load_index, new_manifest, pause_point, prepare_index_folder,
                    settings_for, vector_index_settings, write_index)
from .sentences import passage_sentences
from .types import Chunk, Document

logger = logging.getLogger(__name__)

# One build at a time in a process: a build clears the temporary folders that builds of this
# process left behind, which must not be one another thread is still writing.
_BUILDING = threading.Lock()


@dataclass(frozen=True)
class BuildReport:
    """What a build did.

    ``embedded`` chunks got new vectors, ``reused`` took theirs from the previous index;
    ``files_read`` files were read (the others were taken from the previous index as they
    were); ``formats`` counts the indexed documents by file type; ``changes`` names the files
    ``added``, ``changed``, ``removed`` and ``renamed`` ("old -> new") since the previous index.
    """

    index_dir: Path
    documents: int
    chunks: int
    skipped: tuple[SkippedFile, ...]
    seconds: float
    built: bool  # False when the index was already up to date
    embedded: int = 0
    reused: int = 0
    files_read: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    changes: dict[str, list[str]] = field(default_factory=dict)
    incremental: bool = False
    embed_seconds: float = 0.0


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunking: ChunkingParams,
    *,
    progress: bool = False,
    rebuild: bool = False,
) -> BuildReport:
    """Bring the index of ``corpus_dir`` up to date, reusing what the previous index holds.

    Args:
        rebuild: ignore the previous index: read and embed everything.

    Raises:
        CorpusNotFound, EmptyCorpus: the corpus cannot be indexed.
        IndexNotFound: ``index_dir`` holds files that are not a docqa index (they are not touched).
    """
    with _BUILDING:
        return _build_index(corpus_dir, Path(index_dir), embedder, chunking, progress=progress, rebuild=rebuild)


def _build_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, chunking: ChunkingParams, *,
                 progress: bool, rebuild: bool) -> BuildReport:
    started = time.perf_counter()
    prepare_index_folder(index_dir)
    if chunking.max_tokens > embedder.max_tokens:
        raise ValueError(f"chunks of {chunking.max_tokens} tokens exceed the model's window of {embedder.max_tokens}")
    settings = settings_for(embedder, chunking)
    previous = None if rebuild else _previous_index(index_dir)
    files = list_corpus_files(corpus_dir)
    plan = _Reuse(previous, settings.to_dict())

    documents: list[Document] = []
    chunks: list[Chunk] = []
    skipped: list[SkippedFile] = []
    files_read = 0
    # a Ray cluster reads the files that need reading in parallel (ray_embedder.py); locally, one by one below
    read_elsewhere = embedder.read_documents([f for f in files if plan.needs_reading(f)], chunking) \
        if hasattr(embedder, "read_documents") else {}
    for corpus_file in files:
        document, document_chunks, reason, was_read = plan.document(corpus_file, chunking, embedder,
                                                                     read_elsewhere.get(corpus_file.source))
        files_read += was_read
        if document is None:
            skipped.append(SkippedFile(corpus_file.source, reason))
            if was_read:
                logger.warning("skipping %s: %s", corpus_file.source, reason)
            continue
        documents.append(document)
        chunks.extend(document_chunks)
    skipped = sorted(skipped + unsupported_files(corpus_dir), key=lambda s: s.source)
    check_not_empty(documents, skipped, corpus_dir)

    embed_started = time.perf_counter()
    vectors, sentences, embedded = plan.vectors(chunks, embedder, progress=progress)
    embed_seconds = time.perf_counter() - embed_started
    pause_point("embedded")
    changes = plan.changes(files)
    # where a build's time goes: reading and chunking the files, then embedding (the rest is writing)
    update = {"incremental": previous is not None, "read_seconds": round(embed_started - started, 3),
              "embed_seconds": round(embed_seconds, 3), "files_read": files_read, "chunks_embedded": embedded,
              "chunks_reused": len(chunks) - embedded, **{k: len(v) for k, v in changes.items()}}
    seconds = time.perf_counter() - started
    fingerprints = {f.source: f.sha256 for f in files}
    vector_settings = vector_index_settings(len(chunks), config.vector_storage())
    manifest = new_manifest(settings, fingerprints, skipped, len(documents), len(chunks), seconds, update,
                            vector_settings)
    write_index(index_dir, documents, chunks, vectors, manifest, sentences)
    formats = dict(sorted(Counter(Path(d.source).suffix.lower().lstrip(".") or "none" for d in documents).items()))
    return BuildReport(index_dir, len(documents), len(chunks), tuple(skipped), time.perf_counter() - started, True,
                       embedded=embedded, reused=len(chunks) - embedded, files_read=files_read, formats=formats,
                       changes=changes, incremental=previous is not None, embed_seconds=embed_seconds)


# How many new chunks are embedded at a time (about a minute and a half of the model's work
# here): the tokenizer's output and the float32 sentence vectors exist for one window only.
EMBED_WINDOW = 2048


def text_key(text: str) -> str:
    """The key of a chunk's vector: the sha256 of its text (the vector depends on nothing else)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _previous_index(index_dir: Path) -> LoadedIndex | None:
    try:
        return load_index(index_dir)
    except IndexNotFound:
        return None
    except CorruptIndex as error:
        logger.warning("the previous index cannot be reused (%s); building from scratch", error)
        return None


class _Reuse:
    """What the previous index can give a build: documents and chunks of files whose content
    did not change (when reading and chunking are as they were), and vectors by chunk text
    (when the embedding model is the same)."""

    def __init__(self, previous: LoadedIndex | None, settings: dict):
        manifest = previous.manifest if previous is not None else {}
        built_with = manifest.get("settings", {})
        corpus = manifest.get("corpus", {})
        self.files: dict[str, str] = corpus.get("files", {}) if previous is not None else {}
        same_reading = previous is not None and built_with == settings
        self.documents = dict(previous.documents) if same_reading else {}
        self.skipped: dict[str, str] = corpus.get("skipped", {}) if same_reading else {}
        self.chunks: dict[str, list[Chunk]] = {}
        for chunk in (previous.chunks if same_reading else ()):
            self.chunks.setdefault(chunk.source, []).append(chunk)
        self.by_content = {d.sha256: d for d in self.documents.values()}
        self.vector_rows: dict[str, int] = {}
        self.previous = None
        if previous is not None and built_with.get("embedding") == settings["embedding"] and previous.sentences is not None:
            self.previous = previous
            self.vector_rows = {text_key(c.text): row for row, c in enumerate(previous.chunks)}

    def needs_reading(self, corpus_file: CorpusFile) -> bool:
        """Whether ``document`` would read the file: nothing of the previous index stands for it."""
        unchanged = self.files.get(corpus_file.source) == corpus_file.sha256
        known = unchanged and (corpus_file.source in self.documents or corpus_file.source in self.skipped)
        return not known and corpus_file.sha256 not in self.by_content

    def document(self, corpus_file: CorpusFile, chunking: ChunkingParams, embedder: Embedder, read=None
                 ) -> tuple[Document | None, list[Chunk], str, bool]:
        """The file's Document and chunks (or None and the reason it is skipped), and whether it was read.

        ``read``: the file as read elsewhere (a Ray cluster): (Document or None, chunks, reason).
        """
        unchanged = self.files.get(corpus_file.source) == corpus_file.sha256
        if unchanged and corpus_file.source in self.documents:
            return self.documents[corpus_file.source], self.chunks.get(corpus_file.source, []), "", False
        if unchanged and corpus_file.source in self.skipped:
            return None, [], self.skipped[corpus_file.source], False
        same_content = self.by_content.get(corpus_file.sha256)
        if same_content is not None:  # renamed or copied: the text is known, the ids follow the new path
            document = replace(same_content, source=corpus_file.source)
            return document, chunk_document(document, chunking, embedder.token_spans), "", False
        if read is not None:
            document, chunks, reason = read
            return (None, [], reason, True) if document is None else (document, chunks, "", True)
        document, reason = read_document(corpus_file)
        if document is None:
            return None, [], reason, True
        return document, chunk_document(document, chunking, embedder.token_spans), "", True

    def vectors(self, chunks: list[Chunk], embedder: Embedder, *, progress: bool
                ) -> tuple[np.ndarray, SentenceVectors, int]:
        """One vector per chunk, in order, and the vectors of their sentences; returns them and
        how many texts had to be embedded. Both depend only on the chunk's text.

        New texts are embedded ``EMBED_WINDOW`` at a time, their sentence vectors kept as
        float16 from the start: memory grows with what the index will hold, not more.
        """
        keys = [text_key(c.text) for c in chunks]
        missing: dict[str, int] = {}  # key -> row of the first chunk with that text
        for row, key in enumerate(keys):
            if key not in self.vector_rows and key not in missing:
                missing[key] = row
        new_rows = {key: number for number, key in enumerate(missing)}
        new_vectors = np.zeros((len(missing), embedder.dimension), dtype=np.float32)
        new_spans: list = [None] * len(missing)
        new_sentences: list = [None] * len(missing)
        rows = list(missing.values())
        window = getattr(embedder, "embed_window", EMBED_WINDOW)  # a Ray cluster takes longer runs
        with progress_bar(len(rows), progress) as advance:
            for first in range(0, len(rows), window):
                texts = [chunks[row].text for row in rows[first : first + window]]
                spans = [passage_sentences(text) for text in texts]
                vectors, sentences = embed_passages(embedder, texts, spans, progress=advance)
                if vectors.shape != (len(texts), embedder.dimension):
                    raise ValueError(f"embedder returned shape {vectors.shape} for {len(texts)} chunks")
                new_vectors[first : first + len(texts)] = vectors
                for number, (span, sentence) in enumerate(zip(spans, sentences), start=first):
                    new_spans[number] = np.asarray(span, dtype=np.int32).reshape(-1, 2)
                    new_sentences[number] = np.asarray(sentence, dtype=np.float16).reshape(-1, embedder.dimension)
        previous_rows = [self.vector_rows[key] for key in keys if key not in new_rows]
        previous_matrix = self.previous.vectors.reconstruct_batch(np.asarray(previous_rows, dtype=np.int64)) \
            if previous_rows else None
        matrix = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
        chunk_spans: list = []
        chunk_sentences: list = []
        reused = 0
        for row, key in enumerate(keys):
            if key in new_rows:
                matrix[row] = new_vectors[new_rows[key]]
                chunk_spans.append(new_spans[new_rows[key]])
                chunk_sentences.append(new_sentences[new_rows[key]])
            else:
                matrix[row] = previous_matrix[reused]
                old_spans, old_vectors = self.previous.sentences.of_chunk(self.vector_rows[key])
                chunk_spans.append(old_spans)
                chunk_sentences.append(old_vectors)
                reused += 1
        del new_vectors, new_spans, new_sentences, previous_matrix
        return matrix, SentenceVectors.from_lists(chunk_spans, chunk_sentences, embedder.dimension), len(missing)

    def changes(self, files: list[CorpusFile]) -> dict[str, list[str]]:
        """Which files were added, changed, removed and renamed since the previous index."""
        current = {f.source: f.sha256 for f in files}
        added = sorted(current.keys() - self.files.keys())
        removed = sorted(self.files.keys() - current.keys())
        changed = sorted(s for s in current.keys() & self.files.keys() if current[s] != self.files[s])
        removed_by_content = {self.files[s]: s for s in removed}
        moves = {removed_by_content.pop(current[s]): s for s in added if current[s] in removed_by_content}
        return {"added": [s for s in added if s not in moves.values()], "changed": changed,
                "removed": [s for s in removed if s not in moves], "renamed": [f"{a} -> {b}" for a, b in moves.items()]}
