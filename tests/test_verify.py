"""The verifier on hand-written model replies: every unsupported claim caught, every supported one kept."""

import pytest

from docqa.types import Chunk, Document, Hit
from docqa.verify import Claim, required_terms, split_claims, verify_claims
from tests.conftest import SMALL_CORPUS, HashingEmbedder

SOURCES = ("meetings.txt", "notes/films.md", "report.txt")
DOCUMENTS = {source: Document(source, SMALL_CORPUS[source], "0") for source in SOURCES}
PASSAGES = [Hit(Chunk(f"c{n}", source, 0, len(SMALL_CORPUS[source]), SMALL_CORPUS[source], 40), 0.9 - n / 10, n)
            for n, source in enumerate(SOURCES, start=1)]
QUESTION = "Which company did the working group collaborate with in 2010?"


def check(reply, question=QUESTION):
    return verify_claims(question, split_claims(reply), PASSAGES, DOCUMENTS, HashingEmbedder().embed)


def quote(verdict):
    return DOCUMENTS[PASSAGES[verdict.passage - 1].chunk.source].text[verdict.start:verdict.end]


def test_markers_are_read_wherever_the_model_puts_them():
    claims = split_claims("The first meeting was hosted by the German Foreign Office [1]. It was in 2010.[1][3] "
                          "Films are planned. [2] Nothing here [1, 3]")
    assert claims == [Claim("The first meeting was hosted by the German Foreign Office.", (1,)),
                      Claim("It was in 2010.", (1, 3)), Claim("Films are planned.", (2,)),
                      Claim("Nothing here", (1, 3))]


def test_a_supported_claim_is_kept_with_the_verbatim_sentence_that_says_it():
    [verdict] = check("The first meeting was hosted by the German Foreign Office [1].")
    assert verdict.supported and verdict.passage == 1
    assert quote(verdict) == "The first meeting was hosted by the German Foreign Office."


def test_a_claim_drawn_from_consecutive_sentences_quotes_all_of_them():
    [verdict] = check("In 2010 the working group held two expert meetings, the second in collaboration "
                      "with Microsoft [1].")
    assert verdict.supported
    assert quote(verdict) == ("In 2010, the working group organized two expert meetings. The first meeting was "
                              "hosted by the German Foreign Office. The second meeting was held in collaboration "
                              "with Microsoft.")


@pytest.mark.parametrize("reply, reason", [
    ("The working group organized three expert meetings in 2010 [1].", "“3”"),  # a wrong count
    ("An additional film is planned for release in 2013 [2].", "“2013”"),  # a wrong year
    ("The second meeting was held in collaboration with Google [1].", "“google”"),  # a wrong party
    ("The first meeting was hosted by the German Foreign Office [3].", "does not have"),  # a wrong marker
    ("The report recommends actions for the United Nations [2].", "does not have"),  # a quote from another passage
    ("The first meeting was hosted by the German Foreign Office [7].", "not one of the 3 passages"),
    ("The first meeting was hosted by the German Foreign Office.", "cites no passage"),
    ("The monitoring team released its first film on television [2].", "does not say “television”"),  # a detail added
])
def test_every_unsupported_claim_is_caught_with_its_reason(reply, reason):
    [verdict] = check(reply)
    assert not verdict.supported and reason in verdict.reason


def test_a_mixed_reply_keeps_exactly_its_supported_claims():
    verdicts = check("The second meeting was held in collaboration with Microsoft [1]. The films were shown "
                     "in 40 countries [2]. An additional film is planned for release in 2012 [2].")
    assert [v.supported for v in verdicts] == [True, False, True]
    assert quote(verdicts[2]) == "An additional film is planned for release in 2012."


def test_the_question_s_own_words_count_as_given():
    [verdict] = check("The tech firm they teamed up with was Microsoft [1].",
                      question="Which tech firm did they team up with?")
    assert verdict.supported
    assert quote(verdict) == "The second meeting was held in collaboration with Microsoft."
    # but a name or number the question brings must still be in the passage
    [verdict] = check("The working group collaborated with Google in 2010 [1].",
                      question="Did the working group collaborate with Google in 2010?")
    assert not verdict.supported


def test_required_terms_are_numbers_and_names():
    numbers, names = required_terms("In March 2011, UNODC's two meetings cost 1,500 euros in Riyadh.")
    assert numbers == {"2011", "2", "1500"}
    assert names == {"march", "unodc", "riyadh"}
