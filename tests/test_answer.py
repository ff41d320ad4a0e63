"""Answers: citations quote the documents exactly, declines are plain."""

import numpy as np
import pytest

from docqa.answer import AnswerPolicy, SentenceCandidate, compose_answer, term_statistics
from docqa.chunking import ChunkingParams
from docqa.errors import InvalidQuery
from docqa.pipeline import Pipeline
from docqa.types import Chunk, Document, Hit


@pytest.fixture
def pipeline(small_corpus, tmp_path, embedder):
    p = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, chunking=ChunkingParams(40, 8))
    p.build()
    return p


def check_citations(answer, pipeline):
    documents = pipeline.index.documents
    passage_ids = {h.chunk.chunk_id for h in answer.passages}
    for number, citation in enumerate(answer.citations, start=1):
        assert citation.marker == number
        assert documents[citation.source].text[citation.start : citation.end] == citation.quote
        assert citation.chunk_id in passage_ids
        assert f"[{number}]" in answer.text


def test_answer_quotes_the_supporting_sentence(pipeline):
    answer = pipeline.ask("Who hosted the first meeting?", k=3)
    assert answer.answerable
    assert "German Foreign Office" in answer.text
    assert answer.citations[0].quote == "The first meeting was hosted by the German Foreign Office."
    check_citations(answer, pipeline)
    record = answer.to_record()
    assert set(record) >= {"question", "answer", "answerable", "citations", "passages"}
    assert "id" not in record
    assert record["citations"][0]["quote"] == answer.citations[0].quote


def test_citations_are_exact_for_many_questions(pipeline):
    questions = ["When was the additional film planned?", "What did the report recommend?",
                 "Which company was a partner?", "Where was the 2011 conference?", "What did the monitoring team produce?"]
    for answer in pipeline.ask_many(questions, k=4):
        check_citations(answer, pipeline)


def test_question_about_something_absent_is_declined(pipeline):
    # None of its words shares a hash bucket with a corpus word under the fake embedder ("boil"
    # and "mercuri" did, which made the question look half similar to the corpus).
    answer = pipeline.ask("What is the freezing point of helium?", k=3)
    assert not answer.answerable
    assert answer.citations == ()
    # the reason first, then the question's words no document has, as written
    assert answer.text.startswith("The documents don't say: none of the passages found answers the question.")
    assert "No document mentions “freezing”, “point”, “helium”." in answer.text
    assert answer.extra["evidence"]["terms_not_in_documents"] == ["freezing", "point", "helium"]
    assert len(answer.passages) == 3  # the closest passages are still shown


def test_a_sentence_that_leans_on_the_one_before_is_quoted_with_it():
    text = "The monitoring team produced documentaries on repentant terrorists. It released the first film in 2011."
    document = Document("films.txt", text, "0")
    chunk = Chunk("c1", "films.txt", 0, len(text), text, 20)
    hit = Hit(chunk, 0.9, 1)
    second = text.index("It released")
    candidates = [
        SentenceCandidate(hit, 0, second - 1, text[: second - 1], 0.3),
        SentenceCandidate(hit, second, len(text), text[second:], 0.8),
    ]
    answer = compose_answer("When was the first film released?", [hit], candidates, {"films.txt": document},
                            term_statistics([text]))
    assert answer.answerable
    assert answer.citations[0].quote == text  # both sentences, one span
    assert answer.citations[0].start == 0


def test_a_sentence_quoted_already_as_the_one_leaned_on_leaves_its_place_to_the_next():
    text = ("The monitoring team produced documentaries on repentant terrorists. It released the first film in 2011. "
            "A second film followed in 2012.")
    document = Document("films.txt", text, "0")
    hit = Hit(Chunk("c1", "films.txt", 0, len(text), text, 30), 0.9, 1)
    candidates = _candidates(hit, text, [0.5, 0.9, 0.1])
    # the linear scorer orders these by their similarity; the order, not the model, is the point here
    every = AnswerPolicy(max_sentences=2, extra_sentence_ratio=0.0, extra_sentence_minimum=0.0, decline_threshold=0.0,
                         sentence_ranker=None)
    answer = compose_answer("What did the monitoring team release?", [hit], candidates, {"films.txt": document},
                            term_statistics([text]), every)
    # the best sentence ("It released ...") is quoted with the one it leans on; that one, next
    # best, is quoted already, so the second place goes to the third sentence
    assert [c.quote for c in answer.citations] == [text[: text.index(" A second")], "A second film followed in 2012."]


