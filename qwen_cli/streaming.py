"""Streams of chat chunks: one pure core, a sync and an async shell around it.

Both shells are context managers and close the HTTP response in ``finally``,
including on Ctrl-C, so a cancelled answer releases its connection at once.

Nothing a server sends can make a read unbounded: bodies are decompressed here, in steps of
at most ``INFLATE_STEP`` bytes, and reading stops at a cap (``MAX_BODY`` for an answer read
whole, ``MAX_ERROR_BODY`` for an error, ``MAX_INFLATED_STREAM`` for a compressed stream, and
the SSE decoder's ``MAX_EVENT_BYTES`` for one event). A stream that brings only keep-alive
comments times out like a silent one: the read timeout counts from the last answer data.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from qwen_cli.errors import (
    CODE_CORRUPT_COMPRESSION,
    CODE_TOO_LARGE,
    CODE_UNASKED_ENCODING,
    BadResponseError,
    QwenAPIError,
    StreamInterruptedError,
    loads_json,
)
from qwen_cli.sse import DeltaNormalizer, EventTooLargeError, SSEDecoder, TextBuffer
from qwen_cli.types import (
    AnswerResult,
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionDelta,
    ToolCall,
    ToolCallDelta,
    arguments_text,
)

if TYPE_CHECKING:
    import httpx

    from qwen_cli.providers.base import Provider

# What we ask for, and so all we decode: an encoding we cannot bound is refused.
ACCEPT_ENCODING = "gzip, deflate"
INFLATE_STEP = 64 << 10
MAX_BODY = 32 << 20
MAX_ERROR_BODY = 1 << 20
MAX_INFLATED_STREAM = 256 << 20


def _mib(n: int) -> str:
    return f"{n >> 20} MiB"


class BodyDecoder:
    """Undoes ``Content-Encoding`` (gzip, deflate or none) in bounded steps, counting the output.

    ``feed`` yields pieces of at most ``INFLATE_STEP`` bytes; past ``limit`` bytes of output it
    raises ``BadResponseError`` (a compression bomb inflates a megabyte to a gigabyte).
    """

    def __init__(self, encoding: str | None, limit: int) -> None:
        enc = (encoding or "").strip().lower()
        self.limit = limit
        self.total = 0
        self.compressed = enc not in ("", "identity")
        self._z: Any = None
        self._try_raw = enc == "deflate"
        if enc in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._z = zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib or gzip header, auto
        elif self.compressed:
            raise BadResponseError(
                f"the server sent its answer in an encoding qwen did not ask for ({enc})",
                code=CODE_UNASKED_ENCODING,
            )

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._z is None:
            self._count(len(data))
            if data:
                yield data
            return
        while data:
            try:
                out = self._z.decompress(data, INFLATE_STEP)
            except zlib.error as exc:
                if self._try_raw and self.total == 0:
                    self._try_raw = False  # "deflate" sent as raw deflate, without a header
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise BadResponseError(
                    f"the server's compressed answer is corrupt ({exc})",
                    code=CODE_CORRUPT_COMPRESSION,
                ) from None
            data = self._z.unconsumed_tail
            self._count(len(out))
            if out:
                yield out
            if self._z.eof:
                return  # trailing bytes after the compressed body: ignored

    def _count(self, n: int) -> None:
        self.total += n
        if self.total > self.limit:
            what = "decompressed to more than" if self.compressed else "larger than"
            raise BadResponseError(
                f"the server's answer {what} {_mib(self.limit)}; stopped reading there",
                code=CODE_TOO_LARGE,
            )


def _decoder(response: httpx.Response, limit: int) -> BodyDecoder:
    return BodyDecoder(response.headers.get("content-encoding"), limit)


def read_body(response: httpx.Response, limit: int = MAX_BODY) -> bytes:
    """The whole body, decompressed, at most ``limit`` bytes (``BadResponseError`` past that).

    It is kept as ``response.content`` so ``.json()``/``.text`` work as after ``read()``.
    """
    dec = _decoder(response, limit)
    parts = [out for raw in response.iter_raw() for out in dec.feed(raw)]
    body = b"".join(parts)
    response._content = body  # what httpx's read() would have set
    return body


async def aread_body(response: httpx.Response, limit: int = MAX_BODY) -> bytes:
    """Async twin of :func:`read_body`."""
    dec = _decoder(response, limit)
    parts = [out async for raw in response.aiter_raw() for out in dec.feed(raw)]
    body = b"".join(parts)
    response._content = body
    return body


def _too_large_error_body() -> bytes:
    return f"an error body larger than {_mib(MAX_ERROR_BODY)}; not read past that".encode()


def read_error_body(response: httpx.Response) -> bytes:
    """An error answer's body, at most ``MAX_ERROR_BODY`` bytes: one too large to read (a
    compressed 500 inflating to a gigabyte) stands in as a sentence saying so."""
    try:
        return read_body(response, MAX_ERROR_BODY)
    except BadResponseError as exc:
        return _too_large_error_body() if exc.code == CODE_TOO_LARGE else str(exc).encode()


async def aread_error_body(response: httpx.Response) -> bytes:
    """Async twin of :func:`read_error_body`."""
    try:
        return await aread_body(response, MAX_ERROR_BODY)
    except BadResponseError as exc:
        return _too_large_error_body() if exc.code == CODE_TOO_LARGE else str(exc).encode()


def _read_timeout(response: httpx.Response) -> float | None:
    """The read timeout the request was sent with (httpx records it on the request)."""
    try:
        value = response.request.extensions.get("timeout", {}).get("read")
    except RuntimeError:  # a response built without a request
        return None
    return float(value) if isinstance(value, (int, float)) else None


class ToolCallAssembler:
    """Tool calls put together from stream fragments, into ``calls`` (kept in ``index`` order).

    A call's first fragment brings its ``id``, ``type`` and ``function.name``; each later one
    appends its ``function.arguments`` text as is (no stripping: the text is the model's JSON,
    byte for byte). Fragments are keyed by ``index``, never by ``id`` (later fragments often
    carry ``id: ""``); the first non-empty ``id`` and ``name`` win. A fragment without an
    index belongs to the call whose ``id`` it names, else to a new call when it names a new
    ``id``, else to the call last added to (the first call when there is none).
    """

    def __init__(self, calls: list[ToolCall]) -> None:
        self.calls = calls
        self._by_index: dict[int, ToolCall] = {}
        self._typed: set[int] = set()
        self._last: int | None = None

    def feed(self, fragments: list[ToolCallDelta]) -> None:
        for f in fragments:
            i = self._index_of(f)
            call = self._by_index.get(i)
            if call is None:
                call = self._by_index[i] = ToolCall()
                self.calls[:] = [self._by_index[k] for k in sorted(self._by_index)]
            if f.id and not call.id:
                call.id = f.id
            if f.type and i not in self._typed:
                call.type = f.type
                self._typed.add(i)
            fn = f.function or FunctionDelta()
            if fn.name and not call.function.name:
                call.function.name = fn.name
            if fn.arguments is not None:
                call.function.arguments += arguments_text(fn.arguments)
            self._last = i

    def _index_of(self, f: ToolCallDelta) -> int:
        i = f.index
        if isinstance(i, str) and i.strip().isdigit():
            i = int(i)
        if isinstance(i, int) and not isinstance(i, bool) and i >= 0:
            return i
        if f.id:
            for k, call in self._by_index.items():
                if call.id == f.id:
                    return k
            if self._last is not None and self._by_index[self._last].id:
                return max(self._by_index) + 1  # a new id: a new call
        return 0 if self._last is None else self._last


class StreamCore:
    """Bytes in, normalised chunks out; accumulates the answer straight into ``acc``."""

    def __init__(
        self,
        provider: Provider,
        request_id: str | None = None,
        *,
        model: str = "",
        started: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.request_id = request_id
        self.acc = AnswerResult(model=model, request_id=request_id)
        self._clock = clock
        self._started = clock() if started is None else started
        self._decoder = SSEDecoder()
        self._content = DeltaNormalizer()
        self._reasoning = DeltaNormalizer()
        self._tools = ToolCallAssembler(self.acc.tool_calls)
        # The text grows in buffers (``str +=`` on an attribute copies the whole answer per
        # delta); ``sync()`` writes them into ``acc`` whenever the result is looked at.
        self._content_text = TextBuffer()
        self._reasoning_text = TextBuffer()
        self.last_data = time.monotonic()  # when the last chunk (not a comment) arrived

    def feed(self, data: bytes) -> Iterator[ChatCompletionChunk]:
        """Chunks in ``data``, each yielded before a later event in it can raise.

        Nothing after the end of the answer (``[DONE]``, a finished status) is read.
        """
        try:
            events = self._decoder.feed(data)
        except EventTooLargeError as exc:
            raise self.interrupted(f"{exc}; stopped reading there") from None
        for event in events:
            if self.acc.done:
                return
            item = self.provider.parse_event(event)
            if item.chunk is not None or item.done:
                self.last_data = time.monotonic()
            self.acc.done = self.acc.done or item.done
            if item.chunk is not None:
                yield self.apply(item.chunk)

    def check_idle(self, timeout: float | None) -> None:
        """Raise when only keep-alive comments (or nothing) came for ``timeout`` seconds."""
        if timeout is not None and time.monotonic() - self.last_data > timeout:
            why = f"no answer data for {timeout:g}s, only keep-alive comments (read timeout)"
            raise self.interrupted(why)

    def end(self) -> Iterator[ChatCompletionChunk]:
        """The body ended; a stream that neither said ``[DONE]`` nor finished broke off."""
        for event in self._decoder.flush():
            item = self.provider.parse_event(event)
            self.acc.done = self.acc.done or item.done
            if item.chunk is not None:
                yield self.apply(item.chunk)
        acc = self.sync()
        if not acc.done and acc.finish_reason is None:
            if not self.provider.end_marker_required and (acc.content or acc.reasoning):
                acc.done = True
                return
            raise self.interrupted("the connection closed before the answer was complete")

    def apply(self, chunk: ChatCompletionChunk) -> ChatCompletionChunk:
        acc = self.acc
        acc.id = acc.id or chunk.id
        acc.model = chunk.model or acc.model
        if chunk.usage is not None:
            acc.usage = chunk.usage
        if chunk.sources:
            seen: set[str | None] = {s.url for s in acc.sources if s.url}
            for src in chunk.sources:
                if src.url is None or src.url not in seen:
                    acc.sources.append(src)
                    seen.add(src.url)
        for choice in chunk.choices[:1]:
            d = choice.delta
            if d.reasoning_content:
                d.reasoning_content = self._reasoning.feed(d.reasoning_content)
                self._reasoning_text.append(d.reasoning_content)
            if d.content:
                d.content = self._content.feed(d.content)
                self._content_text.append(d.content)
            if d.tool_calls:
                self._tools.feed(d.tool_calls)
            if acc.first_token_at is None and (d.content or d.reasoning_content or d.tool_calls):
                acc.first_token_at = self._clock() - self._started
            if choice.finish_reason:
                acc.finish_reason = choice.finish_reason
        acc.elapsed = self._clock() - self._started
        return chunk

    def sync(self) -> AnswerResult:
        """``acc`` with all the text received so far."""
        self.acc.content = str(self._content_text)
        self.acc.reasoning = str(self._reasoning_text)
        return self.acc

    def failed(self, exc: BaseException) -> None:
        """Note in the result how the stream ended early: an error, or Ctrl-C."""
        self.sync()
        if isinstance(exc, QwenAPIError):
            self.acc.error = exc
        elif isinstance(exc, KeyboardInterrupt):
            self.acc.interrupted = True

    def interrupted(self, why: str) -> StreamInterruptedError:
        n = len(self._content_text)
        return StreamInterruptedError(
            f"the answer stream broke off after {n} characters: {why}",
            partial=self.sync().content,
            request_id=self.request_id,
        )

    def completion(self) -> ChatCompletion:
        """What arrived so far in the response's shape; its ``.result`` is ``acc`` itself."""
        return ChatCompletion.of_result(self.sync())


