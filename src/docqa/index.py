"""The index on disk: build, save, load, and tell whether it is stale.

Layout of an index folder (no pickle anywhere)::

    manifest.json     written last: its presence means the build finished
    vectors.faiss     FAISS inner-product index over normalised chunk vectors
    chunks.jsonl      one chunk a line, in FAISS row order, with its section and page
    documents.jsonl   the repaired text of every document, which all offsets index, with its
                      title, where its pages and sections start
    bm25/             the BM25 keyword index (bm25s arrays and JSON)
    sentences/        a vector for every sentence the answer step weighs: offsets.npy (chunk i's
                      sentences are rows offsets[i]:offsets[i+1]), spans.npy (start, end within
                      the chunk's text) and vectors.npy (float16)

The FAISS index is exact (a flat scan) up to ``EXACT_SEARCH_LIMIT`` chunks, HNSW up to
``IVFPQ_LIMIT`` and IVF-PQ above; the manifest's ``vectors`` block records which, with its
parameters and the vector storage (float32, or float16 / 8-bit scalar quantised to save memory).

The manifest records the size and sha256 of every other file, and loading checks them, so
an edited, truncated or swapped file is reported (with the command that repairs it) instead
of being read. A build writes into a temporary folder beside the index and swaps it in with
two renames under an exclusive lock (``.<index>.lock`` beside the folder, made only for a
docqa index); readers load under a shared lock, so they see the old index or the new one,
never a mix, and only a process holding the exclusive lock puts back an index whose swap a
killed build left half done.

Building and updating it is ``build.py``'s job.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np

from . import __version__, config
from .chunking import CHUNKING_VERSION, ChunkingParams
from .corpus import list_corpus_files, sha256_of_file
from .embedding import Embedder
from .errors import CorruptIndex, IndexNotFound, StaleIndex
from .repair import REPAIR_VERSION
from .lexical import BM25_PARAMETERS, KeywordIndex
from .manifest import manifest_problem
from .types import Chunk, Document

logger = logging.getLogger(__name__)

# 3: documents carry pages and sections, chunks their section.
# 4: the manifest records the size and sha256 of every index file.
# 5: sentence vectors stored with the chunks; the FAISS index chosen by size.
FORMAT_VERSION = 5
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"
DOCUMENTS = "documents.jsonl"
KEYWORD = "bm25"
SENTENCES = "sentences"
STORAGES = config.VECTOR_STORAGES
# Up to this many chunks a flat scan is exact and fast enough (a few ms a question on one
# thread); above it, HNSW. Its parameters by measurement (benchmarks/hnsw_sweep.py, results in
# benchmarks/results/hnsw_sweep.json): 1M vectors, ~170 noisy copies of each real one, recall@10
# against exact search of speed.py's 300 SQuAD questions / of 1,000 others. M 32 with
# efConstruction 80 reached 0.958 / 0.939 at efSearch 1024 (0.962 / 0.955 at 1536), M 48 less;
# efConstruction 128 at efSearch 1024: 0.970 / 0.959, p95 2.1 ms a query; efConstruction 200
# gets there at efSearch 512 (1.1 ms) but builds slower, and a build is paid on every update
# (the graph is rebuilt from all vectors). CPU seconds to build, efConstruction 80 / 128 / 200:
# 26 / 42 / 72 for 200k vectors, 152 / 231 / 406 for 1M (2 shared cores, load average 2.2-4.6).
# A question's embedding alone takes about 10 ms, so the deeper search does not show.
EXACT_SEARCH_LIMIT = 50_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 1024
# Above this many chunks, IVF-PQ: HNSW keeps every float32 vector and its graph in memory (1.7
# GiB at 1M). Product-quantised codes (48 bytes a vector) find candidates, float16 copies (768
# bytes; 8-bit, 384, with DOCQA_VECTOR_STORAGE=sq8) re-rank them. Parameters by the sweep of
# benchmarks/ivfpq.py (benchmarks/results/ivfpq.json).
IVFPQ_LIMIT = 3_000_000
IVFPQ_SUBQUANTIZERS = 48  # 8 dimensions each, 8 bits
IVFPQ_NPROBE = 32  # lists scanned
IVFPQ_K_FACTOR = 128  # candidates re-ranked per result wanted
REBUILD_HINT = "run `docqa index --rebuild`"

_WRITING: set[str] = set()  # the temporary folders this process is writing now: never leftovers


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
class SentenceVectors:
    """Chunk i's sentences: ``spans[offsets[i]:offsets[i+1]]`` (within the chunk's text) and their vectors."""

    offsets: np.ndarray  # int64, one more than the chunks
    spans: np.ndarray  # int32 (n, 2)
    vectors: np.ndarray  # float16 (n, dimension)

    @classmethod
    def from_lists(cls, spans: Sequence[Sequence[tuple[int, int]]], vectors: Sequence[np.ndarray], dimension: int
                   ) -> "SentenceVectors":
        offsets = np.cumsum([0, *(len(s) for s in spans)]).astype(np.int64)
        flat_spans = np.zeros((int(offsets[-1]), 2), dtype=np.int32)
        matrix = np.zeros((int(offsets[-1]), dimension), dtype=np.float16)
        for row, (chunk_spans, chunk_vectors) in enumerate(zip(spans, vectors)):  # filled in place: no second copy
            first, last = int(offsets[row]), int(offsets[row + 1])
            if last > first:
                flat_spans[first:last] = np.asarray(chunk_spans, dtype=np.int32).reshape(-1, 2)
                matrix[first:last] = np.asarray(chunk_vectors, dtype=np.float16).reshape(-1, dimension)
        return cls(offsets, flat_spans, matrix)

    def of_chunk(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(spans, vectors) of the sentences of chunk ``row``."""
        first, last = int(self.offsets[row]), int(self.offsets[row + 1])
        return self.spans[first:last], self.vectors[first:last]


