"""What every backend provides to the client: requests to send, answers to read."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Literal, Protocol, Self

from qwen_cli.structs import field, struct

if TYPE_CHECKING:  # annotations only: config reads the descriptions without loading the wire types
    from qwen_cli.errors import APIStatusError
    from qwen_cli.sse import ServerSentEvent
    from qwen_cli.types import ChatCompletion, ChatCompletionChunk, ChatRequest, ModelInfo


@struct
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


@struct
class StreamItem:
    """One decoded stream event: a chunk, the end marker, or nothing of interest."""

    chunk: ChatCompletionChunk | None = None
    done: bool = False


# Waits longer than this are not worth a retry: the error says when to try again instead.
MAX_RETRY_AFTER = 60.0
# The client's defaults, and config's: seconds to wait for an answer and for a connection,
# retries after a failure worth retrying.
DEFAULT_TIMEOUT = 120.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2


@struct(frozen=True)
class Credential:
    """One secret a provider needs: where config reads it, how it is stored and shown."""

    setting: str  # the setting config resolves it as (its environment variables below)
    attr: Literal["api_key", "cookie"]  # the Settings attribute, and the client argument, it fills
    stored: str  # its name in credentials.json
    label: str  # how prompts and messages name it ("API key", "chat.qwen.ai token")
    env: tuple[str, ...]  # environment variables (and .env names), first wins
    masked: bool = True  # shown masked (sk-...abcd); False: shown only as its length (a cookie)
    what: str = ""  # the short name in messages about its characters ("cookie"); default: label

    @property
    def noun(self) -> str:
        return self.what or self.label


@struct(frozen=True)
class Region:
    """A region of a provider: its built-in base URL, its name, the currency of its list prices."""

    base_url: str
    title: str
    currency: str | None  # "CNY", "USD"; None: answers there are not priced


@struct(frozen=True)
class Capabilities:
    """What a provider can do beyond chat."""

    model_list: Literal["server", "catalogue"]  # GET /models, or a list shipped with qwen
    files_api: bool = False  # files uploaded, listed and deleted by id (DashScope's Files API)
    temporary_upload: bool = False  # images sent through a temporary object-storage upload
    web_image_upload: bool = False  # images uploaded through the site's own upload (chat.qwen.ai)
    search_sources: bool = False  # web-search answers carry their sources
    batch: bool = False  # a batch API


class Provider(Protocol):
    """A backend. The class describes it (the ClassVars and classmethods, used by config and the
    command line without building one); an instance speaks its wire format at one base URL.

    Adding a provider: one module with a class like this, and one line in the registry
    (``qwen_cli/providers/__init__.py``)."""

    # ------------------------------------------------------------------ description
    name: ClassVar[str]
    credentials: ClassVar[tuple[Credential, ...]]  # in the order `qwen auth login` asks for them
    default_base_url: ClassVar[str]
    regions: ClassVar[Mapping[str, Region]]  # empty: the provider has no regions
    default_region: ClassVar[str | None]
    default_model: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    login_hint: ClassVar[str]  # what to do when no key is set
    login_help: ClassVar[str | None]  # where to find the credentials, said before asking for them
    # What to do when the server refuses the key; None: the command line says which region or
    # base URL was asked and how to switch.
    refused_hint: ClassVar[str | None]

    @classmethod
    def create(cls, *, base_url: str, api_key: str | None, cookie: str | None) -> Self:
        """The provider speaking to ``base_url`` with these credentials."""
        ...

    @classmethod
    def key_required(cls, region: str | None) -> bool:
        """Whether a request is refused before sending without the credentials, for a base URL
        that stands for ``region`` (None: another server, e.g. a local one)."""
        ...

    @classmethod
    def own_host(cls, host: str) -> bool:
        """Whether ``host`` is the provider's own (where its keys were issued and may go)."""
        ...

    # ------------------------------------------------------------------ instance
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

    def missing_credential(self) -> Credential | None:
        """The first credential this instance was not given, or ``None``."""
        ...


def region_of(
    regions: Mapping[str, Region], base_url: str, overrides: Mapping[str, str] | None = None
) -> str | None:
    """The region ``base_url`` stands for, if any: a region's URL as configured (``overrides``:
    region -> URL, e.g. a gateway set with ``QWEN_BASE_URL_CN``), or its built-in URL or host.
    Any other URL is another server: ``None``."""
    from urllib.parse import urlsplit

    url = base_url.rstrip("/")
    for region, configured in (overrides or {}).items():
        if configured.rstrip("/") == url:
            return region
    host = urlsplit(url).hostname or ""
    for region, r in regions.items():
        if r.base_url.rstrip("/") == url or (host and urlsplit(r.base_url).hostname == host):
            return region
    return None


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


def with_extra(body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the fields passed through as they were given (``-o KEY VALUE``), at its top
    level: what the user names explicitly wins over what qwen would have sent."""
    body.update(extra)
    return body


def request_id_from(headers: dict[str, str]) -> str | None:
    for name in ("x-request-id", "x-dashscope-request-id", "request-id"):
        if headers.get(name):
            return headers[name]
    return None
