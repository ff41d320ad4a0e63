"""Short answers picked from a sentence, and SQuAD's EM and F1 worked by hand."""

import pytest

from docqa.features import _type_matches, expected_type, question_info
from docqa.short_answer import exact_match, f1_score, find_short_answer

SENTENCE = ("In 2010, the working group organized two expert meetings to discuss countering terrorist activities "
            "on the internet, the first hosted by the German Foreign Office and the second in collaboration with Microsoft.")


@pytest.mark.parametrize("question, expected", [
    ("Which company did the working group collaborate with in 2010?", "Microsoft"),
    ("Who hosted the first expert meeting?", "German Foreign Office"),
    ("How many expert meetings were organized in 2010?", "two"),
    ("When did the working group organize two expert meetings?", "2010"),
])
def test_the_phrase_next_to_the_question_words(question, expected):
    assert find_short_answer(question_info(question), SENTENCE) == expected


def test_no_short_answer_rather_than_a_guess():
    assert find_short_answer(question_info("Why were the meetings organized?"), SENTENCE) is None  # not a kind it picks
    assert find_short_answer(question_info("When was the budget approved?"), "The group met often.") is None
    # The only date is the one the question already names.
    assert find_short_answer(question_info("What happened in 2010?"), "In 2010 it met.") is None
    # a month is when, never who, though it is capitalised: the name is found or none is
    report = "This information formed the basis for the working group’s February 2009 report."
    assert find_short_answer(question_info("Who are the members of the working group?"), report) is None
    assert find_short_answer(question_info("Who wrote the working group’s report in February?"),
                             "The working group’s report of February was written by Ann Lee.") == "Ann Lee"


def test_expected_types():
    assert expected_type("How many staff work there?") == "number"
    assert expected_type("In what year was it founded?") == "date"
    assert expected_type("What is the second film called?") == "name"
    assert expected_type("Why did it start?") is None


@pytest.mark.parametrize("question, kind", [
    # a "when", "where" or "who" after the question's own wh-word opens a clause: it asks nothing
    ("Which pupils do teachers favour when keeping order takes lesson time?", None),
    ("What happens to layers of rock when they are squeezed?", None),
    ("What would a teacher do for someone who is timid?", None),
    ("What Super Bowl was the last where a fumble was returned?", None),
    # the question's own wh-word still does
    ("Who fumbled the ball when tackled by Darian Stewart?", "name"),
    ("Where was the meeting held when the owners voted?", "place"),
    ("What is the name of the stadium where the game was played?", "name"),
    ("What is it called when people rebel against unfair laws?", "name"),
])
def test_a_clause_does_not_say_what_a_question_asks(question, kind):
    assert expected_type(question) == kind


def test_a_place_is_named_after_a_preposition_of_place_and_is_not_a_month_or_a_names_topic():
    assert expected_type("In which city was the conference held?") == expected_type("Where was it held?") == "place"
    assert expected_type("Which city has the most people?") == "name"  # a city's name, not where something is
    question = question_info("In which city was the 2011 conference held?")
    unodc = "UNODC organized an Expert Group on Cybercrime conference in January 2011."
    riyadh = "The talks expanded in 2011, with a conference in Riyadh, Saudi Arabia."
    assert find_short_answer(question, unodc) is None
    assert find_short_answer(question, riyadh) == "Riyadh"
    signed = question_info("In which city was the convention signed?")
    assert find_short_answer(signed, "The Convention on Cybercrime was signed in Budapest in 2001.") == "Budapest"
    assert find_short_answer(signed, "The Convention on Cybercrime was signed in 2001.") is None
    # In the answer's features: the UNODC sentence holds no place, the Riyadh one does
    assert _type_matches("place", unodc, set()) == [] and _type_matches("place", riyadh, set()) == ["Riyadh"]


def test_exact_match_and_f1_by_hand():
    assert exact_match("the German Foreign Office", ["German Foreign Office"]) == 1.0
    assert exact_match("Foreign Office", ["German Foreign Office"]) == 0.0
    # 2 shared tokens; precision 2/2, recall 2/3 -> F1 0.8
    assert f1_score("Foreign Office", ["German Foreign Office"]) == pytest.approx(0.8)
    assert f1_score("Microsoft", ["German Foreign Office", "Microsoft"]) == 1.0
    assert f1_score("nothing shared", ["Microsoft"]) == 0.0
