"""Retrieval over a loaded index: dense (FAISS), keyword (BM25) or a hybrid of the two."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import InvalidQuery
from .index import LoadedIndex
from .types import Hit

MODES = ("dense", "keyword", "hybrid")


@dataclass(frozen=True)
class RetrievalSettings:
    """How passages are found.

    ``hybrid`` takes the top ``candidates`` chunks of each method, scales each method's
    scores over that pool to [0, 1] (min-max) and ranks by
    ``dense_weight * dense + (1 - dense_weight) * keyword``.
    """

    mode: str = "hybrid"
    dense_weight: float = 0.5
    candidates: int = 100

    def __post_init__(self):
        if self.mode not in MODES:
            raise InvalidQuery(f"retrieval mode {self.mode!r} is unknown; use one of {', '.join(MODES)}")


def check_k(k: int, index: LoadedIndex) -> None:
    """Raise InvalidQuery unless 1 <= k <= the number of chunks in the index."""
    if k < 1:
        raise InvalidQuery(f"k of {_shown(k)} is too small; use -k 1 or more")
    if k > index.size:
        raise InvalidQuery(
            f"k of {_shown(k)} is larger than the {index.size} chunks in the index; use -k {index.size} or less"
        )


def _shown(k: int) -> str:
    """``k`` for a message: a 309-digit number (``-k 1e308`` through the API) is no help to read back."""
    return str(k) if abs(k) < 10**9 else ("below -1,000,000,000" if k < 0 else "over 1,000,000,000")


def retrieve(
    index: LoadedIndex,
    queries: Sequence[str],
    query_vectors: np.ndarray,
    k: int,
    settings: RetrievalSettings = RetrievalSettings(),
) -> list[list[Hit]]:
    """The top ``k`` chunks for each query, best first, by ``settings.mode``."""
    check_k(k, index)
    results = []
    for query, vector in zip(queries, query_vectors):
        # Both raw scores go with every hit, whatever the mode: the answer models read them.
        keyword_scores = index.keyword.scores(query)
        if settings.mode == "dense":
            rows, scores = _dense_top(index, vector, k)
            results.append(_hits(index, rows, scores, scores, keyword_scores[rows]))
            continue
        if settings.mode == "keyword":
            rows = _top(keyword_scores, k)
            results.append(_hits(index, rows, keyword_scores[rows], index.dense_scores(rows, vector), keyword_scores[rows]))
            continue
        pool = min(index.size, max(settings.candidates, k))
        candidates = np.union1d(_dense_top(index, vector, pool)[0], _top(keyword_scores, pool))
        dense = index.dense_scores(candidates, vector)
        fused = settings.dense_weight * _min_max(dense) + (1 - settings.dense_weight) * _min_max(keyword_scores[candidates])
        order = np.argsort(-fused, kind="stable")[:k]
        rows = candidates[order]
        results.append(_hits(index, rows, fused[order], dense[order], keyword_scores[rows]))
    return results


def _dense_top(index: LoadedIndex, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the ``k`` nearest chunks by inner product (cosine on normalised vectors)."""
    return index.dense_search(vector, k)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(scores))
    rows = np.argpartition(-scores, k - 1)[:k]
    return rows[np.argsort(-scores[rows], kind="stable")]


def _min_max(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        return np.zeros_like(values) if high <= 0 else np.ones_like(values)
    return (values - low) / (high - low)


def _hits(index: LoadedIndex, rows, scores, dense, keyword) -> list[Hit]:
    return [
        Hit(index.chunks[int(row)], float(scores[i]), i + 1,
            dense_score=None if dense is None else float(dense[i]),
            keyword_score=None if keyword is None else float(keyword[i]))
        for i, row in enumerate(rows)
    ]
