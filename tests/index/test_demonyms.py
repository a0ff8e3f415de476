"""Countries and their demonyms are one search term (index/articles/demonyms.py)."""

from bench.make_demonyms import country_demonyms
from index.articles.demonyms import DEMONYMS
from index.articles.text import tokenize, tokenize_question


def test_a_country_its_adjective_and_its_people_are_one_term() -> None:
    assert tokenize("Russia Russian Russians russian") == ["russia"] * 4
    assert tokenize("Nigeriens and Niger") == ["niger", "niger"]
    assert tokenize("French troops left France") == ["franc", "troop", "left", "franc"]
    assert tokenize_question("Is Russia involved?") == ["russia", "involv"] == tokenize("Russian involvement")


def test_neighbours_with_like_names_stay_apart() -> None:
    assert tokenize("Niger Nigerien Nigeria Nigerian") == ["niger", "niger", "nigeria", "nigeria"]
    assert tokenize("Dominica Dominican") == ["dominica", "dominican"]  # "Dominican" is the Dominican Republic's too


def test_the_table_is_what_countryinfo_gives() -> None:
    assert country_demonyms() == DEMONYMS
    assert DEMONYMS["Burmese"] == "Myanmar" and DEMONYMS["Chinese"] == "China" and "Congolese" not in DEMONYMS