MEMBERS = ("Members:\n• Office of Counter-Terrorism (lead)\n• Department of Public Information (DPI)\n\n"
           "Purpose:\nThe group counters the use of the internet for terrorist purposes.")


def test_a_label_is_quoted_and_scored_with_the_list_it_introduces():
    document = Document("group.txt", MEMBERS, "0")
    hit = Hit(Chunk("c1", "group.txt", 0, len(MEMBERS), MEMBERS, 40), 0.9, 1)
    from docqa.sentences import split_sentences

    spans = split_sentences(MEMBERS, 0, len(MEMBERS))
    assert MEMBERS[spans[0][0]:spans[0][1]] == "Members:"
    similarities = {"Members:": 0.9}
    candidates = [SentenceCandidate(hit, a, b, MEMBERS[a:b], similarities.get(MEMBERS[a:b], 0.1), i, len(spans))
                  for i, (a, b) in enumerate(spans)]
    one = AnswerPolicy(max_sentences=1, decline_threshold=0.0)
    answer = compose_answer("Who are the members?", [hit], candidates, {"group.txt": document},
                            term_statistics([MEMBERS]), one)
    # "Members:" alone says nothing: its quote runs to the end of the list, up to the blank line
    list_end = MEMBERS.index("\n\nPurpose")
    assert [(c.start, c.end) for c in answer.citations] == [(0, list_end)]
    assert answer.citations[0].quote == MEMBERS[:list_end]
    assert answer.text.startswith("Members: • Office of Counter-Terrorism (lead) • Department")
    # scored by its list too: the names under "Members:" answer "who", so it comes first
    # although its own cosine is no higher than the sentence after the list
    candidates = [SentenceCandidate(hit, a, b, MEMBERS[a:b], 0.5, i, len(spans)) for i, (a, b) in enumerate(spans)]
    answer = compose_answer("Who are the members?", [hit], candidates, {"group.txt": document},
                            term_statistics([MEMBERS]), one)
    assert answer.citations[0].quote == MEMBERS[:list_end]
    # a list item chosen first leaves no place to its label, which alone would add nothing
    similarities = {"Members:": 0.0, "• Department of Public Information (DPI)": 0.95}
    candidates = [SentenceCandidate(hit, a, b, MEMBERS[a:b], similarities.get(MEMBERS[a:b], 0.1), i, len(spans))
                  for i, (a, b) in enumerate(spans)]
    every = AnswerPolicy(max_sentences=2, extra_sentence_ratio=0.0, extra_sentence_minimum=0.0, decline_threshold=0.0)
    answer = compose_answer("Which department takes part?", [hit], candidates, {"group.txt": document},
                            term_statistics([MEMBERS]), every)
    quotes = [c.quote for c in answer.citations]
    assert quotes[0] == "• Department of Public Information (DPI)" and "Members:" not in quotes
    # a paragraph under a heading is no list: the heading is quoted with the paragraph's first
    # sentence, never alone ...
    purpose = ("Purpose:\nThe group counters terrorist use of the internet. It was set up in 2005 under the strategy "
               "that member states adopted, and it reports to them each year.\n\nMeetings:\n")
    document = Document("p.txt", purpose, "0")
    hit = Hit(Chunk("c3", "p.txt", 0, len(purpose), purpose, 40), 0.9, 1)
    label = SentenceCandidate(hit, 0, len("Purpose:"), "Purpose:", 0.9)
    answer = compose_answer("What is the purpose?", [hit], [label], {"p.txt": document}, term_statistics([purpose]), one)
    assert answer.citations[0].quote == "Purpose:\nThe group counters terrorist use of the internet."
    # ... unless that sentence runs on past what a list may take; and a label in running text
    # ("as follows:" then more on the same line) leads on to nothing: each is quoted as it is
    purpose = "Purpose:\n" + "The group counters the use of the internet for terrorist purposes, " * 40
    document = Document("p.txt", purpose, "0")
    hit = Hit(Chunk("c3", "p.txt", 0, len(purpose), purpose, 40), 0.9, 1)
    label = SentenceCandidate(hit, 0, len("Purpose:"), "Purpose:", 0.9)
    answer = compose_answer("What is the purpose?", [hit], [label], {"p.txt": document}, term_statistics([purpose]), one)
    assert answer.citations[0].quote == "Purpose:"
    document = Document("a.txt", "The members are as follows: a team and an office.", "0")
    hit = Hit(Chunk("c2", "a.txt", 0, len(document.text), document.text, 12), 0.9, 1)
    candidate = SentenceCandidate(hit, 0, len(document.text), document.text, 0.9)
    answer = compose_answer("Who are the members?", [hit], [candidate], {"a.txt": document}, term_statistics([document.text]), one)
    assert answer.citations[0].quote == document.text


