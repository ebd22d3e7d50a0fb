"""chat.qwen.ai, the web chat's own API, spoken as the `qwen-api` library (1.4.16) speaks it.

Wire facts: ../shared/protocol/qwen-web.md. What we do differently from the library, on purpose:

* real history: assistant turns stay ``assistant`` (the library sends them as ``user``);
* thinking (``phase: "think"``) becomes ``reasoning_content``, never part of the answer;
* web-search results (``extra.web_search_info`` on ``function`` deltas) become ``sources``;
* ``status: "finished"`` on the answer ends the stream, with or without ``[DONE]``;
* error envelopes, WAF pages, events without ``choices`` are errors, not empty answers
  (``qwen_web_errors``).

The wire always streams (``stream: true``); the client accumulates the stream when a whole
answer is wanted (``always_streams``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from qwen_cli.errors import (
    CODE_NO_CHOICES,
    APIStatusError,
    AuthenticationError,
    UsageError,
    error_from_event,
    loads_json,
)
from qwen_cli.providers.base import Capabilities, Credential, Region, RequestSpec, StreamItem, with_extra
from qwen_cli.providers.qwen_web_errors import (
    LOGIN,
    envelope_error,
    is_html,
    is_waf,
    page_error,
    response_error,
    waf_error,
)
from qwen_cli.sse import ServerSentEvent
from qwen_cli.types import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    Choice,
    ChunkChoice,
    CompletionTokensDetails,
    Delta,
    ImagePart,
    Message,
    ModelInfo,
    SearchSource,
    Usage,
)
from qwen_cli.utf8 import clean_text

WEB_BASE_URL = "https://chat.qwen.ai"
CHAT_PATH = "/api/chat/completions"
WEB_DEFAULT_MODEL = "qwen-max-latest"
# The browser the library claims to be (client.py:34-42).
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36"
)
# The `ChatModel` literal of qwen-api 1.4.16 (core/types/chat_model.py:3-21).
WEB_MODELS = (
    "qwen3-max-preview",
    "qwen-plus-2025-09-11",
    "qwen3-235b-a22b",
    "qwen3-coder-plus",
    "qwen3-30b-a3b",
    "qwen3-coder-30b-a3b-instruct",
    "qwen3-32b",
    "qwen-max-latest",
    "qwen-plus-2025-01-25",
    "qwen-turbo-2025-02-11",
    "qwq-32b",
    "qvq-72b-preview-0310",
    "qwen2.5-omni-7b",
    "qwen2.5-vl-32b-instruct",
    "qwen2.5-14b-instruct-1m",
    "qwen2.5-coder-32b-instruct",
    "qwen2.5-72b-instruct",
)
CATALOG_NOTE = (
    "chat.qwen.ai has no model-list call in the protocol qwen speaks: these are the models "
    "the qwen-api library (1.4.16) knows, not an answer from the server"
)
_ROLES = {"system": "system", "user": "user", "assistant": "assistant", "tool": "function"}
_NO_FIELD = (
    "top_p",
    "seed",
    "stop",
    "translation_options",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
)
MISSING_HINT = f"run `{LOGIN}`, or set QWEN_AUTH_TOKEN and QWEN_COOKIE"
TOKEN = Credential(
    setting="web_token",
    attr="api_key",
    stored="token",
    label="chat.qwen.ai token",
    env=("QWEN_AUTH_TOKEN",),
    what="token",
)
COOKIE = Credential(
    setting="cookie",
    attr="cookie",
    stored="cookie",
    label="chat.qwen.ai cookie",
    env=("QWEN_COOKIE",),
    masked=False,
    what="cookie",
)


def clean_token(token: str | None) -> str:
    """The token as the user copied it, without a ``Bearer`` prefix (we add exactly one)."""
    t = (token or "").strip()
    while t[:7].lower() == "bearer ":
        t = t[7:].strip()
    return t


def clean_cookie(cookie: str | None) -> str:
    """The ``Cookie`` header's value, without a pasted ``Cookie:`` prefix."""
    c = (cookie or "").strip()
    if c[:7].lower() == "cookie:":
        c = c[7:].strip()
    return c


