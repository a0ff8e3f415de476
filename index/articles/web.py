"""Fetching one web page or feed, safely: the only code in qa-bot that opens a connection to a web site.

A moderator gives a link (or a feed lists one); the bot must not become a way into its host's network. So:
- only http and https, no user name or password in the link;
- every address the host name resolves to is checked, at every redirect hop, and the connection goes to
  an address that was checked (never resolved again, so DNS rebinding gains nothing): loopback, private,
  link-local, multicast, reserved and other non-global ranges are refused unless `AddressPolicy` allows
  their network (the FETCH_ALLOW_NETWORKS setting);
- a whole fetch, redirects included, has one deadline, enforced by a timer that shuts the socket, so a
  server that drips bytes cannot hold it; at most `max_bytes` are read (and decompressed), at most
  `redirects` hops are followed, and only the expected content types are read.
Proxies in the environment are not used: the address checked must be the address connected to.

Synchronous and pure (the standard library's http.client over a socket opened here): the bot runs it in
a worker thread or process, the command line directly. Each failure is a FetchError whose message is one
sentence saying what happened and what to do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import quote, urljoin, urlsplit

from index.articles.text import printable

MAX_URL_CHARS = 2_000
USER_AGENT = "qa-bot/0.1 (a Discord bot answering questions about news articles; one request per article)"
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown", "text/x-markdown")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "text/html",  # some sites serve their feed as HTML (or a page that links to it): the parser tells
    "text/plain",
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 65_536
_DNS_WORKERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchError(ValueError):
    """The page or feed could not be fetched; the message is one sentence saying why and what to do."""


class AddressRefused(FetchError):
    """The host is (or resolves to) an address qa-bot does not connect to."""


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 5_000_000  # of the body, after decompression
    seconds: float = 20.0  # the whole fetch: resolving, connecting, redirects, reading
    redirects: int = 5


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses may be connected to: global unicast ones, and those in `allowed` (FETCH_ALLOW_NETWORKS)."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AddressPolicy:
        """From a comma-separated list of networks (`10.0.0.0/8, 127.0.0.1`). Raises ValueError."""
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return cls(tuple(ipaddress.ip_network(p, strict=False) for p in parts))

    def permits(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if any(address in network for network in self.allowed):
            return True
        return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class Response:
    """A fetched resource: `status` 200, or 304 when the conditional request found nothing changed."""

    url: str  # after redirects
    status: int
    content_type: str  # the media type, lower-case ("" when the server gave none)
    charset: str | None
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    hops: tuple[str, ...] = field(default=())  # every URL requested, the first one included


def check_url(url: str) -> str:
    """`url` if it is an http(s) link qa-bot may fetch (address aside); FetchError otherwise."""
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise FetchError(f"That link is longer than {MAX_URL_CHARS:,} characters: give the page's own, shorter link.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError("That is not a valid web link: check it and try again.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError("Only http:// and https:// links can be fetched: give the page's web address.")
    if not parts.hostname:
        raise FetchError("That link has no host name: give the page's full web address, with https://.")
    if parts.username is not None or parts.password is not None:
        raise FetchError("Links with a user name or password are not fetched: give the page's public address.")
    if port == 0:
        raise FetchError("That link's port is not valid: check it and try again.")
    return url


def fetch(
    url: str,
    *,
    accept: Sequence[str],
    policy: AddressPolicy | None = None,
    limits: FetchLimits | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    connect: Callable[[IPAddress, int, float], socket.socket] | None = None,
) -> Response:
    """GET `url`, following redirects, within `limits`; the body only when its media type is in `accept`.

    `etag` and `last_modified` make the request conditional (a 304 comes back with an empty body).
    `connect` opens the TCP connection to a checked address (tests count connections with it).
    """
    policy = policy or AddressPolicy()
    limits = limits or FetchLimits()
    deadline = time.monotonic() + limits.seconds
    current = check_url(url)
    hops: list[str] = []
    while True:
        hops.append(current)
        try:
            reply = _request(current, accept, policy, limits, deadline, etag, last_modified, connect or connect_to)
        except AddressRefused as error:
            if len(hops) == 1:
                raise
            raise FetchError(f"The link redirects to an address that cannot be fetched. {error}") from None
        if isinstance(reply, Response):
            return dataclasses.replace(reply, hops=tuple(hops))
        if len(hops) > limits.redirects:
            raise FetchError(
                f"The link redirects more than {limits.redirects} times: give the page's final address instead."
            )
        try:
            current = check_url(urljoin(current, reply))
        except FetchError as error:
            raise FetchError(f"The link redirects to an address that cannot be fetched. {error}") from None


def _resolve(host: str, port: int, deadline: float) -> list[IPAddress]:
    # getaddrinfo has no timeout of its own: it runs in a helper thread, waited for until the deadline.
    future = _DNS_WORKERS.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        raise FetchError(f"Looking up {printable(host)} took too long: try again later.") from None
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"The host name {printable(host)} was not found: check the link.") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def connect_to(address: IPAddress, port: int, timeout: float) -> socket.socket:
    """A TCP connection to `address` itself (socket.create_connection would look the address up again)."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


