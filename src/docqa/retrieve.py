"""Dense retrieval over a loaded index."""

from __future__ import annotations

import numpy as np

from .errors import InvalidQuery
from .index import LoadedIndex
from .types import Hit


def check_k(k: int, index: LoadedIndex) -> None:
    """Raise InvalidQuery unless 1 <= k <= the number of chunks in the index."""
    if k < 1:
        raise InvalidQuery(f"k of {k} is too small; use -k 1 or more")
    if k > index.size:
        raise InvalidQuery(
            f"k of {k} is larger than the {index.size} chunks in the index; use -k {index.size} or less"
        )


def search_vectors(index: LoadedIndex, query_vectors: np.ndarray, k: int) -> list[list[Hit]]:
    """The top ``k`` chunks for each query vector, by inner product (cosine on normalised vectors)."""
    check_k(k, index)
    scores, rows = index.vectors.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)
    results: list[list[Hit]] = []
    for query_scores, query_rows in zip(scores, rows):
        hits = [
            Hit(index.chunks[int(row)], float(score), rank)
            for rank, (score, row) in enumerate(zip(query_scores, query_rows), start=1)
            if row >= 0
        ]
        results.append(hits)
    return results
