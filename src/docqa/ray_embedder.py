"""Reading and embedding a corpus on a Ray cluster: ``docqa index --ray [ADDRESS]``.

The build itself is the local one (build.py): it lists the files, reuses what did not
change, and writes the index. What costs goes to the cluster: files of the formats parsed
whole (PDF, Word, HTML) are sent in windows and parsed and chunked by Ray tasks (text and
Markdown, read in parts, stay local: reading them is cheap), and the new chunk texts stream
through Ray Data's ``map_batches`` to a pool of actors, each holding one copy of the model
(embedding was 324 of 330 s of SciFact's local build). The index is the one a local build
writes: the same chunks, vectors equal within float tolerance, the same manifest apart from
timings.

Ray is optional (``pip install -e ".[ray]"``); nothing here is imported without it.
"""

from __future__ import annotations

import json
import logging
from typing import Callable, Sequence

import numpy as np

from .errors import DocqaError

logger = logging.getLogger(__name__)

# texts sent to the cluster in one Ray Data run: the run starts its actors (one model load
# each), so a run should be long; the float32 sentence vectors of one run are held at once
WINDOW = 50_000
BATCH = 32  # texts per actor call


READ_WINDOW_BYTES = 256 * 2**20  # file bytes sent to the cluster in one run, at most


class RayUnavailable(DocqaError):
    """Ray is not installed, or the cluster cannot be reached."""


class _EmbedActor:
    """One model on one Ray worker: embeds batches of texts with their sentences' spans."""

    def __init__(self, factory: Callable[[], object]):
        self.embedder = factory()

    def __call__(self, batch: dict) -> dict:
        from .embedding import embed_passages  # the model's one pass, or a sentence at a time for embedders without it

        texts = [str(text) for text in batch["text"]]
        spans = [[tuple(span) for span in json.loads(item)] for item in batch["spans"]]
        vectors, sentences = embed_passages(self.embedder, texts, spans)
        return {"row": batch["row"], "vector": np.asarray(vectors, dtype=np.float32),
                "sentences": np.array([np.asarray(s, dtype=np.float32).tobytes() for s in sentences], dtype=object)}


def _read_batch(batch: dict, chunking, factory) -> dict:
    """Parse and chunk files on a Ray worker, as the local build would (``read_bytes``).

    Each result goes back as JSON, in the index's own record format: nothing that a loader
    would execute crosses from the cluster.
    """
    from .chunking import chunk_document
    from .corpus import read_bytes
    from .index import chunk_record, document_record

    token_spans = factory().token_spans  # the tokenizer only: the model is not loaded for this
    results = []
    for source, sha256, data in zip(batch["source"], batch["sha256"], batch["data"]):
        document, reason = read_bytes(bytes(data), str(source), str(sha256))
        chunks = chunk_document(document, chunking, token_spans) if document is not None else []
        results.append(json.dumps({"document": None if document is None else document_record(document),
                                   "chunks": [chunk_record(c) for c in chunks], "reason": reason}))
    return {"source": batch["source"], "result": np.array(results, dtype=object)}


def _read_result(text: str) -> tuple:
    from .index import chunk_from_record, document_from_record

    record = json.loads(text)
    document = None if record["document"] is None else document_from_record(record["document"])
    return document, [chunk_from_record(c) for c in record["chunks"]], record["reason"]


def _check_reachable(address: str | None, seconds: float = 5.0) -> None:
    """Fail fast on a host:port nobody answers on (Ray itself keeps retrying for minutes)."""
    import socket

    if not address or address in ("auto", "local") or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=seconds):
            return
    except (OSError, ValueError) as error:
        raise RayUnavailable(f"cannot reach the Ray cluster at {address} ({error}); start one with "
                             f"`ray start --head`, or leave --ray out to build here") from None


