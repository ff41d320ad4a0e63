"""The reader on ONNX Runtime: the tokens transformers would give, torch's logits, an export made
once (by a build when it can), checked and remade when damaged."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from docqa.embedding import model_path
from docqa.errors import InvalidSetting
from docqa.reader import SHIPPED_WITH_READER, PairTokenizer, Reader, encode_pairs, export_path, reader_pair, shipped_reader_path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "reader.json"
SHIPPED = all((shipped_reader_path().parent / name).is_file() for name in SHIPPED_WITH_READER)

PAIRS = [
    reader_pair("Which company did the working group collaborate with in 2010?",
                "The second meeting was held in collaboration with Microsoft.",
                "The first meeting was hosted by the German Foreign Office."),
    reader_pair("wer leitet die Arbeitsgruppe? Zoë's café in Zürich — “quoted”, 1,234.5 km² …", "Ünïcode naïve résumé."),
    # a question longer than the reader's 40 question tokens, a sentence longer than the 80 in all
    reader_pair("What " + "unbelievably long and winding " * 12 + "question is this?", "A sentence " * 60),
    reader_pair("?", "x"),
    reader_pair("Who?", "a" * 400, "b " * 100),
]


def test_the_pair_tokenizer_gives_the_ids_transformers_gives():
    from transformers import AutoTokenizer

    expected = encode_pairs(AutoTokenizer.from_pretrained(str(model_path())), PAIRS, padding=True, return_tensors="np")
    got = PairTokenizer(model_path())(PAIRS)
    for name, ids in got.items():
        assert ids.tolist() == expected[name].tolist(), name
    assert got["input_ids"].shape[1] == 80  # the longest pair, cut to the reader's window


shipped_only = pytest.mark.skipif(not SHIPPED, reason="the reader's files are not in the package")


@pytest.mark.slow
@shipped_only
def test_onnx_reproduces_the_training_scripts_logits(module_cache):
    """benchmarks/results/reader.json lists held-out pairs with their logits at the end of training
    (tests/test_reader_shipped.py checks torch's against them)."""
    pairs = json.loads(RESULTS.read_text())["reproduce"]
    read = [reader_pair(p["question"], p["sentence"], p["previous"]) for p in pairs]
    expected = np.array([p["logit"] for p in pairs])
    assert np.abs(Reader(engine="onnx").logits(read) - expected).max() < 1e-3


@pytest.mark.slow
@shipped_only
def test_the_export_is_made_once_and_remade_when_damaged(module_cache, monkeypatch):
    path = export_path(shipped_reader_path(), module_cache)
    first = Reader(engine="onnx").logits(PAIRS)
    assert path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == path.with_suffix(".sha256").read_text().strip()
    made = path.stat().st_mtime_ns
    monkeypatch.setattr(Reader, "_torch", property(lambda self: pytest.fail("torch loaded with a good export there")))
    assert np.allclose(Reader(engine="onnx").logits(PAIRS), first, atol=1e-5)
    assert path.stat().st_mtime_ns == made
    monkeypatch.undo()
    monkeypatch.setenv("DOCQA_CACHE", str(module_cache))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    path.write_bytes(bytes(data))
    assert np.allclose(Reader(engine="onnx").logits(PAIRS), first, atol=1e-5)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == path.with_suffix(".sha256").read_text().strip()


@pytest.mark.slow
@shipped_only
def test_torch_reads_without_any_export(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCQA_CACHE", str(tmp_path))
    monkeypatch.setenv("DOCQA_ENGINE", "torch")
    assert Reader().logits(PAIRS[:1]).shape == (1,)
    assert not (tmp_path / "models").exists()


@pytest.mark.slow
@shipped_only
def test_without_onnx_runtime_auto_reads_on_torch_and_onnx_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCQA_CACHE", str(tmp_path))
    monkeypatch.setattr("docqa.onnx_encoder.onnx_runtime_installed", lambda: False)
    assert Reader().logits(PAIRS[:1]).shape == (1,)
    assert not (tmp_path / "models").exists()
    with pytest.raises(InvalidSetting, match="pip install onnxruntime"):
        Reader(engine="onnx").logits(PAIRS[:1])


@pytest.mark.slow
@shipped_only
def test_a_build_exports_the_reader_so_that_questions_need_no_torch(small_corpus, tmp_path, monkeypatch):
    from docqa.embedding import MiniLMEmbedder
    from docqa.pipeline import Pipeline

    monkeypatch.setenv("DOCQA_CACHE", str(tmp_path / "cache"))
    pipeline = Pipeline(small_corpus, tmp_path / "index", embedder=MiniLMEmbedder())
    assert pipeline.reader is not None
    pipeline.ensure_index()
    assert export_path(shipped_reader_path(), tmp_path / "cache").with_suffix(".sha256").exists()


@pytest.mark.slow
@shipped_only
def test_a_reader_is_opened_ahead_only_when_its_export_is_there(module_cache, tmp_path, monkeypatch):
    import threading

    def opened_ahead(reader):
        reader.open_in_background()
        for thread in threading.enumerate():
            if thread.name == "docqa-reader-open":
                thread.join()
        return "_onnx" in reader.__dict__

    Reader(engine="onnx").logits(PAIRS[:1])  # the module's cache has the export now
    assert opened_ahead(Reader())
    monkeypatch.setenv("DOCQA_CACHE", str(tmp_path))  # a cache without one: the first question makes it
    assert not opened_ahead(Reader())
    assert not (tmp_path / "models").exists()
