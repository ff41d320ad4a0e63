"""The committed index of the default corpus must match the corpus and the code."""

from docqa.embedding import MiniLMEmbedder
from docqa.index import load_index
from docqa.pipeline import Pipeline

from conftest import ROOT


def test_committed_index_is_fresh():
    pipeline = Pipeline(ROOT / "corpus", ROOT / "index", embedder=MiniLMEmbedder())  # no weights loaded
    assert pipeline.stale_reasons() == [], "run `docqa index` in the project folder and commit index/"


def test_committed_index_loads_and_quotes_its_documents():
    index = load_index(ROOT / "index")
    assert index.size >= 3
    assert set(index.documents) == {"un-working-group-internet-terrorist-purposes.txt"}
