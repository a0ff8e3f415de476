"""Fetching pages safely (index/web.py), against a local aiohttp site: addresses, redirects, limits, types.

No test reaches the network: the site runs on 127.0.0.2, and refused addresses are refused before any
connection (a `connect` that records calls proves it).
"""

from __future__ import annotations

import asyncio
import gzip
import socket

import pytest
from aiohttp import web

from index.articles.web import FEED_TYPES, PAGE_TYPES, AddressPolicy, FetchError, FetchLimits, connect_to, fetch
from testkit.web_site import HOST, Site, stream

PAGE = "<html><body><p>A page.</p></body></html>"


async def get(url: str, site: Site | None = None, **options):
    options.setdefault("policy", site.policy if site else AddressPolicy())
    options.setdefault("accept", PAGE_TYPES)
    return await asyncio.to_thread(fetch, url, **options)


async def refused(url: str, site: Site | None = None, **options) -> str:
    with pytest.raises(FetchError) as error:
        await get(url, site, **options)
    return str(error.value)


def no_connection(address, port, timeout):
    raise AssertionError(f"connected to {address}")


async def test_a_page_is_fetched_with_its_type_charset_and_validators(site):
    url = site.serve("/a", PAGE, "text/html; charset=ISO-8859-1", headers={"ETag": '"v1"'})
    response = await get(url, site)
    assert (response.status, response.content_type, response.charset, response.body) == (
        200,
        "text/html",
        "iso-8859-1",
        PAGE.encode(),
    )
    assert (response.url, response.etag, response.hops) == (url, '"v1"', (url,))
    assert site.requests[0].headers["User-Agent"].startswith("qa-bot/")


async def test_redirects_are_followed_and_each_hop_is_checked(site):
    final = site.serve("/final", PAGE)
    site.redirect("/two", "/final", 301)
    first = site.redirect("/one", site.url("/two"), 307)
    response = await get(first, site)
    assert response.url == final and response.hops == (first, site.url("/two"), final)


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:{port}/", "http://localhost:{port}/", "http://[::1]:{port}/", "http://2130706433:{port}/"],
)
async def test_a_redirect_to_the_hosts_own_loopback_is_refused(site, target):
    port = site.base.rsplit(":", 1)[1]
    url = site.redirect("/away", target.format(port=port))
    message = await refused(url, site)
    assert message.startswith("The link redirects to an address that cannot be fetched. ")
    assert "is a local or private network address" in message
    assert [seen.path for seen in site.requests] == ["/away"]


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1/", "127.0.0.1"),
        ("http://127.0.0.2/", "127.0.0.2"),
        ("https://localhost/admin", "127.0.0.1"),
        ("http://10.1.2.3/", "10.1.2.3"),
        ("http://172.16.0.1/", "172.16.0.1"),
        ("http://192.168.1.1/", "192.168.1.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("http://0.0.0.0/", "0.0.0.0"),
        ("http://224.0.0.251/", "224.0.0.251"),
        ("http://[::1]/", "::1"),
        ("http://[fe80::1]/", "fe80::1"),
        ("http://[fd00::1]/", "fd00::1"),
        ("http://[ff02::1]/", "ff02::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("http://0x7f000001/", "127.0.0.1"),
    ],
)
async def test_internal_addresses_are_refused_before_any_connection(url, address):
    message = await refused(url, connect=no_connection)
    assert message.endswith(
        f"is a local or private network address ({address}), which qa-bot does not fetch from: give a public "
        "web address (or allow that network in FETCH_ALLOW_NETWORKS)."
    )


async def test_a_name_that_resolves_to_an_internal_address_among_public_ones_is_refused(monkeypatch):
    def resolve(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    message = await refused("http://news.example/a", connect=no_connection)
    assert message.startswith("news.example is a local or private network address (127.0.0.1)")


async def test_the_connection_goes_to_the_address_checked_not_to_a_second_lookup(site, monkeypatch):
    # DNS rebinding: the first answer passes the check, later ones point inside. Only one lookup is made,
    # and the connection goes to the address it returned.
    answers = iter([HOST, "127.0.0.1", "127.0.0.1"])
    lookups = []

    def resolve(host, port, *args, **kwargs):
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    connected = []

    def connect(address, port, timeout):
        connected.append(str(address))
        return connect_to(address, port, timeout)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    site.serve("/story", PAGE)
    port = site.base.rsplit(":", 1)[1]
    response = await get(f"http://rebind.example:{port}/story", site, connect=connect)
    assert response.body == PAGE.encode()
    assert (lookups, connected) == (["rebind.example"], [HOST])
    assert site.requests[0].headers["Host"] == f"rebind.example:{port}"


async def test_a_setting_allows_a_private_network():
    policy = AddressPolicy.parse("10.0.0.0/8, 127.0.0.1")
    assert policy.permits(__import__("ipaddress").ip_address("10.9.9.9"))
    assert not policy.permits(__import__("ipaddress").ip_address("192.168.0.1"))
    with pytest.raises(ValueError):
        AddressPolicy.parse("10.0.0.0/33")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/a", "Only http:// and https:// links can be fetched: give the page's web address."),
        ("file:///etc/passwd", "Only http:// and https:// links can be fetched: give the page's web address."),
        ("javascript:alert(1)", "Only http:// and https:// links can be fetched: give the page's web address."),
        ("https://", "That link has no host name: give the page's full web address, with https://."),
        (
            "https://bob:secret@example.com/",
            "Links with a user name or password are not fetched: give the page's public address.",
        ),
        ("https://example.com:99999/", "That is not a valid web link: check it and try again."),
        (
            "https://example.com/" + "a" * 2000,
            "That link is longer than 2,000 characters: give the page's own, shorter link.",
        ),
    ],
)
async def test_links_that_are_not_web_addresses_are_refused(url, message):
    assert await refused(url, connect=no_connection) == message