class QwenWeb:
    name: ClassVar[str] = "qwen-web"
    credentials: ClassVar[tuple[Credential, ...]] = (TOKEN, COOKIE)
    default_base_url: ClassVar[str] = WEB_BASE_URL
    regions: ClassVar[Mapping[str, Region]] = {}
    default_region: ClassVar[str | None] = None
    default_model: ClassVar[str] = WEB_DEFAULT_MODEL
    capabilities: ClassVar[Capabilities] = Capabilities(
        model_list="catalogue", web_image_upload=True, search_sources=True
    )
    login_hint: ClassVar[str] = MISSING_HINT
    login_help: ClassVar[str | None] = (
        "Sign in at https://chat.qwen.ai, open the browser's developer tools, and copy from any\n"
        "request to chat.qwen.ai the Authorization header (without 'Bearer') and the Cookie header."
    )
    refused_hint: ClassVar[str | None] = (
        f"the chat.qwen.ai token or cookie was refused: copy fresh ones from the browser and run `{LOGIN}`"
    )
    always_streams = True
    # The v1 terminator is unknown (protocol notes 3.2): `status: finished` and `[DONE]` end a
    # stream, and so does a body that ends cleanly after some answer.
    end_marker_required = False
    catalog_note: str | None = CATALOG_NOTE

    def __init__(self, *, base_url: str, token: str | None, cookie: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = clean_token(token)
        self.cookie = clean_cookie(cookie)

    @classmethod
    def create(cls, *, base_url: str, api_key: str | None, cookie: str | None) -> QwenWeb:
        return cls(base_url=base_url, token=api_key, cookie=cookie)

    @classmethod
    def key_required(cls, region: str | None) -> bool:
        return True  # the site answers nobody without the browser's token and cookie

    @classmethod
    def own_host(cls, host: str) -> bool:
        return is_own_host(host)

    def missing_credential(self) -> Credential | None:
        return TOKEN if not self.token else COOKIE if not self.cookie else None

    # ------------------------------------------------------------------ requests

    def headers(self) -> dict[str, str]:
        """What the library sends on every call; no token or cookie is an error before sending."""
        for what, value in (("token", self.token), ("cookie", self.cookie)):
            if not value:
                raise AuthenticationError(
                    f"no chat.qwen.ai {what}", code=f"missing_{what}", hint=MISSING_HINT
                )
            if any(c in value for c in "\r\n\0"):
                raise AuthenticationError(
                    f"the chat.qwen.ai {what} contains a line break", code=f"bad_{what}", hint=MISSING_HINT
                )
        parts = urlsplit(self.base_url)
        return {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token}",
            "Cookie": self.cookie,
            "User-Agent": USER_AGENT,
            "Origin": f"{parts.scheme}://{parts.netloc}",
        }

    def chat_request(self, req: ChatRequest) -> RequestSpec:
        body = chat_body(req)
        return RequestSpec(
            "POST", self.base_url + CHAT_PATH, headers={**self.headers(), **req.headers}, json=body
        )

    def models_request(self) -> RequestSpec:
        # Not used by the client: catalog() answers. Kept for the protocol's sake.
        return RequestSpec("GET", self.base_url + "/api/models", headers=self.headers())

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
            if is_waf(data):
                raise waf_error(None, data[:2000]) from None
            return StreamItem()  # junk or a truncated line: the library skips them too
        if not isinstance(payload, dict):
            return StreamItem()
        return event_item(payload)

    def parse_completion(self, body: Any) -> ChatCompletion:
        if isinstance(body, (str, bytes)):
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            if is_waf(text):
                raise waf_error(200, text[:2000])
            if is_html(text):
                raise page_error(200, text)
            raise APIStatusError(
                f"chat.qwen.ai answered with something that is not JSON: {text.strip()[:120]!r}", body=text
            )
        if not isinstance(body, dict):
            raise APIStatusError("chat.qwen.ai answered with JSON that is not an object", body=body)
        raise_for_payload(body)
        choices = body.get("choices")
        if isinstance(choices, dict):  # the library's own ChatResponse shape
            choices = [choices]
        if not isinstance(choices, list):
            raise no_choices(body)
        first = choices[0] if choices and isinstance(choices[0], dict) else {}
        msg = first.get("message") or first.get("delta") or {}
        msg = msg if isinstance(msg, dict) else {}
        content = _str(msg.get("content"))
        reasoning = _str(msg.get("reasoning_content")) or None
        return ChatCompletion(
            id=_opt(body.get("id")),
            model=_opt(body.get("model")),
            choices=[
                Choice(
                    message=AssistantMessage(content=content, reasoning_content=reasoning),
                    finish_reason=_opt(first.get("finish_reason")) or "stop",
                )
            ],
            usage=usage_from(body.get("usage")),
            sources=sources_from(msg.get("extra") or first.get("extra")),
        )

    def error_from_response(self, status: int, body: bytes, headers: dict[str, str]) -> APIStatusError:
        return response_error(status, body, headers)

    def parse_models(self, body: Any) -> list[ModelInfo]:
        data = body.get("data") if isinstance(body, dict) else None
        items = data if isinstance(data, list) else []
        return [
            ModelInfo.model_validate(m) for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)
        ]

    def catalog(self) -> list[ModelInfo] | None:
        return [ModelInfo(id=m, object="model", owned_by="qwen") for m in WEB_MODELS]


