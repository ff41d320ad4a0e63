"""Composing an extractive, cited answer from retrieved passages: pure functions.

The answer is made of whole sentences of the documents, each quoted verbatim with its span.
A learned scorer (``features.py``) rates each sentence of the retrieved passages; a second
model decides, from the evidence as a whole, whether the documents answer the question at
all. When they do not, the answer says so plainly instead of quoting something unrelated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Mapping, Sequence

import numpy as np


from .features import (MONTHS, QUESTION_FEATURES, SENTENCE_FEATURES, TermStatistics, anchored_kind_missing, asks_for_several,
                       money_missing, question_feature_row, question_info, sentence_feature_rows, shipped_model,
                       term_statistics)
from .reader import READER_FLOOR, READER_QUESTION_FEATURES, READER_SENTENCE_FEATURES, reader_pair
from .sentences import split_sentences
from .short_answer import find_short_answer
from .terms import QUESTION_WORDS, STOPWORDS, content_terms, stem, words, written_words
from .types import Answer, Citation, Document, Hit

__all__ = ["RULES", "AnswerPolicy", "CandidateScores", "SentenceCandidate", "TermStatistics", "candidate_spans",
           "compose_answer", "reader_pairs", "score_candidates", "term_statistics", "with_reader_logits", "years_not_in_documents"]


@dataclass(frozen=True)
class SentenceCandidate:
    """A sentence of a retrieved passage, with its cosine similarity to the question.

    ``position`` is its index among the ``count`` sentences of the passage, ``previous`` the
    text of the sentence before it in the passage ("" for the first).
    """

    hit: Hit
    start: int
    end: int
    text: str
    similarity: float
    position: int = 0
    count: int = 1
    previous: str = ""


# The answer stage's hand rules, by the name an ablation turns each off with:
RULES = {
    "labels": "a label (\"Members:\") is quoted with the list it introduces, and goes first when it names what is asked",
    "kind_missing": "decline when every sentence naming the question's names or numbers lacks the kind asked",
    "money": "decline a question for a sum of money when no sentence found gives one",
    "years": "decline a question about years no document mentions",
    "leaned_on": "quote the sentence before one that opens by pointing back at it (\"It was ...\")",
    "lists": "a question asking for several things takes up to three sentences",
    "short_answer": "a short answer (a name, date, number) before the quotes",
}


@dataclass(frozen=True)
class AnswerPolicy:
    """How many sentences an answer takes, and the models that score and decide.

    A second (third, …) sentence joins the best one when its probability of holding the
    answer is at least ``extra_sentence_ratio`` of the best one's and at least
    ``extra_sentence_minimum``; a question that asks for several things ("What kinds of ...",
    "List the ...") takes up to ``list_max_sentences`` with the ``list_`` ratio and minimum.
    ``sentence_model``, ``sentence_ranker`` and ``decline_model`` name JSON files in
    ``docqa/models``: the sentence model's best probability is evidence for the decline model,
    the ranker orders the sentences to quote (None: the sentence model does), and the decline
    model's threshold is stored with it (``decline_threshold`` overrides it).
    """

    # the ranker's probabilities (benchmarks/train_answer_models.py): on the held-out half, a
    # second sentence at 0.5 / 0.2 holds a gold answer more often than the linear scorer's at
    # 0.7 / 0.3 did, in fewer words; for lists, 0.35 / 0.1 as often as its 0.5 / 0.15
    max_sentences: int = 2
    extra_sentence_ratio: float = 0.5
    extra_sentence_minimum: float = 0.2
    list_max_sentences: int = 3
    list_extra_sentence_ratio: float = 0.35
    list_extra_sentence_minimum: float = 0.1
    sentence_model: str = "sentence_scorer"
    sentence_ranker: str | None = "sentence_ranker"
    decline_model: str = "answerability"
    decline_threshold: float | None = None
    # with a reader: how many of the ranker's best sentences it reads (8 answer as 12 did on
    # every held-out set, in two thirds of the time: docs/reader.md), and the models that
    # combine its logits with the ranker's (training/fit_answer_stage.py)
    reader_candidates: int = 8
    reader_combiner: str = "reader_combiner"
    reader_decline_model: str = "reader_answerability"
    # the answer stage's hand rules to leave out (RULES), for ablations (docqa eval --rules-off)
    rules_off: frozenset[str] = frozenset()

    def rule_on(self, rule: str) -> bool:
        return rule not in self.rules_off


@dataclass(frozen=True)
class _Scored:
    candidate: SentenceCandidate
    probability: float  # the ranker's
    quote_end: int  # the candidate's end, or for a label the end of the list it introduces
    names_asked: bool = False  # a label made of the question's words ("Members:")
    quote_text: str = ""  # the candidate's text, or for a label its text with the list it introduces


def candidate_spans(hits: Sequence[Hit]) -> list[tuple[Hit, int, int, int, int, tuple[int, int] | None]]:
    """The sentences of the retrieved chunks, each once (with its best-ranked hit).

    Returns:
        (hit, start, end, position in the chunk, sentences in the chunk, previous sentence span).
    """
    seen: set[tuple[str, int, int]] = set()
    spans = []
    for hit in hits:
        chunk = hit.chunk
        sentences = [(a, b) for a, b in split_sentences(chunk.text) if re.search(r"\w", chunk.text[a:b])]
        for position, (start, end) in enumerate(sentences):
            key = (chunk.source, chunk.start + start, chunk.start + end)
            if key in seen:
                continue
            seen.add(key)
            previous = sentences[position - 1] if position else None
            previous_span = (chunk.start + previous[0], chunk.start + previous[1]) if previous else None
            spans.append((hit, chunk.start + start, chunk.start + end, position, len(sentences), previous_span))
    return spans


ReaderScorer = Callable[[Sequence[tuple[str, str]]], np.ndarray]


@dataclass(frozen=True)
class CandidateScores:
    """What the answer stage knows of each candidate sentence, before it combines it.

    ``quoted`` are the candidates as they would be quoted (a label with the list it
    introduces); ``ranker`` the sentence ranker's probabilities; ``read`` the candidates the
    reader read (the ``reader_candidates`` best by the ranker) and ``reader_logits`` its logits
    (``READER_FLOOR`` for the rest), both None without a reader; ``answerable`` the feature-based
    answerability model's probability.
    """

    info: object
    quoted: list
    ends: list[int]
    rows: np.ndarray
    strongest: int | None
    best_probability: float
    best_type_present: bool
    best_similarity: float
    ranker: np.ndarray
    read: np.ndarray | None
    reader_logits: np.ndarray | None
    question_row: np.ndarray
    answerable: float


def score_candidates(
    question: str,
    hits: Sequence[Hit],
    candidates: Sequence[SentenceCandidate],
    documents: Mapping[str, Document],
    stats: TermStatistics,
    policy: AnswerPolicy = AnswerPolicy(),
    reader: ReaderScorer | None = None,
) -> CandidateScores:
    """Score every candidate by the feature models and, with a ``reader``, its best by the reader."""
    info = question_info(question)
    sentence_model = shipped_model(policy.sentence_model, SENTENCE_FEATURES)
    ranker = sentence_model if policy.sentence_ranker is None else shipped_model(policy.sentence_ranker, SENTENCE_FEATURES)
    decline_model = shipped_model(policy.decline_model, QUESTION_FEATURES)
    # where each sentence's quote ends: past its end for a label ("Members:"), with the list it
    # introduces; a label is also scored by that list, its names and its words
    ends = [_end_with_introduced_list(c, documents) if policy.rule_on("labels") else c.end for c in candidates]
    quoted = [c if end == c.end else replace(c, text=documents[c.hit.chunk.source].text[c.start:end])
              for c, end in zip(candidates, ends)]
    rows = sentence_feature_rows(info, quoted, stats)
    type_column = SENTENCE_FEATURES.index("type_present")
    # The scorer's best sentence is evidence for the decline model, trained with it.
    evidence_probabilities = sentence_model.probabilities(rows)
    strongest = min(range(len(candidates)), default=None,
                    key=lambda i: (-evidence_probabilities[i], candidates[i].hit.rank, candidates[i].start))
    best_probability = float(evidence_probabilities[strongest]) if strongest is not None else 0.0
    best_type_present = bool(rows[strongest, type_column]) if strongest is not None else False
    ranked = ranker.probabilities(rows)
    best_similarity = max((c.similarity for c in candidates), default=0.0)
    question_row = question_feature_row(info, hits, best_probability, best_similarity, best_type_present, stats)
    answerable = float(decline_model.probabilities(question_row[None, :])[0]) if len(candidates) else 0.0
    scores = CandidateScores(info, quoted, ends, rows, strongest, best_probability, best_type_present, best_similarity,
                             ranked, None, None, question_row, answerable)
    if reader is not None and len(candidates):
        read, pairs = reader_pairs(question, scores, candidates, policy)
        scores = with_reader_logits(scores, read, reader(pairs))
    return scores


def reader_pairs(question: str, scores: CandidateScores, candidates: Sequence[SentenceCandidate],
                 policy: AnswerPolicy = AnswerPolicy()) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The candidates the reader reads (the ranker's best ``reader_candidates``) and its pairs for them."""
    read = np.argsort(-scores.ranker, kind="stable")[: policy.reader_candidates]
    return read, [reader_pair(question, scores.quoted[i].text, candidates[i].previous) for i in read]