def _open(
    host: str,
    port: int,
    policy: AddressPolicy,
    deadline: float,
    connect: Callable[[IPAddress, int, float], socket.socket],
) -> socket.socket:
    addresses = _resolve(host, port, deadline)
    refused = [a for a in addresses if not policy.permits(a)]
    if refused or not addresses:
        # Every address is checked: a name that also resolves to an internal address is refused whole.
        raise AddressRefused(
            f"{printable(host)} is a local or private network address ({refused[0] if refused else 'none'}), "
            "which qa-bot does not fetch from: give a public web address (or allow that network in "
            "FETCH_ALLOW_NETWORKS)."
        )
    last: OSError | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return connect(address, port, remaining)
        except OSError as error:
            last = error
    if last is None or isinstance(last, TimeoutError):
        raise FetchError(f"{printable(host)} did not answer in time: try again later.")
    raise FetchError(f"Could not connect to {printable(host)} ({last.strerror or last}): try again later.")


class _Connection(http.client.HTTPConnection):
    """http.client's HTTP/1.1 over a socket opened (to a checked address) and wrapped for TLS beforehand."""

    def __init__(self, host: str, port: int, sock: socket.socket) -> None:
        super().__init__(host, port)
        self.sock = sock

    def connect(self) -> None:  # the socket is given; never resolve or connect again
        raise http.client.HTTPException("the connection is closed")