class RayEmbedder:
    """An embedder whose ``embed_passages`` runs on a Ray cluster; questions stay local.

    Args:
        local: the embedder this process uses (its name, dimension and tokenizer make the index
            the same as a local build's; it embeds questions).
        factory: makes the embedder on each actor (picklable: a class or a partial).
        address: the cluster ("auto", "ray://host:10001", "host:6379"); None connects to the
            cluster ``ray start`` began on this machine, or starts a local one.
        actors: actors in the pool (default: one per CPU of the cluster, at most 8).
    """

    embed_window = WINDOW  # read by build.py: the texts handed over at once

    def __init__(self, local, factory: Callable[[], object], address: str | None = None, actors: int | None = None,
                 runtime_env: dict | None = None):
        self.local = local
        self.name, self.dimension, self.max_tokens = local.name, local.dimension, local.max_tokens
        self.factory, self.address, self.actors, self.runtime_env = factory, address, actors, runtime_env

    def token_spans(self, text: str):
        return self.local.token_spans(text)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self.local.embed(texts, progress=progress)

    def _connect(self):
        try:
            import ray
        except ImportError:
            raise RayUnavailable('--ray needs Ray: pip install -e ".[ray]" (or pip install "ray[data]")') from None
        if not ray.is_initialized():
            _check_reachable(self.address)
            try:
                ray.init(address=self.address, runtime_env=self.runtime_env, logging_level=logging.WARNING,
                         log_to_driver=False, include_dashboard=False)
            except (ConnectionError, ValueError, RuntimeError) as error:
                raise RayUnavailable(f"cannot connect to the Ray cluster at {self.address or 'this machine'} ({error}); "
                                     f"check the address and that this machine may join the cluster (Ray's log "
                                     f"above says when a token is refused), start one with `ray start --head`, "
                                     f"or leave --ray out to build here") from None
            logger.info("Ray cluster: %s", ray.cluster_resources())
        return ray

    def read_documents(self, files, chunking) -> dict:
        """The files of formats parsed whole, read and chunked on the cluster.

        Returns:
            {source: (Document or None, its chunks, the reason it was skipped)} for the files
            it read; the build reads the others itself (text, Markdown, files over the size
            limit, which are refused locally with the usual message).
        """
        from . import config
        from .corpus import STREAMED

        limit = config.max_file_bytes()
        whole = [f for f in files if f.path.suffix.lower() not in STREAMED and 0 < (f.size or f.path.stat().st_size) <= limit]
        if not whole:
            return {}
        ray = self._connect()
        results: dict = {}
        window: list = []
        held = 0

        def run(window):
            dataset = ray.data.from_items(window, override_num_blocks=min(len(window), 16)).map_batches(
                _read_batch, fn_kwargs={"chunking": chunking, "factory": self.factory}, batch_size=4,
                batch_format="numpy")
            for batch in dataset.iter_batches(batch_size=16, batch_format="numpy"):
                for source, packed in zip(batch["source"], batch["result"]):
                    results[str(source)] = _read_result(str(packed))

        for corpus_file in whole:
            try:
                data = corpus_file.path.read_bytes()
            except OSError:
                continue  # the build reads it itself, and says why it cannot
            window.append({"source": corpus_file.source, "sha256": corpus_file.sha256, "data": data})
            held += len(data)
            if held >= READ_WINDOW_BYTES:
                run(window)
                window, held = [], 0
        if window:
            run(window)
        logger.info("read %d file%s on the Ray cluster", len(results), "" if len(results) == 1 else "s")
        return results

    def embed_passages(self, texts: Sequence[str], sentence_spans: Sequence[Sequence[tuple[int, int]]], *,
                       progress: bool | Callable[[int], object] = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of ``texts`` and of their sentences, computed by the actors; same result as locally."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sentences: list[np.ndarray] = [np.zeros((len(s), self.dimension), np.float32) for s in sentence_spans]
        if not texts:
            return vectors, sentences
        ray = self._connect()
        actors = min(len(texts), self.actors or max(1, min(8, int(ray.cluster_resources().get("CPU", 1)))))
        items = [{"row": row, "text": text, "spans": json.dumps([list(s) for s in spans])}
                 for row, (text, spans) in enumerate(zip(texts, sentence_spans))]
        # blocks enough for every actor to have work from the start
        dataset = ray.data.from_items(items, override_num_blocks=min(len(items), actors * 4)).map_batches(
            _EmbedActor, fn_constructor_kwargs={"factory": self.factory}, batch_size=BATCH, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1)
        done = 0
        for batch in dataset.iter_batches(batch_size=BATCH, batch_format="numpy"):
            for row, vector, packed in zip(batch["row"], batch["vector"], batch["sentences"]):
                vectors[int(row)] = vector
                sentences[int(row)] = np.frombuffer(packed, dtype=np.float32).reshape(-1, self.dimension).copy()
            done += len(batch["row"])
            if callable(progress):
                progress(len(batch["row"]))
        if done != len(texts):
            raise RayUnavailable(f"the Ray cluster returned {done} of {len(texts)} vectors; run the build again")
        return vectors, sentences