def test_a_label_of_the_questions_own_words_answers_it_first_and_alone():
    text = ("Members:\n• Office of Counter-Terrorism (lead)\n• Department of Public Information (DPI)\n\n"
            "Partners:\nInternational Telecommunication Union (ITU)\n\n"
            "The working group wrote to member states in February 2009 and heard from many of them.")
    document = Document("group.txt", text, "0")
    hit = Hit(Chunk("c1", "group.txt", 0, len(text), text, 50), 0.9, 1)
    from docqa.sentences import split_sentences

    spans = split_sentences(text, 0, len(text))
    # the sentence's words ("working group", "member") are the question's, the list's are not
    candidates = [SentenceCandidate(hit, a, b, text[a:b], 0.9 if text[a:b].startswith("The working") else 0.1, i,
                                    len(spans)) for i, (a, b) in enumerate(spans)]
    stats = term_statistics([text])
    answer = compose_answer("Who are the members of the working group?", [hit], candidates, {"group.txt": document},
                            stats, AnswerPolicy(decline_threshold=0.0))
    assert [c.quote for c in answer.citations] == [text[: text.index("\n\nPartners")]]
    answer = compose_answer("Who are the members and the partners?", [hit], candidates, {"group.txt": document},
                            stats, AnswerPolicy(decline_threshold=0.0))
    assert sorted(c.quote.split(":")[0] for c in answer.citations) == ["Members", "Partners"]
    # a label whose words ask about something else gets no such place: "member states" are not
    # "Members:", what members say is not who they are, and a question about something else
    # may end on the label's word
    for question in ("Which member states did the working group write to?", "What do the members say about February?",
                     "What did the working group write in February 2009 to its members?"):
        answer = compose_answer(question, [hit], candidates, {"group.txt": document}, stats,
                                AnswerPolicy(decline_threshold=0.0, max_sentences=1))
        assert answer.citations[0].quote.startswith("The working group wrote"), question


def test_empty_and_overlong_questions_are_refused_with_the_fix(pipeline):
    with pytest.raises(InvalidQuery, match="empty"):
        pipeline.ask("   ")
    with pytest.raises(InvalidQuery, match="shorten it"):
        pipeline.ask("why " * 1000)


def test_questions_are_embedded_in_one_batch(pipeline, embedder):
    embedder.calls.clear()
    pipeline.ask_many(["Who hosted the first meeting?", "What did the report recommend?"], k=2)
    assert embedder.calls[0] == 2


def test_passages_are_ranked_by_their_best_sentence():
    first = "The working group met often. Its members talked about many things."
    second = "The 2011 conference on counternarratives was held in Riyadh."
    text = f"{first}\n\n{second}"
    document = Document("events.txt", text, "0")
    vague = Hit(Chunk("c1", "events.txt", 0, len(first), first, 12), 0.9, 1)
    exact = Hit(Chunk("c2", "events.txt", len(first) + 2, len(text), second, 10), 0.7, 2)
    candidates = [
        SentenceCandidate(vague, 0, 28, text[:28], 0.4),
        SentenceCandidate(vague, 29, len(first), text[29 : len(first)], 0.3),
        SentenceCandidate(exact, exact.chunk.start, len(text), second, 0.8),
    ]
    answer = compose_answer("Where was the 2011 conference held?", [vague, exact], candidates,
                            {"events.txt": document}, term_statistics([first, second]))
    assert answer.citations[0].quote == second
    assert [(h.chunk.chunk_id, h.rank, h.score) for h in answer.passages] == [("c2", 1, 0.7), ("c1", 2, 0.9)]


def _candidates(hit, text, similarities):
    from docqa.sentences import split_sentences

    spans = split_sentences(text, 0, len(text))
    return [SentenceCandidate(hit, start, end, text[start:end], similarity, position, len(spans))
            for position, ((start, end), similarity) in enumerate(zip(spans, similarities))]


LIST_TEXT = ("The group works against recruitment of fighters online. It also works against fundraising "
             "for terrorist groups online. It works against online training as well. The group was founded in 2005.")


