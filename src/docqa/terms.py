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


# British spellings, read as American ones so that a question's "organisation" finds a document's
# "organization" and the other way round. Both sides go through the same mapping, so a word it
# changed needlessly would still match itself; what matters is that it never makes two
# different words one ("paradise" is not "parade") nor splits a word's forms ("television",
# "televised").
_BRITISH_WORDS = {
    "programme": "program", "programmes": "programs", "tyre": "tire", "tyres": "tires", "judgement": "judgment",
    "judgements": "judgments", "acknowledgement": "acknowledgment", "ageing": "aging", "gaol": "jail",
    "amongst": "among", "practise": "practice", "practised": "practiced", "practises": "practices",
    "practising": "practicing", "artefact": "artifact", "artefacts": "artifacts", "cosy": "cozy", "pyjamas": "pajamas",
    "aeroplane": "airplane", "aeroplanes": "airplanes", "moult": "molt", "enrol": "enroll", "enrolment": "enrollment",
    "enrolments": "enrollments", "enrols": "enrolls", "fulfil": "fulfill", "fulfilment": "fulfillment",
    "fulfils": "fulfills", "instil": "instill", "distil": "distill", "skilful": "skillful", "wilful": "willful",
    "moustache": "mustache", "woollen": "woolen",
}
# Word beginnings, so that every form follows: "moulded", "ploughing", "licencing", "palaeolithic".
_BRITISH_BEGINNINGS = (
    ("palaeo", "paleo"), ("anaesth", "anesth"), ("gynaec", "gynec"), ("caesium", "cesium"), ("diarrhoe", "diarrhe"),
    ("homoeo", "homeo"), ("haem", "hem"), ("anaem", "anem"), ("leukaem", "leukem"), ("paed", "ped"),
    ("orthopaed", "orthoped"), ("encyclopaed", "encycloped"), ("mediaev", "mediev"), ("oestr", "estr"),
    ("oesoph", "esoph"), ("oedem", "edem"), ("foet", "fet"), ("sulph", "sulf"), ("smould", "smold"), ("mould", "mold"),
    ("plough", "plow"), ("grey", "gray"), ("licenc", "licens"), ("defenc", "defens"), ("offenc", "offens"),
    ("pretenc", "pretens"), ("sceptic", "skeptic"), ("aluminium", "aluminum"), ("jewellery", "jewelry"),
    ("medallist", "medalist"), ("panellist", "panelist"), ("focuss", "focus"), ("gruell", "gruel"),
)
_BRITISH_PATTERNS = (
    # colour, favourite, neighbourhood, labourers, unfavourable, multicoloured
    (re.compile(r"^(un|dis|multi|mis|over|re|water)?(arb|ard|arm|behavi|cand|clam|col|endeav|fav|ferv|flav|harb|hon|"
                r"hum|lab|neighb|od|parl|ranc|rig|rum|savi|sav|splend|succ|tum|val|vap|vig)our"),
     lambda m: (m.group(1) or "") + m.group(2) + "or"),
    # centre, theatres, kilometre, fibre, centred, centring
    (re.compile(r"(cent|theat|met|lit|fib|calib|somb|spect|lust|meag|sab)r(e|es|ed|ing)$"),
     lambda m: m.group(1) + {"e": "er", "es": "ers", "ed": "ered", "ing": "ering"}[m.group(2)]),
    # manoeuvre, catalogue, analogue and their forms
    (re.compile(r"^(manoeuvr|catalogu|analogu)(e|es|ed|ing)$"),
     lambda m: {"manoeuvr": "maneuver", "catalogu": "catalog", "analogu": "analog"}[m.group(1)]
     + {"e": "", "es": "s", "ed": "ed", "ing": "ing"}[m.group(2)]),
    # organise, organisation, organisational, recognisable, realised, criticise, apologise; not
    # the words spelt so in American too (paradise, improvise, advertise, exercise, promise)
    (re.compile(r"^(\w+(?:al|ar|ic|an|on|gn|or|it|at|et|er|ur|ol|il|og|as|th|pt|im))is(e|es|ed|ing|er|ers|ation|"
                r"ations|ational|able|ably)$"), r"\1iz\2"),
    # analyse, paralysed, catalysing
    (re.compile(r"^(\w+)lys(e|es|ed|ing|er|ers)$"), r"\1lyz\2"),
    # travelled, labelling, counsellor, marvellous
    (re.compile(r"^(travel|cancel|label|model|fuel|signal|channel|counsel|level|marvel|tunnel|quarrel|equal|dial|duel|"
                r"panel|shovel|rival|pedal|total|revel|libel|refuel|remodel|unravel|enamel|funnel|pummel|jewel)"
                r"l(ed|ing|er|ers|or|ors|ous)$"), r"\1\2"),
)


def american_spelling(word: str) -> str:
    """A lower-case word with its British spelling made American ("organisation" -> "organization")."""
    if word in _BRITISH_WORDS:
        return _BRITISH_WORDS[word]
    for british, american in _BRITISH_BEGINNINGS:
        if word.startswith(british):
            return american + word[len(british):]
    for pattern, replacement in _BRITISH_PATTERNS:
        word = pattern.sub(replacement, word, count=1)
    return word


@lru_cache(maxsize=131072)
def stem(word: str) -> str:
    """The Snowball English stem of a lower-case word ("collaborate", "collaboration" -> "collabor").

    British and American spellings share a stem ("organisation", "organization" -> "organ").
    """
    return _stemmer().stemWord(_IRREGULAR.get(word) or american_spelling(word))


def written_words(text: str) -> list[str]:
    """The words of ``text`` as written (apostrophes kept inside words)."""
    return _WORD.findall(text)


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
