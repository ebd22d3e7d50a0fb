"""DashScope / Model Studio, OpenAI-compatible mode (also any OpenAI-compatible server).

Wire facts: ../shared/protocol/dashscope.md, sections b to e.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from qwen_cli import __version__
from qwen_cli.errors import (
    CODE_HTML_PAGE,
    CODE_NO_CHOICES,
    CODE_NO_DATA,
    CODE_NOT_JSON,
    CODE_UNREADABLE_FIELD,
    NOT_API,
    APIStatusError,
    BadResponseError,
    error_for_status,
    error_from_event,
    html_summary,
    loads_json,
    looks_like_html,
)
from qwen_cli.providers.base import (
    Capabilities,
    Credential,
    Region,
    RequestSpec,
    StreamItem,
    request_id_from,
    retry_after_seconds,
    with_extra,
)
from qwen_cli.sse import ServerSentEvent

DEFAULT_MODEL = "qwen-max"
DEFAULT_REGION = "cn"
REGION_TABLE: dict[str, Region] = {
    "cn": Region("https://dashscope.aliyuncs.com/compatible-mode/v1", "China (Beijing)", "CNY"),
    "intl": Region("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "Singapore", "USD"),
    "us": Region("https://dashscope-us.aliyuncs.com/compatible-mode/v1", "US (Virginia)", "USD"),
}
REGIONS: dict[str, str] = {r: v.base_url for r, v in REGION_TABLE.items()}
REGION_NAMES: dict[str, str] = {r: v.title for r, v in REGION_TABLE.items()}
USER_AGENT = f"qwen-cli/{__version__}"
API_KEY = Credential(
    setting="api_key",
    attr="api_key",
    stored="api_key",
    label="API key",
    env=("DASHSCOPE_API_KEY", "QWEN_API_KEY"),
)


class DashScope:
    name: ClassVar[str] = "dashscope"
    credentials: ClassVar[tuple[Credential, ...]] = (API_KEY,)
    default_base_url: ClassVar[str] = REGIONS[DEFAULT_REGION]
    regions: ClassVar[Mapping[str, Region]] = REGION_TABLE
    default_region: ClassVar[str | None] = DEFAULT_REGION
    default_model: ClassVar[str] = DEFAULT_MODEL
    capabilities: ClassVar[Capabilities] = Capabilities(
        model_list="server", files_api=True, temporary_upload=True, search_sources=False, batch=True
    )
    login_hint: ClassVar[str] = "run `qwen auth login` or set DASHSCOPE_API_KEY"
    login_help: ClassVar[str | None] = None  # the key is one line from the Model Studio console
    refused_hint: ClassVar[str | None] = None  # keys are bound to a region: the command line names it
    always_streams = False
    end_marker_required = True
    catalog_note: str | None = None

    def __init__(self, *, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    @classmethod
    def create(cls, *, base_url: str, api_key: str | None, cookie: str | None) -> DashScope:
        return cls(base_url=base_url, api_key=api_key)

    @classmethod
    def key_required(cls, region: str | None) -> bool:
        # DashScope refuses a request without a key; another OpenAI-compatible server (a local
        # one) may take none, so only a base URL that stands for a region needs one.
        return region is not None

    @classmethod
    def own_host(cls, host: str) -> bool:
        return is_own_host(host)

    def missing_credential(self) -> Credential | None:
        return None if self.api_key else API_KEY

    # ------------------------------------------------------------------ requests

    def headers(self, *, stream: bool = False) -> dict[str, str]:
        h = {"User-Agent": USER_AGENT, "Accept": "text/event-stream" if stream else "application/json"}
        if self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h

    def chat_request(self, req: ChatRequest) -> RequestSpec:
        return RequestSpec(
            "POST",
            f"{self.base_url}/chat/completions",
            headers={**self.headers(stream=req.stream), **req.headers},
            json=chat_body(req),
        )

    def models_request(self) -> RequestSpec:
        return RequestSpec("GET", f"{self.base_url}/models", headers=self.headers())

    # ------------------------------------------------------------------ answers

    def parse_event(self, event: ServerSentEvent) -> StreamItem:
        data = event.data.strip()
        if data == "[DONE]":
            return StreamItem(done=True)
        if not data:
            return StreamItem()
        try:
            payload = loads_json(data)
        except ValueError:
            return StreamItem()  # junk between events (or JSON nested too deep): skipped
        if not isinstance(payload, dict):
            return StreamItem()
        if payload.get("error") is not None or event.event == "error":
            raise error_from_event(payload)
        from qwen_cli.record import ValidationError
        from qwen_cli.types import ChatCompletionChunk  # loaded when an answer comes

        try:
            return StreamItem(chunk=ChatCompletionChunk.model_validate(payload))
        except ValidationError:  # the types repair what they can; an event beyond that is skipped
            return StreamItem()

    def parse_completion(self, body: Any) -> ChatCompletion:
        if not isinstance(body, dict):
            raise not_json(body)
        if body.get("error") is not None:
            raise error_from_event(body)
        from qwen_cli.record import ValidationError
        from qwen_cli.types import ChatCompletion  # loaded when an answer comes

        if not isinstance(body.get("choices"), (list, dict)):
            raise BadResponseError(
                "the server's answer has no readable `choices` field",
                code=CODE_NO_CHOICES,
                body=body,
            )
        try:
            return ChatCompletion.model_validate(body)
        except ValidationError as exc:
            raise unreadable(exc, body) from None

    def error_from_response(self, status: int, body: bytes, headers: dict[str, str]) -> APIStatusError:
        return error_for_status(
            status,
            body,
            request_id=request_id_from(headers),
            retry_after=retry_after_seconds(headers),
        )

    def parse_models(self, body: Any) -> list[ModelInfo]:
        from qwen_cli.record import ValidationError
        from qwen_cli.types import ModelInfo  # loaded when an answer comes

        if isinstance(body, dict) and body.get("error") is not None:
            raise error_from_event(body)
        if not isinstance(body, (dict, list)):
            raise not_json(body)
        data = body.get("data") if isinstance(body, dict) else body
        if not isinstance(data, list):
            raise BadResponseError(
                "the model list's `data` field is missing or not a list",
                code=CODE_NO_DATA,
                body=body,
            )
        try:
            return [ModelInfo.model_validate(m) for m in data if isinstance(m, dict) and _has_id(m)]
        except ValidationError as exc:
            raise unreadable(exc, body) from None

    def catalog(self) -> list[ModelInfo] | None:
        return None  # the server lists the models the key can use


def not_json(body: Any) -> BadResponseError:
    """The error for a 2xx answer that is not a JSON object: an HTML page is named as one."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if isinstance(text, str) and looks_like_html(text):
        return BadResponseError(
            f"the server sent {html_summary(text)}, {NOT_API}", code=CODE_HTML_PAGE, body=body
        )
    shown = repr(text.strip()[:120]) if isinstance(text, str) else f"JSON {type(text).__name__}"
    return BadResponseError(
        f"the server answered with something that is not a JSON object: {shown}",
        code=CODE_NOT_JSON,
        body=body,
    )


