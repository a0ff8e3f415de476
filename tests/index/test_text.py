from index.articles.text import MAX_SENTENCE_CHARS, normalise, split_sentences, tokenize, tokenize_question
from tests.helpers import SEED_FILE


def seed_sentences() -> list[str]:
    from index.articles.article import parse_article

    return list(parse_article("seed", SEED_FILE.read_bytes()).sentences)


def test_the_seed_has_33_sentences_with_titles_and_quotes_kept_whole() -> None:
    sentences = seed_sentences()
    assert len(sentences) == 33
    assert sentences[3] == "Mr Bazoum is a key Western ally in the fight against Islamist militants."
    assert sentences[20].startswith("The takeover was announced by a spokesman, Col Maj Amadou Abdramane, who said")
    assert "remove Gen Abdourahamane Tchiani as commander of the presidential guard." in sentences[22]
    # Quoted speech with several full stops inside is one sentence, quote and attribution together.
    assert sentences[28] == (
        "“The coup is very regrettable. It makes me sad because I want the best for our country. "
        "Niger will regress now,” Mustapha, a resident of Niamey sheltering at home with his wife and "
        "three-year-old son, told the BBC."
    )
    assert sentences[-1].endswith("as well as numerous attempted coups.")


def test_sentences_keep_their_text_exactly_and_never_cross_paragraphs() -> None:
    text = "First line of a paragraph\ncontinues here. Second one!\n\nA new paragraph without a stop"
    assert split_sentences(text) == [
        "First line of a paragraph continues here.",
        "Second one!",
        "A new paragraph without a stop",
    ]


def test_a_sentence_without_punctuation_is_cut_at_word_boundaries() -> None:
    run = " ".join(["word"] * 1_000)
    pieces = split_sentences(run)
    assert all(len(p) <= MAX_SENTENCE_CHARS for p in pieces)
    assert " ".join(pieces) == run


def test_curly_and_straight_apostrophes_tokenize_alike() -> None:
    assert tokenize("Niger’s president") == tokenize("Niger's president") == ["niger", "presid"]
    assert normalise("Ｆｕｌｌ\u200bwidth “quotes”") == 'fullwidth "quotes"'


def test_tokens_drop_stop_words_and_stem() -> None:
    assert tokenize("The US and France have condemned the coups") == ["us", "franc", "condemn", "coup"]


def test_question_tokens_also_drop_question_shaping_words() -> None:
    assert tokenize("How many coups?") == ["mani", "coup"]
    assert tokenize_question("How many coups?") == ["coup"]
