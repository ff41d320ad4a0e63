"""The command line through main(argv): exit codes and the words of the errors."""

import json

import pytest

from docqa.cli import main


@pytest.fixture
def run(tmp_path, embedder, capsys, monkeypatch):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")

    def run_(*argv):
        code = main(list(argv), embedder=embedder)
        out, err = capsys.readouterr()
        return code, out, err

    return run_


def paths(corpus, tmp_path):
    return ["--corpus", str(corpus), "--index", str(tmp_path / "index")]


def test_missing_corpus_folder_names_the_fix(run, tmp_path):
    code, out, err = run("index", "--corpus", str(tmp_path / "nowhere"), "--index", str(tmp_path / "index"))
    assert code == 1
    assert "nowhere" in err and "does not exist" in err and "--corpus" in err
    assert out == ""


def test_empty_corpus_names_the_fix(run, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "image.png").write_bytes(b"\x89PNG")
    code, _, err = run("ask", "anything?", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "index"))
    assert code == 1
    assert "no readable documents" in err and ".txt, .md, .pdf, .html, .docx" in err
    assert "image.png (docqa does not read .png files" in err


def test_index_builds_then_says_it_is_up_to_date(run, small_corpus, tmp_path):
    code, out, _ = run("index", *paths(small_corpus, tmp_path))
    assert code == 0 and out.startswith("indexed 3 documents (1 md, 2 txt) into")
    code, out, _ = run("index", *paths(small_corpus, tmp_path))
    assert code == 0 and "is up to date (3 documents," in out
    code, out, _ = run("index", "--rebuild", *paths(small_corpus, tmp_path))
    assert code == 0 and out.startswith("indexed 3 documents")


def test_index_says_what_changed(run, small_corpus, tmp_path):
    run("index", *paths(small_corpus, tmp_path))
    (small_corpus / "report.txt").write_text("The report was rewritten.")
    code, out, err = run("index", *paths(small_corpus, tmp_path))
    assert code == 0 and "file changed: report.txt" in err and out.startswith("indexed 3 documents")