def test_a_question_asking_for_several_things_gets_several_sentences():
    from docqa.features import asks_for_several

    assert asks_for_several("What kinds of online activity does the group work against?")
    assert asks_for_several("Which UN agencies are involved?")
    assert not asks_for_several("When was the group founded?")
    document = Document("work.txt", LIST_TEXT, "0")
    hit = Hit(Chunk("c1", "work.txt", 0, len(LIST_TEXT), LIST_TEXT, 40), 0.9, 1)
    candidates = _candidates(hit, LIST_TEXT, [0.62, 0.6, 0.58, 0.2])
    stats = term_statistics([LIST_TEXT, "Another passage about something else entirely."])
    # this test is about how many sentences are chosen, not declining nor the model: the linear
    # scorer rates these three alike, as their similarities are
    always = AnswerPolicy(decline_threshold=0.0, sentence_ranker=None)
    several = compose_answer("What kinds of online activity does the group work against?", [hit], candidates,
                             {"work.txt": document}, stats, always)
    one = compose_answer("What does the group work against online?", [hit], candidates, {"work.txt": document}, stats,
                         always)
    assert several.answerable and one.answerable
    def quoted_sentences(answer):
        return [s.rstrip(".") for c in answer.citations for s in c.quote.split(". ")]

    # all three activities, and no sentence quoted twice even when one leans on ("It also ...")
    # a sentence already quoted; the question asking for one thing gets fewer sentences
    assert sorted(quoted_sentences(several)) == sorted(s.rstrip(".") for s in LIST_TEXT.split(". ")[:3])
    assert len(quoted_sentences(one)) < 3
    for citation in several.citations:
        assert LIST_TEXT[citation.start : citation.end] == citation.quote


EVENTS = ("In November 2008, the group met stakeholders from industry and civil society. "
          "The 2011 conference on counternarratives was held in Riyadh. "
          "An additional film is planned for release in 2012. "
          "In 2010, two meetings were held, one hosted by the German Foreign Office, one with Microsoft.")


def _events():
    document = Document("events.txt", EVENTS, "0")
    hit = Hit(Chunk("c1", "events.txt", 0, len(EVENTS), EVENTS, 30), 0.9, 1)
    return document, hit, _candidates(hit, EVENTS, [0.5, 0.4, 0.3, 0.2])


def test_the_names_and_numbers_a_question_is_about():
    from docqa.features import question_mentions

    assert question_mentions("Where did the November 2008 stakeholder meeting take place?") == ("2008",)
    assert question_mentions("Where did the meeting organised with Microsoft take place?") == ("Microsoft",)
    assert question_mentions("Who won the 2018 FIFA World Cup?") == ("2018", "FIFA World Cup")
    assert question_mentions("How many of Genghis Khan's daughters are known?") == ("Genghis Khan",)
    assert question_mentions("What was the COVID-19 toll in 2,000 towns?") == ("COVID-19", "2000")
    assert question_mentions(" Who hosted the meeting?") == ()  # a first word is not a name, spaces or not
    assert question_mentions("When was the group founded?") == ()


@pytest.mark.parametrize("question, mentioned", [
    # the sentences that mention 2008 / 2012 hold no place / no title: a detail the text lacks
    ("Where did the November 2008 meeting take place?", ("2008",)),
    ("What will the film coming out in 2012 be titled?", ("2012",)),
    # the sentence that mentions 2011 names a place
    ("In which city was the 2011 conference held?", ()),
    # nothing named, or nothing the sentences mention: the other evidence decides
    ("Where did the group meet stakeholders?", ()),
    ("Where was the 1999 summit held?", ()),
    # the kind is asked by a clause, not by the question
    ("When the group met in 2008, what did it discuss?", ()),
    ("When the 2008 meeting ended, did the group publish a report?", ()),
    ("What did the so-called 2008 meeting discuss?", ()),
    ("Why was the 2012 film named after the group?", ()),
    # the question's own number does not count as an answer to it
    ("How many people came to the 2011 conference?", ("2011",)),
    ("How many people came to the 2008 meeting?", ("2008",)),
    # every mention whose sentences lack the place is named in the decline
    ("Where did Microsoft meet stakeholders in November 2008?", ("Microsoft", "2008")),
    ("Where did Google meet stakeholders in November 2008?", ("2008",)),  # only what the sentences mention
    # an organisation says who took part, not where; the question's own name does not count
    ("Where did the meeting organised with Microsoft take place?", ("Microsoft",)),
])
def test_a_detail_of_a_mentioned_thing_that_the_text_lacks(question, mentioned):
    from docqa.features import anchored_kind_missing, question_info

    _, _, candidates = _events()
    assert anchored_kind_missing(question_info(question), candidates) == mentioned