def chunks_from_completion(c: ChatCompletion) -> list[ChatCompletionChunk]:
    """A whole answer as stream chunks, for servers that ignore ``stream: true``."""
    m = c.choices[0].message if c.choices else None
    delta = Delta(
        role="assistant",
        content=c.content,
        reasoning_content=c.reasoning or None,
        tool_calls=[t.model_copy(update={"index": i}) for i, t in enumerate(m.tool_calls)]
        if m is not None and m.tool_calls
        else None,
    )
    return [
        ChatCompletionChunk(
            id=c.id,
            model=c.model,
            choices=[ChunkChoice(delta=delta, finish_reason=c.finish_reason or "stop")],
            usage=c.usage,
            sources=c.sources,
        )
    ]


def json_or_text(response: httpx.Response) -> Any:
    """A read response's JSON, or its text when it is not JSON (nesting too deep included)."""
    try:
        return loads_json(response.content)
    except ValueError:
        return response.text


def _is_json(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "")
    return "json" in ctype and "event-stream" not in ctype


def _is_html(response: httpx.Response) -> bool:
    """A web page instead of a stream: a captcha, a login or a proxy's error page sent with 2xx."""
    ctype: str = response.headers.get("content-type", "")
    return ctype.lower().startswith("text/html")


def headers_of(response: httpx.Response) -> dict[str, str]:
    """A response's headers for the providers: httpx has already folded the names to lower case."""
    return dict(response.headers)