@dataclass(frozen=True)
class LoadedIndex:
    """An index in memory: chunks in FAISS row order, documents by source."""

    manifest: dict
    chunks: tuple[Chunk, ...]
    documents: dict[str, Document]
    vectors: object  # a faiss.Index
    keyword: KeywordIndex
    sentences: SentenceVectors | None = None

    @property
    def size(self) -> int:
        return len(self.chunks)

    @cached_property
    def rows(self) -> dict[str, int]:
        """FAISS row of each chunk id."""
        return {chunk.chunk_id: row for row, chunk in enumerate(self.chunks)}

    @property
    def matrix(self) -> np.ndarray:
        """The chunk vectors, row i for chunk i (without a copy when stored as float32)."""
        return stored_vectors(self.vectors)

    def dense_search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the ``k`` chunks nearest to one query vector, best first.

        On one thread: one query is too little work to split, and when other processes share
        the cores, FAISS's OpenMP threads waiting on each other took 40 ms instead of 2.5 ms
        for 10k vectors (benchmarks/speed.py, load average 7 on 2 cores).
        """
        import faiss

        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, rows = self.vectors.search(np.ascontiguousarray(vector[None, :], dtype=np.float32), k)
        finally:
            faiss.omp_set_num_threads(before)
        found = rows[0] >= 0
        return rows[0][found], scores[0][found]

    def dense_scores(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Inner products of chunks ``rows`` with ``vector`` (cosine on normalised vectors)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        return self.vectors.reconstruct_batch(rows) @ np.asarray(vector, dtype=np.float32)


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


def vector_index_settings(count: int, storage: str = "float32", exact_limit: int | None = None,
                          ivfpq_limit: int | None = None) -> dict:
    """Which FAISS index suits ``count`` vectors: exact up to ``exact_limit`` (default
    ``EXACT_SEARCH_LIMIT``), HNSW up to ``ivfpq_limit`` (default ``IVFPQ_LIMIT``), IVF-PQ above:
    product-quantised codes whose candidates are re-ranked by float16 copies of the vectors
    (8-bit with ``storage`` "sq8").

    Raises:
        ValueError: an unknown ``storage``.
    """
    if storage not in STORAGES:
        raise ValueError(f"vector storage {storage!r} is unknown; use one of {', '.join(STORAGES)}")
    if count <= (EXACT_SEARCH_LIMIT if exact_limit is None else exact_limit):
        return {"index": "flat", "storage": storage}
    if count <= (IVFPQ_LIMIT if ivfpq_limit is None else ivfpq_limit):
        return {"index": "hnsw", "storage": storage, "neighbours": HNSW_NEIGHBOURS,
                "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": HNSW_EF_SEARCH}
    # about 2 * sqrt(count) lists, a power of two: 2,048 at 1M, 8,192 at 10M
    lists = int(2 ** round(np.log2(max(2 * np.sqrt(count), 16))))
    lists = max(1, min(lists, count // 39))  # k-means wants some 39 vectors a list
    # the copies that re-rank: float16 unless 8-bit is asked for (float32 would double them for no gain)
    return {"index": "ivfpq", "storage": "sq8" if storage == "sq8" else "float16", "lists": lists,
            "subquantizers": IVFPQ_SUBQUANTIZERS,
            "nprobe": min(IVFPQ_NPROBE, lists), "k_factor": IVFPQ_K_FACTOR}


def make_vector_index(vectors: np.ndarray, settings: dict):
    """A FAISS inner-product index over ``vectors`` (inner product = cosine on normalised vectors)."""
    import faiss

    dimension = vectors.shape[1]
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    quantizer = {"float16": faiss.ScalarQuantizer.QT_fp16, "sq8": faiss.ScalarQuantizer.QT_8bit}.get(settings["storage"])
    if settings["index"] == "flat":
        index = faiss.IndexFlatIP(dimension) if quantizer is None else \
            faiss.IndexScalarQuantizer(dimension, quantizer, faiss.METRIC_INNER_PRODUCT)
    elif settings["index"] == "hnsw":
        m = settings["neighbours"]
        index = faiss.IndexHNSWFlat(dimension, m, faiss.METRIC_INNER_PRODUCT) if quantizer is None else \
            faiss.IndexHNSWSQ(dimension, quantizer, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings["ef_construction"]
        index.hnsw.efSearch = settings["ef_search"]
    elif settings["index"] == "ivfpq":
        index = _ivfpq(dimension, settings)
        # trained on a seeded sample: about 40 vectors a list is plenty for k-means, and all of
        # 10M would take hours on a laptop's cores
        sample = min(len(vectors), max(40 * settings["lists"], 65_536))
        rows = np.sort(np.random.default_rng(0).choice(len(vectors), sample, replace=False))
        index.train(vectors[rows])
        for start in range(0, len(vectors), 1_000_000):  # added in parts: no second copy of all vectors
            index.add(vectors[start : start + 1_000_000])
        return index
    else:
        raise ValueError(f"FAISS index type {settings['index']!r} is unknown")
    if not index.is_trained:
        index.train(vectors)
    index.add(vectors)
    return index


def _ivfpq(dimension: int, settings: dict):
    """An untrained IVF-PQ index, re-ranked by float16 or 8-bit copies of the vectors, searching as ``settings`` say."""
    import faiss

    coarse = faiss.IndexFlatIP(dimension)
    codes = faiss.IndexIVFPQ(coarse, dimension, settings["lists"], settings["subquantizers"], 8,
                             faiss.METRIC_INNER_PRODUCT)
    codes.do_polysemous_training = False  # for Hamming filtering, which docqa does not use; slow to train
    codes.own_fields = True
    coarse.this.disown()
    kind = faiss.ScalarQuantizer.QT_8bit if settings["storage"] == "sq8" else faiss.ScalarQuantizer.QT_fp16
    refine = faiss.IndexScalarQuantizer(dimension, kind, faiss.METRIC_INNER_PRODUCT)
    index = faiss.IndexRefine(codes, refine)
    index.own_fields = index.own_refine_index = True
    codes.this.disown()
    refine.this.disown()
    set_ivfpq_search(index, settings)
    return index


def set_ivfpq_search(index, settings: dict) -> None:
    """The search depth of an IVF-PQ index: lists scanned, and candidates re-ranked per result."""
    import faiss

    faiss.extract_index_ivf(index).nprobe = int(settings.get("nprobe", IVFPQ_NPROBE))
    faiss.downcast_index(index).k_factor = float(settings.get("k_factor", IVFPQ_K_FACTOR))


def stored_vectors(faiss_index) -> np.ndarray:
    """All vectors of ``faiss_index``, row i for chunk i: a view of FAISS's own memory for float32
    storage (flat or HNSW), else decoded."""
    import faiss

    flat = faiss_index
    if isinstance(flat, faiss.IndexHNSW):
        flat = faiss.downcast_index(flat.storage)
    if isinstance(flat, faiss.IndexFlat) and flat.ntotal:
        return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    if not faiss_index.ntotal:
        return np.zeros((0, faiss_index.d), np.float32)
    return faiss_index.reconstruct_n(0, faiss_index.ntotal)


def write_index(index_dir: Path, documents: Sequence[Document], chunks: Sequence[Chunk], vectors: np.ndarray,
                manifest: dict, sentences: SentenceVectors | None = None) -> None:
    """Write a complete index folder: into a temporary folder beside ``index_dir``, moved into
    place only when complete, so a crash never leaves a half-written index.

    The keyword index is built here from all chunk texts (it takes well under a second for
    thousands of chunks); ``vectors`` holds row i for chunk i. The FAISS index is the one
    ``manifest["vectors"]`` names (exact when it names none). The manifest gets the size and
    sha256 of every file, and is written last.
    """
    import faiss

    faiss_index = make_vector_index(vectors, manifest.get("vectors") or vector_index_settings(0))
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = index_dir.parent / f".{index_dir.name}.tmp-{os.getpid()}"
    if temporary.exists():
        shutil.rmtree(temporary)
    temporary.mkdir()
    _WRITING.add(str(temporary))
    try:
        faiss.write_index(faiss_index, str(temporary / VECTORS))
        KeywordIndex.build([c.text for c in chunks]).save(temporary / KEYWORD)
        if sentences is not None:
            (temporary / SENTENCES).mkdir()
            for name in ("offsets", "spans", "vectors"):
                np.save(temporary / SENTENCES / f"{name}.npy", getattr(sentences, name), allow_pickle=False)
        pause_point("writing")
        _write_jsonl(temporary / CHUNKS, (_chunk_record(c) for c in chunks))
        _write_jsonl(temporary / DOCUMENTS, (_document_record(d) for d in documents))
        _sync_files(temporary)
        _write_json_durably(temporary / MANIFEST, {**manifest, "files": _file_checksums(temporary)})
        _fsync_folder(temporary)
        _move_into_place(temporary, index_dir)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    finally:
        _WRITING.discard(str(temporary))


def new_manifest(settings: IndexSettings, fingerprints: dict[str, str], skipped, documents: int, chunks: int,
                 seconds: float, update: dict, vectors: dict | None = None) -> dict:
    """The manifest of an index built now; ``vectors`` describes its FAISS index (vector_index_settings)."""
    return {
        "vectors": vectors or vector_index_settings(chunks),
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
    """Load a finished index, after checking every file against the manifest's checksums.

    Raises:
        IndexNotFound: no finished index in ``index_dir``.
        CorruptIndex: a file is missing, truncated, edited or unreadable, or the files
            disagree with each other; the message names the problem and the fix.
    """
    index_dir = Path(index_dir)
    with index_lock(index_dir, shared=True):  # a build's swap waits until this index is read
        return _load_index(index_dir)


def _load_index(index_dir: Path) -> LoadedIndex:
    import faiss

    manifest = _read_manifest(index_dir)
    verify_files(index_dir, manifest)
    try:
        chunks = tuple(_chunk_from_record(r) for r in _read_jsonl(index_dir / CHUNKS))
        documents = {r["source"]: _document_from_record(r) for r in _read_jsonl(index_dir / DOCUMENTS)}
        vectors = faiss.read_index(str(index_dir / VECTORS))
        keyword = KeywordIndex.load(index_dir / KEYWORD)
        sentences = _load_sentences(index_dir / SENTENCES, chunks, vectors.d)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, AttributeError) as error:
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
    if isinstance(vectors, faiss.IndexHNSW):  # search depth is not part of the graph: an older index searches as deep as a new one
        vectors.hnsw.efSearch = max(int(manifest.get("vectors", {}).get("ef_search", HNSW_EF_SEARCH)), HNSW_EF_SEARCH)
    if isinstance(vectors, faiss.IndexRefine):  # nor is an IVF-PQ index's: it is set again, as saved
        set_ivfpq_search(vectors, manifest.get("vectors", {}))
    return LoadedIndex(manifest, chunks, documents, vectors, keyword, sentences)


def _load_sentences(folder: Path, chunks: Sequence[Chunk], dimension: int) -> SentenceVectors | None:
    """The sentence vectors, mapped from disk (only the rows questions touch are read), or None.

    Their shapes and ranges are checked here, as the checksums cannot catch a tamperer who
    rewrote them: a vector of another width, or a span outside its chunk, would otherwise fail
    (or quote the wrong words) at question time.

    Raises:
        ValueError: the arrays disagree with the chunks or with each other.
    """
    if not folder.is_dir():
        return None
    offsets = np.load(folder / "offsets.npy", allow_pickle=False)
    spans = np.load(folder / "spans.npy", allow_pickle=False)
    vectors = np.load(folder / "vectors.npy", allow_pickle=False, mmap_mode="r")
    if offsets.ndim != 1 or len(offsets) != len(chunks) + 1 or not int(offsets[-1]) == len(spans) == len(vectors) \
            or spans.ndim != 2 or spans.shape[1:] != (2,):
        raise ValueError(f"sentence vectors disagree with the {len(chunks)} chunks")
    if vectors.ndim != 2 or vectors.shape[1] != dimension or not np.issubdtype(vectors.dtype, np.floating):
        raise ValueError(f"sentence vectors are {vectors.shape[1] if vectors.ndim == 2 else '?'} wide "
                         f"({vectors.dtype}), the chunk vectors {dimension}")
    if not (np.issubdtype(offsets.dtype, np.integer) and offsets[0] == 0 and np.all(np.diff(offsets) >= 0)):
        raise ValueError("sentence offsets do not rise from 0")
    if len(spans):
        lengths = np.repeat(np.asarray([len(c.text) for c in chunks], dtype=np.int64), np.diff(offsets))
        if not np.issubdtype(spans.dtype, np.integer) or \
                not np.all((0 <= spans[:, 0]) & (spans[:, 0] <= spans[:, 1]) & (spans[:, 1] <= lengths)):
            raise ValueError("sentence spans fall outside their chunks")
    return SentenceVectors(offsets, spans, vectors)


def verify_files(index_dir: Path, manifest: dict) -> None:
    """Check every index file against the size and sha256 the manifest records for it.

    Indexes of formats before 4 recorded none; they are stale anyway and get rebuilt.

    Raises:
        CorruptIndex: a file is missing, has another size or another checksum, or the
            manifest lists no checksums; the message names the file.
    """
    recorded = manifest.get("files")
    version = manifest.get("settings", {}).get("format_version")
    if recorded is None and isinstance(version, int) and version < 4:
        return
    damaged = f"the index in {str(index_dir)!r} is damaged"
    if not isinstance(recorded, dict) or not recorded:
        raise CorruptIndex(f"{damaged}: its manifest lists no checksums of its files; {REBUILD_HINT}")
    for name in (VECTORS, CHUNKS, DOCUMENTS):
        if name not in recorded:
            raise CorruptIndex(f"{damaged}: its manifest lists no checksum for {name}; {REBUILD_HINT}")
    for name, expected in sorted(recorded.items()):
        path = index_dir / name
        if not isinstance(expected, dict) or ".." in Path(name).parts or Path(name).is_absolute():
            raise CorruptIndex(f"{damaged}: its manifest's entry for {name!r} is malformed; {REBUILD_HINT}")
        try:
            size = path.stat().st_size
            digest = sha256_of_file(path) if size == expected.get("bytes") else None
        except OSError:
            raise CorruptIndex(f"{damaged}: {name} is missing; {REBUILD_HINT}") from None
        if size != expected.get("bytes"):
            raise CorruptIndex(f"{damaged}: {name} is {size:,} bytes but the manifest says {_number(expected.get('bytes'))} "
                               f"(truncated or replaced?); {REBUILD_HINT}")
        if digest != expected.get("sha256"):
            raise CorruptIndex(f"{damaged}: {name} does not match the sha256 in the manifest (edited or corrupted?); "
                               f"{REBUILD_HINT}")


def _number(value) -> str:
    """A recorded count as a number with thousands separators ("7,725"), or as it was recorded when it is none."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def read_manifest(index_dir: Path) -> dict:
    """The manifest of a finished index.

    Raises:
        IndexNotFound: no manifest (no index, or a build that did not finish).
        CorruptIndex: the manifest is not valid JSON, or a part of it has the wrong type.
    """
    index_dir = Path(index_dir)
    with index_lock(index_dir, shared=True):
        return _read_manifest(index_dir)


