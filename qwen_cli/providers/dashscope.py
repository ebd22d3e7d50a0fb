"""DashScope / Model Studio, OpenAI-compatible mode (also any OpenAI-compatible server).

Wire facts: ../shared/protocol/dashscope.md, sections b to e.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from qwen_cli import __version__
from qwen_cli.errors import (
    HTML_HINT,
    NOT_API,
    APIStatusError,
    BadResponseError,
    error_for_status,
    error_from_event,
    html_summary,
    loads_json,
    looks_like_html,
)
from qwen_cli.providers.base import RequestSpec, StreamItem, request_id_from, retry_after_seconds
from qwen_cli.sse import ServerSentEvent
from qwen_cli.types import ChatCompletion, ChatCompletionChunk, ChatRequest, ModelInfo

REGIONS: dict[str, str] = {
    "cn": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "intl": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    "us": "https://dashscope-us.aliyuncs.com/compatible-mode/v1",
}
REGION_NAMES = {"cn": "China (Beijing)", "intl": "Singapore", "us": "US (Virginia)"}
USER_AGENT = f"qwen-cli/{__version__}"


class DashScope:
    name = "dashscope"
    always_streams = False
    end_marker_required = True
    catalog_note: str | None = None

    def __init__(self, *, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

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
        try:
            return StreamItem(chunk=ChatCompletionChunk.model_validate(payload))
        except ValidationError:  # the types repair what they can; an event beyond that is skipped
            return StreamItem()

    def parse_completion(self, body: Any) -> ChatCompletion:
        if not isinstance(body, dict):
            raise not_json(body)
        if body.get("error") is not None:
            raise error_from_event(body)
        if not isinstance(body.get("choices"), (list, dict)):
            raise BadResponseError(
                "the server's answer has no readable `choices` field",
                code="no_choices",
                body=body,
                hint="check --base-url: it should point at an OpenAI-compatible API",
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
        if isinstance(body, dict) and body.get("error") is not None:
            raise error_from_event(body)
        if not isinstance(body, (dict, list)):
            raise not_json(body)
        data = body.get("data") if isinstance(body, dict) else body
        if not isinstance(data, list):
            raise BadResponseError(
                "the model list's `data` field is missing or not a list",
                code="no_data",
                body=body,
                hint="check --base-url: it should point at an OpenAI-compatible API",
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
        return BadResponseError(f"the server sent {html_summary(text)}, {NOT_API}", body=body, hint=HTML_HINT)
    shown = repr(text.strip()[:120]) if isinstance(text, str) else f"JSON {type(text).__name__}"
    return BadResponseError(
        f"the server answered with something that is not a JSON object: {shown}",
        body=body,
        hint="check --base-url: it should point at an OpenAI-compatible API",
    )


def _has_id(m: dict[str, Any]) -> bool:
    return isinstance(m.get("id"), str) and bool(m["id"])


def unreadable(exc: ValidationError, body: Any) -> BadResponseError:
    """A field the CLI needs but cannot read, named."""
    errs = exc.errors()
    field = ".".join(str(x) for x in errs[0]["loc"]) if errs else "?"
    why = errs[0]["msg"] if errs else "invalid"
    return BadResponseError(
        f"the server's answer has a field qwen cannot read: `{field}` ({why})",
        body=body,
        hint="the server may not be OpenAI-compatible; run with --debug to see the answer",
    )


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
    for name in ("enable_thinking", "thinking_budget", "enable_search"):
        value = getattr(p, name)
        if value is not None:
            body[name] = value
    if p.json_mode:
        body["response_format"] = {"type": "json_object"}
    return body