def _page_error(core: StreamCore, response: httpx.Response) -> QwenAPIError:
    return core.provider.error_from_response(response.status_code, response.content, headers_of(response))


def _stream_pieces(core: StreamCore, dec: BodyDecoder, raw: bytes) -> Iterator[bytes]:
    """``raw`` decompressed in bounded pieces; past the cap, an interruption keeping the answer."""
    try:
        yield from dec.feed(raw)
    except BadResponseError as exc:
        raise core.interrupted(exc.message) from None


def _transport_error(core: StreamCore, exc: Exception) -> StreamInterruptedError:
    name = type(exc).__name__
    detail = str(exc) or name
    if "Timeout" in name:
        detail = f"no data arrived in time ({detail})"
    return core.interrupted(detail)


class _StreamBase:
    def __init__(self, response: httpx.Response, core: StreamCore) -> None:
        self.response = response
        self._core = core

    @property
    def accumulated(self) -> AnswerResult:
        return self._core.sync()

    @property
    def result(self) -> AnswerResult:
        """The answer so far (all of it once the stream is read): the one result type."""
        return self._core.sync()

    @property
    def request_id(self) -> str | None:
        return self._core.request_id

    def completion(self) -> ChatCompletion:
        """What has arrived so far, as a response object."""
        return self._core.completion()


