"""Fetching a URL's text within limits, against a local server the test starts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qwen_cli import webfetch
from qwen_cli.errors import APIConnectionError, APITimeoutError, UsageError

PAGE = (
    "<!doctype html><html><head><title>Notes</title><style>p{color:red}</style>"
    "<script>alert('x')</script></head><body><h1>Hello</h1><p>one &amp; two</p>"
    "<ul><li>北京</li><li>b</li></ul></body></html>"
)
ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/page": (200, "text/html; charset=utf-8", PAGE.encode()),
    "/plain": (200, "text/plain; charset=gbk", "中文".encode("gbk")),
    "/big": (200, "text/plain", b"x" * 5000),
    "/gone": (404, "text/plain", b"no"),
    "/bytes": (200, "", "caf\xe9".encode("latin-1")),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.end_headers()
            return
        if self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(30):
                try:
                    self.wfile.write(b"x" * 10)
                    self.wfile.flush()
                except OSError:
                    return
                threading.Event().wait(0.1)
            return
        status, ctype, body = ROUTES[self.path]
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_html_is_reduced_to_its_text(base: str) -> None:
    got = webfetch.fetch_text(base + "/moved")
    assert got.final_url == base + "/page" and got.status == 200 and got.content_type == "text/html"
    assert got.text == "Notes\n\nHello\n\none & two\n\n北京\n\nb"
    assert "alert" not in got.text and "color" not in got.text and not got.truncated


def test_the_named_charset_decodes_and_unknown_bytes_never_fail(base: str) -> None:
    assert webfetch.fetch_text(base + "/plain").text == "中文"
    assert webfetch.fetch_text(base + "/bytes").text == "caf\ufffd"


def test_the_body_is_cut_at_max_bytes(base: str) -> None:
    got = webfetch.fetch_text(base + "/big", max_bytes=100)
    assert got.text == "x" * 100 and got.truncated


def test_an_error_status_and_a_slow_server_raise(base: str) -> None:
    with pytest.raises(APIConnectionError, match="404"):
        webfetch.fetch_text(base + "/gone")
    with pytest.raises(APITimeoutError, match=r"longer than 0\.5 s"):
        webfetch.fetch_text(base + "/slow", timeout=0.5)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x.org/a", "http://", "notes.txt"])
def test_only_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(UsageError, match="not an http"):
        webfetch.fetch_text(url)
