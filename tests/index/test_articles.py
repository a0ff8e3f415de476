from pathlib import Path

import pytest

from index import load_articles
from index.articles.article import Skipped, UnusableArticle, parse_article
from tests.helpers import SEED_FILE, write_articles


def test_the_seed_date_is_metadata_not_text() -> None:
    article = parse_article("000_eed0d9b0ce39977c.txt", SEED_FILE.read_bytes())
    assert article.date == "2023-07-27"
    assert article.sentences[0].startswith("Niger’s President Mohamed Bazoum has issued a defiant message")
    assert article.title == "Niger’s President Mohamed Bazoum has issued a defiant message on Twitter after…"
    assert article.url is None


@pytest.mark.parametrize("count", [4872, 4876])
def test_a_byte_count_glued_to_the_last_full_stop_is_dropped(count: int) -> None:
    # The seed is 4,872 bytes; with its count appended the file is 4,876 bytes. Either figure is the size.
    plain = SEED_FILE.read_bytes()
    counted = parse_article("seed", plain + str(count).encode())
    assert counted.sentences == parse_article("seed", plain).sentences
    assert counted.sentences[-1].endswith("as well as numerous attempted coups.")


def test_a_number_that_is_not_the_size_stays() -> None:
    article = parse_article("a.txt", b"The year ended in 1960.12")
    assert article.sentences == ("The year ended in 1960.12",)


def test_header_lines_give_the_metadata() -> None:
    text = (
        "title: Coup in Niger\nDate: 2023-07-28\nurl: https://example.com/niger\nsource: Example News\n\n"
        "Soldiers announced a coup. The president was detained."
    )
    article = parse_article("news/niger.md", text.encode())
    assert (article.title, article.date, article.url, article.source) == (
        "Coup in Niger",
        "2023-07-28",
        "https://example.com/niger",
        "Example News",
    )
    assert article.sentences == ("Soldiers announced a coup.", "The president was detained.")


def test_a_short_first_line_before_a_blank_line_is_the_headline() -> None:
    article = parse_article("h.txt", b"Floods hit the capital\n\nRain fell for three days. Rivers rose.")
    assert article.title == "Floods hit the capital"
    assert article.sentences == ("Rain fell for three days.", "Rivers rose.")


def test_without_headline_the_title_is_the_first_sentence() -> None:
    article = parse_article("s.txt", b"Rain fell.\n\nRivers rose.")
    assert article.title == "Rain fell."
    assert article.sentences == ("Rain fell.", "Rivers rose.")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no text to index (the file is empty or holds only headers)"),
        (b"  \n\n \t\n", "no text to index (the file is empty or holds only headers)"),
        (b"caf\xe9 au lait", "not UTF-8 text (bad byte at offset 3): save it as UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary file, not text"),
    ],
)
def test_unusable_files_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(UnusableArticle) as raised:
        parse_article("bad.txt", data)
    assert str(raised.value) == reason


def test_a_folder_is_read_recursively_in_path_order_and_bad_files_are_skipped(tmp_path: Path) -> None:
    seeds = write_articles(
        tmp_path / "seeds",
        {"b.txt": "Second article.", "a/z.md": "First article.", "notes.csv": "ignored", "c.txt": ""},
    )
    (seeds / "latin1.txt").write_bytes("Fran\xe7ais".encode("latin-1"))
    outside = tmp_path / "secret.txt"
    outside.write_text("Outside the folder.")
    (seeds / "link.txt").symlink_to(outside)
    articles, skipped = load_articles(seeds)
    assert [a.id for a in articles] == ["a/z.md", "b.txt"]
    assert skipped == [  # in path order, as a build reports them
        Skipped("c.txt", "no text to index (the file is empty or holds only headers)"),
        Skipped("latin1.txt", "not UTF-8 text (bad byte at offset 4): save it as UTF-8"),
        Skipped("link.txt", "link to outside the seeds folder, not followed"),
        Skipped("notes.csv", "not an article: only .txt and .md files are read"),
    ]