def with_reader_logits(scores: CandidateScores, read: np.ndarray, logits: Sequence[float]) -> CandidateScores:
    """``scores`` with the reader's ``logits`` for the candidates ``read`` (READER_FLOOR for the rest)."""
    reader_logits = np.full(len(scores.quoted), READER_FLOOR, dtype=np.float64)
    reader_logits[read] = np.asarray(logits, dtype=np.float64)
    return replace(scores, read=read, reader_logits=reader_logits)


def reader_sentence_rows(scores: CandidateScores) -> np.ndarray:
    """The reader combiner's rows: each candidate's reader logit and ranker logit."""
    return np.column_stack([scores.reader_logits, logit(scores.ranker)])


def reader_question_row(scores: CandidateScores, combined: np.ndarray) -> np.ndarray:
    """The reader decline model's row: the best reader logit, the best combined logit, and the
    feature-based answerability model's logit."""
    best_reader = float(scores.reader_logits.max()) if len(combined) else READER_FLOOR
    best_combined = float(logit(np.array([combined.max()]))[0]) if len(combined) else READER_FLOOR
    return np.array([best_reader, best_combined, float(logit(np.array([scores.answerable]))[0])])


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def compose_answer(
    question: str,
    hits: Sequence[Hit],
    candidates: Sequence[SentenceCandidate],
    documents: Mapping[str, Document],
    stats: TermStatistics,
    policy: AnswerPolicy = AnswerPolicy(),
    reader: ReaderScorer | None = None,
    scores: CandidateScores | None = None,
) -> Answer:
    """Choose the sentences that best answer ``question`` and cite them, or decline.

    Args:
        question: the question as asked.
        hits: the retrieved passages, best first.
        candidates: the sentences of those passages with their similarity to the question.
        documents: the corpus documents by source, for the sentence before a quote that
            leans on it ("It was hosted by ...").
        stats: term statistics of the index, to weigh rare question words more.
        policy: how many sentences, and which models.
        reader: the reader's logits for (question, sentence text) pairs; with it, the reader
            and the ranker together choose the sentences and decide the decline.
        scores: what ``score_candidates`` gave for these candidates, when worked out already
            (several questions' reader pairs read together); then ``reader`` is not used.

    Returns:
        An Answer whose citations quote ``documents[source].text[start:end]`` exactly; its
        ``extra["evidence"]`` holds what the decision rested on.
    """
    if scores is None:
        scores = score_candidates(question, hits, candidates, documents, stats, policy, reader)
    info, quoted, ends = scores.info, scores.quoted, scores.ends
    probabilities = scores.ranker
    answerable_probability = scores.answerable
    decline_threshold = shipped_model(policy.decline_model, QUESTION_FEATURES).threshold
    if scores.reader_logits is not None:
        combiner = shipped_model(policy.reader_combiner, READER_SENTENCE_FEATURES)
        probabilities = combiner.probabilities(reader_sentence_rows(scores))
        reader_decline = shipped_model(policy.reader_decline_model, READER_QUESTION_FEATURES)
        answerable_probability = float(reader_decline.probabilities(reader_question_row(scores, probabilities)[None, :])[0])
        decline_threshold = reader_decline.threshold
    # A label made of the question's own words ("Members:" for "Who are the members of the
    # group?") is the document's answer to it: it goes first, as likely as the best sentence.
    # The models, trained on running text, rate it by its words, and those of a sentence that
    # merely mentions "member states" and "the working group" outweigh it.
    # Only in a document that mentions the rest of the question: "What is the purpose of the HR
    # committee?" is not answered by the finance committee's "Purpose:".
    naming = [policy.rule_on("labels") and end > c.end
              and _names_what_is_asked(c.text, question, documents[c.hit.chunk.source].text)
              for c, end in zip(candidates, ends)]
    top = float(probabilities.max()) if len(probabilities) else 0.0
    scored = sorted(
        (_Scored(c, top if named else float(p), end, named, q.text)
         for c, q, p, end, named in zip(candidates, quoted, probabilities, ends, naming)),
        key=lambda s: (-s.probability, not s.names_asked, s.candidate.hit.rank, s.candidate.start),
    )
    threshold = decline_threshold if policy.decline_threshold is None else policy.decline_threshold
    unknown = _words_not_in_documents(question, stats)
    evidence = {
        "answerable_probability": round(answerable_probability, 4),
        "threshold": threshold,
        "best_sentence_probability": round(scores.best_probability, 4),
        "best_similarity": round(scores.best_similarity, 4),
        "coverage": round(float(scores.question_row[2]), 4),
        "terms_not_in_documents": unknown,
        "asked_kind_missing": bool(info.kind) and scores.strongest is not None and not scores.best_type_present,
        # the question's names and numbers, when every sentence mentioning them lacks what it
        # asks; a label naming what is asked answers, in a document that mentions them
        "mentioned_without_kind": [] if (scored and scored[0].names_asked) or not policy.rule_on("kind_missing")
        else list(anchored_kind_missing(info, quoted)),
        # the question asks how much money, and no sentence found gives a sum
        "no_sum_of_money": policy.rule_on("money") and money_missing(info, candidates),
        # the years the question names, when no document mentions any: what happened then, they can't say
        "years_not_in_documents": years_not_in_documents(question, stats) if policy.rule_on("years") else [],
    }
    if scores.reader_logits is not None:
        evidence["reader_best_logit"] = round(float(scores.reader_logits.max()), 4)
    if (not scored or answerable_probability < threshold or evidence["mentioned_without_kind"]
            or evidence["no_sum_of_money"] or evidence["years_not_in_documents"]):
        mentioned = evidence["mentioned_without_kind"]
        if mentioned:
            text = _detail_missing_text(mentioned, info.kind)
        elif evidence["no_sum_of_money"]:
            text = "The documents don't say: none of the passages found gives a sum of money."
        elif evidence["years_not_in_documents"] and scored and answerable_probability >= threshold:
            listed = " or ".join(evidence["years_not_in_documents"])
            text = f"The documents don't say: no document mentions {listed}."
        else:
            text = _decline_text(unknown)
        return Answer(question, text, False, (), by_evidence(hits, scored),
                      extra={"short_answer": None, "evidence": evidence})

    several = asks_for_several(question) and policy.rule_on("lists")
    max_sentences = policy.list_max_sentences if several else policy.max_sentences
    ratio = policy.list_extra_sentence_ratio if several else policy.extra_sentence_ratio
    minimum = policy.list_extra_sentence_minimum if several else policy.extra_sentence_minimum
    chosen: list[_Scored] = []
    # each chosen sentence and the span it is quoted by: from one sentence earlier when it leans
    # on it, to the end of the list it introduces when it is a label ("Members:")
    spans: list[tuple[SentenceCandidate, int, int]] = []
    for item in scored:
        if len(chosen) >= max_sentences:
            break
        if chosen and item.probability < max(ratio * chosen[0].probability, minimum):
            break
        if chosen and chosen[0].names_asked and not item.names_asked:
            continue  # what a label of the question's words introduces answers it; other labels may join
        candidate = item.candidate
        if _LABEL.match(item.quote_text.strip()):
            continue  # a label that leads to nothing ("Risks:" at a document's end) says nothing
        if any(_overlaps(candidate, c.candidate) or words(item.quote_text) == words(c.quote_text) for c in chosen):
            continue
        same_document = [(begin, end) for c, begin, end in spans if c.hit.chunk.source == candidate.hit.chunk.source]
        if any(begin <= candidate.start and candidate.end <= end for begin, end in same_document):
            continue  # quoted already, as the sentence another leans on or in a list: it takes no place of its own
        start = _start_with_leaned_on_sentence(candidate, documents) if policy.rule_on("leaned_on") else candidate.start
        if any(start < end and begin < candidate.start for begin, end in same_document):
            start = candidate.start  # the sentence it leans on is quoted already
        end = item.quote_end
        if any(candidate.end < end and begin < end and candidate.end < stop for begin, stop in same_document):
            continue  # a label whose list is quoted in part already: alone, it would add nothing
        chosen.append(item)
        spans.append((candidate, start, end))
    if not chosen:  # only labels that lead to nothing were found: the best of them, as it is
        chosen, spans = [scored[0]], [(scored[0].candidate, scored[0].candidate.start, scored[0].quote_end)]

    short = find_short_answer(info, chosen[0].candidate.text) if policy.rule_on("short_answer") else None
    evidence["short_answer"] = short
    citations: list[Citation] = []
    parts: list[str] = [f"{short} —"] if short else []
    for marker, (candidate, start, end) in enumerate(spans, start=1):
        document = documents[candidate.hit.chunk.source]
        quote = document.text[start:end]
        citations.append(Citation(marker, candidate.hit.chunk.source, candidate.hit.chunk.chunk_id, start,
                                  end, quote, candidate.hit.chunk.page))
        parts.append(f"{' '.join(quote.split())} [{marker}]")
    return Answer(question, " ".join(parts), True, tuple(citations), by_evidence(hits, scored),
                  extra={"short_answer": short, "evidence": evidence})


