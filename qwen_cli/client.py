"""The thin client: every request is built once, then sent sync or async.

``Qwen`` takes its base URL, key and timeouts as arguments and never reads the
environment (``qwen_cli.config`` does that). The sync and async senders sit
side by side so their parity shows in review.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from qwen_cli.errors import (
    CODE_REDIRECT,
    RETRYABLE_STATUS,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    QwenAPIError,
    RateLimitError,
)
from qwen_cli.pools import MAX_CONNECTIONS, Pools, ssl_context
from qwen_cli.providers import DEFAULT_PROVIDER, provider_class, region_of
from qwen_cli.providers.base import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    MAX_RETRY_AFTER,
    RequestSpec,
)
from qwen_cli.redact import mask_headers, scrub_body

if TYPE_CHECKING:
    import httpx

    from qwen_cli.batch.remote import Batches
    from qwen_cli.config import Settings
    from qwen_cli.resources import Chat, Completions, Models
    from qwen_cli.uploads import Files

log = logging.getLogger("qwen_cli")

MAX_BACKOFF = 20.0


def spread(delay: float) -> float:
    """``delay`` give or take 25 %, so that clients failing together do not retry in step."""
    return delay * random.uniform(0.75, 1.25)


async def _asleep(delay: float) -> None:
    """asyncio.sleep, imported when an async client first waits: a sync command never loads asyncio."""
    import asyncio

    await asyncio.sleep(delay)


@functools.lru_cache(maxsize=64)
def _parsed_url(url: str) -> httpx.URL:
    """A URL parsed once: httpx parses in Python, and a batch sends the same URL thousands of
    times (``httpx.URL`` is immutable, so one can serve every request)."""
    import httpx

    return httpx.URL(url)


class Qwen:
    """A client for one provider, usable from sync and async code.

    >>> client = Qwen(api_key="sk-...", base_url="http://127.0.0.1:8000/v1")
    >>> client.chat.create([{"role": "user", "content": "hi"}]).content

    One client serves any number of threads and event loops (see ``qwen_cli.pools``);
    ``close()``/``with`` and ``await aclose()``/``async with`` release its connections.
    Between retries it waits with ``sleep`` (sync) or ``asleep`` (async) for
    ``jitter(backoff)`` seconds, or the server's ``Retry-After``; pass your own to the
    constructor (tests do, to wait for nothing and record the delays).

    ``key_required``: refuse to send without the provider's credentials. By default the
    provider decides from the base URL (a DashScope region's URL needs a key, a local server
    may not); the command line passes what its configuration resolved.
    """

    sleep: Callable[[float], object] = staticmethod(time.sleep)
    asleep: Callable[[float], Awaitable[object]] = staticmethod(_asleep)
    jitter: Callable[[float], float] = staticmethod(spread)

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        region: str | None = None,
        provider: str = DEFAULT_PROVIDER,
        cookie: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_base_delay: float = 0.5,
        key_required: bool | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], object] | None = None,
        asleep: Callable[[float], Awaitable[object]] | None = None,
        jitter: Callable[[float], float] | None = None,
    ) -> None:
        cls = provider_class(provider)
        region = region or cls.default_region or ""
        if base_url is None:
            known = cls.regions.get(region) or cls.regions.get(cls.default_region or "")
            base_url = known.base_url if known else cls.default_base_url
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.region = region
        self.provider = cls.create(base_url=self.base_url, api_key=api_key, cookie=cookie)
        if key_required is None:
            key_required = cls.key_required(region_of(cls.regions, self.base_url))
        self.key_required = key_required
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max(0, max_retries)
        self.retry_base_delay = retry_base_delay
        self._pools = Pools(self._httpx_timeout, http_client, async_http_client)
        if sleep is not None:
            self.sleep = sleep
        if asleep is not None:
            self.asleep = asleep
        if jitter is not None:
            self.jitter = jitter

    @classmethod
    def from_settings(cls, s: Settings) -> Qwen:
        """The client for resolved settings (``qwen_cli.config.resolve``): the command line's,
        and the LlamaIndex adapter's when it is given no client."""
        return cls(
            s.api_key,
            base_url=s.base_url,
            region=s.region,
            provider=s.provider,
            cookie=s.cookie,
            timeout=s.timeout,
            connect_timeout=s.connect_timeout,
            max_retries=s.max_retries,
            key_required=s.key_required,
        )

    # The resources (and the wire types under them) load on first use: `qwen chat`
    # reaches its prompt without them.
    @functools.cached_property
    def chat(self) -> Chat:
        """Chat completions: ``create``/``stream`` and their async twins."""
        from qwen_cli.resources import Chat

        return Chat(self)

    @functools.cached_property
    def completion(self) -> Completions:
        from qwen_cli.resources import Completions

        return Completions(self)

    @functools.cached_property
    def models(self) -> Models:
        from qwen_cli.resources import Models

        return Models(self)

    @functools.cached_property
    def files(self) -> Files:
        """Uploads: the Files API, DashScope's temporary upload, chat.qwen.ai's (``qwen_cli.uploads``)."""
        from qwen_cli.uploads import Files

        return Files(self)

    @functools.cached_property
    def batches(self) -> Batches:
        """DashScope's Batch API: submit a file of requests, follow it, read its results."""
        from qwen_cli.batch.remote import Batches

        return Batches(self)

    def lane(self) -> Qwen:
        """A client like this one (server, key, timeouts, retries) for one async worker of many
        (``qwen batch run -j 64``): its async requests go over one kept-alive connection of its
        own (:mod:`qwen_cli.lane`), without the per-request bookkeeping of httpx's pool, which
        grows with the number of connections; through a proxy, a pool of its own."""
        import copy

        from qwen_cli import lane

        twin = copy.copy(self)
        for name in [n for n, v in vars(type(self)).items() if isinstance(v, functools.cached_property)]:
            twin.__dict__.pop(name, None)  # the resources bind to the twin when first used
        direct = lane.usable(self.base_url)
        twin._pools = Pools(
            twin._httpx_timeout,
            new_transport=(lambda: lane.LaneTransport(ssl_context())) if direct else None,
        )
        return twin

    # ------------------------------------------------------------------ building (shared)

    def _httpx_timeout(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    def _check_credentials(self) -> None:
        """No request leaves without the credentials it needs: it would only be refused."""
        if not self.key_required:
            return
        missing = self.provider.missing_credential()
        if missing is not None:
            raise AuthenticationError(
                f"no {missing.label}", code=f"missing_{missing.stored}", hint=self.provider.login_hint
            )

    def _build(self, spec: RequestSpec) -> httpx.Request:
        import httpx

        self._check_credentials()
        req = httpx.Request(
            spec.method,
            _parsed_url(spec.url),
            headers=spec.headers,
            params=spec.params,
            json=spec.json,
            files=spec.files,
            data=spec.data,
            content=spec.content,
        )
        from qwen_cli.streaming import ACCEPT_ENCODING  # httpx: loaded when sending

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
        from qwen_cli.streaming import headers_of

        return self.provider.error_from_response(response.status_code, body, headers_of(response))

    def _redirect_error(self, response: httpx.Response) -> APIStatusError:
        """A 3xx: never followed, since following would carry the key to wherever it points."""
        location = response.headers.get("location")
        status = response.status_code
        if location:
            import httpx

            try:
                where = str(response.request.url.join(location))
            except (httpx.InvalidURL, ValueError):
                where = location
            message = f"the server redirected to {where}; not followed"
        else:
            message = f"the server answered {status} (a redirect) without saying where to; not followed"
        return APIStatusError(
            message,
            status_code=status,
            code=CODE_REDIRECT,
            request_id=response.headers.get("x-request-id"),
        )

    def _transport_error(self, exc: Exception, url: str) -> APIConnectionError:
        import httpx

        if isinstance(exc, httpx.PoolTimeout):
            return APITimeoutError(
                f"no free connection to {url} within {self.timeout:g}s: "
                f"{MAX_CONNECTIONS} requests of this client were still in flight"
            )
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
        return float(self.jitter(backoff))

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
        """``err``, or after retries a new error saying how many, caused by ``err``."""
        if attempts <= 1:
            return err
        tried = f" (gave up after {attempts - 1} retr{'y' if attempts == 2 else 'ies'})"
        final = err.evolve(message=err.message + tried)
        final.__cause__ = err  # as `raise final from err` would
        return final

    # ------------------------------------------------------------------ sync sender

    @property
    def http(self) -> httpx.Client:
        return self._pools.http

    def send(self, spec: RequestSpec, *, stream: bool = False) -> httpx.Response:
        """Send with retries; return a response whose status is below 400."""
        import httpx

        from qwen_cli.streaming import read_body, read_error_body

        attempt = 0
        while True:
            request = self._build(spec)
            try:
                response = self.http.send(request, stream=True)
            except httpx.TransportError as exc:
                err: QwenAPIError = self._transport_error(exc, spec.url)
            else:
                self._log_response(response)
                if 300 <= response.status_code < 400:
                    response.close()
                    raise self._redirect_error(response)
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
            self.sleep(delay)
            attempt += 1

    def request_json(self, spec: RequestSpec) -> Any:
        from qwen_cli.streaming import json_or_text

        response = self.send(spec)
        return json_or_text(response)

    def close(self) -> None:
        """Release the sync pool and every async pool whose event loop is not running."""
        self._pools.close()

    def __enter__(self) -> Qwen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ async sender

    async def asend(self, spec: RequestSpec, *, stream: bool = False) -> httpx.Response:
        """Async twin of :meth:`send`."""
        import httpx

        from qwen_cli.streaming import aread_body, aread_error_body

        attempt = 0
        while True:
            request = self._build(spec)
            try:
                response = await (await self._pools.ahttp()).send(request, stream=True)
            except httpx.TransportError as exc:
                err: QwenAPIError = self._transport_error(exc, spec.url)
            else:
                self._log_response(response)
                if 300 <= response.status_code < 400:
                    await response.aclose()
                    raise self._redirect_error(response)
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
            await self.asleep(delay)
            attempt += 1

    async def arequest_json(self, spec: RequestSpec) -> Any:
        from qwen_cli.streaming import json_or_text

        response = await self.asend(spec)
        return json_or_text(response)

    async def aclose(self) -> None:
        """Release the running event loop's pool and the sync pool."""
        await self._pools.aclose()

    async def __aenter__(self) -> Qwen:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