@pytest.mark.parametrize("question, text", [
    ("Where was the 2011 conference held?", "Riyadh hosted the 2011 conference."),  # a name first in the sentence
    ("Where was the 2011 conference held?", "The 2011 conference, hosted by Saudi Arabia, met in Riyadh."),
    ("Where was the 2022 World Cup held?", "The 2022 World Cup was hosted by Qatar."),  # a host may be the place
    ("Where was the 2010 meeting held?", "The 2010 meeting was held with Microsoft."),  # read loosely
    ("Who hosted the 2010 meeting?", "The 2010 meeting was hosted by the German Foreign Office."),
    ("Who chaired the 2008 meeting?", "Smith chaired the 2008 meeting."),
    ("Who organised the 2008 meeting?", "The 2008 meeting was organised by the working group."),
    ("Where was the 2008 meeting held?", "The 2008 meeting took place online."),
    ("How long did the 2008 meeting last?", "The 2008 meeting lasted a week."),
    ("When was the 2008 report released?", "The 2008 report was released after the first meeting."),
    ("Where was the 2008 meeting held?", "The 2008 meeting was a success. The 2008-09 meetings were held in Vienna."),
    # a place need not be a name: "through the depths of the oceans"
    ("Where did the 2008 expedition travel through?", "The 2008 expedition, led by Artur Oppman, travelled "
                                                      "through the depths of the oceans."),
    # "European Union" mentions "EU": the sentence that spells it out answers
    ("How long has the EU recognised legal certainty?", "Legal certainty has been a principle of European Union "
                                                        "law since the 1960s. The EU works on democracy."),
])
def test_a_sentence_that_might_answer_is_not_taken_for_one_that_cannot(question, text):
    from docqa.features import anchored_kind_missing, question_info

    hit = Hit(Chunk("c1", "t.txt", 0, len(text), text, 20), 0.9, 1)
    assert anchored_kind_missing(question_info(question), _candidates(hit, text, [0.5, 0.4])) == ()


def test_mentions_are_matched_as_written():
    from docqa.features import anchored_kind_missing, question_info

    text = "The 19 delegates met. The working group is small. The Working Group met."
    hit = Hit(Chunk("c1", "t.txt", 0, len(text), text, 20), 0.9, 1)
    candidates = _candidates(hit, text, [0.5, 0.4, 0.3])
    # "COVID-19" is not "19"; "the Working Group" is a name, not the words "working group"
    assert anchored_kind_missing(question_info("Where did COVID-19 start?"), candidates) == ()
    assert anchored_kind_missing(question_info("Where did the Working Group meet?"), candidates) == ("Working Group",)


def test_a_question_about_a_missing_detail_is_declined_and_says_why():
    document, hit, candidates = _events()
    always = AnswerPolicy(decline_threshold=0.0)  # only the missing detail can decline here
    answer = compose_answer("Where did the November 2008 meeting take place?", [hit], candidates,
                            {"events.txt": document}, term_statistics([EVENTS]), always)
    assert not answer.answerable and answer.citations == ()
    assert answer.text == ("The documents don't say: the passages found that mention “2008” do not give the place "
                           "asked for.")
    assert answer.extra["evidence"]["mentioned_without_kind"] == ["2008"]
    answered = compose_answer("In which city was the 2011 conference held?", [hit], candidates,
                              {"events.txt": document}, term_statistics([EVENTS]), always)
    assert answered.answerable and "Riyadh" in answered.text
    assert answered.extra["evidence"]["mentioned_without_kind"] == []


@pytest.mark.parametrize("question, text, declined", [
    # a year gives no sum, age or count ...
    ("How much did the 2011 conference cost?", "The 2011 conference opened in Riyadh in 2012.", True),
    ("How old was Smith when the 2011 conference opened?", "Smith opened the 2011 conference in 2012.", True),
    ("How many people came to the 2011 conference?", "The 2011 conference opened in 2012.", True),
    # ... but a sum, a share, an age, a count (even of four digits) may
    ("How much did the 2011 conference cost?", "The 2011 conference cost $2 million.", False),
    ("How much did the 2011 conference cost?", "The 2011 conference took 40 percent of the budget.", False),
    ("How old was Smith when the 2011 conference opened?", "Smith, aged 54, opened the 2011 conference.", False),
    ("How many people came to the 2011 conference?", "The 2011 conference drew 1500 people.", False),
    ("How many people came to the 2011 conference?", "The 2011 conference drew several hundred people.", False),
    # a year does say how long
    ("How long did the 2011 conference last?", "The 2011 conference ran from 2011 to 2012.", False),
    # the sum may come in the next sentence
    ("How much did Levi's Stadium cost?", "The game was played at Levi's Stadium. The $1.2 billion stadium opened in 2014.",
     False),
])
def test_a_sum_an_age_or_a_count_is_not_a_year(question, text, declined):
    from docqa.features import anchored_kind_missing, question_info

    hit = Hit(Chunk("c1", "t.txt", 0, len(text), text, 20), 0.9, 1)
    assert bool(anchored_kind_missing(question_info(question), _candidates(hit, text, [0.5, 0.4]))) == declined


