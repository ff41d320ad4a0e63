"""`docqa index --ray`: the corpus embedded on a Ray cluster (here a local Ray runtime of 2 CPUs)
gives the index a local build gives, and answers the same (marked ray and slow: the real model
on each actor; skipped without the ray extra)."""

import json
import shutil

import numpy as np
import pytest

from docqa.cli import main
from docqa.embedding import MiniLMEmbedder
from docqa.index import load_index
from docqa.pipeline import Pipeline

from conftest import ROOT

ray = pytest.importorskip("ray", reason='Ray comes with the ray extra: pip install -e ".[ray]"')
pytestmark = [pytest.mark.ray, pytest.mark.slow]

QUESTIONS = ["Which company did the working group collaborate with in 2010?", "Who leads the working group?",
             "What is the budget of the working group?", "Where did the working group meet in 2012?"]
TIMINGS = {"created", "build_seconds"}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def manifest_without_timings(index_dir):
    manifest = json.loads((index_dir / "manifest.json").read_text())
    for key in TIMINGS:
        manifest.pop(key)
    for key in ("read_seconds", "embed_seconds"):
        manifest["last_update"].pop(key)
    # vectors from another process may differ in the last bits (other batches, other padding):
    # their files' checksums with them; every other file must be the same
    for name in ("vectors.faiss", "sentences/vectors.npy"):
        manifest["files"].pop(name, None)
    return manifest


HTML = ("<html><head><title>Meetings</title></head><body><h1>Meetings of the working group</h1>"
        "<p>The working group met in Geneva in 2012 with twenty member states.</p>"
        "<p>A second meeting in 2013 reviewed the guidance on online recruitment.</p></body></html>")


def test_a_ray_build_equals_the_local_build_and_answers_the_same(local_ray, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "meetings.html").write_text(HTML, encoding="utf-8")  # parsed on the cluster
    caplog.set_level("INFO", logger="docqa")
    assert main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "local")]) == 0
    assert main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "ray"), "--ray", "--ray-actors", "2"]) == 0

    assert "read 1 file on the Ray cluster" in caplog.text
    local, on_ray = load_index(tmp_path / "local"), load_index(tmp_path / "ray")
    assert "meetings.html" in on_ray.documents
    assert on_ray.chunks == local.chunks and on_ray.documents == local.documents
    np.testing.assert_allclose(on_ray.matrix, local.matrix, atol=1e-5)
    np.testing.assert_allclose(np.asarray(on_ray.sentences.vectors, np.float32),
                               np.asarray(local.sentences.vectors, np.float32), atol=2e-3)
    assert manifest_without_timings(tmp_path / "ray") == manifest_without_timings(tmp_path / "local")

    embedder = MiniLMEmbedder()
    asked = [Pipeline(corpus, tmp_path / name, embedder=embedder) for name in ("local", "ray")]
    for question in QUESTIONS:
        first, second = (pipeline.ask(question).to_record() for pipeline in asked)
        assert second == first

    # an update on the cluster embeds only what is new, as a local update does
    (corpus / "new.txt").write_text("The working group met again in Vienna in 2024 to review its guidance.",
                                    encoding="utf-8")
    assert main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "ray"), "--ray"]) == 0
    update = json.loads((tmp_path / "ray" / "manifest.json").read_text())["last_update"]
    assert update["incremental"] and update["chunks_embedded"] == 1 and update["chunks_reused"] == local.size


def test_an_unreachable_cluster_is_named_with_what_to_do(tmp_path, monkeypatch, capsys):
    if ray.is_initialized():
        ray.shutdown()
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    code = main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--rebuild",
                 "--ray", "127.0.0.1:1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in err and "ray start --head" in err
    assert not (tmp_path / "index" / "manifest.json").exists()