def by_evidence(hits: Sequence[Hit], scored: Sequence[_Scored]) -> tuple[Hit, ...]:
    """The passages re-ranked by the probability of their best sentence holding the answer.

    Retrieval scores a passage as a whole; the ranker looks at the one sentence that answers,
    so its order puts the right passage first more often (hybrid hit@1 on the 20 articles of
    ``docqa eval ../shared/data/squad-v1.1-dev-part1.json --holdout-articles 4``: 0.809 in
    retrieval order, 0.842 by the linear scorer's sentences, 0.859 by the ranker's). Passages
    keep their retrieval ``score``; ties and passages without sentences keep the retrieval order.
    """
    best: dict[str, float] = {}
    for item in scored:
        chunk_id = item.candidate.hit.chunk.chunk_id
        best[chunk_id] = max(best.get(chunk_id, 0.0), item.probability)
    ordered = sorted(hits, key=lambda hit: (-best.get(hit.chunk.chunk_id, -1.0), hit.rank))
    return tuple(replace(hit, rank=rank) for rank, hit in enumerate(ordered, start=1))


_YEAR = re.compile(r"\b(1\d{3}|20\d{2})(s?)\b")
_YEAR_BEFORE = re.compile(r"\b(?:in|of|since|from|during|between|and|to|the|year|years|" + "|".join(MONTHS)
                          + r"|spring|summer|autumn|fall|winter|\d{1,2}(?:st|nd|rd|th)?),?\s+$", re.IGNORECASE)
