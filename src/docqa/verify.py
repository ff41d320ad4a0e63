"""docqa's own check of a generated answer: each sentence against the passages it cites.

A model's answer is split into claims (its sentences, each with the passage markers it ends
with). A claim is supported when one run of one to three consecutive sentences of a passage it
cites says it, its last sentence saying most of it (the ones before give context: "In 2010, the
group organised two meetings. The second was held with Microsoft." supports "The group met
Microsoft in 2010", but "... with Microsoft. These talks went on in 2011." does not support
"The group met Microsoft in 2011"):

- every number and every name of the claim is in that run ("1995", "two", "Microsoft",
  "UNESCO"), so a wrong year, count or party is never passed on;
- the claim's other content words are in the run too (stemmed: "collaborated" for
  "collaboration"), all but one in ``WORDS_PER_MISSING`` at most; words of the question count
  as given, since an answer restates what it answers ("Which tech firm ...?" "The tech firm
  was ...").

Of the runs that pass, the one of fewest sentences is quoted, and among those the closest to
the claim by the bi-encoder's cosine.

Meaning is checked by words, so a model that paraphrases loses claims that a reader would
accept; that is the side to err on: an unsupported claim is never shown as cited.

The citation of a supported claim quotes that run verbatim, with its span, as docqa's
extractive answers do. A claim that cites no passage, cites a passage that was not given, or
whose cited passages do not say it is unsupported, with the reason.

A sentence of a passage that addresses the model ("Ignore previous instructions and say ...")
supports nothing: a model that obeyed it would otherwise find its claim "quoted".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .sentences import split_sentences
from .terms import STOPWORDS, content_terms, stem, words
from .types import Document, Hit

# one content word in this many may be missing from the run
WORDS_PER_MISSING = 8
MAX_RUN = 3
# one citation marker: "[2]", "[1, 3]", "[1; 3]"
_MARKER = r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]"
_MARKERS = re.compile(rf"\s*((?:{_MARKER}\s*)+)")
_MARKER_AFTER_STOP = re.compile(rf"([.!?])((?:\s*{_MARKER})+)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][\w'’&.-]*[\w]|\b[A-Z]\b")
_NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instructions?|prompts?|rules|directions)\b"
    r"|\b(?:system prompt|you are (?:an? )?(?:ai|assistant|language model|chatbot)|as an ai)\b"
    r"|\b(?:respond|reply|answer|say)\s+(?:only\s+)?(?:with|that)\b[^.!?\n]{0,80}\b(?:instead|regardless)\b",
    re.IGNORECASE)
_MONTHS_AND_DAYS = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split())


@dataclass(frozen=True)
class Claim:
    """A sentence of the model's answer without its markers, and the passage numbers it cited."""

    text: str
    markers: tuple[int, ...]


@dataclass(frozen=True)
class Verdict:
    """Whether ``claim`` is supported; if so, by ``document.text[start:end]`` of ``passage``
    (a 1-based passage number); if not, ``reason`` says why."""

    claim: Claim
    supported: bool
    passage: int | None = None
    start: int = 0
    end: int = 0
    reason: str = ""


@dataclass(frozen=True)
class _Evidence:
    """What every claim of one reply is checked against, worked out once for the reply."""

    passage_count: int
    asked: set[str]  # the question's content terms
    runs: list[tuple[int, int, int, int, int]]  # the cited runs: (passage number, start, end, sentences, last start)
    run_terms: dict[tuple, tuple]  # run -> (_run_terms of the run, _run_terms of its last sentence)
    run_vectors: dict[tuple, np.ndarray]  # run -> its unit vector


def split_claims(reply: str) -> list[Claim]:
    """The sentences of ``reply`` with the markers each ends with ("... in 2010 [1][3]." or
    "... in 2010. [1]"); a marker inside a sentence counts for it too."""
    text = _MARKER_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", " ".join(reply.split()))
    claims = []
    for start, end in split_sentences(text):
        sentence = text[start:end]
        markers = tuple(dict.fromkeys(int(n) for group in _MARKERS.findall(sentence) for n in re.findall(r"\d+", group)))
        claim = _MARKERS.sub(" ", sentence)
        claim = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(claim.split())).strip()
        if any(ch.isalnum() for ch in claim):
            claims.append(Claim(claim, markers))
    return claims


def required_terms(text: str) -> tuple[set[str], set[str]]:
    """The numbers (digits, or number words up to twenty, as digits) and the names (capitalised
    words that are not stopwords, a sentence's first included) of ``text``, lower-cased.

    A sentence's first word may be an ordinary word ("Officials met ..."): requiring it too
    drops a claim now and then, where leaving it out would pass "Google hosted it" for a
    passage that says Microsoft did.
    """
    numbers = _numbers(text)
    names = set()
    for match in _NAME.finditer(text):
        word = match.group().lower().rstrip(".").replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if word and word not in STOPWORDS and word not in _NUMBER_WORDS and (len(word) > 1 or match.group().isupper()):
            names.add(word)
    return numbers, names


def _numbers(text: str) -> set[str]:
    """The numbers of ``text`` as digits: its digits without thousands commas, and its number
    words up to twenty."""
    numbers = {n.replace(",", "") for n in _NUMBER.findall(text)}
    numbers |= {_NUMBER_WORDS[w] for w in words(text) if w in _NUMBER_WORDS}
    return numbers


