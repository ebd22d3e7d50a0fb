"""The thin client: every request is built once, then sent sync or async.

``Qwen`` takes its base URL, key and timeouts as arguments and never reads the
environment (``qwen_cli.config`` does that). The sync and async senders sit
side by side so their parity shows in review.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import urlsplit

from qwen_cli.errors import (
    RETRYABLE_STATUS,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    QwenAPIError,
    RateLimitError,
)
from qwen_cli.providers import get_provider
from qwen_cli.providers.base import MAX_RETRY_AFTER, RequestSpec, request_id_from
from qwen_cli.redact import mask_headers, scrub_body
from qwen_cli.streaming import AsyncChatStream, ChatStream, StreamCore
from qwen_cli.types import (
    ChatCompletion,
    ChatParams,
    ChatRequest,
    Completion,
    CompletionChoice,
    Message,
    ModelInfo,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("qwen_cli")

DEFAULT_MODEL = "qwen-max"
DEFAULT_TIMEOUT = 120.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2
MAX_BACKOFF = 20.0

MessageLike = Message | dict[str, Any]
ModelList = list[ModelInfo]


class Qwen:
    """A client for one provider, usable from sync and async code.

    >>> client = Qwen(api_key="sk-...", base_url="http://127.0.0.1:8000/v1")
    >>> client.chat.create([{"role": "user", "content": "hi"}]).content
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        region: str = "cn",
        provider: str = "dashscope",
        cookie: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_base_delay: float = 0.5,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if base_url is None and provider == "qwen-web":
            from qwen_cli.providers.qwen_web import WEB_BASE_URL

            base_url = WEB_BASE_URL
        elif base_url is None:
            from qwen_cli.providers.dashscope import REGIONS

            base_url = REGIONS.get(region, REGIONS["cn"])
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.region = region
        self.provider = get_provider(provider, base_url=self.base_url, api_key=api_key, cookie=cookie)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max(0, max_retries)
        self.retry_base_delay = retry_base_delay
        self._http = http_client
        self._ahttp = async_http_client
        self.chat = Chat(self)
        self.completion = Completions(self)
        self.models = Models(self)

    # ------------------------------------------------------------------ building (shared)

    def _httpx_timeout(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    def _check_credentials(self) -> None:
        host = urlsplit(self.base_url).hostname or ""
        if self.provider.name == "dashscope" and not self.api_key and host.endswith("aliyuncs.com"):
            raise AuthenticationError(
                "no API key",
                code="missing_api_key",
                hint="run `qwen auth login` or set DASHSCOPE_API_KEY",
            )

    def _build(self, spec: RequestSpec) -> httpx.Request:
        import httpx

        self._check_credentials()
        req = httpx.Request(
            spec.method,
            spec.url,
            headers=spec.headers,
            params=spec.params,
            json=spec.json,
            files=spec.files,
            data=spec.data,
            content=spec.content,
        )
        if log.isEnabledFor(logging.DEBUG):
            body = json.dumps(spec.json, ensure_ascii=False) if spec.json is not None else ""
            log.debug(
                "> %s %s\n> headers %s\n> body %s",
                req.method,
                req.url,
                mask_headers(dict(req.headers)),
                body[:2000] + ("..." if len(body) > 2000 else ""),
            )
        return req

    def _status_error(self, response: httpx.Response, body: bytes) -> APIStatusError:
        headers = {k.lower(): v for k, v in response.headers.items()}
        return self.provider.error_from_response(response.status_code, body, headers)

    def _transport_error(self, exc: Exception, url: str) -> APIConnectionError:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
            limit = self.connect_timeout if kind == "connect" else self.timeout
            return APITimeoutError(f"no answer from {url} within {limit:g}s ({kind} timeout)")
        reason = str(exc) or type(exc).__name__
        return APIConnectionError(f"could not connect to {url}: {reason}")

    def _retry_delay(self, attempt: int, err: QwenAPIError) -> float | None:
        """Seconds to wait before retry ``attempt + 1``, or ``None`` to give up."""
        if attempt >= self.max_retries:
            return None
        if isinstance(err, APIStatusError) and err.status_code not in RETRYABLE_STATUS:
            if not isinstance(err, RateLimitError):
                return None
        elif not isinstance(err, (APIStatusError, APIConnectionError)):
            return None
        retry_after = err.retry_after if isinstance(err, RateLimitError) else None
        if retry_after is not None:
            # A long wait (a daily quota) is not worth blocking for: fail and say when instead.
            return None if retry_after > MAX_RETRY_AFTER else float(retry_after)
        backoff = min(self.retry_base_delay * 2**attempt, MAX_BACKOFF)
        return float(backoff * random.uniform(0.75, 1.25))

    def _log_response(self, response: httpx.Response) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "< %s %s\n< headers %s",
                response.status_code,
                response.reason_phrase,
                mask_headers(dict(response.headers)),
            )

    def _log_body(self, body: bytes) -> None:
        if log.isEnabledFor(logging.DEBUG):
            text = body[:2000].decode("utf-8", "replace")
            log.debug("< body %s%s", scrub_body(text, (self.api_key,)), "..." if len(body) > 2000 else "")

    def _finish_error(self, err: QwenAPIError, attempts: int) -> QwenAPIError:
        if attempts > 1:
            err.message += f" (gave up after {attempts - 1} retr{'y' if attempts == 2 else 'ies'})"
        return err

    # ------------------------------------------------------------------ sync sender

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=self._httpx_timeout())
        return self._http

    def send(self, spec: RequestSpec, *, stream: bool = False) -> httpx.Response:
        """Send with retries; return a response whose status is below 400."""
        import httpx

        attempt = 0
        while True:
            request = self._build(spec)
            try:
                response = self.http.send(request, stream=True)
            except httpx.TransportError as exc:
                err: QwenAPIError = self._transport_error(exc, spec.url)
            else:
                self._log_response(response)
                if response.status_code < 400:
                    if not stream:
                        try:
                            self._log_body(response.read())
                        except httpx.TransportError as exc:
                            raise self._transport_error(exc, spec.url) from exc
                    return response
                try:
                    body = response.read()
                    self._log_body(body)
                    err = self._status_error(response, body)
                finally:
                    response.close()
            delay = self._retry_delay(attempt, err)
            if delay is None:
                raise self._finish_error(err, attempt + 1)
            log.debug("retrying in %.2fs after: %s", delay, err)
            time.sleep(delay)
            attempt += 1

    def request_json(self, spec: RequestSpec) -> Any:
        response = self.send(spec)
        return _json_or_text(response)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> Qwen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ async sender

    @property
    def ahttp(self) -> httpx.AsyncClient:
        if self._ahttp is None:
            import httpx

            self._ahttp = httpx.AsyncClient(timeout=self._httpx_timeout())
        return self._ahttp

    async def asend(self, spec: RequestSpec, *, stream: bool = False) -> httpx.Response:
        """Async twin of :meth:`send`."""
        import httpx

        attempt = 0
        while True:
            request = self._build(spec)
            try:
                response = await self.ahttp.send(request, stream=True)
            except httpx.TransportError as exc:
                err: QwenAPIError = self._transport_error(exc, spec.url)
            else:
                self._log_response(response)
                if response.status_code < 400:
                    if not stream:
                        try:
                            self._log_body(await response.aread())
                        except httpx.TransportError as exc:
                            raise self._transport_error(exc, spec.url) from exc
                    return response
                try:
                    body = await response.aread()
                    self._log_body(body)
                    err = self._status_error(response, body)
                finally:
                    await response.aclose()
            delay = self._retry_delay(attempt, err)
            if delay is None:
                raise self._finish_error(err, attempt + 1)
            log.debug("retrying in %.2fs after: %s", delay, err)
            await asyncio.sleep(delay)
            attempt += 1

    async def arequest_json(self, spec: RequestSpec) -> Any:
        response = await self.asend(spec)
        return _json_or_text(response)

    async def aclose(self) -> None:
        if self._ahttp is not None:
            await self._ahttp.aclose()

    async def __aenter__(self) -> Qwen:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _messages(messages: Iterable[MessageLike]) -> list[Message]:
    return [m if isinstance(m, Message) else Message.model_validate(m) for m in messages]


