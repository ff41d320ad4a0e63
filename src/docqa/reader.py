"""The reader: a cross-encoder that reads a question with a candidate sentence and gives the
probability that the sentence answers it.

It is all-MiniLM-L6-v2's transformer (the packaged embedding model's weights), fine-tuned by
``training/train_reader.py`` to read ``question [SEP] sentence [SEP] sentence before it``, with
a linear head over the mean of its token vectors. Its word embeddings stay those of the
packaged model, so the shipped file (``docqa/models/reader.safetensors``, fp16) holds only the
trained layers and the head.

Questions are read on ONNX Runtime, as the embedding model's are (``onnx_encoder.py``): the
reader is exported once with torch into docqa's cache (fp32: its logits are torch's), the file
named after the weights it came from and checked against its hash on every load. A build
exports it while torch is loaded anyway, so that ``ask`` never imports torch.
``DOCQA_ENGINE=torch`` reads on torch.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import warnings
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

logger = logging.getLogger(__name__)

READER_FILE = "reader.safetensors"
# Question, sentence and the sentence before it, in model tokens with the special ones; a longer
# pair loses the end of its longer part first (the context before the sentence itself).
MAX_TOKENS = 80
MAX_QUESTION_TOKENS = 40
# What stays the packaged model's: the word, position and type embeddings.
FROZEN_PREFIX = "embeddings."
# The models that combine the reader with the sentence ranker (training/fit_answer_stage.py):
# for a sentence, its reader logit and the ranker's logit; for the decline, the best reader
# logit, the best combined logit and the feature-based answerability model's logit. A sentence
# the reader did not read (beyond the ranker's best few) counts as READER_FLOOR.
READER_SENTENCE_FEATURES = ("reader_logit", "ranker_logit")
READER_QUESTION_FEATURES = ("reader_best_logit", "combined_best_logit", "answerability_logit")
READER_FLOOR = -10.0
# Bump when the ONNX export changes: a new file name, so old exports are not used.
EXPORT_FORMAT = 3
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def reader_pair(question: str, sentence: str, previous: str = "") -> tuple[str, str]:
    """The two texts the reader reads: the question, and the sentence with the one before it."""
    sentence = " ".join(sentence.split())
    previous = " ".join(previous.split())
    return " ".join(question.split()), f"{sentence} [SEP] {previous}" if previous else sentence


def shipped_reader_path() -> Path:
    return Path(str(resources.files("docqa").joinpath("models", READER_FILE)))


# What the answer stage needs to use the reader: its weights and the two models that combine it.
SHIPPED_WITH_READER = (READER_FILE, "reader_combiner.json", "reader_answerability.json")


def default_reader(remember: bool = False) -> "Reader | None":
    """The shipped reader, or None when ``DOCQA_READER=off`` or its files are not shipped (then
    the sentence ranker alone chooses the sentences, and the feature model decides declines).
    ``remember``: see ``Reader``."""
    from .config import reader_enabled

    models = resources.files("docqa").joinpath("models")
    if not reader_enabled() or not all(models.joinpath(name).is_file() for name in SHIPPED_WITH_READER):
        return None
    return Reader(remember=remember)


class ReaderNetwork:
    """Builds the torch module: the packaged MiniLM with a head (imported lazily)."""

    @staticmethod
    def build(base_path: Path):
        import torch
        from transformers import AutoModel

        class Network(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = AutoModel.from_pretrained(str(base_path))
                self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

            def forward(self, input_ids, attention_mask, token_type_ids):
                hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                return self.head(pooled).squeeze(-1)

        return Network()


def trained_state(network) -> dict:
    """The weights the reader's training changes (all but the frozen embeddings), as fp16 tensors."""
    return {name: tensor.detach().to("cpu").half().contiguous()
            for name, tensor in network.state_dict().items()
            if not name.startswith("encoder." + FROZEN_PREFIX)}


def short_question(tokenizer, question: str) -> str:
    """The question cut to its first ``MAX_QUESTION_TOKENS`` tokens, so that a long one leaves room for the sentence."""
    return tokenizer.convert_tokens_to_string(tokenizer.tokenize(question)[:MAX_QUESTION_TOKENS])


