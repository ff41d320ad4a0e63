"""Labelled question sets for evaluation: SQuAD JSON, BEIR folders, docqa's gold JSONL."""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DocqaError

logger = logging.getLogger(__name__)


class DatasetError(DocqaError):
    """A dataset that cannot be read as given."""


@dataclass(frozen=True)
class EvalQuestion:
    """A question with what counts as a right passage and a right answer.

    ``kind`` is ``answerable``, ``impossible`` (SQuAD v2.0: the text looks related but does
    not answer), ``out_of_corpus`` (about documents left out of the index) or
    ``unanswerable`` (marked so in a gold set). For ``answerable`` questions, a passage is
    relevant when it is from ``gold_source`` and either (span mode) overlaps the gold
    paragraph or evidence, which is the ``gold_index``-th paragraph of the document or the
    text ``evidence``, and contains one of ``answers``; or (document mode) the documents
    themselves are what is judged, ``gold_grades`` giving each one's graded relevance (BEIR's
    qrels scores: 1 relevant, 2 highly relevant).
    """

    id: str
    question: str
    answers: tuple[str, ...]
    kind: str
    gold_sources: tuple[str, ...] = ()
    gold_paragraph: int | None = None
    evidence: str | None = None
    gold_grades: tuple[int, ...] = ()


@dataclass(frozen=True)
class EvalSet:
    """Documents (None: the user's corpus folder) and questions."""

    name: str
    fingerprint: str
    documents: dict[str, str] | None
    questions: tuple[EvalQuestion, ...]
    relevance: str  # "span" or "document"
    split: str | None = None  # the qrels file a BEIR set was read with


BEIR_SPLITS = ("test", "dev", "train")


def load_dataset(path: Path, *, holdout_articles: int = 0, split: str | None = None) -> EvalSet:
    """Read a SQuAD JSON file, a BEIR folder or a docqa gold JSONL file.

    Args:
        split: a BEIR folder's qrels file, ``test`` (the default), ``dev`` or ``train``.

    Raises:
        DatasetError: the path is none of these, or is malformed.
    """
    path = Path(path)
    if path.is_dir() and (path / "corpus.jsonl").is_file():
        return load_beir(path, split or "test")
    if split is not None:
        raise DatasetError(f"--split applies to BEIR folders only (qrels/{split}.tsv); {path} is not one: "
                           f"leave --split out")
    if path.is_dir():
        raise DatasetError(f"{path}: a folder, but not a BEIR dataset (no corpus.jsonl); pass a BEIR folder, a SQuAD .json or a .jsonl gold set")
    if not path.is_file():
        raise DatasetError(f"{path}: no such file or folder; check the path")
    if path.suffix.lower() == ".json":
        return load_squad(path, holdout_articles=holdout_articles)
    if path.suffix.lower() == ".jsonl":
        if holdout_articles:
            raise DatasetError("--holdout-articles applies to SQuAD files only")
        return load_gold_jsonl(path)
    raise DatasetError(f"{path}: docqa eval reads a SQuAD .json, a BEIR folder or a .jsonl gold set")


def _fingerprint(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:16]


def _source_name(number: int, title: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")[:60] or "article"
    return f"{number:03d}_{slug}.txt"


_NOT_SQUAD = ('the file does not follow SQuAD\'s format: {"data": [{"title", "paragraphs": [{"context", '
              '"qas": [{"id", "question", "answers": [{"text"}]}]}]}]}')


def _decode(path: Path, raw: bytes) -> str:
    """``raw`` as text: UTF-8, with or without a byte-order mark.

    Raises:
        DatasetError: the bytes are not UTF-8 (naming the line and byte offset).
    """
    skip = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[skip:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skip + error.start
        line = raw.count(b"\n", 0, offset) + 1
        raise DatasetError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{raw[offset]:02x} at offset {offset}); "
            f"save the file as UTF-8 and run again"
        ) from None