class Chat:
    """``client.chat.create(...)`` and ``await client.chat.acreate(...)``."""

    def __init__(self, client: Qwen) -> None:
        self._client = client

    def request(
        self,
        messages: Sequence[MessageLike],
        *,
        model: str = DEFAULT_MODEL,
        stream: bool = False,
        extra_headers: dict[str, str] | None = None,
        **params: Any,
    ) -> ChatRequest:
        return ChatRequest(
            model=model,
            messages=_messages(messages),
            stream=stream,
            params=ChatParams(**params),
            headers=extra_headers or {},
        )

    @overload
    def create(self, messages: Sequence[MessageLike], *, stream: Literal[True], **kw: Any) -> ChatStream: ...
    @overload
    def create(
        self, messages: Sequence[MessageLike], *, stream: Literal[False] = ..., **kw: Any
    ) -> ChatCompletion: ...
    @overload
    def create(
        self, messages: Sequence[MessageLike], *, stream: bool, **kw: Any
    ) -> ChatCompletion | ChatStream: ...
    def create(
        self, messages: Sequence[MessageLike], *, stream: bool = False, **kw: Any
    ) -> ChatCompletion | ChatStream:
        return self.send(self.request(messages, stream=stream, **kw))

    def send(self, req: ChatRequest) -> ChatCompletion | ChatStream:
        return self.stream(req) if req.stream else self.complete(req)

    def stream(self, req: ChatRequest) -> ChatStream:
        """Open a streamed answer (``req.stream`` must be true)."""
        c = self._client
        response = c.send(c.provider.chat_request(req), stream=True)
        return ChatStream(response, StreamCore(c.provider, _rid(response)))

    def complete(self, req: ChatRequest) -> ChatCompletion:
        """A whole answer at once (``req.stream`` must be false)."""
        c = self._client
        if c.provider.always_streams:  # the wire streams anyway: accumulate it
            with self.stream(req.model_copy(update={"stream": True})) as s:
                return s.until_done()
        response = c.send(c.provider.chat_request(req))
        return _with_request_id(c.provider.parse_completion(_json_or_text(response)), _rid(response))

    @overload
    async def acreate(
        self, messages: Sequence[MessageLike], *, stream: Literal[True], **kw: Any
    ) -> AsyncChatStream: ...
    @overload
    async def acreate(
        self, messages: Sequence[MessageLike], *, stream: Literal[False] = ..., **kw: Any
    ) -> ChatCompletion: ...
    @overload
    async def acreate(
        self, messages: Sequence[MessageLike], *, stream: bool, **kw: Any
    ) -> ChatCompletion | AsyncChatStream: ...
    async def acreate(
        self, messages: Sequence[MessageLike], *, stream: bool = False, **kw: Any
    ) -> ChatCompletion | AsyncChatStream:
        return await self.asend(self.request(messages, stream=stream, **kw))

    async def asend(self, req: ChatRequest) -> ChatCompletion | AsyncChatStream:
        return await self.astream(req) if req.stream else await self.acomplete(req)

    async def astream(self, req: ChatRequest) -> AsyncChatStream:
        c = self._client
        response = await c.asend(c.provider.chat_request(req), stream=True)
        return AsyncChatStream(response, StreamCore(c.provider, _rid(response)))

    async def acomplete(self, req: ChatRequest) -> ChatCompletion:
        c = self._client
        if c.provider.always_streams:
            async with await self.astream(req.model_copy(update={"stream": True})) as s:
                return await s.until_done()
        response = await c.asend(c.provider.chat_request(req))
        return _with_request_id(c.provider.parse_completion(_json_or_text(response)), _rid(response))