_APPROXIMATE = re.compile(r"\b(?:around|about|circa|c\.|approximately|roughly|nearly|early|mid|late|before|after|until|"
                          r"till|since|by|prior to)(?:\s+|-)(?:the\s+)?$", re.IGNORECASE)


def years_not_in_documents(question: str, stats: TermStatistics) -> list[str]:
    """The years ``question`` names, when the documents mention none of them (else none).

    A number is a year after "in", "since", "the", a month … ("in 2015", "the 2015 report")
    or with "s" or "'s" ("the 1650s", "2015's"); "a limit of 1500 MB" names none. A decade or
    a century is mentioned by any year in it, a year by the years next to it ("1629–31"), its
    decade or century ("the 1920s") and a fiscal year ("FY2017"); an approximate year ("around
    1630", "by 2015") is never the reason to decline.
    """
    named = []
    for match in _YEAR.finditer(question):
        year, plural = int(match.group(1)), bool(match.group(2))
        before = question[: match.start()]
        if not plural and _APPROXIMATE.search(before):
            return []
        if not (plural or _YEAR_BEFORE.search(before) or question.startswith(("'s", "’s"), match.end())):
            continue
        last = year + (99 if year % 100 == 0 else 9) if plural else year
        terms = [stem(match.group().lower()), f"{year // 10 * 10}s", f"{year // 100 * 100}s",
                 *(str(near) for near in range(year - 1, last + 2)), *(f"fy{near}" for near in range(year, last + 1))]
        if any(stats.document_frequency.get(term, 0) for term in terms):
            return []
        named.append(match.group())
    return named