def test_a_question_about_money_is_declined_when_no_passage_gives_a_sum():
    from docqa.features import money_missing, question_info

    document, hit, candidates = _events()
    question = "How much money does the group spend each year?"
    assert money_missing(question_info(question), candidates)
    answer = compose_answer(question, [hit], candidates, {"events.txt": document}, term_statistics([EVENTS]),
                            AnswerPolicy(decline_threshold=0.0))
    assert not answer.answerable and answer.citations == ()
    assert answer.text == "The documents don't say: none of the passages found gives a sum of money."
    assert answer.extra["evidence"]["no_sum_of_money"] is True
    text = "The group spends $2 million a year."
    priced = Hit(Chunk("c2", "t.txt", 0, len(text), text, 10), 0.9, 1)
    assert not money_missing(question_info(question), _candidates(priced, text, [0.5]))
    assert not money_missing(question_info("How much did the group grow?"), candidates)  # not a sum of money


def test_a_question_about_a_year_no_document_mentions_is_declined():
    document, hit, candidates = _events()
    every = AnswerPolicy(decline_threshold=0.0)

    def ask(question):
        return compose_answer(question, [hit], candidates, {"events.txt": document}, term_statistics([EVENTS]), every)

    answer = ask("What did the group accomplish in 2015?")
    assert not answer.answerable and answer.citations == ()
    assert answer.text == "The documents don't say: no document mentions 2015."
    assert answer.extra["evidence"]["years_not_in_documents"] == ["2015"]
    assert ask("Did the group meet in the 1990s or in 2015?").text == \
        "The documents don't say: no document mentions 1990s or 2015."
    assert ask("What did the group do in the 1900s?").extra["evidence"]["years_not_in_documents"] == ["1900s"]
    # one year the documents mention is enough to go on: the model decides then; so is a year
    # in a decade or century asked about, a year next to the one asked about ("2009–11" does not
    # write 2010), or an approximate year
    for question in ("What did the group do in 2010 and 2015?", "What did the group do in 2010?",
                     "What did the group do in the 2000s?", "What did the group do in the early 2000s?",
                     "What did the group do in 2013?", "What did the group do around 2015?",
                     "What had the group done by 2015?", "What did the group plan for mid-2015?"):
        answer = ask(question)
        assert answer.answerable and answer.extra["evidence"]["years_not_in_documents"] == []


def test_an_organisation_is_not_a_place():
    from docqa.features import anchored_kind_missing, question_info

    text = "The 2010 meeting was hosted by the German Foreign Office."
    hit = Hit(Chunk("c1", "t.txt", 0, len(text), text, 20), 0.9, 1)
    candidates = _candidates(hit, text, [0.5])
    assert anchored_kind_missing(question_info("Where was the 2010 meeting held?"), candidates) == ("2010",)
    assert anchored_kind_missing(question_info("Who hosted the 2010 meeting?"), candidates) == ()
    held = "The 2010 meeting was held at the Foreign Office."  # after "at", a place
    hit = Hit(Chunk("c2", "t.txt", 0, len(held), held, 20), 0.9, 1)
    assert anchored_kind_missing(question_info("Where was the 2010 meeting held?"), _candidates(hit, held, [0.5])) == ()