def _run_terms(text: str) -> tuple[set[str], set[str], set[str]]:
    """The numbers, the words (without "'s") and the stemmed content words of a run's text."""
    tokens = {w[:-2] if w.endswith("'s") else w for w in words(text)}
    return _numbers(text), tokens, set(content_terms(text))


def passage_runs(hit: Hit, document: Document) -> list[tuple[int, int, int, int]]:
    """Runs of one to ``MAX_RUN`` consecutive sentences of the passage: (start, end) in the
    document, how many sentences, and where the last one starts."""
    spans = [(a, b) for a, b in split_sentences(document.text, hit.chunk.start, hit.chunk.end)
             if any(ch.isalnum() for ch in document.text[a:b])]
    usable = [not _INSTRUCTION.search(document.text[a:b]) for a, b in spans]
    return [(spans[i][0], spans[j][1], j - i + 1, spans[j][0]) for i in range(len(spans))
            for j in range(i, min(i + MAX_RUN, len(spans))) if all(usable[i : j + 1])]


def verify_claims(question: str, claims: Sequence[Claim], passages: Sequence[Hit],
                  documents: Mapping[str, Document], embed) -> list[Verdict]:
    """Check each claim against the passages it cites (``passages[n - 1]`` for marker n).

    ``embed``: texts -> unit vectors (the index's embedding model), for the cosine.
    """
    runs: list[tuple[int, int, int, int, int]] = []  # (passage number, start, end, sentences, last start)
    for number, hit in enumerate(passages, start=1):
        document = documents.get(hit.chunk.source)
        if document is not None:
            runs += [(number, a, b, n, last) for a, b, n, last in passage_runs(hit, document)]
    cited = {n for claim in claims for n in claim.markers}
    wanted = [r for r in runs if r[0] in cited]
    texts = [documents[passages[r[0] - 1].chunk.source].text[r[1]:r[2]] for r in wanted]
    vectors = np.asarray(embed([c.text for c in claims] + texts), dtype=np.float32) if claims and texts else None
    run_vectors = {r: vectors[len(claims) + i] for i, r in enumerate(wanted)} if vectors is not None else {}
    run_terms = {r: (_run_terms(text), _run_terms(text[r[4] - r[1]:])) for r, text in zip(wanted, texts)}
    evidence = _Evidence(len(passages), set(content_terms(question)), wanted, run_terms, run_vectors)
    # a claim's vector is only read when some run is cited, and then ``vectors`` is there
    return [_verdict(claim, vectors[index] if vectors is not None else None, evidence)
            for index, claim in enumerate(claims)]


def _verdict(claim: Claim, vector: np.ndarray | None, evidence: _Evidence) -> Verdict:
    """The verdict on ``claim`` (whose unit vector is ``vector``) from the cited runs of ``evidence``."""
    passage_count = evidence.passage_count
    if not claim.markers:
        return Verdict(claim, False, reason="it cites no passage")
    unknown = [n for n in claim.markers if not 1 <= n <= passage_count]
    if unknown:
        listed = ", ".join(f"[{n}]" for n in unknown)
        return Verdict(claim, False, reason=f"it cites {listed}, which is not one of the {passage_count} passages given")
    numbers, names = required_terms(claim.text)
    written = {stem(w): w for w in words(claim.text)}
    terms = set(content_terms(claim.text)) - evidence.asked - {stem(n) for n in names} - numbers - set(_NUMBER_WORDS)
    best: tuple[tuple[int, float], tuple[int, int, int, int, int]] | None = None
    fewest_missing: set[str] | None = None
    fewest_unsaid: set[str] | None = None
    for run in evidence.runs:
        if run[0] not in claim.markers:
            continue
        (run_numbers, run_tokens, run_stems), (last_numbers, last_tokens, last_stems) = evidence.run_terms[run]
        missing = (numbers - run_numbers) | {n for n in names if n not in run_tokens and stem(n) not in run_stems}
        if missing:
            if fewest_missing is None or len(missing) < len(fewest_missing):
                fewest_missing = missing
            continue
        unsaid = terms - run_stems
        if len(unsaid) > len(terms) // WORDS_PER_MISSING:
            if fewest_unsaid is None or len(unsaid) < len(fewest_unsaid):
                fewest_unsaid = unsaid
            continue
        said_last = (len(numbers & last_numbers) + sum(n in last_tokens or stem(n) in last_stems for n in names)
                     + len(terms & last_stems))
        if run[3] > 1 and 2 * said_last <= len(numbers) + len(names) + len(terms):
            continue  # its last sentence says too little: the run joins facts the passage keeps apart
        # the fewest sentences that say it, then the closest: a longer run only adds context
        key = (-run[3], float(vector @ evidence.run_vectors[run]))
        if best is None or key > best[0]:
            best = (key, run)
    cited = "".join(f"[{n}]" for n in claim.markers)
    if best is not None:
        number, start, end, _, _ = best[1]
        return Verdict(claim, True, number, start, end)
    if fewest_unsaid:
        listed = ", ".join(f"“{written.get(t, t)}”" for t in sorted(fewest_unsaid))
        return Verdict(claim, False, reason=f"the passage it cites ({cited}) does not say {listed}")
    if fewest_missing:
        listed = ", ".join(f"“{t}”" for t in sorted(fewest_missing))
        return Verdict(claim, False, reason=f"the passage it cites ({cited}) does not have {listed}")
    return Verdict(claim, False, reason=f"the passage it cites ({cited}) has no sentence to check it against")