def _words_not_in_documents(question: str, stats: TermStatistics) -> list[str]:
    """The question's words, as written, whose stem no document has."""
    unknown: dict[str, str] = {}
    for written, word in zip(written_words(question), words(question)):
        if word in STOPWORDS or word in QUESTION_WORDS or len(word) < 2:
            continue
        if stats.document_frequency.get(stem(word), 0) == 0:
            unknown.setdefault(word, written)
    return list(unknown.values())


def _decline_text(unknown: Sequence[str]) -> str:
    """The decline, then the question's words that no document has (``unknown``).

    The words are a fact to rephrase by, not the reason: "When did the group put out its
    report?" is declined because no passage found answers it well enough, not because no
    document says "put".
    """
    text = "The documents don't say: none of the passages found answers the question."
    if unknown:
        listed = ", ".join(f"“{w}”" for w in unknown[:4])
        text += f" No document mentions {listed}."
    return text


def _detail_missing_text(mentioned: Sequence[str], kind: str | None) -> str:
    """The decline when the passages mention what the question is about, but not the ``kind`` it asks."""
    listed = " or ".join(f"“{w}”" for w in mentioned)
    return f"The documents don't say: the passages found that mention {listed} do not give the {kind} asked for."


def _overlaps(a: SentenceCandidate, b: SentenceCandidate) -> bool:
    return a.hit.chunk.source == b.hit.chunk.source and a.start < b.end and b.start < a.end


