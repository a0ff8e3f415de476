"""A news site for one test: pages and feeds served by aiohttp on 127.0.0.2, a port of the system's choosing.

127.0.0.2, not 127.0.0.1: the fetcher is allowed that one address (`Site.policy`), so a redirect to
127.0.0.1 (or a name resolving there) is still refused, as any loopback address is by default. Every
request is recorded (path and headers), so tests count requests and read conditional headers.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from index.articles.web import AddressPolicy

HOST = "127.0.0.2"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


class Site:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Seen] = []
        self.released = asyncio.Event()  # set at the end: handlers that hang wait for it
        self._runner: web.AppRunner | None = None
        self.base = ""

    @property
    def policy(self) -> AddressPolicy:
        return AddressPolicy.parse(f"{HOST}/32")

    def url(self, path: str) -> str:
        return self.base + path

    async def start(self) -> Site:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://{HOST}:{port}"
        return self

    async def stop(self) -> None:
        self.released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Seen(request.path_qs, dict(request.headers)))
        handler = self.routes.get(request.path_qs) or self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not here")
        return await handler(request)

    def serve(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "text/html; charset=utf-8",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve `body` at `path`; returns its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(body=data, status=status, headers={"Content-Type": content_type, **(headers or {})})

        self.routes[path] = handler
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": location})

        self.routes[path] = handler
        return self.url(path)

    def handle(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def count(self, path: str) -> int:
        return sum(1 for seen in self.requests if seen.path == path)


async def stream(request: web.Request, content_type: str, chunks: Any, **headers: str) -> web.StreamResponse:
    """A response written chunk by chunk (no Content-Length unless given) until the client goes away."""
    response = web.StreamResponse(headers={"Content-Type": content_type, **headers})
    await response.prepare(request)
    try:
        async for chunk in chunks:
            await response.write(chunk)
    except (ConnectionResetError, ConnectionError):
        pass
    return response


@dataclass
class Item:
    """A feed entry and the article page it links to."""

    slug: str
    title: str
    published: str | None = "Tue, 05 Mar 2024 10:00:00 GMT"  # RSS's date format; None: undated
    summary: str = "A summary."
    paragraphs: tuple[str, ...] = ()
    link: str | None = None  # default: the site's /news/<slug>


def article_page(title: str, paragraphs: tuple[str, ...], date: str | None = None) -> str:
    """A real-looking news page: a menu, the article, a footer."""
    meta = f'<meta property="article:published_time" content="{date}">' if date else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title} | Local News</title>{meta}"
        '<meta property="og:site_name" content="Local News"></head><body>'
        '<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>'
        f"<article><h1>{title}</h1>{body}</article>"
        "<footer>© 2025 Local News · Privacy · Terms</footer></body></html>"
    )


def default_paragraphs(slug: str) -> tuple[str, ...]:
    return (
        f"The story called {slug} began on a quiet morning in the harbour town, residents said.",
        f"Officials confirmed the details of {slug} later that day and promised a full report by the weekend.",
    )


class FeedSite(Site):
    """A site with one RSS feed (`/feed.xml`, with an ETag: a conditional request gets 304 while it is
    unchanged) and a page per item."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[Item] = []
        self.feed_title = "Local News"

    async def start(self) -> FeedSite:
        await super().start()
        self.handle("/feed.xml", self._feed)
        return self

    def publish(self, *items: Item) -> None:
        for item in items:
            self.items.insert(0, item)
            self.serve(f"/news/{item.slug}", article_page(item.title, item.paragraphs or default_paragraphs(item.slug)))

    def rss(self) -> str:
        entries = []
        for item in self.items:
            link = item.link or self.url(f"/news/{item.slug}")
            date = f"<pubDate>{item.published}</pubDate>" if item.published else ""
            title, link, summary = escape(item.title), escape(link), escape(item.summary)
            entries.append(
                f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>{date}"
                f"<description>{summary}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{self.feed_title}</title><link>{self.base}/</link><description>News</description>"
            + "".join(entries)
            + "</channel></rss>"
        )

    async def _feed(self, request: web.Request) -> web.StreamResponse:
        body = self.rss().encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"Content-Type": "application/rss+xml", "ETag": etag})

    @property
    def feed_url(self) -> str:
        return self.url("/feed.xml")