def test_undecodable_file_is_skipped_with_its_name(run, small_corpus, tmp_path):
    (small_corpus / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    code, out, err = run("index", *paths(small_corpus, tmp_path))
    assert code == 0
    assert "skipped 1 file:\n    latin1.txt: not UTF-8" in out
    assert "indexed 3 documents" in out


def test_k_larger_than_the_index(run, small_corpus, tmp_path):
    run("index", *paths(small_corpus, tmp_path))
    code, out, err = run("search", "meetings", "-k", "500", *paths(small_corpus, tmp_path))
    assert code == 1
    assert "k of 500 is larger than the" in err and "chunks in the index; use -k" in err


def test_no_build_without_an_index(run, small_corpus, tmp_path):
    code, _, err = run("ask", "Who hosted the meeting?", "--no-build", *paths(small_corpus, tmp_path))
    assert code == 1
    assert "no index in" in err and "docqa index" in err
    assert not (tmp_path / "index").exists()


def test_no_build_with_a_stale_index(run, small_corpus, tmp_path):
    run("index", *paths(small_corpus, tmp_path))
    (small_corpus / "added.txt").write_text("Something new.")
    code, _, err = run("search", "meetings", "--no-build", *paths(small_corpus, tmp_path))
    assert code == 1
    assert "out of date (file added: added.txt)" in err and "docqa index" in err


def test_ask_builds_when_missing_and_prints_json_only(run, small_corpus, tmp_path):
    code, out, err = run("ask", "Who hosted the first meeting?", "--json", *paths(small_corpus, tmp_path))
    assert code == 0
    record = json.loads(out)
    assert record["answerable"] is True
    assert "German Foreign Office" in record["citations"][0]["quote"]
    assert "indexed 3 documents" in err  # build report on stderr, never stdout


def test_ask_prints_answer_and_sources(run, small_corpus, tmp_path):
    code, out, _ = run("ask", "Who hosted the first meeting?", *paths(small_corpus, tmp_path))
    assert code == 0
    assert "[1]" in out and "Sources:" in out and "meetings.txt, characters" in out


def test_search_json_lists_passages_with_spans(run, small_corpus, tmp_path):
    code, out, _ = run("search", "film release", "-k", "2", "--json", *paths(small_corpus, tmp_path))
    assert code == 0
    record = json.loads(out)
    assert [p["rank"] for p in record["passages"]] == [1, 2]
    assert {"source", "start", "end", "score", "text", "chunk_id"} <= set(record["passages"][0])


def test_usage_errors_exit_2(run, tmp_path):
    assert run()[0] == 2
    assert run("ask")[0] == 2
    code, _, err = run("search", "x", "-k", "0")
    assert code == 2 and "too small" in err
    assert run("frobnicate")[0] == 2


def test_empty_question_is_an_input_error(run, small_corpus, tmp_path):
    code, _, err = run("ask", "  ", *paths(small_corpus, tmp_path))
    assert code == 1 and "question is empty" in err


def test_output_into_a_pipe_closed_early_ends_quietly(small_corpus, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    fake_docqa = Path(__file__).resolve().parent / "fake_docqa.py"
    argv = [sys.executable, str(fake_docqa), "--corpus", str(small_corpus), "--index", str(tmp_path / "index")]
    env = {**os.environ, "DOCQA_NO_PROGRESS": "1"}
    subprocess.run([*argv[:2], "index", *argv[2:]], check=True, capture_output=True, env=env, timeout=120)
    reader, writer = os.pipe()
    os.close(reader)  # like `| head` that has already stopped reading
    try:
        result = subprocess.run([*argv[:2], "search", "expert meetings", *argv[2:]], stdout=writer,
                                stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    finally:
        os.close(writer)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr
    assert result.returncode == 141


def test_a_declined_ask_lists_the_closest_passages_without_search_scores(run, small_corpus, tmp_path):
    code, out, _ = run("ask", "What is the freezing point of helium?", "-k", "3", *paths(small_corpus, tmp_path))
    assert code == 0
    assert out.startswith("The documents don't say")
    listed = out.split("Closest passages (they do not answer the question):\n")[1].splitlines()[0::2]
    # "1. meetings.txt, characters 0-120": ordered by their likeliest sentences, so the search
    # scores (which need not fall in that order) are left out
    assert [line.split(".", 1)[0] for line in listed] == ["1", "2", "3"]
    assert all(line.split(". ", 1)[1].split(",")[0].endswith((".txt", ".md")) for line in listed)


def embedded_texts(embedder, monkeypatch) -> list[str]:
    """Every text ``embedder`` is asked to embed, in order (the real tokenizer refuses lone surrogates)."""
    texts: list[str] = []
    embed = embedder.embed

    def spy(batch, **kwargs):
        texts.extend(batch)
        return embed(batch, **kwargs)

    monkeypatch.setattr(embedder, "embed", spy)
    return texts


@pytest.mark.parametrize("command", [["ask"], ["ask", "--json"], ["search"], ["search", "--json"]])
def test_undecodable_bytes_in_a_question_are_replaced_not_a_traceback(run, small_corpus, tmp_path, embedder,
                                                                      monkeypatch, command):
    run("index", *paths(small_corpus, tmp_path))
    texts = embedded_texts(embedder, monkeypatch)
    # `docqa ask $'caf\xe9 meetings'` in a UTF-8 locale: Python hands the byte over as the surrogate \udce9
    code, out, err = run(command[0], "caf\udce9 meetings \ud800", *command[1:], *paths(small_corpus, tmp_path))
    assert code == 0, err
    assert "caf\ufffd meetings \ufffd" in texts
    assert not any("\ud800" <= char <= "\udfff" for text in texts for char in text)
    if "--json" in command:
        record = json.loads(out)
        assert record.get("question", record.get("query")) == "caf\ufffd meetings \ufffd"


@pytest.mark.parametrize("variable, value, valid", [
    ("DOCQA_PRECISION", "fp64", "fp32, bf16"),
    ("DOCQA_VECTOR_STORAGE", "bogus", "float32, float16, sq8"),
])
@pytest.mark.parametrize("command", ["index", "ask"])
def test_an_unknown_setting_stops_before_any_work(small_corpus, tmp_path, capsys, monkeypatch, variable, value, valid,
                                                 command):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    monkeypatch.setenv(variable, value)
    argv = [command, *(["Who hosted the first meeting?"] if command == "ask" else []), *paths(small_corpus, tmp_path)]
    code = main(argv)  # the real embedder: its precision is read when it is made
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err == f"docqa: error: {variable}={value!r} is unknown; use one of {valid}, or leave it unset\n"
    assert not (tmp_path / "index").exists()  # nothing read, embedded or written


def test_a_huge_k_is_answered_with_the_valid_range_not_echoed(run, small_corpus, tmp_path):
    run("index", *paths(small_corpus, tmp_path))
    code, _, err = run("search", "meetings", "-k", "9" * 400, *paths(small_corpus, tmp_path))
    assert code == 1 and "use -k 3 or less" in err and "9" * 20 not in err and len(err) < 200
    code, _, err = run("search", "meetings", "-k", "1e308" + "0" * 5000, *paths(small_corpus, tmp_path))
    assert code == 2 and "not a whole number" in err and "0" * 50 not in err and len(err) < 1000


def test_a_stored_size_is_formatted_as_a_number_like_the_file_s(small_corpus, tmp_path, embedder):
    from docqa.build import build_index
    from docqa.chunking import ChunkingParams
    from docqa.errors import CorruptIndex
    from docqa.index import load_index

    index = tmp_path / "index"
    build_index(small_corpus, index, embedder, ChunkingParams(40, 8))
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["files"]["chunks.jsonl"]["bytes"] = 906_285
    (index / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndex, match=r"chunks\.jsonl is [\d,]+ bytes but the manifest says 906,285 \(truncated"):
        load_index(index)