def _read_manifest(index_dir: Path) -> dict:
    """The manifest, read by a caller that holds the index lock."""
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexNotFound(f"no index in {str(index_dir)!r}; run `docqa index` to build it")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:  # "[[[[…": the parser's recursion runs out before the text does
        raise CorruptIndex(f"the manifest {str(path)!r} is unreadable (nested too deeply to parse); "
                           f"{REBUILD_HINT}") from None
    except (OSError, ValueError) as error:
        raise CorruptIndex(f"the manifest {str(path)!r} is unreadable ({error}); {REBUILD_HINT}") from error
    if not isinstance(manifest, dict):
        raise CorruptIndex(f"the manifest {str(path)!r} is not a JSON object; {REBUILD_HINT}")
    problem = manifest_problem(manifest)
    if problem:
        raise CorruptIndex(f"the manifest {str(path)!r} is damaged: {problem}; {REBUILD_HINT}")
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
            text = record.get("text")
            if isinstance(text, str) and len(text) > _TEXT_PIECE:
                _write_long_text_record(handle, record)
            else:
                handle.write(json.dumps(record, ensure_ascii=False))
            handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


_TEXT_PIECE = 1 << 20


def _write_long_text_record(handle, record: dict) -> None:
    """Write a record whose "text" is long (a large document) a piece of the text at a time,
    never holding a second copy of it: the line is what json.dumps would write."""
    head = json.dumps({**record, "text": ""}, ensure_ascii=False)
    before, after = head.split('"text": ""', 1)
    handle.write(before + '"text": "')
    text = record["text"]
    for start in range(0, len(text), _TEXT_PIECE):  # JSON escapes each character alone, so pieces escape alike
        handle.write(json.dumps(text[start : start + _TEXT_PIECE], ensure_ascii=False)[1:-1])
    handle.write('"' + after)


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    if not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path.name} holds a line that is not a JSON object")
    return records


