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


def reader_enabled() -> bool:
    """False when ``DOCQA_READER`` is ``off`` or ``0``: answers are chosen without the reader
    (faster, and what docqa does when the reader's files are not shipped)."""
    return os.environ.get("DOCQA_READER", "on").strip().lower() not in ("off", "0", "false", "no")


def progress_enabled() -> bool:
    """False when ``DOCQA_NO_PROGRESS`` is set to anything but empty or 0."""
    return os.environ.get("DOCQA_NO_PROGRESS", "") in ("", "0")


def cache_dir() -> Path:
    """``DOCQA_CACHE`` or ``~/.cache/docqa``: where ``docqa eval`` keeps datasets' indexes."""
    return Path(os.environ.get("DOCQA_CACHE", Path.home() / ".cache" / "docqa"))


def test_pause() -> tuple[str, str] | None:
    """``DOCQA_TEST_PAUSE=stage:signal-file``, set by crash tests only: the build stage to wait at
    (to be killed there) and the file that says it is waiting. None when unset."""
    value = os.environ.get("DOCQA_TEST_PAUSE", "")
    stage, _, signal_file = value.partition(":")
    return (stage, signal_file) if stage and signal_file else None


DEFAULT_MAX_FILE_MB = 50


def max_file_bytes() -> int:
    """``DOCQA_MAX_FILE_MB`` (default 50) in bytes: PDF, Word and HTML files larger than this are
    skipped, unread (they are parsed whole, in memory; text and Markdown are read in parts)."""
    value = os.environ.get("DOCQA_MAX_FILE_MB", "")
    try:
        megabytes = float(value) if value.strip() else DEFAULT_MAX_FILE_MB
    except ValueError:
        megabytes = DEFAULT_MAX_FILE_MB
    return int(max(megabytes, 0) * 2**20)


def auth_credentials() -> list[tuple[str, str]]:
    """Who may log in to the app: ``DOCQA_AUTH=user:password``, and/or ``DOCQA_AUTH_FILE`` naming a
    file of ``user:password`` lines (``#`` comments and blank lines ignored). Empty: no login.

    Raises:
        DocqaError: a value or line without ``user:password``, or an unreadable file.
    """
    from .errors import DocqaError

    entries = []
    if os.environ.get("DOCQA_AUTH"):
        entries.append(("DOCQA_AUTH", os.environ["DOCQA_AUTH"]))
    path = os.environ.get("DOCQA_AUTH_FILE", "")
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise DocqaError(f"DOCQA_AUTH_FILE {path!r} cannot be read ({error}); "
                             f"give a file of user:password lines") from None
        entries += [(f"{path}, line {n}", line.strip()) for n, line in enumerate(lines, 1)
                    if line.strip() and not line.lstrip().startswith("#")]
    credentials = []
    for where, entry in entries:
        user, separator, password = entry.partition(":")
        if not separator or not user.strip() or not password:
            raise DocqaError(f"{where}: expected user:password (a user name, a colon, a password that is not empty)")
        credentials.append((user.strip(), password))
    return credentials


PRECISIONS = ("fp32", "bf16")
VECTOR_STORAGES = ("float32", "float16", "sq8")
ENGINES = ("auto", "torch", "onnx")
DEVICES = ("auto", "cpu", "cuda")


def embedding_precision() -> str:
    """``DOCQA_PRECISION``: "fp32" (default) or "bf16" (used only on CPUs with native bfloat16).

    Raises:
        InvalidSetting: another value.
    """
    return _choice("DOCQA_PRECISION", PRECISIONS)


def vector_storage() -> str:
    """``DOCQA_VECTOR_STORAGE``: how a new index stores chunk vectors: "float32" (default), "float16" or "sq8".

    Raises:
        InvalidSetting: another value.
    """
    return _choice("DOCQA_VECTOR_STORAGE", VECTOR_STORAGES)


def embedding_engine() -> str:
    """``DOCQA_ENGINE``: what runs the embedding model. "auto" (default): questions on ONNX
    Runtime (no torch to import, so a command answers in about a second), builds on torch;
    "torch" or "onnx": everything on that one.

    Raises:
        InvalidSetting: another value.
    """
    return _choice("DOCQA_ENGINE", ENGINES)


def embedding_device() -> str:
    """``DOCQA_DEVICE``: where the embedding model runs with torch: "auto" (default: a CUDA GPU
    when torch sees one, else the CPU), "cpu" or "cuda" (the CPU, with a warning, without one).

    Raises:
        InvalidSetting: another value.
    """
    return _choice("DOCQA_DEVICE", DEVICES)


def check_settings() -> None:
    """Read every setting that has a fixed set of values, so that a wrong one stops a command
    before it does any work (not, say, after an hour of embedding, when the index is written).

    Raises:
        InvalidSetting: the first unknown value, naming the valid ones.
    """
    embedding_precision()
    vector_storage()
    embedding_engine()
    embedding_device()


def _choice(variable: str, choices: tuple[str, ...]) -> str:
    """The value of ``variable`` (the first of ``choices`` when unset or empty), one of ``choices``."""
    from .errors import InvalidSetting

    value = os.environ.get(variable, "").strip().lower() or choices[0]
    if value not in choices:
        raise InvalidSetting(f"{variable}={os.environ[variable]!r} is unknown; use one of {', '.join(choices)}, "
                             f"or leave it unset")
    return value
