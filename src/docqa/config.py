"""The one place that reads ``DOCQA_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path


def default_corpus_dir() -> Path:
    """``DOCQA_CORPUS`` or ``corpus/`` in the working directory."""
    return Path(os.environ.get("DOCQA_CORPUS", "corpus"))


def default_index_dir() -> Path:
    """``DOCQA_INDEX`` or ``index/`` in the working directory."""
    return Path(os.environ.get("DOCQA_INDEX", "index"))


def progress_enabled() -> bool:
    """False when ``DOCQA_NO_PROGRESS`` is set to anything but empty or 0."""
    return os.environ.get("DOCQA_NO_PROGRESS", "") in ("", "0")


def cache_dir() -> Path:
    """``DOCQA_CACHE`` or ``~/.cache/docqa``: where ``docqa eval`` keeps datasets' indexes."""
    return Path(os.environ.get("DOCQA_CACHE", Path.home() / ".cache" / "docqa"))


def embedding_precision() -> str:
    """``DOCQA_PRECISION``: "fp32" (default) or "bf16" (used only on CPUs with native bfloat16)."""
    return os.environ.get("DOCQA_PRECISION", "fp32").strip().lower() or "fp32"


def vector_storage() -> str:
    """``DOCQA_VECTOR_STORAGE``: how a new index stores chunk vectors: "float32" (default), "float16" or "sq8"."""
    return os.environ.get("DOCQA_VECTOR_STORAGE", "float32").strip().lower() or "float32"