def _index_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _file_checksums(folder: Path) -> dict[str, dict]:
    """Size and sha256 of every file of an index folder but the manifest, by relative path."""
    return {p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256_of_file(p)}
            for p in _index_files(folder)}


def _sync_files(folder: Path) -> None:
    """Flush every file of ``folder`` to disk (bm25s and FAISS write without fsync)."""
    for path in _index_files(folder):
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    for sub in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _fsync_folder(sub)


def _fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (not possible everywhere: skipped then)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


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


_OWN_FILES = frozenset({MANIFEST, VECTORS, CHUNKS, DOCUMENTS, KEYWORD, SENTENCES, ".gitkeep"})


def _refuse_foreign_folder(index_dir: Path) -> None:
    """Never replace a file, or a folder holding anything docqa did not write there.

    A build replaces the whole folder, so a file of the user's inside it would be lost: in a
    folder that is not an index (with a ``manifest.json`` of its own, even), and in a docqa
    index too.
    """
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexNotFound(f"--index {str(index_dir)!r} is a file, not a folder; pass --index with a new or "
                            f"empty folder, or a docqa index")
    if not index_dir.is_dir():
        return
    foreign = sorted(p.name for p in index_dir.iterdir() if p.name not in _OWN_FILES)
    if not foreign:
        return
    listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    if _is_docqa_manifest(index_dir / MANIFEST):
        raise IndexNotFound(f"index folder {str(index_dir)!r} holds files docqa did not write ({listed}); an update "
                            f"replaces the whole folder, so move them out of it and run the command again")
    raise IndexNotFound(f"index folder {str(index_dir)!r} holds files that are not a docqa index ({listed}); "
                        f"pass --index with an empty or new folder")


