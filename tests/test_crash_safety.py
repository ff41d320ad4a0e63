"""`docqa index` killed (SIGKILL) at known points of a build and of an update.

Each kill lands at a stage named by ``DOCQA_TEST_PAUSE`` (the build writes a signal file and
waits there): after embedding, halfway through writing the new index's folder, between the
two renames of the swap, and after the swap before the old folder is deleted. Each time the
index that was there still loads and answers, and the next run cleans up and completes.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import SMALL_CORPUS, HashingEmbedder
from docqa.cli import main
from docqa.index import load_index
from docqa.pipeline import Pipeline

FAKE_DOCQA = Path(__file__).resolve().parent / "fake_docqa.py"
STAGES = ["embedded", "writing", "swapping", "swapped"]
BUDGET = "The annual budget of the observatory was 4 million euros."


def make_project(root: Path) -> tuple[Path, Path]:
    """A corpus with an index of it, then one file added: the next `docqa index` has work to do."""
    corpus, index = root / "corpus", root / "index"
    for name, text in SMALL_CORPUS.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")
    assert main(["index", "--corpus", str(corpus), "--index", str(index)], embedder=HashingEmbedder()) == 0
    (corpus / "budget.txt").write_text(BUDGET, encoding="utf-8")
    return corpus, index


def start_paused(corpus: Path, index: Path, stage: str, *extra: str) -> tuple[subprocess.Popen, Path]:
    signal_file = index.parent / f"paused-{stage}"
    env = {**os.environ, "DOCQA_NO_PROGRESS": "1", "DOCQA_TEST_PAUSE": f"{stage}:{signal_file}"}
    process = subprocess.Popen([sys.executable, str(FAKE_DOCQA), "index", "--corpus", str(corpus), "--index",
                                str(index), *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, signal_file


def wait_for(signal_file: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not signal_file.exists():
        if process.poll() is not None:
            raise AssertionError(f"docqa index ended ({process.returncode}) before pausing: {process.stderr.read()!r}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"docqa index never reached {signal_file.name}")
        time.sleep(0.02)


def answers(corpus: Path, index: Path, question: str) -> str:
    answer = Pipeline(corpus, index, embedder=HashingEmbedder()).ask(question, k=3)
    assert answer.answerable, answer.text
    documents = load_index(index).documents
    for citation in answer.citations:
        assert documents[citation.source].text[citation.start:citation.end] == citation.quote
    return answer.citations[0].quote


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".index.") and p.name != ".index.lock")


@pytest.mark.parametrize("kind", ["update", "rebuild"])
def test_a_kill_at_any_stage_leaves_an_index_that_answers_and_the_next_run_completes(tmp_path, kind):
    extra = ["--rebuild"] if kind == "rebuild" else []
    projects = {stage: make_project(tmp_path / stage) for stage in STAGES}
    running = {stage: start_paused(*projects[stage], stage, *extra) for stage in STAGES}  # in parallel: faster
    for stage, (process, signal_file) in running.items():
        wait_for(signal_file, process)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL

    for stage, (corpus, index) in projects.items():
        root = index.parent
        left = leftovers(root)
        # the kill landed where it was meant to
        if stage == "writing":
            assert left and left[0].startswith(".index.tmp-"), left
        if stage == "swapping":
            assert not index.exists() and left[0].startswith(".index.old-"), left
        if stage == "swapped":
            assert left and left[0].startswith(".index.old-"), left
        # the index still answers: the previous one, or the new one once the swap was done
        assert answers(corpus, index, "Who hosted the first meeting?") == (
            "The first meeting was hosted by the German Foreign Office.")
        has_budget = "budget.txt" in load_index(index).documents
        assert has_budget == (stage == "swapped"), stage

        code = main(["index", "--corpus", str(corpus), "--index", str(index)], embedder=HashingEmbedder())
        assert code == 0
        assert leftovers(root) == [], stage
        assert Pipeline(corpus, index, embedder=HashingEmbedder()).stale_reasons() == []
        assert answers(corpus, index, "What was the annual budget of the observatory?") == BUDGET


def test_a_reader_waits_for_a_swap_in_progress_instead_of_undoing_it(tmp_path):
    corpus, index = make_project(tmp_path)
    process, signal_file = start_paused(corpus, index, "swapping")
    wait_for(signal_file, process)
    assert not index.exists()  # between the two renames: the old index moved aside, the new not yet in

    loaded = []
    reader = threading.Thread(target=lambda: loaded.append(load_index(index)))
    reader.start()
    reader.join(0.5)
    assert reader.is_alive() and not index.exists()  # it waits, and does not put the old index back
    signal_file.unlink()  # let the build go on
    reader.join(30)
    assert process.wait(timeout=30) == 0, process.stderr.read()
    assert "budget.txt" in loaded[0].documents  # it saw the new index, complete
    assert leftovers(tmp_path) == []


def test_two_builds_at_once_both_finish_and_leave_one_whole_index(tmp_path):
    corpus, index = make_project(tmp_path)
    env = {**os.environ, "DOCQA_NO_PROGRESS": "1"}
    builds = [subprocess.Popen([sys.executable, str(FAKE_DOCQA), "index", "--rebuild", "--corpus", str(corpus),
                                "--index", str(index)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for _ in range(2)]
    assert [build.wait(timeout=60) for build in builds] == [0, 0], [b.stderr.read() for b in builds]
    assert leftovers(tmp_path) == []
    assert answers(corpus, index, "What was the annual budget of the observatory?") == BUDGET


def test_a_running_app_picks_up_an_index_another_process_rebuilt(tmp_path):
    corpus, index = make_project(tmp_path)
    app_pipeline = Pipeline(corpus, index, embedder=HashingEmbedder())
    assert "budget.txt" not in app_pipeline.index.documents  # loaded before the update
    assert main(["index", "--corpus", str(corpus), "--index", str(index)], embedder=HashingEmbedder()) == 0
    assert app_pipeline.ensure_index() is None  # fresh on disk: nothing to build, but the new index is loaded
    assert "budget.txt" in app_pipeline.index.documents


def test_a_batch_run_killed_mid_way_resumes_without_losing_or_repeating_an_answer(small_corpus, tmp_path):
    assert main(["index", "--corpus", str(small_corpus), "--index", str(tmp_path / "index")], embedder=HashingEmbedder()) == 0
    questions = tmp_path / "questions.txt"
    topics = ["first meeting", "second meeting", "conference in 2011", "first film", "February 2009 report"]
    questions.write_text("".join(f"What about the {topics[n % 5]}? ({n})\n" for n in range(300)), encoding="utf-8")
    output = tmp_path / "answers.jsonl"
    paths = ["--corpus", str(small_corpus), "--index", str(tmp_path / "index")]
    process = subprocess.Popen([sys.executable, str(FAKE_DOCQA), "batch", str(questions), "-o", str(output),
                                "--batch-size", "1", *paths], env={**os.environ, "DOCQA_NO_PROGRESS": "1"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (output.exists() and output.read_bytes().count(b"\n") >= 20) and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    done = output.read_bytes().count(b"\n")
    assert 20 <= done < 300, done  # killed mid-way
    assert main(["batch", str(questions), "-o", str(output), "--resume", *paths], embedder=HashingEmbedder()) == 0
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [str(n) for n in range(1, 301)]  # each question once, in order