if TYPE_CHECKING:  # the class describes itself as every provider must
    from qwen_cli.providers.base import Provider

    _conforms: type[Provider] = QwenWeb


# --------------------------------------------------------------------------- request body


def chat_body(req: ChatRequest) -> dict[str, Any]:
    """The JSON body the library sends (client.py:44-128), with the real history kept."""
    p = req.params
    unsupported = [n for n in _NO_FIELD if getattr(p, n) not in (None, [])]
    if p.json_mode:
        unsupported.append("json_mode")
    if unsupported:
        raise UsageError(
            f"chat.qwen.ai has no setting for {', '.join(unsupported)}",
            hint="leave it out, or use --provider dashscope",
        )
    thinking = bool(p.enable_thinking)
    feature_config = {
        "thinking_enabled": thinking,
        "thinking_budget": p.thinking_budget,
        "output_schema": "phase" if thinking else None,
    }
    chat_type = "search" if p.enable_search else "t2t"
    messages = [
        {
            "role": _ROLES[m.role],
            "content": _content(m),
            "chat_type": chat_type,
            "feature_config": dict(feature_config),
            "extra": {},
        }
        for m in req.messages
    ]
    body: dict[str, Any] = {"stream": True, "model": req.model, "incremental_output": True}
    body["messages"] = messages
    if p.temperature is not None:
        body["temperature"] = p.temperature
    if p.max_tokens is not None:
        body["max_tokens"] = p.max_tokens
    return with_extra(body, p.extra)


def _content(m: Message) -> str | list[dict[str, str]]:
    if isinstance(m.content, str):
        return m.content
    blocks: list[dict[str, str]] = []
    for part in m.content:
        if isinstance(part, ImagePart):
            url = part.image_url.url
            if not url.startswith(("http://", "https://")):
                raise UsageError(
                    "chat.qwen.ai takes images by URL only",
                    hint="upload the image first (qwen upload IMAGE --provider qwen-web --ask ...)",
                )
            blocks.append({"type": "image", "image": url})
        else:
            blocks.append({"type": "text", "text": part.text})
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        return blocks[0]["text"]  # one text block travels as a plain string
    return blocks


# --------------------------------------------------------------------------- answers


def raise_for_payload(payload: dict[str, Any]) -> None:
    """Raise the mapped error when a JSON object is an error rather than an answer."""
    if payload.get("success") is False:
        raise envelope_error(payload)
    if payload.get("error") is not None:
        raise error_from_event(payload)
    if "choices" not in payload and is_waf(json.dumps(payload, ensure_ascii=False)):
        raise waf_error(200, payload)
    if "choices" not in payload and "code" in payload and ("message" in payload or "msg" in payload):
        raise envelope_error(payload)