_LEANING_START = re.compile(
    r"^(?:it|its|this|these|that|those|they|their|them|he|she|his|her|such|both|the latter|the former)\b",
    re.IGNORECASE,
)


# A label that introduces what follows on the next lines: "Members:", "Additional Partners:".
_LABEL = re.compile(r"^[^.!?]{1,80}:$")
MAX_LIST_CHARS = 2000
# A list's lines: items marked as such, or short ones ("International Telecommunication Union (ITU)").
_LIST_ITEM = re.compile(r"^\s*(?:[•◦▪‣*-]|\d{1,3}[.)]|[a-z][.)])\s")
MAX_ITEM_CHARS = 120


def _end_with_introduced_list(candidate: SentenceCandidate, documents: Mapping[str, Document]) -> int:
    """End the quote of a label ("Members:") with what it introduces on the lines below.

    The label alone says nothing. Under it, a list (lines up to a blank line, some marked or
    short, at most ``MAX_LIST_CHARS`` characters, cut at a line end) is the answer, and is
    quoted whole; running text ("Purpose:" then lines all long and unmarked) is quoted up to the
    end of its first sentence. Only a label on a line of its own leads on, over one blank line
    at most ("Risks:", a blank line, then the list).
    """
    document = documents.get(candidate.hit.chunk.source)
    if document is None or not _LABEL.match(candidate.text.strip()):
        return candidate.end
    text = document.text
    after = re.match(r"[ \t]*\n(?:[ \t]*\n)?(?=[ \t]*\S)", text[candidate.end : candidate.end + 200])  # a blank line may follow
    if not after:
        return candidate.end
    begin = candidate.end + after.end()
    block_end = text.find("\n\n", begin)
    block_end = len(text) if block_end == -1 else block_end
    window = min(block_end, begin + MAX_LIST_CHARS)
    lines = [line for line in text[begin:window].splitlines() if line.strip()]
    if lines and not any(_LIST_ITEM.match(line) or len(line.strip()) <= MAX_ITEM_CHARS for line in lines):
        # running text under a heading ("Purpose:"), not a list (whose lines are marked or
        # short, though one may be long): the heading with its first sentence, when that ends
        # within the window
        first = split_sentences(text, begin, window)
        return first[0][1] if len(first) > 1 or (first and window == block_end) else candidate.end
    if block_end - candidate.end > MAX_LIST_CHARS:
        block_end = text.rfind("\n", begin, candidate.end + MAX_LIST_CHARS)
        if block_end <= begin:
            return candidate.end
    return len(text[:block_end].rstrip())