class ChatStream(_StreamBase):
    """Iterate for chunks; ``with`` guarantees the connection is released."""

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        import httpx

        core = self._core
        try:
            if _is_json(self.response):
                read_body(self.response)
                yield from self._from_json(json_or_text(self.response))
                return
            if _is_html(self.response):
                read_body(self.response, MAX_ERROR_BODY)
                raise _page_error(core, self.response)
            dec, idle = _decoder(self.response, MAX_INFLATED_STREAM), _read_timeout(self.response)
            for raw in self.response.iter_raw():
                for data in _stream_pieces(core, dec, raw):
                    yield from core.feed(data)
                    if core.acc.done:  # the server said so: stop reading even if it keeps the line open
                        return
                    core.check_idle(idle)
            yield from core.end()
        except httpx.TransportError as exc:
            err = _transport_error(core, exc)
            core.failed(err)
            raise err from exc
        except (QwenAPIError, KeyboardInterrupt) as exc:
            core.failed(exc)
            raise
        finally:
            self.close()  # also writes the text received into the result

    def _from_json(self, body: Any) -> list[ChatCompletionChunk]:
        c = self._core.provider.parse_completion(body)
        chunks = [self._core.apply(ch) for ch in chunks_from_completion(c)]
        self._core.acc.done = True
        return chunks

    def until_done(self) -> ChatCompletion:
        for _ in self:
            pass
        return self.completion()

    def close(self) -> None:
        self._core.sync()
        self.response.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncChatStream(_StreamBase):
    """``async for`` chunks; ``async with`` guarantees the connection is released."""

    async def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        import httpx

        core = self._core
        try:
            if _is_json(self.response):
                await aread_body(self.response)
                c = core.provider.parse_completion(json_or_text(self.response))
                for ch in chunks_from_completion(c):
                    yield core.apply(ch)
                core.acc.done = True
                return
            if _is_html(self.response):
                await aread_body(self.response, MAX_ERROR_BODY)
                raise _page_error(core, self.response)
            dec, idle = _decoder(self.response, MAX_INFLATED_STREAM), _read_timeout(self.response)
            async for raw in self.response.aiter_raw():
                for data in _stream_pieces(core, dec, raw):
                    for ch in core.feed(data):
                        yield ch
                    if core.acc.done:
                        return
                    core.check_idle(idle)
            for ch in core.end():
                yield ch
        except httpx.TransportError as exc:
            err = _transport_error(core, exc)
            core.failed(err)
            raise err from exc
        except (QwenAPIError, KeyboardInterrupt) as exc:
            core.failed(exc)
            raise
        finally:
            await self.aclose()  # also writes the text received into the result

    async def until_done(self) -> ChatCompletion:
        async for _ in self:
            pass
        return self.completion()

    async def aclose(self) -> None:
        self._core.sync()
        await self.response.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


__all__ = ["AsyncChatStream", "ChatStream", "QwenAPIError", "StreamCore"]
