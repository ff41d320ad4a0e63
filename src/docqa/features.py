"""Features of candidate sentences and of questions, and the small models over them.

Three models decide docqa's answers: a logistic regression scores how likely a sentence is to
contain the answer, and its best score is evidence for a second, which judges how likely the
question is answered by the documents at all; a small ensemble of boosted trees over the same
sentence features ranks the sentences, to choose which to quote. All are trained by
``benchmarks/train_answer_models.py`` on SQuAD articles and shipped as JSON in
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

from .terms import STOPWORDS, content_terms, question_terms

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


@dataclass(frozen=True)
class TreeModel:
    """Boosted regression trees for a probability: ``sigmoid(init + rate * sum of leaf values)``.

    Each tree is stored as arrays over its nodes (``feature``, ``threshold``, ``left``,
    ``right``, ``value``); a row goes left when its feature is at most the threshold. Leaves
    point to themselves, so every tree is walked ``depth`` steps at once for all rows.
    """

    features: tuple[str, ...]
    init: float
    rate: float
    depth: int
    feature: np.ndarray  # (trees, nodes) int
    threshold: np.ndarray  # (trees, nodes) float
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if rows.size == 0:
            return np.zeros(len(rows))
        rows = np.asarray(rows, dtype=np.float64)
        trees = np.arange(self.feature.shape[0])[None, :]
        node = np.zeros((len(rows), self.feature.shape[0]), dtype=np.int64)
        row_index = np.arange(len(rows))[:, None]
        for _ in range(self.depth):
            go_left = rows[row_index, self.feature[trees, node]] <= self.threshold[trees, node]
            node = np.where(go_left, self.left[trees, node], self.right[trees, node])
        z = self.init + self.rate * self.value[trees, node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"kind": "trees", "features": list(self.features), "init": self.init, "rate": self.rate,
                "depth": self.depth, "trees": [
                    {"feature": f.tolist(), "threshold": t.tolist(), "left": a.tolist(), "right": b.tolist(),
                     "value": v.tolist()}
                    for f, t, a, b, v in zip(self.feature, self.threshold, self.left, self.right, self.value)]}

    @classmethod
    def from_dict(cls, data: dict) -> "TreeModel":
        trees = data["trees"]
        width = max(len(tree["feature"]) for tree in trees)

        def stacked(key: str, dtype, pad) -> np.ndarray:
            return np.array([tree[key] + [pad] * (width - len(tree[key])) for tree in trees], dtype=dtype)

        return cls(tuple(data["features"]), float(data["init"]), float(data["rate"]), int(data["depth"]),
                   stacked("feature", np.int64, 0), stacked("threshold", np.float64, np.inf),
                   stacked("left", np.int64, 0), stacked("right", np.int64, 0), stacked("value", np.float64, 0.0))


@lru_cache(maxsize=4)
def shipped_model(name: str, features: tuple[str, ...]) -> LinearModel | TreeModel:
    """A model shipped in ``docqa/models/<name>.json``, checked to use ``features``.

    Raises:
        RuntimeError: the model was trained on other features (a code change without retraining).
    """
    text = resources.files("docqa").joinpath("models", f"{name}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    model = TreeModel.from_dict(data) if data.get("kind") == "trees" else LinearModel.from_dict(data)
    if model.features != features:
        raise RuntimeError(
            f"docqa/models/{name}.json was trained on other features; run benchmarks/train_answer_models.py"
        )
    return model


# --- what a question asks for ------------------------------------------------------------

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_PATTERN = "(?:" + "|".join(MONTHS) + ")"
WEEKDAY_PATTERN = "(?:" + "|".join(WEEKDAYS) + ")"
_YEAR_OR_DATE = re.compile(
    r"\b(?:1[0-9]\d\d|20\d\d)s?\b|\b" + MONTH_PATTERN + r"\b|\b\d{1,2}(?:st|nd|rd|th)? century\b"
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
    with and but or if when while after before during since although however also its their his her our""".split()
                       + [m.lower() for m in MONTHS])
