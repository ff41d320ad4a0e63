"""Shared fixtures: a deterministic fake embedder and small corpora."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from docqa.terms import content_terms

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "un-working-group-internet-terrorist-purposes.txt"
SHARED = ROOT.parent / "shared"


class HashingEmbedder:
    """Bag of stemmed content words hashed into 64 dimensions, L2-normalised.

    Deterministic and instant: texts that share words get exactly computable cosines.
    A token is a run of non-space characters.
    """

    name = "test/hashing-bag-of-words"
    dimension = 64
    max_tokens = 254

    def __init__(self):
        self.calls: list[int] = []

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"\S+", text)]

    def embed(self, texts, *, progress: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        return self._vectors(texts)

    def embed_passages(self, texts, sentence_spans, *, progress: bool = False):
        """One pass, as the real model makes it: a sentence's vector pools the words of its span."""
        vectors = self.embed(texts)
        return vectors, [self._vectors([text[a:b] for a, b in spans]) for text, spans in zip(texts, sentence_spans)]

    def _vectors(self, texts) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in content_terms(text):
                vectors[row, zlib.crc32(term.encode()) % self.dimension] += 1.0
            norm = np.linalg.norm(vectors[row])
            if norm > 0:
                vectors[row] /= norm
        return vectors


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


SMALL_CORPUS = {
    "meetings.txt": (
        "In 2010, the working group organized two expert meetings. The first meeting was hosted "
        "by the German Foreign Office. The second meeting was held in collaboration with Microsoft.\n\n"
        "These discussions expanded in 2011 with a conference in Riyadh."
    ),
    "notes/films.md": (
        "# Films\n\nThe monitoring team produced documentaries on repentant terrorists. "
        "It released the first film in 2011. An additional film is planned for release in 2012."
    ),
    "report.txt": (
        "The February 2009 report gives an overview of the approaches taken by member states. "
        "The report recommends actions for the United Nations."
    ),
}


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    for name, text in SMALL_CORPUS.items():
        path = corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return corpus


@pytest.fixture(autouse=True)
def reader_only_with_the_real_model(request, monkeypatch):
    """Tests with the fake embedder check docqa's workings without the reader (which would take
    seconds to load in each process, and reads real text only); tests marked ``slow`` run the
    answer stage as it ships, reader included."""
    if request.node.get_closest_marker("slow") is None:
        monkeypatch.setenv("DOCQA_READER", "off")


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """A docqa cache (DOCQA_CACHE) of the test module's own: exports made in it once, by the
    first test that needs them, are the module's and no one else's."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCQA_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the browser tests of a module (tests/browsing.py)."""
    from browsing import launch_chromium

    with launch_chromium() as browser:
        yield browser
