"""Content terms of a text, for lexical evidence: pure functions."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can cannot could did do does doing don't down during
    each either etc few for from further had has have having he her here hers herself him himself
    his how however i if in into is isn't it it's its itself just let me might more most much must
    my myself neither no nor not now of off on once one only or other ought our ours ourselves out
    over own per same shall she should since so some such than that that's the their theirs them
    themselves then there there's these they this those though through thus to too under until up
    upon us very via was wasn't we were weren't what what's when where which while who whom whose
    why will with within without would yet you your yours yourself yourselves whether among
    called name named kind type many""".split()
)
# Words that shape a question without saying what it is about.
QUESTION_WORDS = frozenset(
    """what who whom whose when where which why how does did do is are was were describe explain
    tell give list name mention mentioned say said according document documents text""".split()
)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: the Snowball English stemmer, compiled

    return Stemmer.Stemmer("english")


# Irregular verb forms that a suffix stemmer cannot bring to their base ("led" -> "lead").
_IRREGULAR = {
    "led": "lead", "held": "hold", "wrote": "write", "written": "write", "began": "begin",
    "begun": "begin", "took": "take", "taken": "take", "gave": "give", "given": "give",
    "made": "make", "found": "find", "founded": "found", "won": "win", "built": "build",
    "bought": "buy", "brought": "bring", "chose": "choose", "chosen": "choose", "came": "come",
    "grew": "grow", "grown": "grow", "knew": "know", "known": "know", "left": "leave",
    "lost": "lose", "met": "meet", "paid": "pay", "ran": "run", "sold": "sell", "sent": "send",
    "spent": "spend", "stood": "stand", "taught": "teach", "thought": "think", "told": "tell",
    "went": "go", "gone": "go", "drew": "draw", "drawn": "draw", "fought": "fight", "fell": "fall",
    "fallen": "fall", "rose": "rise", "risen": "rise", "saw": "see", "seen": "see", "spoke": "speak",
    "spoken": "speak", "struck": "strike", "became": "become", "hosted": "host", "kept": "keep",
    "felt": "feel", "heard": "hear", "meant": "mean", "set": "set", "shot": "shoot", "hid": "hide",
    "hidden": "hide", "sought": "seek", "caught": "catch", "dealt": "deal", "flew": "fly", "flown": "fly",
}


@lru_cache(maxsize=131072)
def stem(word: str) -> str:
    """The Snowball English stem of a lower-case word ("collaborate", "collaboration" -> "collabor")."""
    return _stemmer().stemWord(_IRREGULAR.get(word, word))


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (apostrophes kept inside words)."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def content_terms(text: str) -> list[str]:
    """Stemmed words of ``text`` without stopwords, in order (repeats kept)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and not (len(w) == 1 and w.isalpha())]


def question_terms(question: str) -> list[str]:
    """The content terms of a question, without the words that only shape it; no repeats."""
    seen: dict[str, None] = {}
    for w in words(question):
        if w in STOPWORDS or w in QUESTION_WORDS or (len(w) == 1 and w.isalpha()):
            continue
        seen.setdefault(stem(w), None)
    return list(seen)