_WORD = re.compile(r"[\w’'-]+")


# The phrases that ask for each kind, tried in this order.
KIND_PHRASES = {
    "number": r"how (?:many|much|long|far|old|large|big|tall|high)\b|what (?:number|percentage|amount|proportion)\b",
    "date": r"when\b|(?:what|which) (?:year|date|month|day|time|century|decade|period)\b|in what year\b",
    "place": r"where\b|(?:in|at) (?:what|which) (?:place|city|country|region|town|location|venue)\b",
    "name": r"who\b|whom\b|whose\b|(?:what|which) (?:company|organi[sz]ation|country|city|person|agency|team|group|"
            r"university|state|place|name)\b|(?:called|named|titled|entitled)\b|(?:the )?(?:title|name) of\b",
}
_ASKS = {kind: re.compile(r"\b(?:" + phrase + ")") for kind, phrase in KIND_PHRASES.items()}


# A question's own wh-word, and the wh-words that open a clause after it: "Which pupils do
# teachers favour when order takes lesson time?" asks for no date, "What would someone who
# disobeys do?" for no name.
_OWN_WH = re.compile(r"^\W*(?:(?:in|on|at|during|since|until|by|from|to|for|of|with|after|before|under) )?"
                     r"(?:what|which|who|whom|whose|when|where|why|how)\b")
_CLAUSE_WH = re.compile(r"\b(?:when|where|who|whom|whose)\b")


def expected_type(question: str) -> str | None:
    """The kind of thing a question asks for: ``number``, ``date``, ``place``, ``name`` or None."""
    q = question.lower()
    own = _OWN_WH.search(q)
    if own:
        q = q[: own.end()] + _CLAUSE_WH.sub("-", q[own.end() :])
    return next((kind for kind, asks in _ASKS.items() if asks.search(q)), None)


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
    amount: str | None = None  # for a number: "money", "age", "count" or None (how long, how far ...)


def question_info(question: str) -> QuestionInfo:
    terms = tuple(question_terms(question))
    ordered = content_terms(question)
    kind = expected_type(question)
    return QuestionInfo(question, terms, frozenset(terms), frozenset(zip(ordered, ordered[1:])),
                        frozenset(w.lower() for w in _WORD.findall(question)), kind,
                        _amount_asked(question) if kind == "number" else None)


# --- a detail of something the documents mention ------------------------------------------

# Words as mentions: "2008-09" mentions 2008, "Newcastle's" mentions Newcastle, "2,000" is 2000.
_MENTION = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|[^\W_]+(?:[-–][^\W_]+)*")
# A name of several words: "German Foreign Office", "University of Chicago", "Department of the Interior".
_NAME_RUN = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:(?:of|the|and|for|on)\s+)*[A-Z][\w’'-]*)*")


def _mention_tokens(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group().replace(",", "")) for m in _MENTION.finditer(text)]


def _mentioned(text: str) -> set[str]:
    found: set[str] = set()
    for _, _, token in _mention_tokens(text):
        found.add(token)
        found.update(re.split(r"[-–]", token))
    # a name mentions its initials, and those of its last words: "European Union" mentions
    # "EU", "Super Bowl Most Valuable Player" "MVP"
    for run in _NAME_RUN.finditer(text):
        initials = "".join(word[0] for word in run.group().split() if word[0].isupper() and word.lower() not in _NOT_NAMES)
        found.update(initials[start:] for start in range(len(initials) - 1))
    return found


