"""A lane's transport (qwen_cli/lane.py) against small servers the tests start: answers whole and
streamed, one kept-alive connection, a connection the server closed while idle, timeouts,
refusals, gzip, and proxies left to httpx."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from qwen_cli import lane
from qwen_cli.client import Qwen
from qwen_cli.errors import APIConnectionError, APITimeoutError
from tests.conftest import FAKE_KEY

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def completion(text: str) -> bytes:
    return json.dumps(
        {
            "id": "x",
            "model": "qwen-plus",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    ).encode()


async def read_request(reader: asyncio.StreamReader) -> dict[str, object] | None:
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return None
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return {"line": lines[0], "headers": headers, "json": json.loads(body) if body else None}


class Server:
    """An HTTP/1.1 server scripted per test: ``answer(request, n)`` gives the raw response bytes
    for the n-th request on its connection (None: close without answering)."""

    def __init__(
        self, answer: Callable[[dict[str, object], int], bytes | None], close_after: int = 0
    ) -> None:
        self.answer, self.close_after = answer, close_after
        self.connections = 0
        self.requests: list[dict[str, object]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = 0
        try:
            while True:
                try:
                    req = await read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if req is None:
                    return
                n += 1
                self.requests.append(req)
                data = self.answer(req, n)
                if data is None:
                    return
                writer.write(data)
                await writer.drain()
                if self.close_after and n >= self.close_after:
                    return
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


def whole(body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def ok(req: dict[str, object], n: int) -> bytes:
    msgs = req["json"]["messages"]  # type: ignore[index]
    return whole(completion("echo: " + msgs[-1]["content"]))  # type: ignore[index]


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_a_lane_sends_its_requests_on_one_kept_alive_connection() -> None:
    async def go() -> None:
        srv = Server(ok)
        async with srv as url:
            c = Qwen(FAKE_KEY, base_url=url).lane()
            for word in ("一", "two", "three"):
                assert (await c.chat.acreate(ask(word), model="qwen-plus")).content == f"echo: {word}"
            await c.aclose()
        assert srv.connections == 1 and len(srv.requests) == 3
        first = srv.requests[0]
        assert first["line"] == "POST /v1/chat/completions HTTP/1.1"
        assert first["headers"]["authorization"] == f"Bearer {FAKE_KEY}"  # type: ignore[index]

    asyncio.run(go())


def test_a_streamed_chunked_answer_comes_through_whole() -> None:
    def sse(req: dict[str, object], n: int) -> bytes:
        events = [
            {"choices": [{"index": 0, "delta": {"content": "你"}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {"content": "好"}, "finish_reason": "stop"}]},
        ]
        payload = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
        chunks = [payload[i : i + 7] for i in range(0, len(payload), 7)]
        body = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in chunks) + b"0\r\n\r\n"
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        return head.encode() + body

    async def go() -> None:
        srv = Server(sse)
        async with srv as url:
            c = Qwen(FAKE_KEY, base_url=url).lane()
            for _ in range(2):
                async with await c.chat.acreate(ask("hi"), model="qwen-plus", stream=True) as s:
                    assert (await s.until_done()).content == "你好"
            await c.aclose()
        assert len(srv.requests) == 2  # a stream left before its last chunk: a new connection is fine

    asyncio.run(go())


def test_a_connection_the_server_closed_while_idle_is_replaced_once() -> None:
    async def go() -> None:
        srv = Server(ok, close_after=1)  # every connection serves one request, then closes
        async with srv as url:
            c = Qwen(FAKE_KEY, base_url=url, max_retries=0).lane()
            for word in ("a", "b", "c"):
                assert (await c.chat.acreate(ask(word), model="m")).content == f"echo: {word}"
            await c.aclose()
        assert srv.connections == 3 and [r["json"]["messages"][0]["content"] for r in srv.requests] == [  # type: ignore[index]
            "a",
            "b",
            "c",
        ]

    asyncio.run(go())


def test_a_fresh_connection_closed_without_an_answer_is_an_error_not_a_loop() -> None:
    async def go() -> None:
        srv = Server(lambda req, n: None)
        async with srv as url:
            c = Qwen(FAKE_KEY, base_url=url, max_retries=0).lane()
            with pytest.raises(APIConnectionError):
                await c.chat.acreate(ask("x"), model="m")
            await c.aclose()
        assert len(srv.requests) == 1  # sent once: a new connection that fails is not retried here

    asyncio.run(go())


def test_a_silent_server_times_out_and_a_closed_port_is_refused() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.sleep(5)
        finally:
            writer.close()

    async def go() -> None:
        server = await asyncio.start_server(slow, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        c = Qwen(FAKE_KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=0.3).lane()
        with pytest.raises(APITimeoutError):
            await c.chat.acreate(ask("x"), model="m")
        await c.aclose()
        server.close()
        await server.wait_closed()
        gone = Qwen(FAKE_KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0).lane()
        with pytest.raises(APIConnectionError):
            await gone.chat.acreate(ask("x"), model="m")
        await gone.aclose()

    asyncio.run(go())


def test_a_gzip_answer_is_decoded() -> None:
    def zipped(req: dict[str, object], n: int) -> bytes:
        return whole(gzip.compress(completion("packed")), "Content-Encoding: gzip\r\n")

    async def go() -> None:
        async with Server(zipped) as url:
            c = Qwen(FAKE_KEY, base_url=url).lane()
            assert (await c.chat.acreate(ask("x"), model="m")).content == "packed"
            await c.aclose()

    asyncio.run(go())


def test_proxies_stay_with_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    assert lane.usable("https://dashscope.aliyuncs.com/compatible-mode/v1")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    assert not lane.usable("https://dashscope.aliyuncs.com/compatible-mode/v1")
    assert lane.usable("http://127.0.0.1:8000/v1")  # no proxy for plain http here
    monkeypatch.setenv("NO_PROXY", "dashscope.aliyuncs.com")
    assert lane.usable("https://dashscope.aliyuncs.com/compatible-mode/v1")
    c = Qwen(FAKE_KEY, base_url="http://127.0.0.1:9/v1")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.local:3128")
    assert c.lane()._pools._new_transport is None  # through a proxy: httpx's own pool

    async def pool_of(q: Qwen) -> httpx.AsyncClient:
        return await q._pools.ahttp()

    monkeypatch.delenv("HTTP_PROXY")
    direct = c.lane()
    assert isinstance(asyncio.run(pool_of(direct))._transport, lane.LaneTransport)


def test_a_lane_keeps_no_cookies() -> None:
    def cookie(req: dict[str, object], n: int) -> bytes:
        return whole(completion("ok"), "Set-Cookie: session=abc; Path=/\r\n")

    async def go() -> None:
        srv = Server(cookie)
        async with srv as url:
            c = Qwen(FAKE_KEY, base_url=url).lane()
            for _ in range(2):
                assert (await c.chat.acreate(ask("x"), model="m")).content == "ok"
            await c.aclose()
        assert all("cookie" not in r["headers"] for r in srv.requests)  # type: ignore[operator]

    asyncio.run(go())