def encode_pairs(tokenizer, pairs: Sequence[tuple[str, str]], **padding):
    """Token ids for ``pairs`` of (question, sentence text); by default padded to the longest, as torch tensors."""
    padding = padding or {"padding": True, "return_tensors": "pt"}
    return tokenizer([short_question(tokenizer, q) for q, _ in pairs], [b for _, b in pairs],
                     truncation="longest_first", max_length=MAX_TOKENS, **padding)


def export_path(weights: Path, cache_dir: Path) -> Path:
    """Where the ONNX export of the reader ``weights`` lives: named by what it was made from."""
    from .embedding import model_path

    made_from = [str(EXPORT_FORMAT)]
    for source in (weights, model_path() / "model.safetensors"):
        made_from.append(f"{source.resolve()}:{source.stat().st_size}:{source.stat().st_mtime_ns}")
    digest = hashlib.sha256(":".join(made_from).encode()).hexdigest()[:16]
    return cache_dir / "models" / f"reader-{digest}.onnx"


def export(network, tokenizer, path: Path) -> None:
    """Write the torch ``network`` to ``path`` as ONNX, then its hash."""
    import torch

    from .onnx_encoder import write_checked

    # traced on a padded batch, so that no branch of the model is taken for a batch without padding
    example = encode_pairs(tokenizer, [("who wrote it?", "A long sentence of several words. [SEP] Before."), ("why?", "No.")])

    def write(temporary: Path) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the model's Python branches
            torch.onnx.export(network.eval(), tuple(example[name] for name in INPUTS), str(temporary), dynamo=False,
                              input_names=list(INPUTS), output_names=["logit"], opset_version=17,
                              dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in INPUTS}, "logit": {0: "batch"}})

    write_checked(path, write)
    logger.info("exported the reader to %s, for questions read without torch", path)


class PairTokenizer:
    """Token ids of (question, sentence text) pairs as ``encode_pairs`` makes them, with the
    tokenizers library alone (transformers imports in seconds; this in milliseconds)."""

    def __init__(self, base: Path) -> None:
        from tokenizers import Tokenizer

        self.words = Tokenizer.from_file(str(base / "tokenizer.json"))
        self.words.no_truncation()
        self.words.no_padding()
        self.pairs = Tokenizer.from_file(str(base / "tokenizer.json"))
        self.pairs.enable_truncation(MAX_TOKENS, strategy="longest_first")
        self.pairs.enable_padding(pad_id=0, pad_token="[PAD]")

    def short_question(self, question: str) -> str:
        ids = self.words.encode(question, add_special_tokens=False).ids
        return question if len(ids) <= MAX_QUESTION_TOKENS else self.words.decode(ids[:MAX_QUESTION_TOKENS])

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
        encodings = self.pairs.encode_batch([(self.short_question(q), b) for q, b in pairs])
        return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}


