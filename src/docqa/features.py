"""Features of candidate sentences and of questions, and the small linear models over them.

Two logistic-regression models decide docqa's answers: one scores how likely a sentence is to
contain the answer, one how likely the question is answered by the documents at all. Both are
trained by ``benchmarks/train_answer_models.py`` on SQuAD articles and shipped as JSON in
``docqa/models/``; the features are pure functions of the question, the retrieved passages and
corpus term statistics.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Mapping, Sequence

import numpy as np

from .terms import content_terms, question_terms

SENTENCE_FEATURES = (
    "similarity", "similarity_gap", "overlap", "overlap_gap", "overlap_plain", "bigram_overlap",
    "retrieval", "inverse_rank", "position", "first_in_passage", "type_asked", "type_present",
    "type_asked_missing", "log_words", "previous_overlap", "novel_capitals", "has_number",
)
QUESTION_FEATURES = (
    "best_probability", "best_similarity", "coverage", "missing_share", "top_dense", "top_keyword",
    "log_terms", "type_asked", "type_asked_missing", "log_chunks",
)


@dataclass(frozen=True)
class TermStatistics:
    """Document frequencies of content terms over the indexed chunks."""

    document_frequency: Mapping[str, int]
    chunk_count: int

    def idf(self, term: str) -> float:
        df = self.document_frequency.get(term, 0)
        return math.log((self.chunk_count + 1) / (df + 0.5))


def term_statistics(texts: Sequence[str]) -> TermStatistics:
    """Count in how many of ``texts`` each content term occurs."""
    frequency: dict[str, int] = {}
    for text in texts:
        for term in set(content_terms(text)):
            frequency[term] = frequency.get(term, 0) + 1
    return TermStatistics(frequency, len(texts))


@dataclass(frozen=True)
class LinearModel:
    """A logistic regression: ``sigmoid(features @ weights + bias)`` over standardised features."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float = 0.5

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if rows.size == 0:
            return np.zeros(len(rows))
        z = ((rows - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "weights": list(self.weights), "bias": self.bias,
                "mean": list(self.mean), "scale": list(self.scale), "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data: dict) -> "LinearModel":
        return cls(tuple(data["features"]), tuple(data["weights"]), float(data["bias"]), tuple(data["mean"]),
                   tuple(data["scale"]), float(data.get("threshold", 0.5)))


@lru_cache(maxsize=4)
def shipped_model(name: str, features: tuple[str, ...]) -> LinearModel:
    """A model shipped in ``docqa/models/<name>.json``, checked to use ``features``.

    Raises:
        RuntimeError: the model was trained on other features (a code change without retraining).
    """
    text = resources.files("docqa").joinpath("models", f"{name}.json").read_text(encoding="utf-8")
    model = LinearModel.from_dict(json.loads(text))
    if model.features != features:
        raise RuntimeError(
            f"docqa/models/{name}.json was trained on other features; run benchmarks/train_answer_models.py"
        )
    return model


# --- what a question asks for ------------------------------------------------------------

_YEAR_OR_DATE = re.compile(
    r"\b(?:1[0-9]\d\d|20\d\d)s?\b|\b(?:January|February|March|April|May|June|July|August|September|"
    r"October|November|December)\b|\b\d{1,2}(?:st|nd|rd|th)? century\b"
)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)s?\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<![.!?][\"”’)]\s)(?<!^)\b[A-Z][\w’'-]+", re.MULTILINE)
# A place is named after a preposition of place: "in Riyadh", "at the University of Chicago".
# "hosted by the German Foreign Office" names an organisation, not where something happened.
PLACE_PREPOSITIONS = ("in", "at", "near", "from", "within", "throughout", "across", "outside", "inside", "into", "to",
                      "on", "around", "off", "along", "between", "north of", "south of", "east of", "west of")
_PLACE = re.compile(r"\b(?:" + "|".join(f"[{w[0].upper()}{w[0]}]{w[1:]}" for w in PLACE_PREPOSITIONS) + r")"
                    r"\s+(?:the\s+)?([A-Z][\w’'-]+)")
# "on" after a capitalised word is part of a name ("Expert Group on Cybercrime", "Convention on
# the Rights of the Child"): what follows is a topic, not a place.
_NAME_BEFORE = re.compile(r"[A-Z][\w’'-]*\s+$")


def names_a_place(sentence: str, preposition_start: int, preposition: str) -> bool:
    """Whether the preposition at ``preposition_start`` introduces a place, not a name's topic."""
    return preposition.lower() != "on" or not _NAME_BEFORE.search(sentence, 0, preposition_start)


def _place_names(sentence: str) -> list[str]:
    return [m.group(1) for m in _PLACE.finditer(sentence) if names_a_place(sentence, m.start(), m.group().split()[0])]


_NOT_NAMES = frozenset("""the a an in on at it its this these that those they he she we i as by for from of to
    with and but or if when while after before during since although however also its their his her our
    january february march april may june july august september october november december""".split())
_WORD = re.compile(r"[\w’'-]+")


def expected_type(question: str) -> str | None:
    """The kind of thing a question asks for: ``number``, ``date``, ``place``, ``name`` or None."""
    q = question.lower()
    if re.search(r"\bhow (?:many|much|long|far|old|large|big|tall|high)\b|\bwhat (?:number|percentage|amount|proportion)\b", q):
        return "number"
    if re.search(r"\bwhen\b|\b(?:what|which) (?:year|date|month|day|time|century|decade|period)\b|\bin what year\b", q):
        return "date"
    if re.search(r"\bwhere\b|\b(?:in|at) (?:what|which) (?:place|city|country|region|town|location|venue)\b", q):
        return "place"
    if re.search(r"\bwho\b|\bwhom\b|\bwhose\b|\b(?:what|which) (?:company|organi[sz]ation|country|city|"
                 r"person|agency|team|group|university|state|place|name)\b|\b(?:called|named|titled|entitled)\b|"
                 r"\b(?:the )?(?:title|name) of\b", q):
        return "name"
    return None


_SEVERAL = re.compile(
    r"^(?:list|name|give|enumerate)\b|\b(?:what|which) (?:kinds?|sorts?|types?|forms?|examples?) of\b|"
    r"\b(?:what|which) are (?:the|some)\b|\bwhat (?:were|are) (?:the|some|its|their)\b|\bexamples?\b|"
    r"\b(?:all|several|various|both) (?:the )?\w+s\b|\b(?:what|which) (?:\w+ )?\w+s (?:are|were)\b|"
    r"\bwho (?:are|were) the\b|\bin what ways\b",
    re.IGNORECASE,
)


def asks_for_several(question: str) -> bool:
    """Whether the question asks for a list or several facts ("What kinds of activity ...?")."""
    return bool(_SEVERAL.search(question.strip()))


def _type_matches(kind: str | None, sentence: str, question_words: set[str]) -> list[str]:
    if kind is None:
        return []
    found = _place_names(sentence) if kind == "place" else \
        {"number": _NUMBER, "date": _YEAR_OR_DATE, "name": _CAPITALISED}[kind].findall(sentence)
    return [m for m in found
            if m.lower() not in question_words and not (kind in ("name", "place") and m.lower() in _NOT_NAMES)]


@dataclass(frozen=True)
class QuestionInfo:
    """What the feature functions need to know of a question, computed once."""

    text: str
    terms: tuple[str, ...]
    term_set: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    words: frozenset[str]
    kind: str | None


def question_info(question: str) -> QuestionInfo:
    terms = tuple(question_terms(question))
    ordered = content_terms(question)
    return QuestionInfo(question, terms, frozenset(terms), frozenset(zip(ordered, ordered[1:])),
                        frozenset(w.lower() for w in _WORD.findall(question)), expected_type(question))


# --- a detail of something the documents mention ------------------------------------------

_DIGITS = re.compile(r"\b\w*\d[\w,.]*\b")


def anchors(question: str) -> tuple[str, ...]:
    """The numbers and names a question is about, in order: "the November 2008 meeting" -> ("2008",).

    Months and function words are not names, nor is the question's first word.
    """
    found = [m.rstrip(".,") for m in _DIGITS.findall(question)]
    found += [m.group() for m in _CAPITALISED.finditer(question) if m.group().lower() not in _NOT_NAMES]
    positions = {w: question.find(w) for w in found if w}
    return tuple(sorted(positions, key=positions.get))


# The kind asked for by the question's own wh-phrase, not by a clause inside it: "Who fumbled the
# ball when tackled?" asks for a name, not a date.
_LEAD = r"^(?:(?:in|on|at|during|since|until|by|from|to|for) )?"
_DIRECT = {
    "date": re.compile(_LEAD + r"(?:when\b|(?:what|which) (?:year|date|month|day|century|decade)\b)", re.IGNORECASE),
    "number": re.compile(_LEAD + r"(?:how (?:many|much|long|far|old|large|big|tall|high)\b|"
                         r"what (?:number|percentage|amount|proportion)\b)", re.IGNORECASE),
    "place": re.compile(_LEAD + r"(?:where\b|(?:what|which) (?:place|city|country|region|town|location|venue)\b)",
                        re.IGNORECASE),
    "name": re.compile(_LEAD + r"(?:who|whom|whose)\b|\b(?:called|named|titled|entitled)\b", re.IGNORECASE),
}
# "When rock folds deep in the Earth, what does it create?": a later wh-word is the question.
_LATER_QUESTION = re.compile(r"^\s*\S.*?[\s,](?:what|which|who|whom|where|how)\b", re.IGNORECASE)
# Read loosely, so that a sentence that might answer is never taken for one that cannot:
# "until the 19th century" answers "how long", "three-fourths" or "half" answers "how much"
# (the question's own words do not count: "in 2011" does not answer "how many came in 2011?").
_LOOSE = {
    "date": re.compile(r"\d|\b(?:centur|decade|ago\b|eras?\b|epoch|period|season|spring\b|summer|autumn|winter|"
                       r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)", re.IGNORECASE),
    "number": re.compile(r"\d|\b(?:half|third|quarter|few|several|dozens?|hundreds|thousands|millions|percent)",
                         re.IGNORECASE),
}


def anchored_kind_missing(info: QuestionInfo, candidates: Sequence) -> tuple[str, ...]:
    """The question's anchors that sentences mention, when each of those sentences lacks the kind asked.

    "Where did the November 2008 meeting take place?" is about the sentence that mentions 2008;
    when that sentence names no place, a place elsewhere answers another question, and docqa
    declines. Empty (go on) when the question's own wh-phrase asks for no kind, when it names no
    number or name, or when no candidate sentence mentions one: the other evidence decides then.
    """
    if info.kind is None or not _DIRECT[info.kind].search(info.text.strip()) or _LATER_QUESTION.search(info.text):
        return ()
    wanted = {w.lower() for w in anchors(info.text)}
    mentioned: set[str] = set()
    for candidate in candidates:
        found = wanted & {w.lower() for w in _WORD.findall(candidate.text)}
        if found:
            if _could_answer(info, candidate.text):
                return ()
            mentioned |= found
    return tuple(w for w in anchors(info.text) if w.lower() in mentioned)


def _could_answer(info: QuestionInfo, sentence: str) -> bool:
    if _type_matches(info.kind, sentence, info.words):
        return True
    loose = _LOOSE.get(info.kind)
    if loose is not None and loose.search(" ".join(w for w in _WORD.findall(sentence) if w.lower() not in info.words)):
        return True
    return info.kind == "place" and bool(_type_matches("name", sentence, info.words))  # a name anywhere


def weighted_share(terms: Sequence[str], present, stats: TermStatistics) -> float:
    """The IDF-weighted share of ``terms`` found in ``present``."""
    total = sum(stats.idf(t) for t in terms)
    if total <= 0:
        return 0.0
    return sum(stats.idf(t) for t in terms if t in present) / total


def sentence_feature_rows(info: QuestionInfo, candidates: Sequence, stats: TermStatistics) -> np.ndarray:
    """One row of SENTENCE_FEATURES per candidate (a ``SentenceCandidate``)."""
    rows = []
    # A passage's retrieval score relative to the best passage's: hybrid scores lie in [0, 1],
    # dense ones are cosines and BM25's are unbounded, and one model serves all three modes.
    best_score = max((abs(c.hit.score) for c in candidates), default=0.0) or 1.0
    for candidate in candidates:
        terms = content_terms(candidate.text)
        term_set = set(terms)
        bigrams = set(zip(terms, terms[1:]))
        sentence_words = _WORD.findall(candidate.text)
        matches = _type_matches(info.kind, candidate.text, info.words)
        novel_capitals = [w for w in _CAPITALISED.findall(candidate.text)
                          if w.lower() not in info.words and w.lower() not in _NOT_NAMES]
        rows.append([
            candidate.similarity,
            0.0,  # similarity gap, filled below
            weighted_share(info.terms, term_set, stats),
            0.0,  # overlap gap, filled below
            (sum(1 for t in info.terms if t in term_set) / len(info.terms)) if info.terms else 0.0,
            (len(info.bigrams & bigrams) / len(info.bigrams)) if info.bigrams else 0.0,
            candidate.hit.score / best_score,
            1.0 / candidate.hit.rank,
            candidate.position / max(candidate.count - 1, 1),
            1.0 if candidate.position == 0 else 0.0,
            1.0 if info.kind else 0.0,
            1.0 if matches else 0.0,
            1.0 if info.kind and not matches else 0.0,
            math.log1p(len(sentence_words)),
            weighted_share(info.terms, set(content_terms(candidate.previous)), stats) if candidate.previous else 0.0,
            min(len(novel_capitals), 5) / 5.0,
            1.0 if _NUMBER.search(candidate.text) else 0.0,
        ])
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(SENTENCE_FEATURES))
    if len(rows):
        matrix[:, 1] = matrix[:, 0] - matrix[:, 0].max()
        matrix[:, 3] = matrix[:, 2] - matrix[:, 2].max()
    return matrix


def question_feature_row(info: QuestionInfo, hits: Sequence, best_probability: float, best_similarity: float,
                         best_type_present: bool, stats: TermStatistics) -> np.ndarray:
    """The QUESTION_FEATURES of a question, given its passages and its best sentence."""
    passage_terms: set[str] = set()
    for hit in hits:
        passage_terms.update(content_terms(hit.chunk.text))
    total_idf = sum(stats.idf(t) for t in info.terms)
    missing = [t for t in info.terms if stats.document_frequency.get(t, 0) == 0]
    top_dense = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
    top_keyword = max((h.keyword_score for h in hits if h.keyword_score is not None), default=0.0)
    return np.asarray([
        best_probability,
        best_similarity,
        weighted_share(info.terms, passage_terms, stats) if info.terms else 1.0,
        (sum(stats.idf(t) for t in missing) / total_idf) if total_idf > 0 else 0.0,
        top_dense,
        top_keyword / total_idf if total_idf > 0 else 0.0,
        math.log1p(len(info.terms)),
        1.0 if info.kind else 0.0,
        1.0 if info.kind and not best_type_present else 0.0,
        math.log1p(stats.chunk_count),  # a related sentence is likelier in a larger corpus
    ], dtype=np.float64)
