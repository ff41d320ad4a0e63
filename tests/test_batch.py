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


def test_input_or_output_that_is_a_folder(run, tmp_path):
    (tmp_path / "dir.txt").mkdir()
    code, _, err = run("batch", str(tmp_path / "dir.txt"))
    assert code == 1 and "dir.txt is a folder, not a file of questions" in err and "Traceback" not in err
    write_inputs(tmp_path)
    folder = tmp_path / "outdir.jsonl"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep me")
    for flag in ("--overwrite", "--resume"):
        code, _, err = run("batch", str(tmp_path / "q.txt"), "-o", str(folder), flag)
        assert code == 1 and "outdir.jsonl is a folder, not a file for the answers" in err
    assert (folder / "keep.txt").read_text() == "keep me"


def test_csv_with_an_unclosed_quote_names_its_line(run, tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('id,question\n1,"unterminated\n2,Where?\n')
    code, _, err = run("batch", str(path))
    assert code == 1 and "q.csv, line 2: a quoted field opens here and is never closed" in err
    assert "close the quote" in err and not (tmp_path / "q.answers.jsonl").exists()
    # the line of the quote that stays open, after a quoted field that runs over two lines
    path.write_text('id,question,note\n1,"Who hosted\nthe meeting?",fine\n2,Where?,"open\n3,What?,x\n')
    with pytest.raises(BatchInputError, match="q.csv, line 4: a quoted field opens"):
        read_questions(path)
    # doubled quotes inside a quoted field, and quotes inside an unquoted one, are read as before
    path.write_text('id,question\n1,"He said ""hi"", then?"\n2,a "quoted" word?\n')
    assert [q.question for q in read_questions(path)] == ['He said "hi", then?', 'a "quoted" word?']


def test_resume_and_overwrite_together_are_refused(run, tmp_path):
    write_inputs(tmp_path)
    code, _, err = run("batch", str(tmp_path / "q.txt"), "--resume", "--overwrite")
    assert code == 2 and "not allowed with argument" in err
    assert not (tmp_path / "q.answers.jsonl").exists()


def test_a_run_that_fails_before_answering_leaves_the_output_as_it_was(run, tmp_path, monkeypatch):
    write_inputs(tmp_path)
    output = tmp_path / "k.csv"
    code, _, err = run("batch", str(tmp_path / "q.txt"), "-o", str(output), "-k", "1000")
    assert code == 1 and "k of 1000 is larger than the" in err and not output.exists()
    code, out, _ = run("batch", str(tmp_path / "q.txt"), "-o", str(output))
    assert code == 0 and "answered 3 questions" in out
    # a failure inside answering, before the first record: a new file goes, an old one stays whole
    from docqa.errors import InvalidQuery
    from docqa.pipeline import Pipeline

    def fail(*args, **kwargs):
        raise InvalidQuery("cannot answer")

    monkeypatch.setattr(Pipeline, "ask_many", fail)
    code, _, _ = run("batch", str(tmp_path / "q.txt"), "-o", str(tmp_path / "new.jsonl"))
    assert code == 1 and not (tmp_path / "new.jsonl").exists()
    before = output.read_text()
    code, _, _ = run("batch", str(tmp_path / "q.txt"), "-o", str(output), "--overwrite")
    assert code == 1 and output.read_text() == before


@pytest.mark.parametrize("name, text, advice", [
    ("empty.txt", "", "write one question a line"),
    ("empty.jsonl", "\n", 'write one JSON object a line, like {"id": "q1", "question": "…"}'),
    ("empty.csv", "id,question\n", "write a header row with a column named question"),
])
def test_empty_input_advice_fits_its_format(run, tmp_path, name, text, advice):
    (tmp_path / name).write_text(text)
    code, _, err = run("batch", str(tmp_path / name))
    assert code == 1 and f"{name}: no questions in the file; {advice}" in err


def test_csv_header_names_ignore_case_and_spaces(run, tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_text(" ID , Question ,Owner\nc1,Who hosted the first meeting?,ann\n")
    code, _, _ = run("batch", str(path), "-o", str(tmp_path / "out.csv"))
    assert code == 0
    with open(tmp_path / "out.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["id"] == "c1" and rows[0]["question"] == QUESTIONS[0] and rows[0]["Owner"] == "ann"
    path.write_text("question,Question\nwho?,what?\n")
    with pytest.raises(BatchInputError, match=r"line 1: 2 columns named question \(question, Question\); keep one"):
        read_questions(path)


def test_rate_leaves_out_loading_the_model(run, tmp_path, embedder, monkeypatch):
    import re
    import time

    write_inputs(tmp_path)
    assert run("index")[0] == 0
    embed = embedder.embed
    loaded = []

    def slow_first_call(texts, **kwargs):  # a model that takes 1.5 s to load
        if not loaded:
            time.sleep(1.5)
            loaded.append(True)
        return embed(texts, **kwargs)

    monkeypatch.setattr(embedder, "embed", slow_first_call)
    code, out, _ = run("batch", str(tmp_path / "q.txt"))
    seconds = float(re.search(r"in ([\d.]+) s, [\d.]+ questions/s", out).group(1))
    assert code == 0 and loaded and seconds < 1.0


def test_a_lone_surrogate_in_one_line_leaves_the_others_answered(run, tmp_path, embedder, monkeypatch):
    texts: list[str] = []
    embed = embedder.embed
    monkeypatch.setattr(embedder, "embed", lambda batch, **kw: texts.extend(batch) or embed(batch, **kw))
    lines = [json.dumps({"id": f"q{n}", "question": QUESTIONS[n % 3]}) for n in range(10)]
    # written as JSON escapes: json.loads gives a str with the lone surrogate, which UTF-8 cannot encode
    lines.insert(5, '{"id": "bad", "question": "Who rules \\ud800 Danrengul?", "note": "\\udfff"}')
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run("batch", str(path))
    assert code == 0, err
    records = read_jsonl(tmp_path / "q.answers.jsonl")
    assert len(records) == 11
    bad = next(r for r in records if r["id"] == "bad")
    assert bad["question"] == "Who rules \ufffd Danrengul?" and bad["note"] == "\ufffd"
    assert sum(r["answerable"] is True for r in records) >= 10
    assert not any("\ud800" <= char <= "\udfff" for text in texts for char in text)


def test_a_csv_field_over_the_csv_module_limit_is_an_error_record(run, tmp_path):
    path = tmp_path / "q.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question"])
        for number in range(11):
            # the csv module refuses a field over 131,072 characters, and stops the whole file there
            writer.writerow([f"c{number}", "?" * 200_000 if number == 5 else QUESTIONS[number % 3]])
    code, out, err = run("batch", str(path))
    assert code == 0, err
    records = {r["id"]: r for r in read_jsonl(tmp_path / "q.answers.jsonl")}
    assert len(records) == 11 and "(1 with errors)" in out
    assert "200,000 characters long; docqa takes up to 2,000" in records["c5"]["error"]
    assert all(r["answerable"] is True for key, r in records.items() if key != "c5")
    assert csv.field_size_limit() == 131_072  # the module's limit is left as it was


def test_a_jsonl_line_nested_too_deeply_is_an_error_record(run, tmp_path):
    lines = [json.dumps({"id": f"j{n}", "question": QUESTIONS[n % 3]}) for n in range(9)]
    lines.insert(3, '{"id": "deep", "question": "Who?", "tags": ' + "[" * 100_000 + "]" * 100_000 + "}")
    lines.insert(7, '{"id": "nested", "question": "Who?", "tags": ' + "[" * 500 + "]" * 500 + "}")
    lines.insert(9, '{"id": ' + "9" * 5_000 + ', "question": "Who?"}')  # more digits than Python converts
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run("batch", str(path))
    assert code == 0, err
    records = read_jsonl(tmp_path / "q.answers.jsonl")
    assert len(records) == 12 and "(3 with errors)" in out
    deep, nested, long_number = records[3], records[7], records[9]
    assert deep["id"] == "4" and "line 4" in deep["error"] and "nested too deeply" in deep["error"]
    assert nested["id"] == "nested" and "nested too deeply" in nested["error"] and "tags" not in nested
    assert long_number["id"] == "10" and "number too long" in long_number["error"]
    assert all(r["answerable"] is True for r in records if r not in (deep, nested, long_number))
