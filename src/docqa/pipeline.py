"""The one wiring place: corpus -> index -> retrieval -> answer, for the CLI, the UI and eval."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .answer import (AnswerPolicy, CandidateScores, SentenceCandidate, TermStatistics, candidate_spans, compose_answer,
                     reader_pairs, score_candidates, with_reader_logits)
from .chunking import ChunkingParams
from .cleaning import replace_surrogates, without_markup
from .embedding import Embedder, MiniLMEmbedder
from .errors import IndexNotFound, InvalidQuery, StaleIndex
from .build import BuildReport, build_index
from .index import LoadedIndex, load_index, read_manifest, settings_for, stale_reasons
from .llm import LLMSettings, answer_with_llm
from .reader import Reader, default_reader
from .retrieve import RetrievalSettings, check_k, retrieve
from .types import Answer, Document, Hit

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000


@dataclass
class Pipeline:
    """Holds the corpus and index locations, the model and the loaded index.

    The index is loaded once and reused; ``ensure_index`` builds or rebuilds it first when
    it is missing or stale. Questions keep being answered from the loaded index while a
    build runs (builds take ``_build_lock``, one at a time); the new index replaces it only
    once complete, and each question uses one index from start to end.
    """

    corpus_dir: Path
    index_dir: Path
    embedder: Embedder = field(default_factory=MiniLMEmbedder)
    chunking: ChunkingParams = field(default_factory=ChunkingParams)
    policy: AnswerPolicy = field(default_factory=AnswerPolicy)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    # the cross-encoder that reads each question with its best candidate sentences (None: without it)
    reader: Reader | None = field(default_factory=default_reader)
    # the user's language-model server, whose answers docqa checks (None: docqa's extractive answers)
    llm: LLMSettings | None = None

    def __post_init__(self) -> None:
        self.corpus_dir = Path(self.corpus_dir)
        self.index_dir = Path(self.index_dir)
        self._index: LoadedIndex | None = None
        self._stats: TermStatistics | None = None
        self._sentence_vectors: dict[tuple[str, int, int], np.ndarray] = {}
        self._lock = threading.RLock()  # guards the loaded index and what is derived from it
        self._build_lock = threading.RLock()

    @property
    def settings(self):
        return settings_for(self.embedder, self.chunking)

    def stale_reasons(self) -> list[str]:
        """What makes the index stale (empty when fresh). Raises IndexNotFound when there is none."""
        return stale_reasons(self.index_dir, self.corpus_dir, self.settings)

    def build(self, *, progress: bool = False, rebuild: bool = False) -> BuildReport:
        """Bring the index up to date with the corpus now, reusing what did not change.

        Args:
            rebuild: read and embed everything, ignoring the previous index.
        """
        with self._build_lock:
            report = build_index(self.corpus_dir, self.index_dir, self.embedder, self.chunking,
                                 progress=progress, rebuild=rebuild)
            if self.reader is not None:  # torch is loaded when the build embedded: questions then read without it
                self.reader.export_while_torch_is_loaded()
            with self._lock:
                self._forget_index()
            return report

    def ensure_index(self, *, build: bool = True, progress: bool = False) -> BuildReport | None:
        """Make sure a fresh index is loaded; build it first when missing or stale.

        Args:
            build: when False, a missing or stale index is an error instead.

        Returns:
            The build report when a build happened, else None.

        Raises:
            IndexNotFound, StaleIndex: only when ``build`` is False.
        """
        with self._build_lock:
            try:
                reasons = self.stale_reasons()
            except IndexNotFound:
                if not build:
                    raise IndexNotFound(
                        f"no index in {str(self.index_dir)!r}; run `docqa index` to build it, or drop --no-build"
                    ) from None
                logger.info("no index in %s: building it", self.index_dir)
                return self.build(progress=progress)
            if reasons:
                if not build:
                    raise StaleIndex(
                        f"the index in {str(self.index_dir)!r} is out of date ({'; '.join(reasons)}); "
                        f"run `docqa index` to update it, or drop --no-build",
                        reasons,
                    )
                logger.info("the index is out of date (%s): updating it", "; ".join(reasons))
                return self.build(progress=progress)
            with self._lock:
                if self._index is not None and self._index.manifest.get("files") != read_manifest(self.index_dir).get("files"):
                    self._forget_index()  # another process (`docqa index`) replaced the index on disk
                self.index  # load now, so the first question is fast
            return None

    @property
    def index(self) -> LoadedIndex:
        with self._lock:
            if self._index is None:
                self._index = load_index(self.index_dir)
            return self._index

    @property
    def term_stats(self) -> TermStatistics:
        with self._lock:
            if self._stats is None:
                # the BM25 index counts the same terms over the same chunks
                self._stats = TermStatistics(self.index.keyword.document_frequencies(), len(self.index.chunks))
            return self._stats

    def warm_up(self) -> None:
        """Load the model and the term statistics now, so that the first question does not wait for them."""
        self.embedder.embed(["warm up"])
        self.term_stats
        if self.reader is not None:
            self.reader.logits([("warm up", "warm up")])

    def _forget_index(self) -> None:
        self._index = None
        self._stats = None
        self._sentence_vectors = {}  # a new dict: questions still answering from the old index fill the old one

    def search(self, query: str, k: int = 5, *, retrieval: RetrievalSettings | None = None) -> list[Hit]:
        """The ``k`` passages most similar to ``query``, best first."""
        return self.search_many([query], k, retrieval=retrieval)[0]

    def search_many(self, queries: Sequence[str], k: int = 5, *, retrieval: RetrievalSettings | None = None) -> list[list[Hit]]:
        """Search several queries with one batched embedding call (``retrieval`` overrides the pipeline's)."""
        queries = [without_markup(checked_question(query)) for query in queries]
        index = self.index
        check_k(k, index)
        vectors = self.embedder.embed(queries)
        return retrieve(index, queries, vectors, k, retrieval or self.retrieval)

    def ask(self, question: str, k: int = 5, *, retrieval: RetrievalSettings | None = None,
            search_query: str | None = None, on_text: Callable[[str], None] | None = None) -> Answer:
        """Answer ``question`` from the ``k`` best passages, with citations, or decline.

        Args:
            retrieval: overrides the pipeline's retrieval settings for this question.
            search_query: what to retrieve by, when not the question itself (a follow-up
                question completed with the conversation's subject); sentences are still
                chosen for ``question``.
            on_text: with ``llm``, called with the model's reply so far as it streams in
                (a draft: the answer returned holds only its checked sentences).
        """
        return self.retrieve_and_answer([question], k, k, retrieval=retrieval, on_text=on_text,
                                        search_queries=None if search_query is None else [search_query])[0][1]

    def ask_many(self, questions: Sequence[str], k: int = 5, *, retrieval: RetrievalSettings | None = None) -> list[Answer]:
        """Answer several questions; their embeddings are computed in one batch."""
        return [answer for _, answer in self.retrieve_and_answer(questions, k, k, retrieval=retrieval)]

    def retrieve_and_answer(
        self, questions: Sequence[str], answer_k: int = 5, retrieve_k: int = 5, *,
        retrieval: RetrievalSettings | None = None, search_queries: Sequence[str] | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> list[tuple[list[Hit], Answer]]:
        """Retrieve ``retrieve_k`` passages per question and answer from the best ``answer_k``.

        Returns:
            For each question, the full ranking and the answer (whose passages are the first
            ``answer_k`` of it, re-ranked by their best sentence). Evaluation reads deeper
            rankings than answers need.
        """
        questions = [checked_question(question) for question in questions]
        queries = questions if search_queries is None else [checked_question(query) for query in search_queries]
        # what is searched and weighed: markup pasted into a question is none of its words
        weighed = [without_markup(query) for query in queries]
        with self._lock:  # one index for the whole answer, even when a build replaces it meanwhile
            index, stats, cache = self.index, self.term_stats, self._sentence_vectors
        check_k(max(answer_k, retrieve_k), index)
        query_vectors = self.embedder.embed(weighed)
        all_hits = retrieve(index, weighed, query_vectors, max(answer_k, retrieve_k), retrieval or self.retrieval)
        # A follow-up is answered as completed ("When was it published?" + the previous subject):
        # on tests/data/followups.jsonl the completed question answers 9 of 15 pairs, the bare
        # words 7 (benchmarks/followups.py, hybrid, k 5).
        all_candidates = [self._sentence_candidates(query_vector, hits[:answer_k], index, cache)
                          for query_vector, hits in zip(query_vectors, all_hits)]
        all_scores = self._scores(weighed, [hits[:answer_k] for hits in all_hits], all_candidates, index, stats)
        results = []
        for question, query, text, hits, candidates, scores in zip(questions, queries, weighed, all_hits, all_candidates,
                                                                   all_scores):
            answer_hits = hits[:answer_k]
            answer = compose_answer(text, answer_hits, candidates, index.documents, stats, self.policy, scores=scores)
            answer = with_places(answer, index.documents)
            if query != question:
                answer = replace(answer, extra={**answer.extra, "searched": query})
            answer = replace(answer, question=question)  # as asked, markup and all
            if self.llm is not None:
                answer = with_places(answer_with_llm(answer, index.documents, self.embedder.embed, self.llm, on_text),
                                     index.documents)
            results.append(([*answer.passages, *hits[answer_k:]], answer))
        return results

    def _scores(self, texts, all_hits, all_candidates, index, stats) -> list[CandidateScores]:
        """Each question's candidate scores; with the reader, the pairs of all the questions are
        read in one call (fuller batches, and a pair two questions share is read once)."""
        all_scores = [score_candidates(text, hits, candidates, index.documents, stats, self.policy)
                      for text, hits, candidates in zip(texts, all_hits, all_candidates)]
        if self.reader is None:
            return all_scores
        wanted = [reader_pairs(text, scores, candidates, self.policy) if len(candidates) else None
                  for text, scores, candidates in zip(texts, all_scores, all_candidates)]
        unique = list(dict.fromkeys(pair for item in wanted if item is not None for pair in item[1]))
        read = dict(zip(unique, self.reader.logits(unique).tolist())) if unique else {}
        return [scores if item is None else with_reader_logits(scores, item[0], [read[pair] for pair in item[1]])
                for scores, item in zip(all_scores, wanted)]

    def sentence_candidates(self, question_vector: np.ndarray, hits: Sequence[Hit]) -> list[SentenceCandidate]:
        """The sentences of ``hits`` with their cosine to the question.

        Sentence vectors come from the index (made with the chunk's own vector at build time);
        a sentence the index has none for (an index without them) is embedded now, once.
        """
        with self._lock:
            index, cache = self.index, self._sentence_vectors
        return self._sentence_candidates(question_vector, hits, index, cache)

    def _sentence_candidates(self, question_vector: np.ndarray, hits: Sequence[Hit], index: LoadedIndex,
                             cache: dict) -> list[SentenceCandidate]:
        spans = candidate_spans(hits)
        documents = index.documents
        vectors = [self._stored_sentence_vector(index, hit, start, end) for hit, start, end, *_ in spans]
        missing = [(hit.chunk.source, start, end) for (hit, start, end, *_), vector in zip(spans, vectors)
                   if vector is None and (hit.chunk.source, start, end) not in cache]
        if missing:
            embedded = self.embedder.embed([documents[s].text[a:b] for s, a, b in missing])
            with self._lock:
                cache.update(zip(missing, embedded))
        vectors = [cache[(hit.chunk.source, start, end)] if vector is None else vector
                   for (hit, start, end, *_), vector in zip(spans, vectors)]
        question_vector = np.asarray(question_vector, dtype=np.float32)
        return [
            SentenceCandidate(hit, start, end, documents[hit.chunk.source].text[start:end],
                              float(np.dot(vector.astype(np.float32), question_vector)), position, count,
                              documents[hit.chunk.source].text[previous[0]:previous[1]] if previous else "")
            for (hit, start, end, position, count, previous), vector in zip(spans, vectors)
        ]

    @staticmethod
    def _stored_sentence_vector(index: LoadedIndex, hit: Hit, start: int, end: int) -> np.ndarray | None:
        row = index.rows.get(hit.chunk.chunk_id)
        if index.sentences is None or row is None:
            return None
        chunk_spans, chunk_vectors = index.sentences.of_chunk(row)
        relative = (start - hit.chunk.start, end - hit.chunk.start)
        matches = np.flatnonzero((chunk_spans[:, 0] == relative[0]) & (chunk_spans[:, 1] == relative[1]))
        return np.asarray(chunk_vectors[matches[0]]) if len(matches) else None


def with_places(answer: Answer, documents: Mapping[str, Document]) -> Answer:
    """The answer with each citation's page, section and document title, taken where its quote starts.

    A chunk can run over a page break; the quote's own start says which page it is on.
    """
    citations = []
    for citation in answer.citations:
        document = documents.get(citation.source)
        if document is None:
            citations.append(citation)
            continue
        citations.append(replace(citation, page=document.page_at(citation.start),
                                 section=document.section_at(citation.start), title=document.title))
    return replace(answer, citations=tuple(citations))


def checked_question(question: str) -> str:
    """``question`` as docqa asks it: surrogates (bytes that were not UTF-8, lone JSON escapes) replaced by U+FFFD.

    Raises:
        InvalidQuery: an empty question, or one longer than ``MAX_QUESTION_CHARS``.
    """
    if not isinstance(question, str) or not question.strip():
        raise InvalidQuery("the question is empty; type a question about the documents")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuery(
            f"the question is {len(question):,} characters long; docqa takes up to {MAX_QUESTION_CHARS:,}: shorten it"
        )
    return replace_surrogates(question)