def no_choices(payload: dict[str, Any]) -> APIStatusError:
    shown = json.dumps(payload, ensure_ascii=False)
    return APIStatusError(
        f"chat.qwen.ai answered without `choices`: {shown[:160]}",
        code=CODE_NO_CHOICES,
        body=payload,
    )


def event_item(payload: dict[str, Any]) -> StreamItem:
    """One stream event as a chunk; errors raise, metadata events are skipped."""
    raise_for_payload(payload)
    choices = payload.get("choices")
    if isinstance(choices, dict):
        choices = [choices]
    if not isinstance(choices, list):
        if payload and all(str(k).startswith("response.") for k in payload):
            return StreamItem()  # v2 metadata: {"response.created": {...}}, keep-alives [3P]
        raise no_choices(payload)
    usage = usage_from(payload.get("usage"))
    first = choices[0] if choices and isinstance(choices[0], dict) else None
    if first is None:
        return StreamItem(chunk=ChatCompletionChunk(usage=usage)) if usage else StreamItem()
    d = first.get("delta") or first.get("message") or {}
    d = d if isinstance(d, dict) else {}
    role, phase, text = _opt(d.get("role")), _opt(d.get("phase")), _str(d.get("content"))
    thinking = phase is not None and "think" in phase.lower()
    delta = Delta(role=role)
    if role in ("function", "tool"):
        pass  # search results and tool output: never part of the answer
    elif thinking:
        delta.reasoning_content = text or _summary(d.get("extra"))
    else:
        delta.content = text
    finish = _opt(first.get("finish_reason"))
    finished = d.get("status") == "finished" and not thinking and role not in ("function", "tool")
    if finished:
        finish = finish or "stop"
    chunk = ChatCompletionChunk(
        id=_opt(payload.get("id") or payload.get("response_id")),
        model=_opt(payload.get("model")),
        choices=[ChunkChoice(delta=delta, finish_reason=finish)],
        usage=usage,
        sources=sources_from(d.get("extra")),
    )
    return StreamItem(chunk=chunk, done=finished)


def usage_from(raw: Any) -> Usage | None:
    """``{input_tokens, output_tokens, total_tokens}`` (or the OpenAI names) as our ``Usage``."""
    if not isinstance(raw, dict):
        return None
    if "prompt_tokens" in raw or "completion_tokens" in raw:
        return Usage.model_validate(raw)
    inp, out = _int(raw.get("input_tokens")), _int(raw.get("output_tokens"))
    details = raw.get("output_tokens_details")
    reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else 0
    return Usage(
        prompt_tokens=inp,
        completion_tokens=out,
        total_tokens=_int(raw.get("total_tokens")) or inp + out,
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=reasoning) if reasoning else None,
    )


def sources_from(extra: Any) -> list[SearchSource]:
    info = extra.get("web_search_info") if isinstance(extra, dict) else None
    if not isinstance(info, list):
        return []
    return [
        SearchSource(
            url=_opt(item.get("url")),
            title=_opt(item.get("title")),
            snippet=_opt(item.get("snippet")),
            hostname=_opt(item.get("hostname")),
            date=_opt(str(item.get("date") or "").strip(" ()")),
        )
        for item in info
        if isinstance(item, dict)
    ]


def _summary(extra: Any) -> str:
    """v2's ``thinking_summary``: the thought so far, repeated in full each time [3P]."""
    thought = extra.get("summary_thought") if isinstance(extra, dict) else None
    lines = thought.get("content") if isinstance(thought, dict) else None
    if isinstance(lines, list):
        return "\n".join(str(x) for x in lines)
    return ""


def _str(v: Any) -> str:
    return clean_text(v) if isinstance(v, str) else ""


def _opt(v: Any) -> str | None:
    return clean_text(str(v)) if v not in (None, "") else None


def _int(v: Any) -> int:
    try:
        return max(0, int(v))
    except (TypeError, ValueError, OverflowError):  # "lots", NaN, 1e400
        return 0


def is_own_host(host: str) -> bool:
    """chat.qwen.ai's own host: where the token and cookie were issued."""
    return host.lower().rstrip(".") == (urlsplit(WEB_BASE_URL).hostname or "")
