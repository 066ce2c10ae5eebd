"""A docs website stand-in: HTML pages listed by a sitemap index on one host (plus entries on
another host, which must be ignored), each with an ETag that answers If-None-Match with 304,
and a count of every answer by path and status."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import Counter
from collections.abc import AsyncIterator

from aiohttp import web

from tests.standins.local_server import serve

_SHUTDOWN_GRACE_S = 5.0

PAGE = (
    "<html><head><title>{title}</title></head>"
    "<body><main><h1>{title}</h1><p>{text}</p></main></body></html>"
)


class Site:
    """A docs site with a sitemap index; pages carry an ETag and honour If-None-Match."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.listed: list[str] = []
        self.answers: Counter[tuple[str, int]] = Counter()
        self.port = 0
        self.page_delay_s = 0.0  # a slow site: each page answers this late

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        if path == "/sitemap.xml":
            body = (
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{self.url('/docs-sitemap.xml')}</loc></sitemap>"
                "<sitemap><loc>http://elsewhere.test/sitemap.xml</loc></sitemap>"
                "</sitemapindex>"
            )
            return self._answer(path, 200, body, "application/xml")
        if path == "/docs-sitemap.xml":
            locations = [self.url(page) for page in self.listed]
            locations.append("http://elsewhere.test/leak.html")
            entries = "".join(f"<url><loc>{loc}</loc></url>" for loc in locations)
            body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
            return self._answer(path, 200, body, "application/xml")
        await asyncio.sleep(self.page_delay_s)
        if path not in self.pages:
            return self._answer(path, 404, "", "text/plain")
        etag = '"' + hashlib.sha256(self.pages[path].encode()).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            self.answers[path, 304] += 1
            return web.Response(status=304, headers={"ETag": etag})
        response = self._answer(path, 200, self.pages[path], "text/html")
        response.headers["ETag"] = etag
        return response

    def _answer(self, path: str, status: int, body: str, content_type: str) -> web.Response:
        self.answers[path, status] += 1
        return web.Response(status=status, text=body, content_type=content_type)


@contextlib.asynccontextmanager
async def running_site() -> AsyncIterator[Site]:
    """A `Site` served on a free loopback port."""
    site = Site()
    app = web.Application()
    app.router.add_get("/{tail:.*}", site.handle)
    runner, site.port = await serve(app, _SHUTDOWN_GRACE_S)
    try:
        yield site
    finally:
        await runner.cleanup()


def page(title: str, text: str) -> str:
    return PAGE.format(title=title, text=text)
