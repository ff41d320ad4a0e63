from docqa.sentences import split_sentences


def sentences(text):
    return [text[s:e] for s, e in split_sentences(text)]


def test_splits_on_sentence_ends_and_keeps_quotes():
    text = "It said “use the Internet.” As such, it acts. Does it? Yes!"
    assert sentences(text) == ["It said “use the Internet.”", "As such, it acts.", "Does it?", "Yes!"]


def test_abbreviations_and_initials_do_not_end_sentences():
    text = "Dr. Smith met J. Doe at 5 p.m. in the U.S. office. Civil society, policymakers, etc.) joined."
    assert sentences(text) == [
        "Dr. Smith met J. Doe at 5 p.m. in the U.S. office.",
        "Civil society, policymakers, etc.) joined.",
    ]


def test_line_breaks_end_sentences_and_spans_are_trimmed():
    text = "  Members:\n• First item\n\nA sentence.  "
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["Members:", "• First item", "A sentence."]


def test_range_and_lower_case_continuation():
    text = "skip. The report, e.g. the 2009 one, helps. it continues"
    assert sentences(text) == ["skip.", "The report, e.g. the 2009 one, helps. it continues"]
    assert [text[s:e] for s, e in split_sentences(text, 6, 43)] == ["The report, e.g. the 2009 one, helps."]
