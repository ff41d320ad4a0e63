"""The embedding model on ONNX Runtime: the same vectors as torch, exported once and checked,
and a `docqa ask` that imports neither torch nor the UI (marked slow: loads the real model)."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from docqa.embedding import MiniLMEmbedder, model_path
from docqa.errors import InvalidSetting
from docqa.onnx_encoder import export_path
from docqa.reader import Reader, shipped_reader_path

from conftest import ROOT

pytestmark = pytest.mark.slow

QUESTIONS = ["Which company did the working group collaborate with in 2010?", "What is the budget of the working group?",
             "wer leitet die Arbeitsgruppe?", "?"]
PASSAGE = ("In 2010, the working group organized two expert meetings. The first was hosted by the German Foreign Office. "
           "The second was held in collaboration with Microsoft.")


@pytest.fixture(scope="module")
def torch_embedder(module_cache):
    return MiniLMEmbedder(engine="torch")


def test_question_and_sentence_vectors_match_torchs(module_cache, torch_embedder):
    onnx = MiniLMEmbedder(engine="onnx")
    cosines = np.sum(onnx.embed(QUESTIONS) * torch_embedder.embed(QUESTIONS), axis=1)
    assert cosines.min() >= 0.9999
    spans = [[(0, 58), (59, 110), (111, len(PASSAGE))]]
    (vector_onnx,), (sentences_onnx,) = onnx.embed_passages([PASSAGE], spans)
    (vector_torch,), (sentences_torch,) = torch_embedder.embed_passages([PASSAGE], spans)
    assert float(vector_onnx @ vector_torch) >= 0.9999
    assert np.sum(sentences_onnx * sentences_torch, axis=1).min() >= 0.9999


def test_auto_takes_onnx_for_questions_and_torch_for_builds(module_cache, torch_embedder, monkeypatch):
    MiniLMEmbedder(engine="auto")._model  # torch loaded: the export is written for later processes
    path = export_path(model_path(), module_cache)
    assert path.exists() and path.with_suffix(".sha256").exists()
    auto = MiniLMEmbedder(engine="auto")
    calls, model = [], torch_embedder._model
    monkeypatch.setattr(type(auto), "_model", property(lambda self: calls.append("torch") or model))
    auto.embed(QUESTIONS[:1])
    assert calls == [] and auto._onnx_encoder is not None  # a question: ONNX Runtime, no torch
    auto.embed([PASSAGE * 8] * 4)
    assert calls  # a build's many tokens: torch


def test_a_damaged_export_is_made_again(module_cache, torch_embedder):
    MiniLMEmbedder(engine="auto")._model  # the export is made
    path = export_path(model_path(), module_cache)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    path.write_bytes(bytes(data))
    embedder = MiniLMEmbedder(engine="onnx")
    vector = embedder.embed(QUESTIONS[:1])
    assert float(vector[0] @ torch_embedder.embed(QUESTIONS[:1])[0]) >= 0.9999
    assert path.read_bytes() != bytes(data)  # exported again, and its hash matches
    assert hashlib.sha256(path.read_bytes()).hexdigest() == path.with_suffix(".sha256").read_text().strip()


def test_without_onnx_runtime_auto_runs_on_torch_and_onnx_says_what_to_install(module_cache, torch_embedder, monkeypatch):
    monkeypatch.setattr("docqa.onnx_encoder.onnx_runtime_installed", lambda: False)
    auto = MiniLMEmbedder(engine="auto")
    assert float(auto.embed(QUESTIONS[:1])[0] @ torch_embedder.embed(QUESTIONS[:1])[0]) >= 0.9999
    assert auto._onnx_encoder is None
    with pytest.raises(InvalidSetting, match="pip install onnxruntime"):
        MiniLMEmbedder(engine="onnx").embed(QUESTIONS[:1])


def test_an_unknown_engine_stops_a_command_before_any_work(tmp_path, monkeypatch, capsys):
    from docqa.cli import main

    monkeypatch.setenv("DOCQA_ENGINE", "gpu")
    assert main(["ask", "Who leads the working group?", "--index", str(tmp_path / "index")]) != 0
    assert "DOCQA_ENGINE='gpu' is unknown; use one of auto, torch, onnx" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


def test_help_ask_and_search_import_neither_torch_nor_the_ui(module_cache, torch_embedder):
    """Questions embed on ONNX Runtime, and the reader reads on it too."""
    MiniLMEmbedder(engine="auto")._model  # the exports are there, as after any build
    if shipped_reader_path().is_file():
        Reader().export_while_torch_is_loaded()
    script = (
        "import sys, json\n"
        "from docqa.cli import main\n"
        "codes = [main(['--help']), main(['search', 'Microsoft', '--no-build'])]\n"
        "heavy = ['torch', 'sentence_transformers', 'transformers', 'gradio', 'matplotlib']\n"
        "before = [m for m in heavy if m in sys.modules]\n"
        "codes.append(main(['ask', 'Who leads the working group?', '--no-build']))\n"
        "print(json.dumps({'codes': codes, 'before_ask': before, 'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )

    def run(reader):
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                                env={**os.environ, "DOCQA_CACHE": str(module_cache), "DOCQA_READER": reader})
        assert "Monitoring Team" in result.stdout
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert run("off") == {"codes": [0, 0, 0], "before_ask": [], "loaded": []}
    assert run("on") == {"codes": [0, 0, 0], "before_ask": [], "loaded": []}


def test_cuda_asked_for_without_one_falls_back_to_the_cpu_and_says_so(module_cache, caplog):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device: there is nothing to fall back from")
    embedder = MiniLMEmbedder(device="cuda", engine="torch")
    vector = embedder.embed(QUESTIONS[:1])
    assert embedder.device == "cpu" and embedder.batch_size == 32 and vector.shape == (1, 384)
    assert "no CUDA device (torch.cuda.is_available() is False): embedding on the CPU" in caplog.text
    assert MiniLMEmbedder(device="auto").device == "cpu"


def test_a_gpu_gets_the_model_and_bigger_batches(monkeypatch):
    """No GPU here: torch is told there is one, and the model is asked for it."""
    import sentence_transformers
    import torch

    asked = []

    class Recorder:
        def __init__(self, path, device):
            asked.append(device)

        def eval(self):
            return self

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", Recorder)
    embedder = MiniLMEmbedder(device="auto", engine="torch")
    assert embedder.batch_size == 32  # before the model loads, nothing is known of the device
    embedder._model
    assert asked == ["cuda"] and embedder.device == "cuda" and embedder.batch_size == 128
    assert MiniLMEmbedder(device="cuda", engine="torch", batch_size=8).batch_size == 8


def test_the_device_is_chosen_on_the_command_line_or_by_setting(monkeypatch, capsys, tmp_path):
    from docqa.cli import build_parser, main

    assert build_parser().parse_args(["index", "--device", "cuda"]).device == "cuda"
    assert main(["index", "--device", "tpu"]) == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
    monkeypatch.setenv("DOCQA_DEVICE", "tpu")
    assert main(["index", "--index", str(tmp_path / "index")]) == 1
    assert "DOCQA_DEVICE='tpu' is unknown; use one of auto, cpu, cuda" in capsys.readouterr().err
