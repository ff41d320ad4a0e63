"""Follow-up questions in the chat: completing a question that cannot stand on its own.

There is no generative model to rewrite "When was it published?" into a full question, so a
follow-up is searched together with the content words of the previous turn's query. Pure: no
files, no models, no Gradio.
"""

import re
from typing import Callable

from .terms import QUESTION_WORDS, STOPWORDS, stem, words

# Words that point back to something named earlier in the conversation.
ANAPHORS = frozenset("it its itself they them their theirs themselves this these those he him his she her hers one ones".split())
FOLLOWUP_OPENERS = ("and ", "also ", "what about ", "how about ", "what else")


def resolve_followup(question: str, previous_query: str | None, *, max_own_terms: int = 1,
                     known_term: Callable[[str], bool] | None = None) -> str:
    """The query to retrieve by for ``question``, given what the previous turn searched for.

    There is no generative model to rewrite a follow-up, so a question that cannot stand on
    its own (it points back with a pronoun, opens with "and"/"what about", or has at most
    ``max_own_terms`` content terms, none of them a new subject) is completed with the previous
    query's content words that it does not already hold: "When was it published?" after "What
    report did the group write in 2009?" searches for "When was it published? report group
    write 2009". Other questions are searched as they are, so a new subject starts a new
    chain: "What are the documentaries about?" names one, a word the documents use (when
    ``known_term`` is given) that the previous query does not hold and that is not a number
    ("In 2011?" leans on the previous question).

    Args:
        question: the question as typed.
        previous_query: the previous turn's search query (itself resolved), or None.
        known_term: when given, only words whose stemmed term it knows are carried over: the
            subject is carried in the documents' own words, and a word of the previous
            question that no document holds ("write") would only count against the answer.

    Returns:
        The search query: ``question`` itself or ``question`` followed by the added words.
    """
    question = question.strip()
    if not previous_query or not previous_query.strip():
        return question
    question_words = words(question)
    own_terms = {stem(w) for w in question_words if w not in STOPWORDS and w not in QUESTION_WORDS and len(w) > 1}
    lowered = " ".join(question_words) + " "
    previous_terms = {stem(w) for w in words(previous_query)}
    new_subject = any(term not in previous_terms and not any(ch.isdigit() for ch in term)
                      and (known_term is None or known_term(term)) for term in own_terms)
    if not (ANAPHORS & set(question_words) or lowered.startswith(FOLLOWUP_OPENERS)
            or (len(own_terms) <= max_own_terms and not new_subject)):
        return question
    added: list[str] = []
    seen = set(own_terms)
    for word in words(previous_query):
        term = stem(word)
        if word in STOPWORDS or word in QUESTION_WORDS or word in ANAPHORS or len(word) < 2 or term in seen:
            continue
        if known_term is not None and not known_term(term):
            continue
        seen.add(term)
        added.append(word)
    return f"{question} {' '.join(added)}" if added else question


def explain_declined_followup(question: str, search_query: str, decline: str) -> str:
    """The reply to a follow-up that was completed and then declined: how it was read, then why.

    A decline names words of what was searched ("the passages found that mention “2010” …"),
    and those may come from the previous question, not from the one just typed. The reply
    says what the question was searched as, gives the decline, and names the quoted words the
    user did not type, so that the question can be asked again with its own subject.

    Args:
        question: the question as typed ("When was it founded?").
        search_query: what it was searched as, completed with the previous query's words.
        decline: the answer's decline text.

    Returns:
        The reply as plain text (to be escaped for display).
    """
    question, search_query = question.strip(), search_query.strip()
    typed = {stem(word) for word in words(question)}
    borrowed = list(dict.fromkeys(
        quoted for quoted in re.findall(r"“([^”]+)”", decline)
        if not all(stem(word) in typed for word in words(quoted))
    ))
    text = (f"“{question}” was read as a follow-up of the previous question and searched for as "
            f"“{search_query}”. {decline}")
    if borrowed:
        listed = " and ".join(f"“{word}”" for word in borrowed)
        text += (f" {listed} {'comes' if len(borrowed) == 1 else 'come'} from the previous question, not from yours: "
                 f"to ask about something else, name it in the question.")
    return text
