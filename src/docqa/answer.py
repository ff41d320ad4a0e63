"""Composing an extractive, cited answer from retrieved passages: pure functions.

The answer is made of whole sentences of the documents, each quoted verbatim with its span,
chosen by how well they match the question. When the evidence is too weak, the answer
declines plainly instead of quoting something unrelated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from .sentences import split_sentences
from .terms import QUESTION_WORDS, STOPWORDS, content_terms, question_terms, stem, words
from .types import Answer, Citation, Document, Hit


@dataclass(frozen=True)
class SentenceCandidate:
    """A sentence of a retrieved passage, with its cosine similarity to the question."""

    hit: Hit
    start: int
    end: int
    text: str
    similarity: float


@dataclass(frozen=True)
class AnswerPolicy:
    """Weights of the sentence score and thresholds of the decision to decline.

    A sentence scores ``similarity + overlap_weight * overlap + retrieval_weight * passage
    score + type_bonus`` (when it holds the kind of thing asked for: a year for "when", a
    number for "how many"). The question is declined when the best sentence scores below
    ``min_score``, or when the passages cover too little of the question's terms (IDF-weighted)
    and the best sentence's similarity does not make up for it.

    The thresholds were chosen on SQuAD v1.1 development articles: questions about indexed
    articles against questions about other articles, keeping false declines under 4%.
    """

    overlap_weight: float = 0.5
    retrieval_weight: float = 0.2
    type_bonus: float = 0.2
    max_sentences: int = 2
    second_sentence_margin: float = 0.06
    min_score: float = 0.7
    min_coverage: float = 0.25
    coverage_override_similarity: float = 0.5


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


def candidate_spans(hits: Sequence[Hit]) -> list[tuple[Hit, int, int]]:
    """The sentences of the retrieved chunks, each once (with its best-ranked hit)."""
    seen: set[tuple[str, int, int]] = set()
    spans: list[tuple[Hit, int, int]] = []
    for hit in hits:
        chunk = hit.chunk
        for start, end in split_sentences(chunk.text):
            key = (chunk.source, chunk.start + start, chunk.start + end)
            if key not in seen and re.search(r"\w", chunk.text[start:end]):
                seen.add(key)
                spans.append((hit, chunk.start + start, chunk.start + end))
    return spans


_LEANING_START = re.compile(
    r"^(?:it|its|this|these|that|those|they|their|them|he|she|his|her|such|both|the latter|the former)\b",
    re.IGNORECASE,
)
_YEAR_OR_DATE = re.compile(
    r"\b(?:1[5-9]\d\d|20\d\d)s?\b|\b(?:January|February|March|April|May|June|July|August|September|"
    r"October|November|December)\b"
)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"dozen|hundred|thousand|million|billion)\b", re.IGNORECASE)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]+")


def _expected_type(question: str) -> str | None:
    q = question.lower()
    if re.search(r"\bhow (?:many|much)\b|\bwhat (?:number|percentage|amount)\b", q):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (?:year|date|month|day|time)\b|\bwhich (?:year|date|month)\b", q):
        return "date"
    if re.search(r"\bwho\b|\bwhom\b|\bwhere\b|\bwhich (?:company|organi[sz]ation|country|city|person|agency)\b", q):
        return "name"
    return None


def _holds_expected_type(kind: str | None, sentence: str, question: str) -> bool:
    if kind is None:
        return False
    pattern = {"number": _NUMBER, "date": _YEAR_OR_DATE, "name": _NAME}[kind]
    asked = set(words(question))
    return any(m.lower() not in asked for m in pattern.findall(sentence))


def _weighted_share(terms: Sequence[str], present: set[str], stats: TermStatistics) -> float:
    total = sum(stats.idf(t) for t in terms)
    if total <= 0:
        return 0.0
    return sum(stats.idf(t) for t in terms if t in present) / total


def compose_answer(
    question: str,
    hits: Sequence[Hit],
    candidates: Sequence[SentenceCandidate],
    documents: Mapping[str, Document],
    stats: TermStatistics,
    policy: AnswerPolicy = AnswerPolicy(),
) -> Answer:
    """Choose the sentences that best answer ``question`` and cite them, or decline.

    Args:
        question: the question as asked.
        hits: the retrieved passages, best first.
        candidates: the sentences of those passages with their similarity to the question.
        documents: the corpus documents by source, for the sentence before a quote that
            leans on it ("It was hosted by ...").
        stats: term statistics of the index, to weigh rare question words more.
        policy: weights and thresholds.

    Returns:
        An Answer whose citations quote ``documents[source].text[start:end]`` exactly.
    """
    terms = question_terms(question)
    kind = _expected_type(question)
    scored: list[tuple[float, SentenceCandidate]] = []
    for candidate in candidates:
        overlap = _weighted_share(terms, set(content_terms(candidate.text)), stats)
        score = (
            candidate.similarity
            + policy.overlap_weight * overlap
            + policy.retrieval_weight * candidate.hit.score
            + (policy.type_bonus if _holds_expected_type(kind, candidate.text, question) else 0.0)
        )
        scored.append((score, candidate))
    scored.sort(key=lambda pair: (-pair[0], pair[1].hit.rank, pair[1].start))

    evidence = _evidence(question, terms, hits, scored, stats)
    if not scored or _should_decline(evidence, policy):
        return Answer(question, _decline_text(question, stats), False, (), tuple(hits), extra={"evidence": evidence})

    chosen = [scored[0]]
    for score, candidate in scored[1:]:
        if len(chosen) >= policy.max_sentences or score < chosen[0][0] - policy.second_sentence_margin:
            break
        if not any(_overlaps(candidate, c) or _same_words(candidate, c) for _, c in chosen):
            chosen.append((score, candidate))

    citations: list[Citation] = []
    parts: list[str] = []
    for marker, (_, candidate) in enumerate(chosen, start=1):
        start = _start_with_leaned_on_sentence(candidate, documents)
        document = documents[candidate.hit.chunk.source]
        quote = document.text[start : candidate.end]
        citations.append(
            Citation(marker, candidate.hit.chunk.source, candidate.hit.chunk.chunk_id, start, candidate.end, quote,
                     candidate.hit.chunk.page)
        )
        parts.append(f"{' '.join(quote.split())} [{marker}]")
    return Answer(question, " ".join(parts), True, tuple(citations), tuple(hits), extra={"evidence": evidence})


def _evidence(question, terms, hits, scored, stats: TermStatistics) -> dict:
    top_terms: set[str] = set()
    for hit in hits:
        top_terms.update(content_terms(hit.chunk.text))
    return {
        "best_similarity": round(max((c.similarity for _, c in scored), default=0.0), 4),
        "best_score": round(scored[0][0], 4) if scored else 0.0,
        "coverage": round(_weighted_share(terms, top_terms, stats), 4) if terms else 1.0,
        "terms_not_in_documents": _words_not_in_documents(question, stats),
    }


def _should_decline(evidence: dict, policy: AnswerPolicy) -> bool:
    if evidence["best_score"] < policy.min_score:
        return True
    return evidence["coverage"] < policy.min_coverage and evidence["best_similarity"] < policy.coverage_override_similarity


def _words_not_in_documents(question: str, stats: TermStatistics) -> list[str]:
    unknown: list[str] = []
    for word in words(question):
        if word in STOPWORDS or word in QUESTION_WORDS or len(word) < 2:
            continue
        if stats.document_frequency.get(stem(word), 0) == 0 and word not in unknown:
            unknown.append(word)
    return unknown


def _decline_text(question: str, stats: TermStatistics) -> str:
    unknown = _words_not_in_documents(question, stats)
    if unknown:
        listed = ", ".join(f"“{w}”" for w in unknown[:4])
        return f"The documents don't say: none of them mentions {listed}. The closest passages are listed below."
    return "The documents don't say. The closest passages are listed below, but none of them answers the question."


def _overlaps(a: SentenceCandidate, b: SentenceCandidate) -> bool:
    return a.hit.chunk.source == b.hit.chunk.source and a.start < b.end and b.start < a.end


def _same_words(a: SentenceCandidate, b: SentenceCandidate) -> bool:
    return words(a.text) == words(b.text)


def _start_with_leaned_on_sentence(candidate: SentenceCandidate, documents: Mapping[str, Document]) -> int:
    """Start the quote one sentence earlier when the sentence opens by pointing back at it."""
    if not _LEANING_START.match(candidate.text):
        return candidate.start
    document = documents.get(candidate.hit.chunk.source)
    if document is None:
        return candidate.start
    paragraph_start = document.text.rfind("\n\n", 0, candidate.start)
    paragraph_start = 0 if paragraph_start == -1 else paragraph_start + 2
    before = split_sentences(document.text, paragraph_start, candidate.start)
    return before[-1][0] if before else candidate.start