def _shown(value: object) -> str:
    """``value`` as JSON, cut short, for an error message."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _squad_field(path: Path, where: str, item: object, key: str, kind: type | tuple[type, ...]):
    """``item[key]``, a field a SQuAD file must have, checked to be a ``kind``."""
    if not isinstance(item, dict):
        raise DatasetError(f"{path}: {where} is {_shown(item)}, not a JSON object; {_NOT_SQUAD}")
    if key not in item:
        raise DatasetError(f'{path}: {where} has no "{key}"; {_NOT_SQUAD}')
    value = item[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = {list: "a list", str: "a string"}.get(kind, "a string or number")
        raise DatasetError(f'{path}: {where} has "{key}": {_shown(value)}, not {expected}; {_NOT_SQUAD}')
    return value


def load_squad(path: Path, *, holdout_articles: int = 0) -> EvalSet:
    """Each article is one document, its paragraphs joined by blank lines.

    The last ``holdout_articles`` articles are left out of the documents; their answerable
    questions become ``out_of_corpus`` ones.

    Raises:
        DatasetError: the file is not UTF-8 JSON, lacks a field SQuAD has, or holds no question.
    """
    raw = path.read_bytes()
    try:
        articles = json.loads(_decode(path, raw))["data"]
    except (ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{path}: not a SQuAD file ({error}); expected {{\"data\": [articles]}}") from None
    if not isinstance(articles, list) or not articles:
        raise DatasetError(f'{path}: "data" holds no articles; {_NOT_SQUAD}')
    if holdout_articles < 0 or holdout_articles >= len(articles):
        raise DatasetError(
            f"--holdout-articles {holdout_articles} must leave at least one of the {len(articles)} articles; "
            f"use 0 to {len(articles) - 1}"
        )
    kept = len(articles) - holdout_articles
    documents: dict[str, str] = {}
    questions: list[EvalQuestion] = []
    for number, article in enumerate(articles):
        where = f"article {number + 1}"
        title = article.get("title", "") if isinstance(article, dict) else ""
        if not isinstance(title, str):
            raise DatasetError(f'{path}: {where} has "title": {_shown(title)}, not a string; {_NOT_SQUAD}')
        where += f" ({_shown(title)})" if title else ""
        source = _source_name(number, title)
        held_out = number >= kept
        contexts = []
        for paragraph_number, paragraph in enumerate(_squad_field(path, where, article, "paragraphs", list)):
            at = f"{where}, paragraph {paragraph_number + 1}"
            contexts.append(" ".join(_squad_field(path, at, paragraph, "context", str).split("\n\n")))
            for qa_number, qa in enumerate(_squad_field(path, at, paragraph, "qas", list)):
                qa_at = f"{at}, question {qa_number + 1}"
                qa_id = str(_squad_field(path, qa_at, qa, "id", (str, int)))
                qa_at = f"{at}, question {_shown(qa_id)}"
                text = _squad_field(path, qa_at, qa, "question", str)
                impossible = qa.get("is_impossible", False)
                if not isinstance(impossible, bool):
                    raise DatasetError(f'{path}: {qa_at} has "is_impossible": {_shown(impossible)}; '
                                       f"it must be true or false (JSON booleans, without quotes)")
                given = qa.get("answers", []) if impossible else _squad_field(path, qa_at, qa, "answers", list)
                if not isinstance(given, list):
                    raise DatasetError(f'{path}: {qa_at} has "answers": {_shown(given)}, not a list; {_NOT_SQUAD}')
                answers = tuple(dict.fromkeys(
                    answer for answer_number, item in enumerate(given)
                    if (answer := _squad_field(path, f"{qa_at}, answer {answer_number + 1}", item, "text", str)).strip()
                ))
                if impossible or not answers:
                    if held_out:
                        continue  # out-of-corpus questions are the answerable ones of other articles
                    questions.append(EvalQuestion(qa_id, text, (), "impossible"))
                elif held_out:
                    questions.append(EvalQuestion(qa_id, text, answers, "out_of_corpus"))
                else:
                    questions.append(EvalQuestion(qa_id, text, answers, "answerable", (source,), paragraph_number))
        if not held_out:
            documents[source] = "\n\n".join(contexts)
    if not questions:
        raise DatasetError(f'{path}: holds no questions (no "qas" in any paragraph); {_NOT_SQUAD}')
    return EvalSet(path.name, _fingerprint(raw, f"holdout={holdout_articles}".encode()), documents,
                   tuple(questions), "span")


def load_beir(path: Path, split: str = "test") -> EvalSet:
    """A BEIR folder: corpus.jsonl, queries.jsonl and qrels/<split>.tsv; each corpus entry a document.

    Relevance is judged per document, graded as the qrels give it. The set's fingerprint is the
    corpus's alone, so that every split is measured on one index.
    """
    if split not in BEIR_SPLITS:
        raise DatasetError(f"--split {split}: a BEIR split is one of {', '.join(BEIR_SPLITS)}")
    qrels_path = path / "qrels" / f"{split}.tsv"
    if (path / "qrels").is_dir() and not qrels_path.is_file():
        present = sorted(p.stem for p in (path / "qrels").glob("*.tsv"))
        raise DatasetError(f"{path}: no qrels/{split}.tsv; this dataset's splits are "
                           f"{', '.join(present) or 'none'}: pass --split " + (present[0] if present else "test"))
    try:
        corpus_raw = (path / "corpus.jsonl").read_bytes()
        queries_raw = (path / "queries.jsonl").read_bytes()
        qrels_raw = qrels_path.read_bytes()
    except OSError as error:
        raise DatasetError(f"{path}: not a complete BEIR folder ({error}); it needs corpus.jsonl, queries.jsonl "
                           f"and qrels/{split}.tsv") from None
    documents: dict[str, str] = {}
    names: dict[str, str] = {}
    for number, line in enumerate(_decode(path / "corpus.jsonl", corpus_raw).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            doc_id = str(entry["_id"])
            title, text = entry.get("title") or "", entry.get("text") or ""
            if not isinstance(title, str) or not isinstance(text, str):
                raise TypeError("title and text must be strings")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise DatasetError(f"{path / 'corpus.jsonl'}, line {number}: expected {{\"_id\", \"title\", \"text\"}} with string values") from None
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", doc_id) + ".txt"
        names[doc_id] = name
        title = title.strip()
        documents[name] = f"{title}\n\n{text}" if title else text
    relevant: dict[str, dict[str, int]] = {}
    for number, line in enumerate(_decode(qrels_path, qrels_raw).splitlines(), start=1):
        fields = line.split("\t")
        if not line.strip() or number == 1 and fields[0] in ("query-id", "query_id", "qid"):
            continue
        try:
            score = float(fields[2])
            if not score.is_integer():
                raise ValueError("a graded relevance is a whole number")
            score = int(score)
        except (IndexError, ValueError, OverflowError):
            raise DatasetError(f"{qrels_path}, line {number}: expected query-id, corpus-id and a whole-number "
                               f"score, separated by tabs") from None
        if score > 0 and fields[1] in names:
            relevant.setdefault(fields[0], {})[names[fields[1]]] = score
    questions = []
    for number, line in enumerate(_decode(path / "queries.jsonl", queries_raw).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            query_id, text = str(entry["_id"]), entry["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
        except (ValueError, KeyError, TypeError):
            raise DatasetError(f"{path / 'queries.jsonl'}, line {number}: expected {{\"_id\", \"text\"}} with string values") from None
        if query_id in relevant:
            judged = relevant[query_id]
            questions.append(EvalQuestion(query_id, text, (), "answerable", tuple(judged),
                                          gold_grades=tuple(judged.values())))
    if not questions:
        raise DatasetError(f"{path}: holds no questions: no query of queries.jsonl has a document of corpus.jsonl "
                           f"with a score above 0 in qrels/{split}.tsv")
    return EvalSet(path.name, _fingerprint(corpus_raw), documents, tuple(questions), "document", split)


_GOLD_FIELDS = ("id", "question", "answers", "evidence", "answerable")
_GOLD_EXAMPLE = ('{"id": "q1", "question": "Who hosted the first meeting?", "answers": ["the German Foreign Office"], '
                 '"evidence": "The first meeting was hosted by the German Foreign Office.", "answerable": true}')


def load_gold_jsonl(path: Path) -> EvalSet:
    """docqa's gold format, over the corpus folder: one object a line with ``id``, ``question``,
    ``answers`` (short strings found in the text), ``evidence`` (the exact supporting text) and
    ``answerable``.

    Raises:
        DatasetError: the file is not UTF-8, a line is not such an object (naming the line and
            the field), two lines share an id, or the file holds no question.
    """
    raw = path.read_bytes()
    questions = []
    first_seen: dict[str, int] = {}
    ignored: dict[str, int] = {}
    for number, line in enumerate(_decode(path, raw).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            entry = json.loads(line)
        except ValueError as error:
            raise DatasetError(f"{where}: not JSON ({error}); write one object a line, like {_GOLD_EXAMPLE}") from None
        question = _gold_question(entry, number, where)
        if question.id in first_seen:
            raise DatasetError(f"{where}: id {_shown(question.id)} is already used on line {first_seen[question.id]}; "
                               f"give each question its own id")
        first_seen[question.id] = number
        for key in entry:
            if key not in _GOLD_FIELDS:
                ignored.setdefault(key, number)
        questions.append(question)
    if ignored:
        logger.warning("%s: ignored the field(s) %s (first on line %d); the gold format has %s", path,
                       ", ".join(ignored), min(ignored.values()), ", ".join(_GOLD_FIELDS))
    if not questions:
        raise DatasetError(f"{path}: holds no questions; write one JSON object a line, like {_GOLD_EXAMPLE}")
    return EvalSet(path.name, _fingerprint(raw), None, tuple(questions), "span")


def _gold_question(entry: object, number: int, where: str) -> EvalQuestion:
    """One line of a gold set, its fields checked: a wrong type would silently change the scores."""
    if not isinstance(entry, dict):
        raise DatasetError(f"{where}: {_shown(entry)} is not a JSON object; write one like {_GOLD_EXAMPLE}")
    question_id = number if entry.get("id") is None else entry["id"]
    if isinstance(question_id, bool) or not isinstance(question_id, (str, int)) or not str(question_id).strip():
        raise DatasetError(f'{where}: "id" is {_shown(question_id)}; it must be a non-empty string, like "q{number}"')
    text = entry.get("question")
    if not isinstance(text, str) or not text.strip():
        raise DatasetError(f'{where}: "question" is {_shown(text) if "question" in entry else "missing"}; '
                           f'it must be the question as a non-empty string, like "Who hosted the first meeting?"')
    answerable = entry.get("answerable", True)
    if not isinstance(answerable, bool):
        raise DatasetError(f'{where}: "answerable" is {_shown(answerable)}; it must be true or false '
                           f"(JSON booleans, without quotes)")
    answers = entry.get("answers")
    if answers is None:
        answers = []
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        like = _shown([answers]) if isinstance(answers, str) and answers.strip() else '["the German Foreign Office"]'
        raise DatasetError(f'{where}: "answers" is {_shown(answers)}; it must be a list of non-empty strings, like {like}')
    evidence = entry.get("evidence")
    if evidence is not None and not isinstance(evidence, str):
        raise DatasetError(f'{where}: "evidence" is {_shown(evidence)}; it must be a string: the exact text of '
                           f"the document that supports the answer")
    if answerable and not (evidence or "").strip():
        raise DatasetError(f"{where}: an answerable question needs its evidence text; add \"evidence\": the "
                           f"document's text that answers it, copied exactly (or set \"answerable\": false)")
    return EvalQuestion(str(question_id), text, tuple(answers), "answerable" if answerable else "unanswerable",
                        evidence=evidence if answerable else None)
