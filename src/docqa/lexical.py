"""BM25 keyword search over chunks (bm25s), stored as arrays and JSON: no pickle."""

from __future__ import annotations

import logging
from array import array
from pathlib import Path
from typing import Sequence

import numpy as np

from .terms import content_terms

logger = logging.getLogger(__name__)

def _quiet_bm25s() -> None:
    # bm25s sets its own logger to DEBUG when imported and logs every build there.
    logging.getLogger("bm25s").setLevel(logging.WARNING)

BM25_PARAMETERS = {"k1": 1.5, "b": 0.75, "method": "lucene", "tokens": "snowball-english-stopwords-american-spelling-2"}


class KeywordIndex:
    """BM25 scores of chunks for a query, over the same stemmed terms the answerer uses."""

    def __init__(self, model):
        self._model = model

    @classmethod
    def build(cls, texts: Sequence[str]) -> "KeywordIndex":
        import bm25s

        _quiet_bm25s()
        model = bm25s.BM25(k1=BM25_PARAMETERS["k1"], b=BM25_PARAMETERS["b"], method=BM25_PARAMETERS["method"])
        # Terms become ids here, numbered in order of first use: a chunk's terms are then an
        # array of 4-byte ints, not a list of strings (a large corpus builds in a fraction of the
        # memory), and the same chunks always give the same vocabulary file.
        vocabulary: dict[str, int] = {}
        ids = [array("i", [vocabulary.setdefault(term, len(vocabulary)) for term in content_terms(text)])
               for text in texts]
        model.index((ids, vocabulary), show_progress=False)
        return cls(model)

    def save(self, folder: Path) -> None:
        self._model.save(str(folder), allow_pickle=False, show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "KeywordIndex":
        import bm25s

        _quiet_bm25s()
        model = bm25s.BM25.load(str(folder), allow_pickle=False, mmap=False, show_progress=False)
        _check_arrays(model)
        return cls(model)

    @property
    def size(self) -> int:
        return int(self._model.scores["num_docs"])

    def document_frequencies(self) -> dict[str, int]:
        """In how many chunks each term occurs, read from the stored BM25 matrix.

        Each term's column holds a score for every chunk that has the term (Lucene's BM25 gives
        every occurrence a positive score), so its length is the term's document frequency:
        the same counts as ``features.term_statistics`` over the chunks, without reading them
        again (8.0 s for 100k chunks, benchmarks/speed.py).
        """
        counts = np.diff(np.asarray(self._model.scores["indptr"]))
        return {term: int(counts[column]) for term, column in self._model.vocab_dict.items()
                if term and column < len(counts)}

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every chunk, in index order (zeros when no query term is known)."""
        vocabulary = self._model.vocab_dict
        terms = [t for t in content_terms(query) if t in vocabulary]
        if not terms:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores(terms), dtype=np.float32)


def _check_arrays(model) -> None:
    """Check the loaded BM25 matrix (a term's column: ``indices`` and ``data`` from ``indptr[t]`` to
    ``indptr[t + 1]``) for what checksums rewritten by a tamperer would not catch: a chunk
    number out of range fails at question time, a shortened ``indptr`` gives wrong scores silently.

    Raises:
        ValueError: the arrays disagree with each other, the vocabulary or the chunk count.
    """
    scores = model.scores
    data, indices, indptr = (np.asarray(scores[name]) for name in ("data", "indices", "indptr"))
    chunks = scores.get("num_docs")
    if not all(isinstance(column, int) and column >= 0 for column in model.vocab_dict.values()):
        raise ValueError("the keyword index is inconsistent: its vocabulary maps terms to other than column numbers")
    # bm25s adds the empty term after the others, with no column of its own
    columns = max((column for term, column in model.vocab_dict.items() if term), default=-1) + 1
    problem = None
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks < 0:
        problem = f"its chunk count is {chunks!r}"
    elif data.ndim != 1 or indices.ndim != 1 or indptr.ndim != 1 or len(data) != len(indices):
        problem = "its arrays have different shapes"
    elif not (np.issubdtype(indices.dtype, np.integer) and np.issubdtype(indptr.dtype, np.integer)):
        problem = "its positions are not whole numbers"
    elif len(indptr) < columns + 1 or indptr[0] != 0 or indptr[-1] != len(data) or np.any(np.diff(indptr) < 0):
        problem = f"its {len(indptr):,} column starts do not fit its {columns:,} terms and {len(data):,} entries"
    elif len(indices) and (indices.min() < 0 or indices.max() >= chunks):
        problem = f"it names chunks outside 0-{chunks - 1}"
    elif not np.all(np.isfinite(data)):
        problem = "its scores are not all finite numbers"
    if problem:
        raise ValueError(f"the keyword index is inconsistent: {problem}")