async def test_a_redirect_to_another_scheme_is_refused(site):
    url = site.redirect("/r", "file:///etc/passwd")
    assert await refused(url, site) == (
        "The link redirects to an address that cannot be fetched. "
        "Only http:// and https:// links can be fetched: give the page's web address."
    )


async def test_too_many_redirects_are_refused(site):
    for n in range(10):
        site.redirect(f"/r{n}", f"/r{n + 1}")
    message = await refused(site.url("/r0"), site, limits=FetchLimits(redirects=3))
    assert message == "The link redirects more than 3 times: give the page's final address instead."
    assert len(site.requests) == 4


async def test_a_server_that_never_answers_is_given_up_at_the_deadline(site):
    async def hang(request):
        await site.released.wait()
        return web.Response(text="late")

    url = site.handle("/slow", hang)
    message = await refused(url, site, limits=FetchLimits(seconds=0.3))
    assert message == f"{HOST} took longer than 0.3 s to send the page: try again later."


async def test_a_server_that_drips_bytes_is_given_up_at_the_deadline(site):
    async def drip(request):
        async def chunks():
            while not site.released.is_set():
                yield b"<p>"
                await asyncio.sleep(0.01)

        return await stream(request, "text/html", chunks())

    url = site.handle("/drip", drip)
    message = await refused(url, site, limits=FetchLimits(seconds=0.3))
    assert message == f"{HOST} took longer than 0.3 s to send the page: try again later."


async def test_a_50_mb_page_is_refused_by_its_length_before_it_is_read(site):
    async def huge(request):
        async def chunks():
            for _ in range(50):
                yield b"x" * 1_000_000

        return await stream(request, "text/html", chunks(), **{"Content-Length": str(50_000_000)})

    url = site.handle("/huge", huge)
    assert await refused(url, site) == (
        "That page is too large (50,000,000 bytes or more; the limit is 5,000,000): "
        "give the address of a single article."
    )


async def test_a_50_mb_page_without_a_length_is_cut_at_the_limit(site):
    sent = []

    async def huge(request):
        async def chunks():
            for _ in range(50):
                sent.append(1)
                yield b"x" * 1_000_000

        return await stream(request, "text/html", chunks())

    url = site.handle("/huge", huge)
    message = await refused(url, site, limits=FetchLimits(max_bytes=2_000_000))
    assert message.startswith("That page is too large (2,0") and message.endswith(
        "the limit is 2,000,000): give the address of a single article."
    )


async def test_a_compressed_page_is_decompressed_within_the_same_limit(site):
    small = site.serve("/small", gzip.compress(PAGE.encode()), headers={"Content-Encoding": "gzip"})
    assert (await get(small, site)).body == PAGE.encode()
    bomb = site.serve("/bomb", gzip.compress(b"\0" * 20_000_000), headers={"Content-Encoding": "gzip"})
    assert (await refused(bomb, site)).startswith("That page is too large (5,0")


@pytest.mark.parametrize(
    ("content_type", "accept", "message"),
    [
        ("image/png", PAGE_TYPES, "That link gives image/png, not a web page: give the address of the page itself."),
        (
            "application/pdf",
            FEED_TYPES,
            "That link gives application/pdf, not an RSS or Atom feed: give the address of the feed itself.",
        ),
    ],
)
async def test_content_of_another_type_is_refused(site, content_type, accept, message):
    url = site.serve("/x", b"\x89PNG", content_type)
    assert await refused(url, site, accept=accept) == message


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "The site has no page at that link (404 Not Found): check the link."),
        (410, "The site has no page at that link (410 Gone): check the link."),
        (
            403,
            "The site refused the request (403 Forbidden): it may not allow bots; "
            "save the page and add the file instead.",
        ),
        (503, "The site is unavailable (503 Service Unavailable): try again later."),
        (429, "The site is unavailable (429 Too Many Requests): try again later."),
    ],
)
async def test_each_error_status_is_one_sentence(site, status, message):
    url = site.serve("/e", "no", status=status)
    assert await refused(url, site) == message


async def test_a_conditional_request_gets_304_and_no_body(site):
    async def conditional(request):
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(text=PAGE, content_type="text/html", headers={"ETag": '"v1"'})

    url = site.handle("/feed", conditional)
    first = await get(url, site)
    again = await get(url, site, etag=first.etag, last_modified="Tue, 05 Mar 2024 10:00:00 GMT")
    assert (first.status, again.status, again.body) == (200, 304, b"")
    assert site.requests[1].headers["If-Modified-Since"] == "Tue, 05 Mar 2024 10:00:00 GMT"


async def test_https_to_a_server_that_does_not_speak_tls_fails_with_a_sentence(site):
    site.serve("/a", PAGE)
    message = await refused(site.base.replace("http://", "https://") + "/a", site)
    assert message == f"A secure connection to {HOST} failed: check that the link works."


async def test_a_closed_port_fails_with_a_sentence(site):
    with socket.socket() as unused:
        unused.bind((HOST, 0))
        port = unused.getsockname()[1]
    message = await refused(f"http://{HOST}:{port}/", site)
    assert message == f"Could not connect to {HOST} (Connection refused): try again later."
