"""The MiniLM encoder on ONNX Runtime: questions are embedded without importing torch.

Importing torch and sentence-transformers takes seconds; ONNX Runtime and its session a
fraction of one. docqa exports the packaged model to ONNX once, with torch, into its cache
(``<cache>/models/``), the file named after the weights it came from and its SHA-256 kept
beside it; every load checks the file against that hash, and a missing or damaged export is
made again. The export is fp32 and gives the token vectors torch gives, so vectors from either
engine meet in one index (tests/test_onnx_encoder.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

logger = logging.getLogger(__name__)

EXPORT_FORMAT = 1  # bump when the export changes: a new file name, so old exports are not used
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "token_embeddings"


def onnx_runtime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def runs_on_onnx(engine: str) -> bool:
    """Whether a model is to run on ONNX Runtime under ``engine`` (``DOCQA_ENGINE``): never for
    "torch", and for "auto" only with onnxruntime installed; "onnx" without it stops, naming the fix."""
    if engine == "torch":
        return False
    if onnx_runtime_installed():
        return True
    if engine == "onnx":
        from .errors import InvalidSetting

        raise InvalidSetting("DOCQA_ENGINE=onnx needs onnxruntime: pip install onnxruntime, or unset DOCQA_ENGINE")
    return False


def could_not_run(engine: str, model: str, instead: str, error: Exception) -> None:
    """Called in the ``except`` block of a failed ONNX load of ``model``: under "onnx" it stops,
    naming the fix; under "auto" it logs ``instead`` (what runs on torch now) and returns."""
    if engine == "onnx":
        from .errors import InvalidSetting

        raise InvalidSetting(f"the {model} could not run on ONNX Runtime ({error}); "
                             f"unset DOCQA_ENGINE to use torch") from error
    logger.warning("the %s could not run on ONNX Runtime; %s", model, instead, exc_info=True)


def export_path(model_dir: Path, cache_dir: Path) -> Path:
    """Where the export of the weights in ``model_dir`` lives: named by what it was made from."""
    weights = model_dir / "model.safetensors"
    made_from = f"{EXPORT_FORMAT}:{weights.resolve()}:{weights.stat().st_size}:{weights.stat().st_mtime_ns}"
    return cache_dir / "models" / f"minilm-{hashlib.sha256(made_from.encode()).hexdigest()[:16]}.onnx"


class OnnxEncoder:
    """An ONNX Runtime session of the encoder: token vectors for a batch of token ids."""

    def __init__(self, session, path: Path):
        self.session = session
        self.path = path

    def token_embeddings(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """float32 ``(batch, tokens, 384)`` for int64 ``ids`` and ``mask`` of shape ``(batch, tokens)``."""
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self.session.run([OUTPUT], feed)[0]


def checked_session(path: Path, threads: int = 1):
    """An ONNX Runtime session of the model at ``path`` when the file is there and matches its
    recorded hash (``<path>.sha256``), else None."""
    import onnxruntime

    digest_file = path.with_suffix(".sha256")
    try:
        expected = digest_file.read_text(encoding="ascii").strip()
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, UnicodeDecodeError):
        return None
    if actual != expected:
        logger.warning("%s does not match its hash (damaged?): exporting the model again", path)
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings are about graph rewrites
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load_checked(path: Path, threads: int = 1) -> OnnxEncoder | None:
    """The encoder at ``path`` when the file is there and matches its recorded hash, else None."""
    session = checked_session(path, threads)
    return None if session is None else OnnxEncoder(session, path)


def write_checked(path: Path, write: Callable[[Path], None]) -> None:
    """Have ``write`` make the file at a temporary name, then rename it to ``path`` and record its hash.

    The hash is written last: a process stopped midway leaves no file that a later load would
    take for a finished export.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        write(temporary)
        digest = hashlib.sha256(temporary.read_bytes()).hexdigest()
        os.replace(temporary, path)
        digest_temporary = path.with_name(f".{path.stem}.sha256.{os.getpid()}")
        digest_temporary.write_text(digest + "\n", encoding="ascii")
        os.replace(digest_temporary, path.with_suffix(".sha256"))
    finally:
        temporary.unlink(missing_ok=True)


def export(transformer, path: Path) -> None:
    """Write ``transformer`` (the BERT model inside the SentenceTransformer) to ``path`` as ONNX, then its hash."""
    import torch

    class TokenVectors(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    # traced on a padded batch, so that no branch of the model is taken for a batch without padding
    ids = torch.full((2, 8), 1012, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0

    def write(temporary: Path) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the model's Python branches
            torch.onnx.export(TokenVectors(transformer).eval(), (ids, mask, torch.zeros_like(ids)),
                              str(temporary), dynamo=False, input_names=list(INPUTS), output_names=[OUTPUT],
                              dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*INPUTS, OUTPUT)},
                              opset_version=17)

    write_checked(path, write)
    logger.info("exported the embedding model to %s, for questions answered without torch", path)