_AFTER_NAMED = frozenset("of for and or in on at from to with about".split())
_WH = frozenset("what who whom which where what's who's".split())  # not "how": "How old are the members?"
_AUXILIARY = frozenset("is are was were do does did can could should would will".split())
_DETERMINER = frozenset("the a an its their his her our your i we you they this that these those".split())


def _names_what_is_asked(text: str, question: str, document: str) -> bool:
    """Whether ``text`` is a label ("Additional Partners:") naming what ``question`` asks for.

    Its words stand in the question in a row, right after its opening ("Who are the",
    "Which organisations are the", "Whom do I", or another label and "and"), at the question's
    end or before a preposition or "and". "Who are the members of the group?" asks for the
    members; "Which member states replied?" for member states, which a "Members:" list is not;
    "What did the review say about installation?" for what the review said, which an
    "Installation:" heading does not open with. The question's other words must be in the
    label's ``document``: "Who are the members of the HR committee?" is not answered by a
    "Members:" list of a document that never mentions HR.
    """
    label = text.strip()
    if not _LABEL.match(label):
        return False
    wanted = content_terms(label)
    asked = words(question)
    content = [(i, stem(w)) for i, w in enumerate(asked) if w not in STOPWORDS and w not in QUESTION_WORDS]
    for first in range(len(content) - len(wanted) + 1) if wanted else ():
        run = content[first : first + len(wanted)]
        if [term for _, term in run] == wanted:
            after = run[-1][0] + 1
            if (after == len(asked) or asked[after] in _AFTER_NAMED) and _opens_on(asked[: run[0][0]]):
                others = {term for _, term in content} - set(wanted)
                return others <= _document_terms(document)
    return False


@lru_cache(maxsize=8)
def _document_terms(text: str) -> frozenset[str]:
    """The content terms of a document's text (the same texts recur from question to question)."""
    return frozenset(content_terms(text))


def _opens_on(before: Sequence[str]) -> bool:
    """Whether the words ``before`` a label are only a question's opening: a wh-word, at most
    one word more ("Which organisations"), an auxiliary, then determiners or pronouns; or any
    opening and a list ending in "and" ("Who are the members and the")."""
    rest = list(before)
    while rest and rest[-1] in _DETERMINER:
        rest.pop()
    if rest and rest[-1] == "and":
        return rest[0] in _WH
    if not rest or rest[0] not in _WH:
        return False
    if rest[0] in ("what's", "who's"):
        return len(rest) == 1
    middle = rest[1:]
    if middle and middle[0] not in _AUXILIARY:
        middle = middle[1:]  # "Which organisations are the"
    return not middle or (len(middle) == 1 and middle[0] in _AUXILIARY)


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
