"""Content terms: British and American spellings of a word are one term."""

from __future__ import annotations

import pytest

from docqa.pipeline import Pipeline
from docqa.retrieve import RetrievalSettings
from docqa.terms import american_spelling, content_terms, stem


@pytest.mark.parametrize("british, american", [
    ("organisation", "organization"), ("organised", "organized"), ("summarise", "summarize"),
    ("analysed", "analyzed"), ("colour", "color"), ("neighbourhood", "neighborhood"), ("favourite", "favorite"),
    ("centre", "center"), ("kilometres", "kilometers"), ("centred", "centered"), ("travelled", "traveled"),
    ("counsellor", "counselor"), ("programme", "program"), ("defence", "defense"), ("haemoglobin", "hemoglobin"),
    ("paediatric", "pediatric"), ("oestrogen", "estrogen"), ("sulphur", "sulfur"), ("jewellery", "jewelry"),
    # every form of a word, not only the base
    ("organisational", "organizational"), ("unfavourable", "unfavorable"), ("multicoloured", "multicolored"),
    ("centring", "centering"), ("manoeuvred", "maneuvered"), ("cataloguing", "cataloging"), ("licencing", "licensing"),
    ("moulded", "molded"), ("ploughing", "plowing"), ("palaeontology", "paleontology"), ("anaesthetic", "anesthetic"),
    ("diarrhoea", "diarrhea"), ("medallist", "medalist"), ("woollen", "woolen"), ("focussed", "focused"),
])
def test_british_and_american_spellings_share_a_stem(british, american):
    assert stem(british) == stem(american)


@pytest.mark.parametrize("word", ["hour", "four", "your", "tour", "rise", "wise", "prise", "crisis", "paella",
                                  "aerial", "literature", "acre", "genre", "dialogue", "cancel", "label", "paradise",
                                  "improvise", "advertise", "exercise", "promise", "expertise", "franchise"])
def test_words_that_only_look_british_keep_their_spelling(word):
    assert american_spelling(word) == word


@pytest.mark.parametrize("one, other", [
    ("prise", "prize"), ("paradise", "parade"), ("improvise", "improve"), ("imprecise", "imprecation"), ("tonne", "ton"),
])
def test_different_words_keep_different_stems(one, other):
    assert stem(one) != stem(other)


@pytest.mark.parametrize("one, other", [
    ("television", "televised"), ("supervision", "supervised"), ("advertisement", "advertising"),
    ("precision", "precise"), ("promising", "promisingly"),
])
def test_a_word_spelt_so_in_american_too_keeps_its_family(one, other):
    assert stem(one) == stem(other)


def test_content_terms_match_across_spellings():
    assert content_terms("Which organisation analysed the programme?") == \
        content_terms("Which organization analyzed the program?")


def test_keyword_search_finds_a_document_written_in_the_other_spelling(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The organization was founded to analyze the harbor traffic.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("Rainfall in the valley is measured every morning.\n", encoding="utf-8")
    pipeline = Pipeline(corpus, tmp_path / "index", embedder=embedder)
    pipeline.ensure_index()
    hits = pipeline.search("Which organisation analyses the harbour?", 2,
                           retrieval=RetrievalSettings(mode="keyword"))
    assert hits[0].chunk.source == "a.txt"
    assert hits[0].keyword_score > 0
