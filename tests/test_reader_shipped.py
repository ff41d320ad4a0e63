"""The shipped reader: the file in the package gives, on torch, the logits the training script
measured (benchmarks/results/reader.json lists held-out pairs with their logits at the end of
training; tests/test_reader_onnx.py checks the ONNX export against them too), and the answer
stage picks it up."""

import json
from pathlib import Path

import numpy as np
import pytest

from docqa.reader import SHIPPED_WITH_READER, Reader, default_reader, reader_pair, shipped_reader_path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "reader.json"
MODELS = shipped_reader_path().parent
SHIPPED = all((MODELS / name).is_file() for name in SHIPPED_WITH_READER)

pytestmark = pytest.mark.skipif(not SHIPPED, reason="the reader's files are not in the package (docqa answers without it)")


@pytest.mark.slow
def test_the_shipped_weights_reproduce_the_training_scripts_held_out_logits():
    report = json.loads(RESULTS.read_text())
    assert report["weights"]["bytes"] == shipped_reader_path().stat().st_size, "reader.json describes another file"
    pairs = report["reproduce"]
    got = Reader(engine="torch").logits([reader_pair(p["question"], p["sentence"], p["previous"]) for p in pairs])
    expected = np.array([p["logit"] for p in pairs])
    assert len(pairs) >= 10 and np.abs(got - expected).max() < 1e-3, np.abs(got - expected).max()


def test_the_reader_is_on_unless_turned_off(monkeypatch):
    monkeypatch.delenv("DOCQA_READER")
    assert isinstance(default_reader(), Reader)
    monkeypatch.setenv("DOCQA_READER", "off")
    assert default_reader() is None
