"""One keep-alive HTTP/1.1 connection for one async worker: the transport of a client's lane.

``qwen batch run -j 64`` keeps 64 requests in flight for a long time. httpx's default async
transport (httpcore over anyio) spends about 2 ms of CPU per request in its pool and cancel
scopes, more than everything else together; here each worker owns one connection, so none of
that bookkeeping is needed. This is an ``httpx.AsyncBaseTransport``: requests are still built,
sent, decoded and mapped to our errors by httpx and :class:`~qwen_cli.client.Qwen` as always;
only the bytes on the socket go through asyncio streams and h11 (httpx's own HTTP/1.1 parser).

Used only where it is safe: plain or TLS connections (no proxy: :func:`usable` says when),
one request at a time per transport. A connection the server closed while idle is replaced, and
a request that got no byte of answer on a reused connection is sent once more on a new one.
Failures raise httpx's exceptions (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
``ReadError``, ``RemoteProtocolError``), so the client maps them as it maps httpx's.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import AsyncIterator

import h11
import httpx

READ_SIZE = 65536


def usable(url: str) -> bool:
    """Whether a lane may talk to ``url`` directly: http(s), and no proxy configured for it
    (``HTTP(S)_PROXY``/``ALL_PROXY`` without a ``NO_PROXY`` match): proxies stay httpx's job."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https"):
        return False
    proxies = urllib.request.getproxies()
    if not any(k in proxies for k in (parsed.scheme, "all")):
        return True
    return bool(urllib.request.proxy_bypass(parsed.host))


class _Jarless(httpx.Cookies):
    """No cookies kept: an API server's answers need none, and reading them is a tenth of the
    CPU of a request (httpx wraps each response for http.cookiejar)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class LaneClient(httpx.AsyncClient):
    """The httpx client of a lane: its transport is given (a :class:`LaneTransport`) and it keeps
    no cookies."""

    def __init__(self, *, timeout: httpx.Timeout, transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(timeout=timeout, transport=transport)
        self._jarless = _Jarless()

    @property  # type: ignore[override, misc]
    def cookies(self) -> httpx.Cookies:
        return self._jarless


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        self.writer.close()


class _Body(httpx.AsyncByteStream):
    """The answer's body as it arrives; the connection goes back for reuse when it is all read."""

    def __init__(self, transport: LaneTransport, conn: _Connection, read_timeout: float | None) -> None:
        self._t, self._conn, self._timeout = transport, conn, read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            event = await self._t.next_event(self._conn, self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._t.release(self._conn)
                return

    async def aclose(self) -> None:
        if self._conn is not self._t.idle:  # not read to its end: the connection cannot be reused
            self._t.drop(self._conn)


class LaneTransport(httpx.AsyncBaseTransport):
    """One connection at a time, kept alive between requests."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self.idle: _Connection | None = None
        self._busy: _Connection | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        conn, reused = self.idle, self.idle is not None
        self.idle = None
        for attempt in (1, 2):
            if conn is None:
                conn = await self._connect(request.url, timeouts.get("connect"))
            try:
                return await self._exchange(conn, request, body, timeouts.get("read"))
            except (httpx.ReadError, httpx.RemoteProtocolError):
                self.drop(conn)
                if not reused or attempt == 2:  # a fresh connection failed: the server's doing
                    raise
                conn, reused = None, False  # a kept-alive one the server had closed: once more
            except BaseException:  # a timeout, Ctrl-C: the connection is in an unknown state
                self.drop(conn)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self, url: httpx.URL, timeout: float | None) -> _Connection:
        tls = url.scheme == "https"
        port = url.port or (443 if tls else 80)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    url.host,
                    port,
                    ssl=(self._ssl or ssl.create_default_context()) if tls else None,
                    server_hostname=url.host if tls else None,
                    limit=READ_SIZE * 4,
                ),
                timeout,
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {url.host}:{port} timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return _Connection(reader, writer)

    async def _exchange(
        self, conn: _Connection, request: httpx.Request, body: bytes, read_timeout: float | None
    ) -> httpx.Response:
        h = conn.h11
        headers = list(request.headers.raw)
        try:
            data = h.send(h11.Request(method=request.method, target=request.url.raw_path, headers=headers))
            if body:
                data = (data or b"") + (h.send(h11.Data(data=body)) or b"")
            data = (data or b"") + (h.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        try:
            conn.writer.write(data)
            await conn.writer.drain()
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        event = await self.next_event(conn, read_timeout)
        while isinstance(event, h11.InformationalResponse):
            event = await self.next_event(conn, read_timeout)
        if not isinstance(event, h11.Response):
            raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before the response")
        self._busy = conn
        return httpx.Response(
            event.status_code,
            headers=list(event.headers),
            stream=_Body(self, conn, read_timeout),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": bytes(event.reason)},
        )

    async def next_event(self, conn: _Connection, timeout: float | None) -> h11.Event:
        h = conn.h11
        while True:
            try:
                event = h.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("the server closed the connection mid-answer")
            if isinstance(event, h11.Event):
                return event
            if event is h11.PAUSED:  # pragma: no cover - one request at a time: never paused
                raise httpx.RemoteProtocolError("the connection cannot go on")
            try:
                data = await asyncio.wait_for(conn.reader.read(READ_SIZE), timeout)
            except TimeoutError as exc:
                raise httpx.ReadTimeout("no data from the server in time") from exc
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
            try:
                h.receive_data(data)  # b"": the server closed its side
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc

    def release(self, conn: _Connection) -> None:
        """The answer was read to its end: keep the connection if both sides may go on."""
        self._busy = None
        h = conn.h11
        if h.our_state is h11.DONE and h.their_state is h11.DONE:
            h.start_next_cycle()
            if self.idle is not None:
                self.idle.close()
            self.idle = conn
        else:
            conn.close()

    def drop(self, conn: _Connection) -> None:
        if self._busy is conn:
            self._busy = None
        if self.idle is conn:
            self.idle = None
        conn.close()

    async def aclose(self) -> None:
        for conn in (self.idle, self._busy):
            if conn is not None:
                conn.close()
        self.idle = self._busy = None
