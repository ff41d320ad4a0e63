"""docqa batch: every input and output format, resume, and each bad input."""

import csv
import json

import pytest

from docqa.batch import BatchInputError, read_questions
from docqa.cli import main


@pytest.fixture
def run(tmp_path, embedder, capsys, monkeypatch, small_corpus):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    common = ["--corpus", str(small_corpus), "--index", str(tmp_path / "index")]

    def run_(*argv):
        code = main([*argv, *common], embedder=embedder)
        out, err = capsys.readouterr()
        return code, out, err

    return run_


QUESTIONS = ["Who hosted the first meeting?", "When is the additional film planned?", "What did the report recommend?"]


def write_inputs(folder):
    (folder / "q.txt").write_text("\n".join(QUESTIONS[:1]) + "\n\n" + "\n".join(QUESTIONS[1:]) + "\n")
    with open(folder / "q.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "owner"])
        for number, question in enumerate(QUESTIONS, start=1):
            writer.writerow([f"c{number}", question, f"analyst {number}"])
    (folder / "q.jsonl").write_text("".join(json.dumps({"id": f"j{n}", "question": q, "topic": "seed"}) + "\n"
                                            for n, q in enumerate(QUESTIONS, start=1)))


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("suffix", ["txt", "csv", "jsonl"])
def test_each_input_format_to_jsonl(run, tmp_path, suffix):
    write_inputs(tmp_path)
    code, out, _ = run("batch", str(tmp_path / f"q.{suffix}"))
    assert code == 0 and "answered 3 questions" in out and "questions/s" in out
    records = read_jsonl(tmp_path / "q.answers.jsonl")
    assert [r["question"] for r in records] == QUESTIONS
    assert all({"id", "answer", "answerable", "citations", "passages"} <= set(r) for r in records)
    assert "German Foreign Office" in records[0]["answer"]
    if suffix == "txt":
        assert [r["id"] for r in records] == ["1", "3", "4"]  # line numbers; the blank line is skipped
    if suffix == "csv":
        assert [r["id"] for r in records] == ["c1", "c2", "c3"] and records[0]["owner"] == "analyst 1"
    if suffix == "jsonl":
        assert records[2]["id"] == "j3" and records[2]["topic"] == "seed"


@pytest.mark.parametrize("suffix", ["txt", "csv", "jsonl"])
def test_each_input_format_to_csv(run, tmp_path, suffix):
    write_inputs(tmp_path)
    code, _, _ = run("batch", str(tmp_path / f"q.{suffix}"), "-o", str(tmp_path / "out.csv"))
    assert code == 0
    with open(tmp_path / "out.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["question"] for r in rows] == QUESTIONS
    assert rows[0]["answerable"] == "true" and "meetings.txt" in rows[0]["sources"]
    assert rows[0]["quotes"].startswith("[1] ") and len(rows[0]["top_scores"].split()) >= 1
    if suffix == "csv":
        assert rows[1]["owner"] == "analyst 2"


def test_resume_after_an_interruption_answers_each_question_once(run, tmp_path, caplog):
    write_inputs(tmp_path)
    output = tmp_path / "q.answers.jsonl"
    run("batch", str(tmp_path / "q.jsonl"))
    full = read_jsonl(output)
    # A killed run: the first record written, the second cut off mid-line.
    lines = output.read_text().splitlines(keepends=True)
    output.write_text(lines[0] + lines[1][: len(lines[1]) // 2])
    code, out, err = run("batch", str(tmp_path / "q.jsonl"), "--resume")
    assert code == 0 and "answered 2 questions" in out and "1 already answered" in out
    assert "dropped an incomplete last line" in caplog.text
    assert read_jsonl(output) == full


def test_resume_of_a_csv_output(run, tmp_path):
    write_inputs(tmp_path)
    output = tmp_path / "out.csv"
    run("batch", str(tmp_path / "q.csv"), "-o", str(output))
    full = output.read_text()
    lines = full.splitlines(keepends=True)
    output.write_text("".join(lines[:2]) + lines[2][:10])
    code, out, _ = run("batch", str(tmp_path / "q.csv"), "-o", str(output), "--resume")
    assert code == 0 and "answered 2 questions" in out
    assert output.read_text() == full


def test_existing_output_is_never_overwritten_silently(run, tmp_path):
    write_inputs(tmp_path)
    (tmp_path / "q.answers.jsonl").write_text('{"id": "keep me"}\n')
    code, _, err = run("batch", str(tmp_path / "q.txt"))
    assert code == 1 and "--resume" in err and "--overwrite" in err
    assert (tmp_path / "q.answers.jsonl").read_text() == '{"id": "keep me"}\n'
    code, _, _ = run("batch", str(tmp_path / "q.txt"), "--overwrite")
    assert code == 0 and len(read_jsonl(tmp_path / "q.answers.jsonl")) == 3


def test_empty_and_overlong_questions_become_error_records(run, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "e", "question": "  "}) + "\n"
                    + json.dumps({"id": "long", "question": "why " * 1000}) + "\n"
                    + json.dumps({"id": "ok", "question": QUESTIONS[0]}) + "\n")
    code, out, _ = run("batch", str(path))
    assert code == 0 and "(2 with errors)" in out
    records = {r["id"]: r for r in read_jsonl(tmp_path / "bad.answers.jsonl")}
    assert records["e"]["error"] == "the question is empty" and records["e"]["answerable"] is None
    assert "3,999 characters long; docqa takes up to 2,000" in records["long"]["error"]
    assert records["ok"]["answerable"] is True and "error" not in records["ok"]


def test_malformed_jsonl_line_names_file_line_and_fix(run, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "fine?"}) + "\n{\"id\": \"b\", \"question\": \n")
    code, _, err = run("batch", str(path))
    assert code == 1
    assert "broken.jsonl, line 2: not valid JSON" in err and "one object a line" in err
    path.write_text(json.dumps({"id": "a", "text": "no question key"}) + "\n")
    with pytest.raises(BatchInputError, match='line 1: expected an object with a "question" key'):
        read_questions(path)


def test_csv_without_question_column(run, tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_text("id,query\n1,what?\n")
    code, _, err = run("batch", str(path))
    assert code == 1
    assert "sheet.csv, line 1: no 'question' column (columns: id, query)" in err and "add a header row" in err


def test_duplicate_ids_are_reported(run, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,question\nx,Who hosted the first meeting?\nx,What did the report recommend?\ny,Where?\n")
    code, out, err = run("batch", str(path))
    assert code == 0 and "1 ids occur more than once" in err and ": x;" in err
    assert [r["id"] for r in read_jsonl(tmp_path / "dup.answers.jsonl")] == ["x", "x", "y"]


def test_unsupported_input_and_output_extensions(run, tmp_path):
    (tmp_path / "q.docx").write_text("x")
    code, _, err = run("batch", str(tmp_path / "q.docx"))
    assert code == 1 and "reads .txt, .csv, .jsonl files" in err
    write_inputs(tmp_path)
    code, _, err = run("batch", str(tmp_path / "q.txt"), "-o", str(tmp_path / "out.xlsx"))
    assert code == 1 and "writes .jsonl or .csv" in err


def test_questions_are_embedded_in_batches(run, tmp_path, embedder):
    path = tmp_path / "many.txt"
    path.write_text("\n".join(f"Question {n} about the meetings?" for n in range(10)) + "\n")
    embedder.calls.clear()
    code, _, _ = run("batch", str(path), "--batch-size", "4")
    assert code == 0
    assert [c for c in embedder.calls if c in (4, 2)][:3] == [4, 4, 2]  # question embeddings, 3 calls for 10
