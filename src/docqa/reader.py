"""The reader: a cross-encoder that reads a question with a candidate sentence and gives the
probability that the sentence answers it.

It is all-MiniLM-L6-v2's transformer (the packaged embedding model's weights), fine-tuned by
``training/train_reader.py`` to read ``question [SEP] sentence [SEP] sentence before it``, with
a linear head over the mean of its token vectors. Its word embeddings stay those of the
packaged model, so the shipped file (``docqa/models/reader.safetensors``, fp16) holds only the
trained layers and the head. torch loads on first use.
"""

from __future__ import annotations

import threading
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

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


class Reader:
    """Scores (question, sentence) pairs with the shipped reader, on the CPU.

    Args:
        weights: a safetensors file of trained weights (default: the shipped one).
        batch_size: pairs per forward pass.
        remember: keep every pair's logit, and read a pair seen before from memory (an
            evaluation that asks the same questions under several configurations reads each
            (question, sentence) pair once).
    """

    def __init__(self, weights: Path | None = None, batch_size: int = 32, remember: bool = False) -> None:
        self.weights = Path(weights) if weights is not None else shipped_reader_path()
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._memory: dict[tuple[str, str], float] | None = {} if remember else None

    @cached_property
    def _loaded(self):
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
        network, tokenizer, torch = self._loaded
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        out = np.zeros(len(pairs), dtype=np.float32)
        with self._lock, torch.inference_mode():
            for begin in range(0, len(order), self.batch_size):
                batch = order[begin : begin + self.batch_size]
                encoded = encode_pairs(tokenizer, [pairs[i] for i in batch])
                out[batch] = network(encoded["input_ids"], encoded["attention_mask"],
                                     encoded["token_type_ids"]).float().numpy()
        return out
