"""Labelled question sets for evaluation: SQuAD JSON, BEIR folders, docqa's gold JSONL."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DocqaError


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
    text ``evidence``, and contains one of ``answers``; or (document mode) whatever its span.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    kind: str
    gold_sources: tuple[str, ...] = ()
    gold_paragraph: int | None = None
    evidence: str | None = None


@dataclass(frozen=True)
class EvalSet:
    """Documents (None: the user's corpus folder) and questions."""

    name: str
    fingerprint: str
    documents: dict[str, str] | None
    questions: tuple[EvalQuestion, ...]
    relevance: str  # "span" or "document"


def load_dataset(path: Path, *, holdout_articles: int = 0) -> EvalSet:
    """Read a SQuAD JSON file, a BEIR folder or a docqa gold JSONL file.

    Raises:
        DatasetError: the path is none of these, or is malformed.
    """
    path = Path(path)
    if path.is_dir():
        if (path / "corpus.jsonl").is_file():
            return load_beir(path)
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


def load_squad(path: Path, *, holdout_articles: int = 0) -> EvalSet:
    """Each article is one document, its paragraphs joined by blank lines.

    The last ``holdout_articles`` articles are left out of the documents; their answerable
    questions become ``out_of_corpus`` ones.
    """
    raw = path.read_bytes()
    try:
        articles = json.loads(raw)["data"]
    except (ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{path}: not a SQuAD file ({error}); expected {{\"data\": [articles]}}") from None
    if holdout_articles < 0 or holdout_articles >= len(articles):
        raise DatasetError(
            f"--holdout-articles {holdout_articles} must leave at least one of the {len(articles)} articles; "
            f"use 0 to {len(articles) - 1}"
        )
    kept = len(articles) - holdout_articles
    documents: dict[str, str] = {}
    questions: list[EvalQuestion] = []
    for number, article in enumerate(articles):
        source = _source_name(number, article.get("title", ""))
        paragraphs = [" ".join(p["context"].split("\n\n")) for p in article["paragraphs"]]
        held_out = number >= kept
        if not held_out:
            documents[source] = "\n\n".join(paragraphs)
        for paragraph_number, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", []) if a["text"].strip()))
                if qa.get("is_impossible") or not answers:
                    if held_out:
                        continue  # out-of-corpus questions are the answerable ones of other articles
                    questions.append(EvalQuestion(str(qa["id"]), qa["question"], (), "impossible"))
                elif held_out:
                    questions.append(EvalQuestion(str(qa["id"]), qa["question"], answers, "out_of_corpus"))
                else:
                    questions.append(EvalQuestion(str(qa["id"]), qa["question"], answers, "answerable",
                                                  (source,), paragraph_number))
    return EvalSet(path.name, _fingerprint(raw, f"holdout={holdout_articles}".encode()), documents,
                   tuple(questions), "span")


def load_beir(path: Path) -> EvalSet:
    """A BEIR folder: corpus.jsonl, queries.jsonl and qrels/test.tsv; each corpus entry a document."""
    try:
        corpus_raw = (path / "corpus.jsonl").read_bytes()
        queries_raw = (path / "queries.jsonl").read_bytes()
        qrels_raw = (path / "qrels" / "test.tsv").read_bytes()
    except OSError as error:
        raise DatasetError(f"{path}: not a complete BEIR folder ({error}); it needs corpus.jsonl, queries.jsonl and qrels/test.tsv") from None
    documents: dict[str, str] = {}
    names: dict[str, str] = {}
    for number, line in enumerate(corpus_raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            doc_id = str(entry["_id"])
        except (ValueError, KeyError, TypeError):
            raise DatasetError(f"{path / 'corpus.jsonl'}, line {number}: expected {{\"_id\", \"title\", \"text\"}}") from None
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", doc_id) + ".txt"
        names[doc_id] = name
        title = (entry.get("title") or "").strip()
        documents[name] = f"{title}\n\n{entry.get('text', '')}" if title else entry.get("text", "")
    relevant: dict[str, list[str]] = {}
    for number, line in enumerate(qrels_raw.decode("utf-8").splitlines(), start=1):
        fields = line.split("\t")
        if number == 1 and fields[0] in ("query-id", "query_id", "qid"):
            continue
        if len(fields) < 3:
            raise DatasetError(f"{path / 'qrels' / 'test.tsv'}, line {number}: expected query-id, corpus-id, score separated by tabs")
        if float(fields[2]) > 0 and fields[1] in names:
            relevant.setdefault(fields[0], []).append(names[fields[1]])
    questions = []
    for number, line in enumerate(queries_raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            query_id = str(entry["_id"])
        except (ValueError, KeyError, TypeError):
            raise DatasetError(f"{path / 'queries.jsonl'}, line {number}: expected {{\"_id\", \"text\"}}") from None
        if query_id in relevant:
            questions.append(EvalQuestion(query_id, entry["text"], (), "answerable", tuple(relevant[query_id])))
    return EvalSet(path.name, _fingerprint(corpus_raw, queries_raw, qrels_raw), documents, tuple(questions), "document")


def load_gold_jsonl(path: Path) -> EvalSet:
    """docqa's gold format, over the corpus folder: one object a line with ``id``, ``question``,
    ``answers`` (short strings found in the text), ``evidence`` (the exact supporting text) and
    ``answerable``."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            answerable = bool(entry.get("answerable", True))
            question = EvalQuestion(
                str(entry.get("id", number)), entry["question"], tuple(entry.get("answers") or ()),
                "answerable" if answerable else "unanswerable", evidence=entry.get("evidence") if answerable else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise DatasetError(
                f'{path}, line {number}: expected {{"id", "question", "answers", "evidence", "answerable"}}'
            ) from None
        if answerable and not question.evidence:
            raise DatasetError(f"{path}, line {number}: an answerable question needs its evidence text")
        questions.append(question)
    return EvalSet(path.name, _fingerprint(path.read_bytes()), None, tuple(questions), "span")