def _is_docqa_manifest(path: Path) -> bool:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(manifest, dict) and "docqa_version" in manifest and "settings" in manifest


def _clean_leftovers(index_dir: Path) -> None:
    """Put back an index a killed build left mid-swap; delete what dead builds left beside it.

    Without leftovers there is nothing to lock for (and no lock file is made: a build that then
    fails, on a missing corpus say, leaves nothing beside the path it was given).
    """
    if not _left_over(index_dir):
        return
    with index_lock(index_dir, shared=False):
        _clean_up(index_dir)


def _clean_up(index_dir: Path) -> None:
    """With the exclusive lock held: recover an interrupted swap, delete dead builds' folders."""
    _recover_interrupted_swap(index_dir)
    for leftover in _dead_temporaries(index_dir):
        shutil.rmtree(leftover, ignore_errors=True)


def _dead_temporaries(index_dir: Path) -> list[Path]:
    parent = index_dir.parent
    if not parent.is_dir():
        return []
    return [p for p in parent.glob(f".{index_dir.name}.tmp-*")
            if str(p) not in _WRITING and not _process_alive(p.name.rsplit("-", 1)[-1])]


def _process_alive(pid: str) -> bool:
    """Whether the build that named its folder after ``pid`` may still be writing it."""
    if not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this process's builds in progress are in _WRITING; any other is a leftover
    return process_may_be_running(int(pid))