class Reader:
    """Scores (question, sentence) pairs with the shipped reader, on the CPU.

    Args:
        weights: a safetensors file of trained weights (default: the shipped one).
        batch_size: pairs per forward pass.
        remember: keep every pair's logit, and read a pair seen before from memory (an
            evaluation that asks the same questions under several configurations reads each
            (question, sentence) pair once).
        engine: "onnx" (its export), "torch", or None for what ``DOCQA_ENGINE`` says
            ("auto": ONNX Runtime when it is installed and the export can be made).
    """

    def __init__(self, weights: Path | None = None, batch_size: int = 32, remember: bool = False,
                 engine: str | None = None) -> None:
        self.weights = Path(weights) if weights is not None else shipped_reader_path()
        self.batch_size = batch_size
        self.engine = engine
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()  # one thread opens (or exports) the ONNX reader
        self._memory: dict[tuple[str, str], float] | None = {} if remember else None

    @cached_property
    def _torch(self):
        """The network on torch, its tokenizer and torch itself (seconds to import)."""
        import torch
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        from .embedding import model_path

        base = model_path()
        if not self.weights.is_file():
            raise FileNotFoundError(f"the reader's weights are missing: {self.weights}; reinstall docqa "
                                    f"or run training/train_reader.py")
        network = ReaderNetwork.build(base)
        state = {name: tensor.float() for name, tensor in load_file(str(self.weights)).items()}
        missing, unexpected = network.load_state_dict(state, strict=False)
        not_frozen = [name for name in missing if not name.startswith("encoder." + FROZEN_PREFIX)]
        if not_frozen or unexpected:
            raise RuntimeError(f"{self.weights} does not fit the reader: missing {not_frozen[:3]}, "
                               f"unexpected {list(unexpected)[:3]}; run training/train_reader.py")
        network.eval()
        return network, AutoTokenizer.from_pretrained(str(base)), torch

    @cached_property
    def _onnx(self):
        """An ONNX Runtime session of the export and the tokenizer for it, or None to read on torch.

        The export is made (with torch, once) when missing or damaged; when that fails, "auto"
        logs it and reads on torch, "onnx" stops with what to do.
        """
        from .embedding import model_path
        from .onnx_encoder import checked_session, could_not_run, runs_on_onnx

        engine = self._engine()
        if not runs_on_onnx(engine):
            return None
        try:
            path = self._export_path()
            session = checked_session(path, threads=2)
            if session is None:  # first use, or a damaged export
                self.export(path)
                session = checked_session(path, threads=2)
            if session is None:
                raise RuntimeError(f"the export at {path} does not match its hash after writing it")
            return session, PairTokenizer(model_path())
        except Exception as error:
            could_not_run(engine, "reader", "it reads on torch", error)
            return None

    def _engine(self) -> str:
        from . import config

        return self.engine or config.embedding_engine()

    def _export_path(self) -> Path:
        from . import config

        return export_path(self.weights, config.cache_dir())

    def export(self, path: Path) -> None:
        """Export the reader for ONNX Runtime to ``path``, with torch."""
        network, tokenizer, _ = self._torch
        export(network, tokenizer, path)

    def open_in_background(self) -> None:
        """Open the ONNX reader on a thread, when its export is there: a new process's first
        question then finds it open, its opening done while the question was embedded and
        searched. Without an export, nothing: the first question makes it."""
        if self._engine() == "torch":
            return
        try:
            exported = self._export_path().with_suffix(".sha256").exists()
        except OSError:  # no weights: the first question says so
            return
        if exported:
            threading.Thread(target=self._open_quietly, name="docqa-reader-open", daemon=True).start()

    def _open_quietly(self) -> None:
        try:
            self._session()
        except Exception:  # not cached: the question that needs the reader opens it again and reports why
            logger.debug("opening the reader ahead of the question failed", exc_info=True)

    def _session(self):
        """``_onnx``, opened by one thread at a time."""
        with self._open_lock:
            return self._onnx

    def export_while_torch_is_loaded(self) -> None:
        """Make the ONNX export now if torch is imported already (a build): the questions that
        follow, in this process or another, are then read without importing torch. Never fails."""
        import sys

        from .onnx_encoder import onnx_runtime_installed

        if "torch" not in sys.modules or self._engine() == "torch":
            return
        try:
            path = self._export_path()
            with self._open_lock:
                if onnx_runtime_installed() and not path.with_suffix(".sha256").exists():
                    self.export(path)
        except Exception:  # a read-only cache, no weights: the first question exports or reads on torch
            logger.warning("could not export the reader to ONNX now", exc_info=True)

    def logits(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """The reader's logit for each (question, sentence text) pair of ``reader_pair``."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        if self._memory is not None:
            unseen = list(dict.fromkeys(pair for pair in pairs if pair not in self._memory))
            if unseen:
                self._memory.update(zip(unseen, self._read(unseen).tolist()))
            return np.array([self._memory[pair] for pair in pairs], dtype=np.float32)
        return self._read(pairs)

    def _read(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        # pairs of like length together: less padding
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        batches = [order[begin : begin + self.batch_size] for begin in range(0, len(order), self.batch_size)]
        out = np.zeros(len(pairs), dtype=np.float32)
        onnx = self._session()
        if onnx is not None:
            session, tokenizer = onnx
            for batch in batches:
                out[batch] = session.run(["logit"], tokenizer([pairs[i] for i in batch]))[0]
            return out
        network, tokenizer, torch = self._torch
        with self._lock, torch.inference_mode():
            for batch in batches:
                encoded = encode_pairs(tokenizer, [pairs[i] for i in batch])
                out[batch] = network(encoded["input_ids"], encoded["attention_mask"],
                                     encoded["token_type_ids"]).float().numpy()
        return out
