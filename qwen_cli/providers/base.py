"""What every backend provides to the client: requests to send, answers to read."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, BinaryIO, Protocol

from qwen_cli.errors import APIStatusError
from qwen_cli.sse import ServerSentEvent
from qwen_cli.types import ChatCompletion, ChatCompletionChunk, ChatRequest, ModelInfo


@dataclass
class RequestSpec:
    """An HTTP request, described without httpx so it can be built and tested purely."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    params: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes | BinaryIO, str]] | None = None  # name, content, mime
    data: dict[str, str] | None = None
    content: bytes | Iterable[bytes] | AsyncIterable[bytes] | None = None  # a raw body, e.g. a PUT


@dataclass
class StreamItem:
    """One decoded stream event: a chunk, the end marker, or nothing of interest."""

    chunk: ChatCompletionChunk | None = None
    done: bool = False


# Waits longer than this are not worth a retry: the error says when to try again instead.
MAX_RETRY_AFTER = 60.0


class Provider(Protocol):
    name: str
    base_url: str
    # True when the backend answers only in streams: a non-streamed answer is then the
    # stream accumulated by the client (chat.qwen.ai).
    always_streams: bool
    # False when a body that ends cleanly (HTTP framing complete) after some answer is complete
    # even without an end marker; a cut connection is an interrupted stream either way.
    end_marker_required: bool
    # Why ``catalog()`` answers instead of the server, for ``qwen models``; None when it doesn't.
    catalog_note: str | None

    def chat_request(self, req: ChatRequest) -> RequestSpec: ...

    def parse_event(self, event: ServerSentEvent) -> StreamItem:
        """Raise the mapped error for an error event."""
        ...

    def parse_completion(self, body: Any) -> ChatCompletion:
        """A non-streamed answer; raise the mapped error for an error body sent with 200."""
        ...

    def error_from_response(self, status: int, body: bytes, headers: dict[str, str]) -> APIStatusError: ...

    def models_request(self) -> RequestSpec: ...

    def parse_models(self, body: Any) -> list[ModelInfo]: ...

    def catalog(self) -> list[ModelInfo] | None:
        """The models known without asking the server, or ``None``: ask it (``models_request``)."""
        ...


def retry_after_seconds(headers: dict[str, str]) -> float | None:
    """``Retry-After`` (seconds or an HTTP date) as seconds, or ``None``."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def request_id_from(headers: dict[str, str]) -> str | None:
    for name in ("x-request-id", "x-dashscope-request-id", "request-id"):
        if headers.get(name):
            return headers[name]
    return None