def question_mentions(question: str) -> tuple[str, ...]:
    """The numbers and names a question is about, in order: "the November 2008 meeting" -> ("2008",).

    Capitalised words next to each other are one name ("the FIFA World Cup" -> "FIFA World Cup").
    Months and function words are not names, nor is the question's first word.
    """
    question = question.strip()
    phrases: list[list] = []  # [end, text]
    for number, (start, end, token) in enumerate(_mention_tokens(question)):
        is_number = any(ch.isdigit() for ch in token)
        is_name = number > 0 and token[0].isupper() and token.lower() not in _NOT_NAMES
        if not (is_number or is_name):
            continue
        if phrases and is_name and not is_number and question[phrases[-1][0]:start] == " " \
                and not any(ch.isdigit() for ch in phrases[-1][1]):
            phrases[-1] = [end, f"{phrases[-1][1]} {token}"]
        else:
            phrases.append([end, token])
    return tuple(dict.fromkeys(text for _, text in phrases))


# Asked by the question's own wh-phrase, not by a clause inside it: "Who fumbled the ball when
# tackled?" asks for a name, not a date; "What is the second film called?" asks for a name.
_LEAD = r"^(?:(?:in|on|at|during|since|until|by|from|to|for) )?(?:"
_DIRECT = {kind: re.compile(_LEAD + phrase + ")") for kind, phrase in KIND_PHRASES.items()}
_NAME_ASKED = re.compile(r"^what\b[^?]*\b(?:called|named|titled|entitled)\W*$|^what (?:is|was|are|were) the (?:title|name)s? of\b")
# "When rock folds deep in the Earth, what does it create?", "When the meeting ended, did the group
# publish a report?": a later wh-word, or a yes/no question after a comma, is the question.
_LATER_QUESTION = re.compile(r"^\s*\S.*?(?:[\s,](?:what|which|who|whom|where|how)\b|,\s*(?:did|does|do|is|was|are|were|"
                             r"can|could|will|would|has|have|had|should)\b)", re.IGNORECASE)
# Read loosely, so that a sentence that might answer is never taken for one that cannot:
# "until the 19th century" answers "how long", "half" answers "how much", "by the working
# group" answers "who", "online" answers "where" (the question's own words do not count: "in
# 2011" does not answer "how many came in 2011?").
_LOOSE = {
    "date": re.compile(r"\d|\b(?:centur|decade|ago\b|eras?\b|epoch|period|season|spring\b|summer|autumn|winter|"
                       r"recent|later\b|earlier\b|after\b|before\b|until\b|since\b|during\b|following\b|prior\b|" + WEEKDAY_PATTERN + ")",
                       re.IGNORECASE),
    "number": re.compile(r"\d|\b(?:half|third|quarter|few|several|percent|second|minute|hour|day|week|month|year|"
                         r"decade|centur)", re.IGNORECASE),
    "place": re.compile(r"\b(?:online|abroad|overseas|headquarters|home)\b", re.IGNORECASE),
    "name": re.compile(r"\bby (?:the |a |an |its |their )?[a-z]", re.IGNORECASE),
}
_ANY_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*")
_ORGANISATION = re.compile(r"\b(?:Office|Ministry|Department|Agency|Committee|Commission|Council|Corporation|Company|"
                           r"Inc|Ltd|Group|Team|Association|Organi[sz]ation|Foundation|Bureau|Directorate|Secretariat|"
                           r"Service|Party|Board|Authority|Administration|Force|Unit|Network|Partners|Initiative|Fund|"
                           r"Bank|Police|Army|Navy)\b")
# A place need not be a name: "through the depths of the oceans", "across the plains" (the noun
# not one of the question's own words).
_COMMON_PLACE = re.compile(r"\b(?:through|throughout|across|along|into|around|near|inside|outside|beneath|under|"
                           r"towards?) (?:the|a|an|its|their) ([a-z][\w’'-]*)", re.IGNORECASE)