def _rid(response: httpx.Response) -> str | None:
    return request_id_from({k.lower(): v for k, v in response.headers.items()})


def _with_request_id(c: ChatCompletion, rid: str | None) -> ChatCompletion:
    if rid and not c.request_id:
        c.request_id = rid
    return c


def _as_completion(c: ChatCompletion) -> Completion:
    return Completion(
        id=c.id,
        model=c.model,
        choices=[CompletionChoice(text=c.content, finish_reason=c.finish_reason)],
        usage=c.usage,
        request_id=c.request_id,
    )


class Completions:
    """``client.completion.create(prompt=...)``: one prompt, ``choices[0].text`` back.

    With ``stream=True`` it returns the same chunk stream as chat
    (``chunk.choices[0].delta.content``).
    """

    def __init__(self, client: Qwen) -> None:
        self._client = client

    @staticmethod
    def _messages(prompt: str, system: str | None) -> list[MessageLike]:
        msgs: list[MessageLike] = [{"role": "system", "content": system}] if system else []
        return [*msgs, {"role": "user", "content": prompt}]

    def create(
        self, *, prompt: str, system: str | None = None, stream: bool = False, **kw: Any
    ) -> Completion | ChatStream:
        chat = self._client.chat
        req = chat.request(self._messages(prompt, system), stream=stream, **kw)
        return chat.stream(req) if stream else _as_completion(chat.complete(req))

    async def acreate(
        self, *, prompt: str, system: str | None = None, stream: bool = False, **kw: Any
    ) -> Completion | AsyncChatStream:
        chat = self._client.chat
        req = chat.request(self._messages(prompt, system), stream=stream, **kw)
        return await chat.astream(req) if stream else _as_completion(await chat.acomplete(req))


class Models:
    """``client.models.list()``: the models the key can use.

    A provider without a model-list call answers from its catalogue, without a request;
    ``client.provider.catalog_note`` then says so.
    """

    def __init__(self, client: Qwen) -> None:
        self._client = client

    def list(self) -> ModelList:
        c = self._client
        known = c.provider.catalog()
        if known is not None:
            return known
        return c.provider.parse_models(c.request_json(c.provider.models_request()))

    async def alist(self) -> ModelList:
        c = self._client
        known = c.provider.catalog()
        if known is not None:
            return known
        return c.provider.parse_models(await c.arequest_json(c.provider.models_request()))