@pytest.mark.parametrize("question, text", [
    ("How much time did the astronauts spend on the Moon?", "The astronauts spent 21 hours on the Moon."),
    ("How much is a touchdown worth?", "In American football, a touchdown is worth six points."),
    ("How much land did the company sell in 1990?", "In 1990 the company sold 500 acres."),
    ("How much did a ticket to the 2012 show cost?", "A ticket to the 2012 show costs 50 yuan."),
    ("How much did the 2012 campaign raise?", "In 2012 the campaign raised 1.03bn."),
    ("How many people live in Ashby?", "Ashby had a population of 1200 at the 2011 census."),
    ("How many delegates attended the 2011 conference?", "The 2011 conference was attended by about 1500 delegates."),
    ("How old is the Methuselah tree?", "The Methuselah tree is 4852 years old."),
    ("How old was Mozart when he died?", "Mozart (1756–1791) died in Vienna."),
    ("How many members does NATO have?", "Today the North Atlantic Treaty Organization has 32 members."),
    ("How many pages was the Kalven Report?", "In 1967 a committee issued the Kalven Report. The report, a two-page "
                                              "statement, set out its policy."),  # the count follows
    ("When was there an attempt to reform the law of the EU?", "Following the Nice Treaty, the European Union "
                                                              "tried to reform its law."),
])
def test_what_might_answer_an_amount_or_an_abbreviation(question, text):
    from docqa.features import anchored_kind_missing, money_missing, question_info

    hit = Hit(Chunk("c1", "t.txt", 0, len(text), text, 20), 0.9, 1)
    candidates = _candidates(hit, text, [0.5, 0.4])
    assert anchored_kind_missing(question_info(question), candidates) == ()
    assert not money_missing(question_info(question), candidates)


def test_a_decline_names_the_absent_words_as_the_question_wrote_them():
    stats = term_statistics(["The working group met in Riyadh in 2011."])
    hit = Hit(Chunk("c1", "a.txt", 0, 10, "The working group met in Riyadh in 2011.", 10), 0.1, 1)
    answer = compose_answer("Who won the 2018 FIFA World Cup in Riyadh?", [hit], [], {}, stats)
    assert not answer.answerable
    assert answer.text.endswith("No document mentions “won”, “2018”, “FIFA”, “World”.")  # four at most
    assert answer.extra["evidence"]["terms_not_in_documents"] == ["won", "2018", "FIFA", "World", "Cup"]


def test_boosted_trees_are_walked_as_scikit_learn_grows_them():
    from docqa.features import TreeModel

    # one tree: x0 <= 0.5 ? (x1 <= 2 ? -1 : 1) : 3, and a stump on x1; leaves point to themselves
    model = TreeModel.from_dict({"features": ["x0", "x1"], "init": 0.5, "rate": 0.1, "depth": 2, "trees": [
        {"feature": [0, 1, 0, 0, 0], "threshold": [0.5, 2.0, float("inf"), float("inf"), float("inf")],
         "left": [1, 3, 2, 3, 4], "right": [2, 4, 2, 3, 4], "value": [0.0, 0.0, 3.0, -1.0, 1.0]},
        {"feature": [1, 0, 0], "threshold": [0.0, float("inf"), float("inf")], "left": [1, 1, 2], "right": [2, 1, 2],
         "value": [0.0, -2.0, 2.0]},
    ]})
    rows = np.array([[0.0, 1.0], [0.5, 2.0], [0.0, 3.0], [0.9, -1.0], [0.9, 0.0]])
    leaves = np.array([-1 + 2, -1 + 2, 1 + 2, 3 - 2, 3 - 2])  # a value on the threshold goes left
    assert np.allclose(model.probabilities(rows), 1 / (1 + np.exp(-(0.5 + 0.1 * leaves))))
    assert model.probabilities(np.zeros((0, 2))).shape == (0,)


def test_the_shipped_ranker_never_ranks_a_closer_sentence_lower():
    from docqa.features import SENTENCE_FEATURES, shipped_model

    ranker = shipped_model("sentence_ranker", SENTENCE_FEATURES)
    rng = np.random.default_rng(0)
    rows = rng.uniform(0, 1, size=(300, len(SENTENCE_FEATURES)))
    for name, direction in (("similarity", 1), ("overlap", 1), ("retrieval", 1), ("type_present", 1),
                            ("type_asked_missing", -1)):
        column = SENTENCE_FEATURES.index(name)
        low, high = rows.copy(), rows.copy()
        low[:, column], high[:, column] = 0.0, 1.0
        assert np.all(direction * (ranker.probabilities(high) - ranker.probabilities(low)) >= -1e-12), name


def _labelled(files: dict[str, str]):
    from docqa.sentences import split_sentences

    documents, hits, candidates = {}, [], []
    for rank, (name, text) in enumerate(files.items(), start=1):
        documents[name] = Document(name, text, "0")
        hit = Hit(Chunk(f"c{rank}", name, 0, len(text), text, 40), 1.0 / rank, rank)
        hits.append(hit)
        spans = split_sentences(text, 0, len(text))
        candidates += [SentenceCandidate(hit, a, b, text[a:b], 0.5, i, len(spans)) for i, (a, b) in enumerate(spans)]
    return documents, hits, candidates, term_statistics(list(files.values()))