class _Watchdog:
    """Shuts the socket at the deadline, so that no read can outlive it however the server drips."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.fired = False
        self._sock = sock
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        with contextlib.suppress(OSError):  # already closed: nothing left to stop
            self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _target(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    # Non-ASCII or spaces in the path are percent-encoded; what is already encoded stays as it is.
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return scheme, host, port, path + (f"?{query}" if query else "")


def _request(
    url: str,
    accept: Sequence[str],
    policy: AddressPolicy,
    limits: FetchLimits,
    deadline: float,
    etag: str | None,
    last_modified: str | None,
    connect: Callable[[IPAddress, int, float], socket.socket],
) -> Response | str:
    """One request: the Response, or the Location a redirect points to."""
    scheme, host, port, target = _target(url)
    try:
        host_header = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise FetchError(f"The host name {printable(host)} is not valid: check the link.") from None
    sock = _open(host_header, port, policy, deadline, connect)
    watchdog = _Watchdog(sock, deadline - time.monotonic())
    connection: _Connection | None = None
    try:
        if scheme == "https":
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host_header)
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        connection = _Connection(host_header, port, sock)
        return _exchange(connection, url, target, accept, limits, etag, last_modified)
    except ssl.SSLCertVerificationError as error:
        raise FetchError(
            f"{printable(host)}'s certificate could not be verified ({error.verify_message}): "
            "check the link, or tell the site."
        ) from None
    except (OSError, http.client.HTTPException) as error:
        if watchdog.fired or isinstance(error, TimeoutError):
            raise FetchError(
                f"{printable(host)} took longer than {limits.seconds:g} s to send the page: try again later."
            ) from None
        if isinstance(error, ssl.SSLError):
            raise FetchError(f"A secure connection to {printable(host)} failed: check that the link works.") from None
        raise FetchError(
            f"The connection to {printable(host)} failed ({type(error).__name__}): try again later."
        ) from None
    finally:
        watchdog.cancel()
        # Shut down, not only closed: a reference the response keeps (an exception's traceback holds it) must
        # not keep the connection open, and the server learns at once that nothing more is read.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        if connection is not None:
            connection.close()
        sock.close()


def _exchange(
    connection: _Connection,
    url: str,
    target: str,
    accept: Sequence[str],
    limits: FetchLimits,
    etag: str | None,
    last_modified: str | None,
) -> Response | str:
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": ", ".join([*accept, "*/*;q=0.1"]),
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    connection.request("GET", target, headers=headers)
    response = connection.getresponse()
    try:
        return _read_response(response, url, accept, limits)
    finally:
        # Closed here: with "Connection: close" http.client does not keep the response, and its open file
        # would keep the socket open (an exception's traceback holding it) after the connection is closed.
        response.close()


def _read_response(
    response: http.client.HTTPResponse, url: str, accept: Sequence[str], limits: FetchLimits
) -> Response | str:
    if response.status in _REDIRECTS:
        location = response.getheader("Location")
        if not location:
            raise FetchError(f"The site answered {response.status} without saying where to: check the link.")
        return location.strip()
    new_etag, new_modified = response.getheader("ETag"), response.getheader("Last-Modified")
    if response.status == 304:
        return Response(url, 304, "", None, b"", new_etag, new_modified)
    if response.status != 200:
        raise FetchError(_status_sentence(response.status, response.reason))
    media_type, charset = _content_type(response.getheader("Content-Type", ""))
    if media_type and media_type not in accept:
        what, noun = ("an RSS or Atom feed", "feed") if "application/rss+xml" in accept else ("a web page", "page")
        raise FetchError(
            f"That link gives {printable(media_type)[:60]}, not {what}: give the address of the {noun} itself."
        )
    length = response.getheader("Content-Length")
    if length and length.strip().isdigit() and int(length) > limits.max_bytes:
        raise FetchError(_too_large(int(length), limits))
    body = _read_body(response, limits, response.getheader("Content-Encoding", ""))
    return Response(url, 200, media_type, charset, body, new_etag, new_modified)


def _status_sentence(status: int, reason: str) -> str:
    said = f"{status} {reason}".strip()
    if status in (401, 403):
        return f"The site refused the request ({said}): it may not allow bots; save the page and add the file instead."
    if status in (404, 410):
        return f"The site has no page at that link ({said}): check the link."
    if status == 429 or status >= 500:
        return f"The site is unavailable ({said}): try again later."
    return f"The site answered {said}: check the link."


def _too_large(size: int, limits: FetchLimits) -> str:
    return (
        f"That page is too large ({size:,} bytes or more; the limit is {limits.max_bytes:,}): "
        "give the address of a single article."
    )


def _content_type(header: str) -> tuple[str, str | None]:
    message = Message()
    message["Content-Type"] = header
    media_type = message.get_content_type() if header.strip() else ""
    charset = message.get_param("charset")
    return media_type.lower(), charset.strip().lower() if isinstance(charset, str) and charset.strip() else None


def _read_body(response: http.client.HTTPResponse, limits: FetchLimits, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        decode: Callable[[bytes], bytes] | None = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        # Decompressed within the same limit, a chunk at a time: a small "gzip bomb" stops at max_bytes.
        inflater = zlib.decompressobj(wbits=47 if "gzip" in encoding else 15)

        def decode(chunk: bytes) -> bytes:
            return inflater.decompress(chunk, limits.max_bytes + 1)
    else:
        raise FetchError(f"The site sent the page compressed as {printable(encoding)[:30]}, which qa-bot cannot read.")
    parts: list[bytes] = []
    size = 0
    for chunk in _chunks(response):
        data = decode(chunk) if decode else chunk
        size += len(data)
        if size > limits.max_bytes:
            raise FetchError(_too_large(size, limits))
        parts.append(data)
    return b"".join(parts)


def _chunks(response: http.client.HTTPResponse) -> Iterable[bytes]:
    while chunk := response.read(_CHUNK):
        yield chunk
