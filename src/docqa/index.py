"""The index on disk: build, save, load, and tell whether it is stale.

Layout of an index folder (no pickle anywhere)::

    manifest.json     written last: its presence means the build finished
    vectors.faiss     FAISS inner-product index over normalised chunk vectors
    chunks.jsonl      one chunk a line, in FAISS row order, with its section and page
    documents.jsonl   the repaired text of every document, which all offsets index, with its
                      title, where its pages and sections start
    bm25/             the BM25 keyword index (bm25s arrays and JSON)

Building and updating it is ``build.py``'s job.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np

from . import __version__
from .chunking import CHUNKING_VERSION, ChunkingParams
from .corpus import list_corpus_files
from .embedding import Embedder
from .errors import CorruptIndex, IndexNotFound, StaleIndex
from .repair import REPAIR_VERSION
from .lexical import BM25_PARAMETERS, KeywordIndex
from .types import Chunk, Document

logger = logging.getLogger(__name__)

# 3: documents carry pages and sections, chunks their section.
FORMAT_VERSION = 3
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"
DOCUMENTS = "documents.jsonl"
KEYWORD = "bm25"
REBUILD_HINT = "run `docqa index --rebuild`"


@dataclass(frozen=True)
class IndexSettings:
    """Everything besides the corpus that decides what an index holds."""

    model: str
    dimension: int
    chunking: ChunkingParams

    def to_dict(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "embedding": {"model": self.model, "dimension": self.dimension},
            "chunking": self.chunking.to_dict(),
            "keyword": BM25_PARAMETERS,
            "repair_version": REPAIR_VERSION,
            "chunking_version": CHUNKING_VERSION,
        }


@dataclass(frozen=True)
class LoadedIndex:
    """An index in memory: chunks in FAISS row order, documents by source."""

    manifest: dict
    chunks: tuple[Chunk, ...]
    documents: dict[str, Document]
    vectors: object  # a faiss.Index
    keyword: KeywordIndex
    matrix: np.ndarray  # the chunk vectors, row i for chunk i, to score any chunk for hybrid search

    @property
    def size(self) -> int:
        return len(self.chunks)


def settings_for(embedder: Embedder, chunking: ChunkingParams) -> IndexSettings:
    return IndexSettings(embedder.name, embedder.dimension, chunking)


def stale_reasons(index_dir: Path, corpus_dir: Path, settings: IndexSettings) -> list[str]:
    """Say what no longer matches between the index and the corpus and settings.

    Returns:
        One human-readable reason per difference; empty when the index is fresh.

    Raises:
        IndexNotFound: there is no finished index in ``index_dir``.
        CorpusNotFound: the corpus folder is missing.
    """
    manifest = read_manifest(index_dir)
    reasons: list[str] = []
    built_with = manifest.get("settings", {})
    wanted = settings.to_dict()
    if built_with.get("format_version") != wanted["format_version"]:
        reasons.append(f"index format changed ({built_with.get('format_version')} -> {wanted['format_version']})")
    if built_with.get("embedding") != wanted["embedding"]:
        old, new = built_with.get("embedding", {}), wanted["embedding"]
        reasons.append(
            f"embedding model changed ({old.get('model')}, {old.get('dimension')}-d -> "
            f"{new['model']}, {new['dimension']}-d)"
        )
    if built_with.get("keyword") != wanted["keyword"]:
        reasons.append(f"keyword index parameters changed ({built_with.get('keyword')} -> {wanted['keyword']})")
    if built_with.get("chunking") != wanted["chunking"]:
        reasons.append(f"chunking parameters changed ({built_with.get('chunking')} -> {wanted['chunking']})")
    for key, what in (("repair_version", "text repair"), ("chunking_version", "chunking")):
        if built_with.get(key) != wanted[key]:
            reasons.append(f"{what} code changed (version {built_with.get(key)} -> {wanted[key]})")
    indexed = manifest.get("corpus", {}).get("files", {})
    current = {f.source: f.sha256 for f in list_corpus_files(corpus_dir)}
    reasons += [f"file added: {s}" for s in sorted(current.keys() - indexed.keys())]
    reasons += [f"file removed: {s}" for s in sorted(indexed.keys() - current.keys())]
    reasons += [f"file changed: {s}" for s in sorted(current.keys() & indexed.keys()) if current[s] != indexed[s]]
    return reasons


def ensure_fresh(index_dir: Path, corpus_dir: Path, settings: IndexSettings) -> None:
    """Raise StaleIndex (naming every reason) unless the index matches corpus and settings."""
    reasons = stale_reasons(index_dir, corpus_dir, settings)
    if reasons:
        raise StaleIndex(
            f"the index in {str(index_dir)!r} is out of date ({'; '.join(reasons)}); run `docqa index` to update it",
            reasons,
        )


def write_index(index_dir: Path, documents: Sequence[Document], chunks: Sequence[Chunk], vectors: np.ndarray,
                manifest: dict) -> None:
    """Write a complete index folder: into a temporary folder beside ``index_dir``, moved into
    place only when complete, so a crash never leaves a half-written index.

    The keyword index is built here from all chunk texts (it takes well under a second for
    thousands of chunks); ``vectors`` holds row i for chunk i.
    """
    import faiss

    faiss_index = faiss.IndexFlatIP(vectors.shape[1])  # inner product = cosine on normalised vectors
    faiss_index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = index_dir.parent / f".{index_dir.name}.tmp-{os.getpid()}"
    if temporary.exists():
        shutil.rmtree(temporary)
    temporary.mkdir()
    faiss.write_index(faiss_index, str(temporary / VECTORS))
    KeywordIndex.build([c.text for c in chunks]).save(temporary / KEYWORD)
    _write_jsonl(temporary / CHUNKS, (_chunk_record(c) for c in chunks))
    _write_jsonl(temporary / DOCUMENTS, (_document_record(d) for d in documents))
    _write_json_durably(temporary / MANIFEST, manifest)
    _move_into_place(temporary, index_dir)


def new_manifest(settings: IndexSettings, fingerprints: dict[str, str], skipped, documents: int, chunks: int,
                 seconds: float, update: dict) -> dict:
    """The manifest of an index built now."""
    return {
        "docqa_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "libraries": _library_versions(),
        "settings": settings.to_dict(),
        "corpus": {"files": fingerprints, "skipped": {s.source: s.reason for s in skipped}},
        "counts": {"documents": documents, "chunks": chunks},
        "build_seconds": round(seconds, 3),
        "last_update": update,
    }


def load_index(index_dir: Path) -> LoadedIndex:
    """Load a finished index.

    Raises:
        IndexNotFound: no finished index in ``index_dir``.
        CorruptIndex: its files are unreadable or disagree with each other.
    """
    import faiss

    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    try:
        chunks = tuple(_chunk_from_record(r) for r in _read_jsonl(index_dir / CHUNKS))
        documents = {r["source"]: _document_from_record(r) for r in _read_jsonl(index_dir / DOCUMENTS)}
        vectors = faiss.read_index(str(index_dir / VECTORS))
        keyword = KeywordIndex.load(index_dir / KEYWORD)
        matrix = vectors.reconstruct_n(0, vectors.ntotal) if vectors.ntotal else np.zeros((0, vectors.d), np.float32)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise CorruptIndex(f"the index in {str(index_dir)!r} is damaged ({error}); {REBUILD_HINT}") from error
    expected = manifest.get("counts", {}).get("chunks")
    dimension = manifest.get("settings", {}).get("embedding", {}).get("dimension")
    keyword_size = keyword.size
    if not (vectors.ntotal == len(chunks) == expected == keyword_size) or vectors.d != dimension:
        raise CorruptIndex(
            f"the index in {str(index_dir)!r} is inconsistent ({vectors.ntotal} vectors, {len(chunks)} chunks, "
            f"{keyword_size} keyword entries, manifest says {expected}); {REBUILD_HINT}"
        )
    for chunk in chunks:
        document = documents.get(chunk.source)
        if document is None or document.text[chunk.start : chunk.end] != chunk.text:
            raise CorruptIndex(
                f"the index in {str(index_dir)!r} has chunk {chunk.chunk_id} that does not match its document; "
                f"{REBUILD_HINT}"
            )
    return LoadedIndex(manifest, chunks, documents, vectors, keyword, matrix)


def read_manifest(index_dir: Path) -> dict:
    """The manifest of a finished index.

    Raises:
        IndexNotFound: no manifest (no index, or a build that did not finish).
        CorruptIndex: the manifest is not valid JSON.
    """
    index_dir = Path(index_dir)
    _recover_interrupted_swap(index_dir)
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexNotFound(f"no index in {str(index_dir)!r}; run `docqa index` to build it")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CorruptIndex(f"the manifest {str(path)!r} is unreadable ({error}); {REBUILD_HINT}") from error
    if not isinstance(manifest, dict):
        raise CorruptIndex(f"the manifest {str(path)!r} is not a JSON object; {REBUILD_HINT}")
    return manifest


def _chunk_record(chunk: Chunk) -> dict:
    return {
        "chunk_id": chunk.chunk_id,
        "source": chunk.source,
        "start": chunk.start,
        "end": chunk.end,
        "page": chunk.page,
        "section": list(chunk.section),
        "token_count": chunk.token_count,
        "text": chunk.text,
    }


def _chunk_from_record(record: dict) -> Chunk:
    return Chunk(
        chunk_id=record["chunk_id"],
        source=record["source"],
        start=int(record["start"]),
        end=int(record["end"]),
        text=record["text"],
        token_count=int(record["token_count"]),
        page=record.get("page"),
        section=tuple(record.get("section") or ()),
    )


def _document_record(document: Document) -> dict:
    return {
        "source": document.source,
        "sha256": document.sha256,
        "title": document.title,
        "pages": [list(p) for p in document.pages],
        "sections": [[start, list(path)] for start, path in document.sections],
        "text": document.text,
    }


def _document_from_record(record: dict) -> Document:
    return Document(
        record["source"], record["text"], record["sha256"], record.get("title"),
        pages=tuple((int(start), int(number)) for start, number in record.get("pages") or ()),
        sections=tuple((int(start), tuple(path)) for start, path in record.get("sections") or ()),
    )


def _write_jsonl(path: Path, records) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write_json_durably(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _library_versions() -> dict[str, str]:
    versions = {"numpy": np.__version__}
    for package in ("faiss-cpu", "sentence-transformers", "torch", "transformers", "tokenizers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def prepare_index_folder(index_dir: Path) -> None:
    """Before a build: refuse a folder that is not a docqa index; clear what a crashed build left.

    Raises:
        IndexNotFound: ``index_dir`` holds files that are not a docqa index (they are not touched).
    """
    _refuse_foreign_folder(index_dir)
    _clean_leftovers(index_dir)


def _refuse_foreign_folder(index_dir: Path) -> None:
    """Never replace a folder that holds something other than a docqa index."""
    if index_dir.is_dir() and not (index_dir / MANIFEST).exists():
        foreign = [p.name for p in index_dir.iterdir() if p.name not in (VECTORS, CHUNKS, DOCUMENTS, KEYWORD, ".gitkeep")]
        if foreign:
            raise IndexNotFound(
                f"index folder {str(index_dir)!r} holds files that are not a docqa index ({', '.join(sorted(foreign)[:3])}); "
                f"pass --index with an empty or new folder"
            )


def _clean_leftovers(index_dir: Path) -> None:
    _recover_interrupted_swap(index_dir)
    for leftover in index_dir.parent.glob(f".{index_dir.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _move_into_place(temporary: Path, index_dir: Path) -> None:
    old = index_dir.parent / f".{index_dir.name}.old-{os.getpid()}"
    if index_dir.exists():
        os.replace(index_dir, old)
    os.replace(temporary, index_dir)
    shutil.rmtree(old, ignore_errors=True)


def _recover_interrupted_swap(index_dir: Path) -> None:
    """If a build died between its two renames, put the previous index back."""
    parent = index_dir.parent
    if not parent.is_dir():
        return
    olds = sorted(parent.glob(f".{index_dir.name}.old-*"))
    if not olds:
        return
    if not (index_dir / MANIFEST).exists() and (olds[-1] / MANIFEST).exists():
        if index_dir.exists():
            shutil.rmtree(index_dir, ignore_errors=True)
        os.replace(olds[-1], index_dir)
        logger.warning("restored the previous index in %s after an interrupted build", index_dir)
        olds = olds[:-1]
    for old in olds:
        shutil.rmtree(old, ignore_errors=True)
