"""A web page's text, fetched within limits: the one rule for every URL a user hands us.

Used by ``-f URL`` (fragments) and the built-in ``fetch`` tool. Only http(s); the body is read
until ``max_bytes`` (the rest is left unread and the result says it was cut); the whole fetch,
redirects included, must finish within ``timeout`` seconds. HTML is reduced to its text (no
scripts, styles or tags; a block element ends a line). Bytes are decoded with the charset the
server names, else UTF-8, replacing what does not decode. Failures raise
:class:`~qwen_cli.errors.UsageError` (a bad URL) or :class:`~qwen_cli.errors.APIConnectionError`
(unreachable, too slow, an HTTP error status); no key or cookie is ever sent.
"""

from __future__ import annotations

import html.parser
import re
import time
from urllib.parse import urlsplit

from qwen_cli.errors import APIConnectionError, APITimeoutError, UsageError
from qwen_cli.structs import struct

MAX_BYTES = 1_000_000  # default cap on the bytes read from one URL
TIMEOUT = 20.0  # default seconds for the whole fetch
MAX_REDIRECTS = 5


@struct(frozen=True)
class Fetched:
    """A fetched page: its text and what was done to get it."""

    url: str  # as asked
    final_url: str  # after redirects
    status: int
    content_type: str  # without parameters, lower case ("" when the server named none)
    text: str
    truncated: bool  # the body was longer than max_bytes


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; a one-line UsageError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"not an http(s) URL: {url!r}",
            hint="give a URL that starts with http:// or https://",
        )
    return url.strip()


def fetch_text(url: str, *, max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT) -> Fetched:
    """GET ``url`` and return its text (HTML reduced to text), read within the limits."""
    import httpx

    url = check_url(url)
    deadline = time.monotonic() + timeout
    try:
        with (
            httpx.Client(
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                timeout=httpx.Timeout(timeout),
                headers={"User-Agent": "qwen-cli", "Accept": "text/html, text/plain;q=0.9, */*;q=0.5"},
            ) as http,
            http.stream("GET", url) as response,
        ):
            body = bytearray()
            truncated = False
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    del body[max_bytes:]
                    truncated = True
                    break
                if time.monotonic() > deadline:
                    raise APITimeoutError(f"{url} took longer than {timeout:g} s")
            status, final, headers = response.status_code, str(response.url), response.headers
            charset = response.charset_encoding
    except httpx.TimeoutException as exc:
        raise APITimeoutError(f"{url} took longer than {timeout:g} s") from exc
    except httpx.TooManyRedirects as exc:
        raise APIConnectionError(f"{url} redirects more than {MAX_REDIRECTS} times") from exc
    except httpx.HTTPError as exc:
        raise APIConnectionError(f"could not fetch {url}: {exc}") from exc
    if status >= 400:
        raise APIConnectionError(f"{url} answered HTTP {status}")
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    text = decode(bytes(body), charset)
    if content_type in ("text/html", "application/xhtml+xml") or (
        not content_type and text.lstrip()[:15].lower().startswith(("<!doctype html", "<html"))
    ):
        text = html_to_text(text)
    return Fetched(url, final, status, content_type, text, truncated)


def decode(body: bytes, charset: str | None) -> str:
    """Bytes as text: the named charset when Python knows it, else UTF-8; never an error."""
    if charset:
        try:
            return body.decode(charset, "replace")
        except LookupError:
            pass
    return body.decode("utf-8", "replace")


_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tr",
        "ul",
    ]
)
_SKIP = frozenset(("script", "style", "noscript", "template", "svg", "head"))


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.title: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title and self.title is None:
            self.title = data.strip() or None
        if not self.skipping:
            self.parts.append(data)


def html_to_text(page: str) -> str:
    """The readable text of an HTML page: its title first, then the text, blank runs squeezed."""
    parser = _Text()
    parser.feed(page)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if parser.title and not text.startswith(parser.title):
        text = f"{parser.title}\n\n{text}"
    return text