# "How much did it cost?" asks for an amount of money, "How old was he?" for an age, "How many
# ships?" for a count: a year gives none of them ("In 1979, GTE bought Telenet" does not say for
# how much), though it can say how long.
_AMOUNT_ASKED = {
    "money": re.compile(r"^how much\b[^?]*\b(?:money|cost|costs|costing|price|priced|prices|paid|pay|pays|fees?|"
                        r"salary|salaries|wages?|budget|revenues?|profits?|funding|invested|investment)\b|"
                        r"^what (?:was|is|were|are) the (?:cost|price|budget|fee|salary)\b"),
    "age": re.compile(r"^how old\b"),
    "count": re.compile(r"^how many\b"),
}
_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
                 r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|"
                 r"thousands?|millions?|billions?|dozens?")
# Besides a number that is not a year, what may give each amount (read loosely).
_AMOUNT_GIVEN = {
    "money": re.compile(r"[$£€¥₹₩₽]|\d(?:bn|m|k)\b|\b(?:dollars?|pounds?|euros?|yen|yuan|renminbi|francs?|marks|cents?|"
                        r"pence|shillings?|rupees?|guineas?|crowns?|lira|lire|pesos?|rubles?|roubles?|won|rand|kron[aeo]r?|"
                        r"dinars?|dirhams?|riyals?|baht|rupiah|ringgit|shekels?|zloty|forints?|crores?|lakhs?|ducats?|"
                        r"florins?|USD|GBP|EUR|grand|quid|bucks|million|billion|trillion|free|nothing|cheap\w*|"
                        r"expensive|costly|afford\w*|percent|per cent|half|third|quarter|share|fraction|most|majority|"
                        r"bulk|portion|part)\b|%", re.IGNORECASE),
    "age": re.compile(r"\b(?:" + _NUMBER_WORDS + r"|old|aged?|born|birth|young\w*|youth|child\w*|teen\w*|infan\w*|"
                      r"adult\w*|decades?)\b", re.IGNORECASE),
    "count": re.compile(r"%|\b(?:" + _NUMBER_WORDS + r"|several|few|many|numerous|both|pair|couple|single|half|majority|"
                        r"minority|all|none|each|every|various|multiple|countless|twice|once|percent|second|minute|hour|"
                        r"day|week|month|year|decade|centur)", re.IGNORECASE),
}
_YEAR = re.compile(r"1\d{3}|20\d{2}")
_COUNT_AFTER = re.compile(r"\s+(?:[a-z]+s\b|of\b|per\b|people\b|men\b|women\b|children\b|staff\b)")
_COUNT_BEFORE = re.compile(r"\b(?:of|about|around|some|nearly|almost|over|under|than|approximately|roughly|by|with|had|"
                           r"has|have|drew|attracted|numbered|totall?ed|to|and)\s+$", re.IGNORECASE)
_LIFE = re.compile(r"\d{4}\s*[-–]\s*\d{2,4}")
_DIGITS = re.compile(r"\d[\d,]*(?:\.\d+)?(?!\d)(?!s\b)")  # not "1990s"
# A number is a year after these words: "in 1979", "since 2001", "March 2011".
_YEAR_CONTEXT = re.compile(r"(?:\b(?:in|since|until|till|during|circa|c\.|year|" + "|".join(MONTHS) + r")\s+)$",
                           re.IGNORECASE)


def _amount_asked(question: str) -> str | None:
    question = question.strip().lower()
    return next((amount for amount, asked in _AMOUNT_ASKED.items() if asked.search(question)), None)


def _amount_given(amount: str, sentence: str, question_words: frozenset[str]) -> bool:
    """Whether ``sentence`` might give the ``amount`` asked for (read loosely; the question's own words don't count).

    Any number may, unless it stands as a year ("in 1979"): "1500 troops", "4852 years old", "$5m".
    """
    if any(m.group().lower() not in question_words for m in _AMOUNT_GIVEN[amount].finditer(sentence)):
        return True
    for m in _DIGITS.finditer(sentence):
        number, before = m.group(), sentence[max(0, m.start() - 16) : m.start()]
        if number.replace(",", "") in question_words or number in question_words or _YEAR_CONTEXT.search(before):
            continue
        if not _YEAR.fullmatch(number):
            return True
        # a number that could be a year ("the 2011 conference") counts only where it reads as a
        # count ("1500 troops", "of 1200", "about 3000") or, for an age, as a life ("1756–1791")
        if amount != "money" and (_COUNT_AFTER.match(sentence, m.end()) or _COUNT_BEFORE.search(before)
                                  or (amount == "age" and _LIFE.match(sentence, m.start()))):
            return True
    return False