def _has_id(m: dict[str, Any]) -> bool:
    return isinstance(m.get("id"), str) and bool(m["id"])


def unreadable(exc: ValidationError, body: Any) -> BadResponseError:
    """A field the CLI needs but cannot read, named."""
    field = ".".join(str(x) for x in exc.loc) or "?"
    why = exc.message
    return BadResponseError(
        f"the server's answer has a field qwen cannot read: `{field}` ({why})",
        code=CODE_UNREADABLE_FIELD,
        body=body,
    )


if TYPE_CHECKING:  # the class describes itself as every provider must
    from qwen_cli.providers.base import Provider
    from qwen_cli.record import ValidationError
    from qwen_cli.types import ChatCompletion, ChatRequest, ModelInfo

    _conforms: type[Provider] = DashScope


def chat_body(req: ChatRequest) -> dict[str, Any]:
    """The JSON body of a compatible-mode chat request."""
    p = req.params
    body: dict[str, Any] = {
        "model": req.model,
        "messages": [m.model_dump(exclude_none=True) for m in req.messages],
        "stream": req.stream,
    }
    if req.stream:
        body["stream_options"] = {"include_usage": True}
    for name in ("temperature", "top_p", "max_tokens", "seed", "stop"):
        value = getattr(p, name)
        if value is not None and value != []:
            body[name] = value
    # DashScope extras travel at the top level (the OpenAI SDK's extra_body).
    for name in ("enable_thinking", "thinking_budget", "enable_search", "translation_options"):
        value = getattr(p, name)
        if value is not None:
            body[name] = value
    for name in ("tools", "tool_choice", "parallel_tool_calls"):
        value = getattr(p, name)
        if value is not None:
            body[name] = value
    if p.response_format is not None:
        body["response_format"] = p.response_format
    elif p.json_mode:
        body["response_format"] = {"type": "json_object"}
    return with_extra(body, p.extra)


def is_own_host(host: str) -> bool:
    """DashScope's own hosts (every region's endpoint lives under aliyuncs.com)."""
    host = host.lower().rstrip(".")
    return host == "aliyuncs.com" or host.endswith(".aliyuncs.com")
