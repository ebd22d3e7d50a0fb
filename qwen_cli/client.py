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
from typing import TYPE_CHECKING, Any
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
from qwen_cli.providers.base import MAX_RETRY_AFTER, RequestSpec
from qwen_cli.redact import mask_headers, scrub_body
from qwen_cli.resources import Chat, Completions, Models
from qwen_cli.streaming import (
    ACCEPT_ENCODING,
    aread_body,
    aread_error_body,
    json_or_text,
    read_body,
    read_error_body,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("qwen_cli")

DEFAULT_TIMEOUT = 120.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2
MAX_BACKOFF = 20.0


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
        req.headers["Accept-Encoding"] = ACCEPT_ENCODING  # only what streaming can decode within caps
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
                            self._log_body(read_body(response))
                        except httpx.TransportError as exc:
                            raise self._transport_error(exc, spec.url) from exc
                    return response
                try:
                    body = read_error_body(response)
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
        return json_or_text(response)

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
                            self._log_body(await aread_body(response))
                        except httpx.TransportError as exc:
                            raise self._transport_error(exc, spec.url) from exc
                    return response
                try:
                    body = await aread_error_body(response)
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
        return json_or_text(response)

    async def aclose(self) -> None:
        if self._ahttp is not None:
            await self._ahttp.aclose()

    async def __aenter__(self) -> Qwen:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
