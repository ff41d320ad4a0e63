"""Repairs of PDF-extraction damage, on the seed document's own examples."""

from docqa.corpus import known_word
from docqa.repair import join_broken_lines, join_hyphenated_words, remove_footnote_numbers, repair_text

from conftest import SEED


def seed_text() -> str:
    return repair_text(SEED.read_text(encoding="utf-8"), known_word)


def test_word_hyphenated_across_a_line_break_is_joined():
    raw = "focuses on the Saudi government’s effort to rehabili-\ntate terrorists."
    assert repair_text(raw, known_word) == "focuses on the Saudi government’s effort to rehabilitate terrorists."
    assert "rehabilitate terrorists" in seed_text()
    assert "rehabili-" not in seed_text()


def test_real_compound_keeps_its_hyphen():
    raw = "the working group addresses challenges posed by terrorist-\nrelated activities on the internet"
    assert "terrorist-related activities" in repair_text(raw, known_word)
    assert "terrorist-related activities" in seed_text()


def test_capitalised_compound_keeps_its_hyphen_without_a_word_list():
    assert join_hyphenated_words("the UN Global Counter-\nTerrorism Strategy", lambda w: False) == (
        "the UN Global Counter-Terrorism Strategy"
    )


def test_document_evidence_decides_when_the_word_appears_elsewhere():
    text = "a counter-\nnarrative here, and a counter-narrative there"
    assert join_hyphenated_words(text, lambda w: False).startswith("a counter-narrative here")
    text = "offering counter-\nnarratives, and counternarratives again"
    assert join_hyphenated_words(text, lambda w: True).startswith("offering counternarratives,")


def test_footnote_numbers_glued_after_punctuation_are_removed():
    raw = "“use the Internet as a tool for countering the spread of terrorism.”228As\nsuch, the working group"
    assert remove_footnote_numbers(raw) == "“use the Internet as a tool for countering the spread of terrorism.” As\nsuch, the working group"
    text = seed_text()
    assert "terrorism.” As such, the working group" in text
    assert "fundraising. The working group" in text
    assert "Microsoft. These discussions" in text
    assert "recommends actions for the United Nations.\n" in text
    for glued in ("228", "229", "230", "231", "232"):
        assert glued not in text


def test_footnote_after_a_year_only_when_it_continues_the_sequence():
    assert remove_footnote_numbers("Microsoft.231 Later, in 2012.232\n") == "Microsoft. Later, in 2012.\n"
    # Without a preceding footnote, "2012.232" could be a decimal: left alone.
    assert remove_footnote_numbers("planned for 2012.232\n") == "planned for 2012.232\n"
    assert remove_footnote_numbers("It rose 3.5 percent, then 4.25 in total.") == "It rose 3.5 percent, then 4.25 in total."
    assert remove_footnote_numbers("See section A.1 Introduction.") == "See section A.1 Introduction."


def test_lines_broken_mid_sentence_read_as_one_sentence():
    text = seed_text()
    assert (
        "The Working Group on Countering the Use of the Internet for Terrorist Purposes was established "
        "in accordance with the UN Global Counter-Terrorism Strategy, in which member states pledged to"
    ) in text
    assert "including radicalization, recruitment, training, operational planning" in text  # leading space folded


def test_structure_survives_line_joining():
    text = seed_text()
    assert "Members:\n• Al-Qaida Analytical Support and Sanctions Monitoring Team (1267 Monitoring Team) (lead)\n" in text
    assert "\n• Counter-Terrorism Implementation Task Force Office (lead)\n" in text
    assert "Website:\nwww.un.org/terrorism/internet.shtml" in text
    assert "\n\nIn 2010, the working group organized" in text  # paragraph break kept
    assert "\n\n\n" not in text


def test_markdown_headings_lists_and_code_keep_their_lines():
    raw = "# Title\nintro line one\nline two\n\n- item one\n- item two\n\n```\ncode line\nmore code\n```\nafter"
    assert join_broken_lines(raw) == (
        "# Title\nintro line one line two\n\n- item one\n- item two\n\n```\ncode line\nmore code\n```\nafter"
    )


def test_windows_line_endings_and_trailing_spaces():
    assert repair_text("one line \r\ncontinues here.\r\n") == "one line continues here.\n"
