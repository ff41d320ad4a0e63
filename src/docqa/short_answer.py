"""A short answer (a date, a number, a name) picked from the best sentence: pure functions.

Only for questions that ask for one of those kinds ("when", "how many", "who", "which
company", "what is it called", and "where": a name after "in", "at", "near" ...). The phrase
must not repeat the question, and must sit near the question's own words in the sentence;
otherwise there is no short answer rather than a guess.
"""

from __future__ import annotations

import re
import string
from collections import Counter

from .features import MONTH_PATTERN, PLACE_PREPOSITIONS, WEEKDAY_PATTERN, QuestionInfo, names_a_place
from .terms import content_terms

_MONTHS = MONTH_PATTERN
_DATE = re.compile(
    rf"\b(?:\d{{1,2}} )?{_MONTHS}(?: \d{{1,2}})?(?:,? \d{{4}})?\b|\b(?:1[0-9]\d\d|20\d\d)s?\b"
    r"|\b\d{1,2}(?:st|nd|rd|th) century\b"
)
_NUMBER = re.compile(
    r"(?:[$£€])?\b\d[\d,]*(?:\.\d+)?(?: ?(?:%|percent|per cent|million|billion|thousand|hundred))?\b"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"twenty|thirty|forty|fifty|hundred|thousand|million|dozen)(?:[- ](?:one|two|three|four|five|six|seven|"
    r"eight|nine|hundred|thousand|million))?\b",
    re.IGNORECASE,
)
_NAME = re.compile(
    r"\b[A-Z][\w’'.-]*(?:(?: (?:of|the|and|for|de|du|von|van|der|la|le|on))*(?: |-)[A-Z][\w’'.-]*)*"
)
_STOP_NAMES = frozenset("""the a an in on at it its this these that those they he she we i as by for from of to
    with and but or if when while after before during since although however also their his her our
    following""".split())
_PLACE_BEFORE = re.compile(r"\b(?:" + "|".join(PLACE_PREPOSITIONS) + r")\s+(?:the\s+)?$", re.IGNORECASE)
_TIME = re.compile(rf"{_MONTHS}\b|{WEEKDAY_PATTERN}\b")
_MAX_DISTANCE = 120  # characters between the phrase and the nearest question word


def find_short_answer(info: QuestionInfo, sentence: str) -> str | None:
    """The phrase of ``sentence`` that answers ``info`` (a date, number or name), or None."""
    if info.kind is None:
        return None
    pattern = {"date": _DATE, "number": _NUMBER, "name": _NAME, "place": _NAME}[info.kind]
    anchors = _anchor_positions(info, sentence)
    if not anchors:
        return None
    best: tuple[int, int, str] | None = None
    for match in pattern.finditer(sentence):
        phrase = _clean(match.group(), info.kind)
        if not phrase or _repeats_question(phrase, info):
            continue
        if info.kind == "name" and match.start() == 0 and len(phrase.split()) == 1:
            continue  # a single capitalised word opening the sentence is usually not a name
        if info.kind == "name" and _TIME.fullmatch(phrase):
            continue  # "February" of "the February 2009 report" is when, not who
        if info.kind == "place" and not _after_place_preposition(sentence, match.start(), phrase):
            continue  # a place follows "in", "at", "near" ...: "hosted by X" names who, "in January" when
        distance = min(_gap(match.span(), anchor) for anchor in anchors)
        key = (distance, match.start(), phrase)
        if best is None or key < best:
            best = key
    if best is None or best[0] > _MAX_DISTANCE:
        return None
    return best[2]


def _after_place_preposition(sentence: str, start: int, phrase: str) -> bool:
    before = _PLACE_BEFORE.search(sentence, 0, start)
    return (before is not None and not _TIME.match(phrase)
            and names_a_place(sentence, before.start(), before.group().split()[0]))


def _anchor_positions(info: QuestionInfo, sentence: str) -> list[tuple[int, int]]:
    """Spans of the sentence's words that are question terms."""
    spans = []
    for match in re.finditer(r"[^\W_]+", sentence):
        terms = content_terms(match.group())
        if terms and terms[0] in info.term_set:
            spans.append(match.span())
    return spans


def _gap(span: tuple[int, int], anchor: tuple[int, int]) -> int:
    """Characters between two spans (0 when they touch or overlap)."""
    return max(0, span[0] - anchor[1], anchor[0] - span[1])


def _clean(phrase: str, kind: str) -> str:
    phrase = phrase.strip(" ,.;:’'")
    if kind in ("name", "place"):
        words = phrase.split()
        while words and words[0].lower() in _STOP_NAMES:
            words.pop(0)
        phrase = " ".join(words)
    return phrase


def _repeats_question(phrase: str, info: QuestionInfo) -> bool:
    words = [w.lower() for w in re.findall(r"[\w’'-]+", phrase)]
    return bool(words) and all(w in info.words for w in words)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds) -> float:
    """1.0 when the prediction equals a gold answer after normalisation."""
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def f1_score(prediction: str, golds) -> float:
    """SQuAD's token F1, the best over the gold answers."""
    best = 0.0
    predicted = normalize_answer(prediction).split()
    for gold in golds:
        expected = normalize_answer(gold).split()
        common = Counter(predicted) & Counter(expected)
        overlap = sum(common.values())
        if overlap == 0:
            continue
        precision, recall = overlap / len(predicted), overlap / len(expected)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best