def process_may_be_running(pid: int) -> bool:
    """Whether process ``pid`` may still run (True when that cannot be told: keep its files)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or no pid at all
    return True


def _move_into_place(temporary: Path, index_dir: Path) -> None:
    """Swap the new index in: two renames under the exclusive lock, so no reader sees the gap."""
    old = index_dir.parent / f".{index_dir.name}.old-{os.getpid()}"
    with index_lock(index_dir, shared=False):
        _recover_interrupted_swap(index_dir)
        if index_dir.exists():
            os.replace(index_dir, old)
            pause_point("swapping")
        os.replace(temporary, index_dir)
        _fsync_folder(index_dir.parent)
    pause_point("swapped")
    shutil.rmtree(old, ignore_errors=True)


def _recover_interrupted_swap(index_dir: Path) -> None:
    """If a build died between its two renames, put the previous index back.

    Only called with the exclusive lock held: a live build between its renames holds it, so
    what is found here was left by a build that is dead.
    """
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
        _fsync_folder(parent)
        logger.warning("restored the previous index in %s after an interrupted build", index_dir)
        olds = olds[:-1]
    for old in olds:
        shutil.rmtree(old, ignore_errors=True)


def _left_over(index_dir: Path) -> bool:
    """Whether a build that died left something beside the index (a moved-aside index, a temporary folder)."""
    parent = index_dir.parent
    return parent.is_dir() and (any(parent.glob(f".{index_dir.name}.old-*")) or bool(_dead_temporaries(index_dir)))


@contextmanager
def index_lock(index_dir: Path, *, shared: bool):
    """Hold the index's lock: shared to read it, exclusive to swap it (``flock`` on ``.<name>.lock``).

    The kernel releases the lock of a killed process, so a crash never leaves it held. A
    reader that finds what a dead build left (a swap half done, a temporary folder) takes the
    lock exclusively and puts the previous index back, or cleans up, first. Where the lock file cannot be created (a read-only
    folder, a system without ``flock``), reading goes ahead unlocked: nothing builds there.

    The lock file is made only beside a docqa index, or what a build of one left, or by the
    swap that puts one in place: never beside a path that is not an index (``--index
    /etc/passwd``), where a reader goes ahead unlocked to find there is no index.
    """
    index_dir = Path(index_dir)
    create = not shared or _holds_an_index(index_dir) or _left_over(index_dir)
    descriptor = _open_lock_file(index_dir, create=create)
    try:
        if descriptor is not None:
            import fcntl

            if shared and _left_over(index_dir):
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                try:
                    _clean_up(index_dir)
                except OSError as error:  # a reader without write access: read what is there
                    logger.warning("could not clean up after an interrupted build in %s (%s)", index_dir, error)
            fcntl.flock(descriptor, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        if descriptor is not None:
            os.close(descriptor)  # closing releases the lock


def _holds_an_index(index_dir: Path) -> bool:
    """Whether ``index_dir`` holds what a docqa build writes (its files may still be damaged)."""
    return (index_dir / MANIFEST).is_file() and (index_dir / VECTORS).is_file()


def _open_lock_file(index_dir: Path, *, create: bool) -> int | None:
    """The lock file beside ``index_dir``, opened; made when ``create``; None where it cannot be."""
    try:
        import fcntl  # noqa: F401  (POSIX only)
    except ImportError:
        return None
    path = index_dir.parent / f".{index_dir.name}.lock"
    for flags in ((os.O_RDWR | os.O_CREAT) if create else os.O_RDWR, os.O_RDONLY):
        try:
            return os.open(path, flags, 0o644)
        except OSError:
            continue
    return None


def pause_point(stage: str) -> None:
    """For crash tests only: when ``DOCQA_TEST_PAUSE`` names ``stage``, wait here to be killed.

    The build writes the signal file the variable names and waits until it is deleted (then
    goes on) or a minute passes (then exits with 3), so a test can kill it at a known point.
    """
    wanted = config.test_pause()
    if wanted is None or wanted[0] != stage:
        return
    signal_file = Path(wanted[1])
    signal_file.write_text(f"{os.getpid()} {stage}\n", encoding="utf-8")
    deadline = time.monotonic() + 60
    while signal_file.exists():
        if time.monotonic() > deadline:
            os._exit(3)
        time.sleep(0.01)


# the record format of chunks.jsonl and documents.jsonl, for whatever else carries chunks as JSON (ray_embedder.py)
chunk_record, chunk_from_record = _chunk_record, _chunk_from_record
document_record, document_from_record = _document_record, _document_from_record
