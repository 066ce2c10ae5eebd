"""Download pages and zips over http(s), with a timeout and a size cap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp

from core.errors import BadInputError
from core.search.types import Validators

_ZIP_MEDIA_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})
_READ_BYTES = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10


@dataclass(frozen=True)
class FetchOptions:
    """Caps and credentials for downloads; `known` has the validators of earlier downloads,
    so an unchanged page answers 304 and is neither downloaded nor embedded again."""

    page_limit: int
    zip_limit: int
    timeout_s: float
    token: str | None = field(default=None, repr=False)
    known: Mapping[str, Validators] = field(default_factory=dict)


@dataclass(frozen=True)
class Download:
    """A downloaded page or zip; `data` is None when it was larger than `limit` bytes, or
    when the server said it did not change (`not_modified`)."""

    url: str
    media_type: str
    charset: str | None
    is_zip: bool
    data: bytes | None
    limit: int
    validators: Validators = field(default_factory=Validators)
    not_modified: bool = False


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def without_credentials(url: str) -> str:
    """The URL without `user:password@`: what may be stored as a link or shown in a message
    (the request itself still sends them)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


async def download_all(urls: list[str], options: FetchOptions) -> list[Download]:
    """Each URL's body, capped at `page_limit` bytes for a page and `zip_limit` for a zip;
    the token is sent as a bearer token (redirects stay on the same host, so it does too).

    An HTTP error, an unreachable host or a timeout is a BadInputError naming the URL.
    """
    if not urls:
        return []
    async with _session(options) as session:
        return [await _download(session, url, options) for url in urls]


async def download_each(urls: list[str], options: FetchOptions) -> list[Download | BadInputError]:
    """As `download_all`, but a URL that cannot be downloaded is its error in the list, and
    the others are still downloaded (a site's dead page must not hold back the rest)."""
    if not urls:
        return []
    results: list[Download | BadInputError] = []
    async with _session(options) as session:
        for url in urls:
            try:
                results.append(await _download(session, url, options))
            except BadInputError as exc:
                results.append(exc)
    return results


def _session(options: FetchOptions) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=options.timeout_s)
    headers = {"Authorization": f"Bearer {options.token}"} if options.token else None
    return aiohttp.ClientSession(timeout=timeout, headers=headers)


async def _download(session: aiohttp.ClientSession, url: str, options: FetchOptions) -> Download:
    shown = without_credentials(url)
    known = options.known.get(url)
    try:
        async with await _follow(session, url, known.headers() if known else {}) as response:
            is_zip = response.content_type in _ZIP_MEDIA_TYPES or url_suffix(url) == ".zip"
            limit = options.zip_limit if is_zip else options.page_limit
            if response.status == 304 and known is not None:
                return Download(url, "", None, is_zip, None, limit, known, not_modified=True)
            if response.status >= 400:
                status = f"HTTP {response.status} {response.reason or ''}".strip()
                raise BadInputError(f"could not download {shown}: {status}")
            data = await _read_capped(response, limit)
            validators = Validators(
                response.headers.get("ETag"), response.headers.get("Last-Modified")
            )
            return Download(
                url, response.content_type, response.charset, is_zip, data, limit, validators
            )
    except aiohttp.InvalidURL as exc:
        raise BadInputError(f"not a valid URL: {shown}") from exc
    except TimeoutError as exc:  # before ClientError: aiohttp's socket timeouts are both
        waited = f"no answer within {options.timeout_s:g} s"
        raise BadInputError(f"could not download {shown}: {waited}") from exc
    except aiohttp.ClientError as exc:
        detail = str(exc).replace(url, shown)
        raise BadInputError(f"could not download {shown}: {detail}") from exc


async def _follow(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> aiohttp.ClientResponse:
    """The response at the end of `url`'s redirects, followed only on the same host: a page
    must not send the ingest to another machine (a cloud metadata address, a service on the
    private network) whose answer would be stored under the original URL."""
    host = urlsplit(url).hostname
    for _ in range(_MAX_REDIRECTS + 1):
        response = await session.get(url, allow_redirects=False, headers=headers)
        location = response.headers.get("Location")
        if response.status not in _REDIRECTS or location is None:
            return response
        response.release()
        target = urljoin(url, location)
        if urlsplit(target).scheme not in ("http", "https") or urlsplit(target).hostname != host:
            raise BadInputError(
                f"{without_credentials(url)} redirects to another host "
                f"({without_credentials(target)}); ingest that address directly if you trust it"
            )
        url = target
    raise BadInputError(f"{without_credentials(url)}: more than {_MAX_REDIRECTS} redirects")


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The body, or None as soon as it passes `limit` (the declared length is not trusted)."""
    if response.content_length is not None and response.content_length > limit:
        return None
    body = bytearray()
    async for piece in response.content.iter_chunked(_READ_BYTES):
        body += piece
        if len(body) > limit:
            return None
    return bytes(body)


def url_suffix(url: str) -> str:
    """The suffix of the URL's path, lower-cased (`.zip`); "" when it has none."""
    return PurePosixPath(urlsplit(url).path).suffix.lower()
