"""Articles from links (`qa-bot add URL`, index.ingest.add_page), against a local site serving real-looking pages:
dates never invented, boilerplate refused, charsets honoured, the publisher named, the page's URL cited."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from index import build_index, parse_article
from index.articles.ingest import ArticleExists, IngestError, add_page
from index.articles.web import FetchError
from testkit.web_site import Site

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"
FERRY = (PAGES / "dated.html").read_bytes()
SOLAR = (PAGES / "undated.html").read_bytes()
HOME = (PAGES / "boilerplate.html").read_bytes()


async def add(folder: Path, url: str, site: Site, **options):
    return await asyncio.to_thread(add_page, folder, url, policy=site.policy, **options)


async def test_a_news_page_becomes_an_article_with_its_date_publisher_and_the_url_fetched(tmp_path, site):
    site.serve("/2024/04/18/ferry", FERRY)
    url = site.redirect("/s/ferry", "/2024/04/18/ferry")  # a short link: the page's own address is cited
    added = await add(tmp_path, url, site)
    assert (added.name, added.title, added.date, added.source, added.url, added.sentences) == (
        "ferry-service-resumes-after-strike.txt",
        "Ferry service resumes after strike",
        "2024-04-18",  # published, not modified (2024-04-19), not the copyright year (2025)
        "The Harbour Gazette",
        site.url("/2024/04/18/ferry"),
        5,
    )
    text = (tmp_path / added.name).read_text("utf-8")
    assert text.startswith(
        "title: Ferry service resumes after strike\ndate: 2024-04-18\n"
        f"url: {site.url('/2024/04/18/ferry')}\nsource: The Harbour Gazette\n\n"
        "The island ferry sailed again on Thursday morning"
    )
    for boilerplate in ("cookies", "Subscribe", "Most read", "Ann Keel", "rights reserved"):
        assert boilerplate not in text
    index, _ = build_index(tmp_path, use_cache=False)
    [hit] = index.search("How many passengers were on the first crossing?", 1)
    assert (hit.source, hit.url, hit.sentence) == ("The Harbour Gazette", site.url("/2024/04/18/ferry"), 2)


async def test_an_undated_page_stays_undated_whatever_years_its_text_and_footer_name(tmp_path, site):
    added = await add(tmp_path, site.serve("/solar", SOLAR), site)
    assert (added.title, added.date, added.source, added.sentences) == (
        "Solar farms spread across the valley",
        None,
        "Valley Courier",
        3,
    )
    assert "date:" not in (tmp_path / added.name).read_text("utf-8")


async def test_a_date_given_by_the_moderator_or_the_feed_is_used(tmp_path, site):
    url = site.serve("/solar", SOLAR)
    added = await add(tmp_path, url, site, date="2024-06-01")
    assert added.date == "2024-06-01"


async def test_a_page_of_navigation_and_a_cookie_notice_is_refused_and_nothing_is_written(tmp_path, site):
    with pytest.raises(IngestError) as error:
        await add(tmp_path, site.serve("/", HOME), site)
    assert str(error.value) == (
        "That page has too little article text (0 characters in sentences; at least 150 are needed): it looks "
        "like a home page, a list of links or a cookie notice, so give the address of the article itself."
    )
    assert list(tmp_path.iterdir()) == []


async def test_a_page_with_no_text_at_all_is_refused(tmp_path, site):
    with pytest.raises(IngestError) as error:
        await add(tmp_path, site.serve("/empty", "<html><body><img src='a.png'></body></html>"), site)
    assert str(error.value) == (
        "No article text was found in that page: give the article's own page, or paste its text."
    )


CAFE = (
    "<html><head><title>Café reopens</title></head><body><article><h1>Café reopens</h1>"
    "<p>The café on Rue Émile reopened on Friday, its owner said: “We are très heureux to be back.”</p>"
    "<p>Its crêpes cost €4 and the queue reached the corner before noon, neighbours said.</p>"
    "</article></body></html>"
)


@pytest.mark.parametrize(
    ("encoding", "content_type", "meta"),
    [
        ("windows-1252", "text/html; charset=windows-1252", ""),  # declared by the server only
        ("windows-1252", "text/html", '<meta charset="windows-1252">'),  # declared by the page only
        ("utf-8", "text/html; charset=utf-8", ""),
    ],
)
async def test_a_page_in_another_charset_is_decoded_as_declared(tmp_path, site, encoding, content_type, meta):
    body = CAFE.replace("<head>", f"<head>{meta}").encode(encoding)
    added = await add(tmp_path, site.serve("/cafe", body, content_type), site)
    article = parse_article(added.name, (tmp_path / added.name).read_bytes())
    assert article.title == "Café reopens"
    assert article.sentences[0] == (
        "The café on Rue Émile reopened on Friday, its owner said: “We are très heureux to be back.”"
    )
    assert "€4" in article.sentences[1]


async def test_a_markdown_page_is_read_as_markdown(tmp_path, site):
    body = "# Bridge vote\n\nThe council voted **7 to 2** on [Tuesday](https://x.example/) to fund the bridge.\n"
    added = await add(tmp_path, site.serve("/bridge.md", body, "text/markdown; charset=utf-8"), site)
    assert added.name == "bridge-vote.md"
    article = parse_article(added.name, (tmp_path / added.name).read_bytes())
    assert (article.title, article.sentences) == (
        "Bridge vote",
        ("The council voted 7 to 2 on Tuesday to fund the bridge.",),
    )


async def test_a_page_already_added_is_not_overwritten_unless_replaced(tmp_path, site):
    url = site.serve("/ferry", FERRY)
    await add(tmp_path, url, site)
    with pytest.raises(ArticleExists):
        await add(tmp_path, url, site)
    assert (await add(tmp_path, url, site, replace=True)).replaced


async def test_a_link_into_the_hosts_network_is_refused_by_default(tmp_path):
    with pytest.raises(FetchError) as error:
        await asyncio.to_thread(add_page, tmp_path, "http://127.0.0.1:9/admin")
    assert str(error.value).startswith("127.0.0.1 is a local or private network address (127.0.0.1)")


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


async def test_qa_bot_add_fetches_a_link(tmp_path, site, capsys, monkeypatch):
    url = site.serve("/ferry", FERRY)
    monkeypatch.setenv("FETCH_ALLOW_NETWORKS", "127.0.0.2")
    status, out, err = await asyncio.to_thread(run, capsys, "add", "--seeds", str(tmp_path), url)
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        f"Added {tmp_path}/ferry-service-resumes-after-strike.txt: “Ferry service resumes after strike”, "
        "The Harbour Gazette, 2024-04-18, 5 sentences.",
        "The running bot serves it after /reload (or a restart).",
    ]


async def test_qa_bot_add_says_why_a_link_failed_in_one_line(tmp_path, site, capsys, monkeypatch):
    monkeypatch.setenv("FETCH_ALLOW_NETWORKS", "127.0.0.2")
    home = site.serve("/", HOME)
    status, out, err = await asyncio.to_thread(run, capsys, "add", "--seeds", str(tmp_path), home, "http://10.0.0.1/")
    assert (status, out) == (1, "")
    assert err.splitlines() == [
        f"qa-bot: {home}: That page has too little article text (0 characters in sentences; at least 150 are "
        "needed): it looks like a home page, a list of links or a cookie notice, so give the address of the "
        "article itself.",
        "qa-bot: http://10.0.0.1/: 10.0.0.1 is a local or private network address (10.0.0.1), which qa-bot does "
        "not fetch from: give a public web address (or allow that network in FETCH_ALLOW_NETWORKS).",
    ]


def test_a_malformed_allow_list_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FETCH_ALLOW_NETWORKS", "10.0.0.0/99")
    status, _, err = run(capsys, "add", "--seeds", str(tmp_path), "https://example.com/a")
    assert status == 2
    assert err == (
        "qa-bot: FETCH_ALLOW_NETWORKS must be networks such as 10.0.0.0/8 or 192.168.1.5, comma-separated "
        "(got '10.0.0.0/99'); fix it in .env\n"
    )


async def test_the_same_page_under_another_link_is_refused_and_a_markdown_pages_front_matter_is_read(tmp_path, site):
    """Issue 23, finding 7, for links: a copy is not added beside its original; front matter is metadata."""
    seeds, other = tmp_path / "seeds", tmp_path / "other"
    seeds.mkdir()
    other.mkdir()
    added = await add(seeds, site.serve("/2024/04/18/ferry", FERRY), site)
    (seeds / added.name).rename(seeds / "zz-kept.txt")  # the original, under a name of its own
    with pytest.raises(IngestError) as refused:
        await add(seeds, site.url("/2024/04/18/ferry"), site)
    assert str(refused.value) == (
        "This article is already in the seeds folder as zz-kept.txt, so nothing was added: "
        "remove that one first to add it under another name."
    )
    assert sorted(p.name for p in seeds.iterdir()) == ["zz-kept.txt"]
    notes = "---\ntitle: Harbour notes\ndate: 2024-03-02\n---\nThe harbour reopened on Monday. Ships came back.\n"
    page = await add(other, site.serve("/notes.md", notes.encode(), content_type="text/markdown"), site)
    assert (page.title, page.date, page.sentences) == ("Harbour notes", "2024-03-02", 2)
    assert "---" not in (other / page.name).read_text("utf-8")