def money_missing(info: QuestionInfo, candidates: Sequence) -> bool:
    """Whether the question asks how much money, and no sentence found gives any amount at all.

    Sums are written with a currency ("$5 million", "300 pounds") or a share ("40 percent");
    when the passages found hold none, the documents don't say ("How much money does the group
    have to spend each year?" of a page without a figure).
    """
    question = info.text.strip()
    if info.amount != "money" or _LATER_QUESTION.search(question):
        return False
    return bool(candidates) and not any(_amount_given("money", c.text, info.words) for c in candidates)


def anchored_kind_missing(info: QuestionInfo, candidates: Sequence) -> tuple[str, ...]:
    """What the question mentions, when the sentences found that mention it lack the kind asked for.

    "Where did the November 2008 meeting take place?" is about the sentences that mention 2008;
    when none of them names a place, a place elsewhere answers another question, and docqa
    declines. Empty (go on) when the question's own wh-phrase asks for no kind, when it names no
    number or name, or when no candidate sentence mentions one: the other evidence decides then.
    """
    question = info.text.strip()
    if info.kind is None or _LATER_QUESTION.search(question):
        return ()
    if not (_DIRECT[info.kind].search(question.lower()) or (info.kind == "name" and _NAME_ASKED.search(question.lower()))):
        return ()
    # a lone digit ("a 1/2 minute commercial") is too common to be what a question is about
    wanted = {phrase: phrase.split(" ") for phrase in question_mentions(question) if not re.fullmatch(r"\d", phrase)}
    following = {(c.hit.chunk.chunk_id, c.position): c for c in candidates}
    mentioned: set[str] = set()
    for candidate in candidates:
        tokens = _mentioned(candidate.text)
        found = {phrase for phrase, parts in wanted.items() if all(part in tokens for part in parts)}
        if found:
            if _could_answer(info, candidate.text):
                return ()
            # an amount may follow in the next sentence: "… at Levi's Stadium. The $1.2 billion stadium …"
            after = following.get((candidate.hit.chunk.chunk_id, candidate.position + 1)) if info.amount else None
            if after is not None and _could_answer(info, after.text):
                return ()
            mentioned |= found
    return tuple(phrase for phrase in wanted if phrase in mentioned)


def _could_answer(info: QuestionInfo, sentence: str) -> bool:
    if info.amount is not None:
        return _amount_given(info.amount, sentence, info.words)
    if _type_matches(info.kind, sentence, info.words):
        return True
    others = " ".join(w for w in _WORD.findall(sentence) if w.lower() not in info.words)
    if _LOOSE[info.kind].search(others):
        return True
    if info.kind == "place" and any(m.group(1).lower() not in info.words for m in _COMMON_PLACE.finditer(sentence)):
        return True
    if info.kind not in ("name", "place"):
        return False
    # a name anywhere, even first in the sentence ("Riyadh hosted the conference", "hosted by
    # Qatar"); but for a place, not an organisation's: "hosted by the German Foreign Office" says
    # who, not where (after "in", "at" … it is a place, found above: "at the Foreign Office")
    for run in _NAME_RUN.finditer(sentence):
        if info.kind == "place" and _ORGANISATION.search(run.group()):
            continue
        if any(m.lower() not in _NOT_NAMES and m.lower() not in STOPWORDS and m.lower() not in info.words
               for m in _ANY_CAPITALISED.findall(run.group())):
            return True
    return False


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