def test_a_label_answers_only_in_a_document_about_the_rest_of_the_question():
    finance = ("Finance Committee\n\nPurpose:\nThe Finance Committee oversees the annual budget and reports to the board "
               "every quarter on spending, savings and the state of the reserves.\n\nMembers:\nAlice Brown\nCarlos Diaz")
    hr = "The purpose of the HR committee is to handle hiring. The members of the HR committee are Tom Green and Sara White."
    documents, hits, candidates, stats = _labelled({"finance.txt": finance, "hr.txt": hr})
    always = AnswerPolicy(decline_threshold=0.0)
    for question, expected in (("What is the purpose of the HR committee?", "The purpose of the HR committee"),
                               ("Who are the members of the HR committee?", "The members of the HR committee")):
        answer = compose_answer(question, hits, candidates, documents, stats, always)
        assert answer.citations[0].source == "hr.txt" and answer.citations[0].quote.startswith(expected), question
    # in the document that mentions it, the label answers, though no sentence that names the
    # Finance Committee names a member
    answer = compose_answer("Who are the members of the Finance Committee?", hits, candidates, documents, stats, always)
    assert answer.answerable and answer.citations[0].quote == "Members:\nAlice Brown\nCarlos Diaz"
    # "how" opens no label: how old the members are is no list of them
    answer = compose_answer("How old are the members of the Finance Committee?", hits, candidates, documents, stats, always)
    assert not answer.citations or answer.citations[0].quote != "Members:\nAlice Brown\nCarlos Diaz"


def test_labels_alike_in_two_documents_are_both_quoted_and_a_list_may_have_one_long_item():
    long_item = "A 64-bit processor with at least four cores, eight gigabytes of memory and a solid-state disk " * 2
    documents, hits, candidates, stats = _labelled({
        "a.txt": "Chess club\n\nMembers:\nAnn Lee\nBo Chan", "b.txt": "Go club\n\nMembers:\nCy Diaz\nDee Eng",
        "c.txt": f"Requirements:\n{long_item.strip()}\nA working C compiler.",
    })
    always = AnswerPolicy(decline_threshold=0.0)
    answer = compose_answer("Who are the members?", hits, candidates, documents, stats, always)
    assert sorted(c.quote for c in answer.citations) == ["Members:\nAnn Lee\nBo Chan", "Members:\nCy Diaz\nDee Eng"]
    answer = compose_answer("What are the requirements?", hits, candidates, documents, stats, always)
    assert answer.citations[0].quote == documents["c.txt"].text


@pytest.mark.parametrize("question, texts, declined", [
    ("Is the upload limit 1500 MB?", ["The upload limit is 500 MB per file."], []),  # an amount, not a year
    ("What happened to the society in 1925?", ["In the 1920s it moved to Leeds."], []),
    ("What was the budget in 2017?", ["The FY2017 budget was 2 million."], []),
    ("What did the society do in 1925?", ["In 1950 it moved to Leeds."], ["1925"]),
    ("What did the society publish in the 2015 report?", ["In 1950 it moved to Leeds."], ["2015"]),
])
def test_what_counts_as_a_year_the_documents_do_not_mention(question, texts, declined):
    from docqa.answer import years_not_in_documents

    assert years_not_in_documents(question, term_statistics(texts)) == declined


def test_a_label_leads_on_over_a_blank_line_and_one_that_leads_to_nothing_is_not_quoted():
    documents, hits, candidates, stats = _labelled({
        "risks.md": "Risks:\n\n- fire in the archive\n- loss of the keys",
        "end.txt": "The archive holds the risk register of the group. Further risks:",
    })
    always = AnswerPolicy(decline_threshold=0.0, max_sentences=3, extra_sentence_ratio=0.0, extra_sentence_minimum=0.0)
    answer = compose_answer("What are the risks?", hits, candidates, documents, stats, always)
    assert [c.quote for c in answer.citations] == [documents["risks.md"].text]
    answer = compose_answer("What risks does the group face?", hits, candidates, documents, stats, always)
    quotes = [c.quote for c in answer.citations]
    assert "Further risks:" not in quotes and "The archive holds the risk register of the group." in quotes
    # when a label that leads to nothing is all there is, it is quoted as it is
    documents, hits, candidates, stats = _labelled({"end.txt": "Further risks:"})
    answer = compose_answer("What risks does the group face?", hits, candidates, documents, stats, always)
    assert [c.quote for c in answer.citations] == ["Further risks:"]
