"""DashScope / Model Studio, native protocol (the one the official ``dashscope`` SDK speaks).

Same keys, regions and hosts as the compatible mode (the class shares them by inheritance and
``account``); only the wire differs. Wire facts: ../shared/protocol/dashscope.md section g and
dashscope-more.md ("Web search with sources").

* ``POST {host}/api/v1/services/aigc/text-generation/generation`` (text) or
  ``.../multimodal-generation/generation`` (a request with an image); body
  ``{"model", "input": {"messages"}, "parameters": {...}}``, every option of
  :class:`~qwen_cli.types.ChatParams` inside ``parameters`` under its own name (so a new option
  needs no code here), always ``result_format: message`` and ``incremental_output: true``.
* Streams: SSE asked for with ``X-DashScope-SSE: enable``; frames ``id:`` / ``event:result`` /
  ``:HTTP_STATUS/200`` / ``data:{...}``, no ``[DONE]``: the answer ends with a
  ``finish_reason`` other than the string ``"null"``. Usage is cumulative in every event.
* Errors: ``{"code", "message", "request_id"}`` with the HTTP status, or mid-stream an
  ``event:error`` frame carrying the same object; both map onto the same error classes.
* Web search: ``enable_search`` plus ``search_options`` (``enable_source``/``enable_citation``
  added here); the first chunk's ``output.search_info.search_results`` become ``sources``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from qwen_cli.errors import CODE_NO_OUTPUT, APIStatusError, BadResponseError, error_from_event, loads_json
from qwen_cli.providers.base import Capabilities, RequestSpec, StreamItem
from qwen_cli.providers.dashscope import DashScope, not_json, unreadable
from qwen_cli.record import ValidationError
from qwen_cli.sse import ServerSentEvent
from qwen_cli.types import ChatCompletion, ChatCompletionChunk, ChatRequest, ImagePart, Message

TEXT_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
CITATION_FORMAT = "[ref_<number>]"
# Where a region's (compatible-mode) base URL ends; the native paths hang off what is left.
_API_SUFFIXES = ("/compatible-mode/v1", "/api/v1")
# A mid-stream error frame says its status only in a comment line (dropped by the decoder):
# the status of the codes that need one to be classified [INF, from the HTTP answers' table].
_CODE_STATUS = (("InvalidParameter", 400), ("InternalError", 500), ("ServiceUnavailable", 503))


class DashScopeNative(DashScope):
    name: ClassVar[str] = "dashscope-native"
    account: ClassVar[str] = "dashscope"  # its keys, regions and model list are DashScope's
    capabilities: ClassVar[Capabilities] = Capabilities(
        model_list="server", files_api=True, temporary_upload=True, search_sources=True, batch=True
    )
    end_marker_required = True  # no [DONE]: a finish_reason ends the answer; a cut before is not one

    @classmethod
    def create(cls, *, base_url: str, api_key: str | None, cookie: str | None) -> DashScopeNative:
        return cls(base_url=base_url, api_key=api_key)

    @property
    def root(self) -> str:
        """The host part of the base URL, where the native paths begin."""
        return native_root(self.base_url)

    def chat_request(self, req: ChatRequest) -> RequestSpec:
        multimodal = any(_has_image(m) for m in req.messages)
        headers = {**self.headers(stream=req.stream), "Content-Type": "application/json; charset=utf-8"}
        if req.stream:
            headers |= {"X-DashScope-SSE": "enable", "X-Accel-Buffering": "no"}
        return RequestSpec(
            "POST",
            self.root + (MULTIMODAL_PATH if multimodal else TEXT_PATH),
            headers={**headers, **req.headers},
            json=native_body(req, multimodal=multimodal),
        )

    def models_request(self) -> RequestSpec:
        # The native API has no model list; the compatible one of the same host answers.
        return RequestSpec("GET", f"{self.root}/compatible-mode/v1/models", headers=self.headers())

    # ------------------------------------------------------------------ answers

    def parse_event(self, event: ServerSentEvent) -> StreamItem:
        data = event.data.strip()
        if not data:
            return StreamItem()
        try:
            payload = loads_json(data)
        except ValueError:
            if event.event == "error":
                raise native_error({"message": data[:300]}) from None
            return StreamItem()  # junk between events: skipped
        if not isinstance(payload, dict):
            return StreamItem()
        if event.event == "error" or _is_error(payload):
            raise native_error(payload)
        try:
            return StreamItem(chunk=ChatCompletionChunk.model_validate(chunk_data(payload)))
        except ValidationError:
            return StreamItem()

    def parse_completion(self, body: Any) -> ChatCompletion:
        if not isinstance(body, dict):
            raise not_json(body)
        if _is_error(body):
            raise native_error(body)
        output = body.get("output")
        if not isinstance(output, dict):
            raise BadResponseError(
                "the server's answer has no readable `output` field",
                code=CODE_NO_OUTPUT,
                body=body,
            )
        chunk = chunk_data(body)
        data = {
            "id": chunk["id"],
            "request_id": chunk["id"],
            "usage": chunk["usage"],
            "sources": chunk["sources"],
            "choices": [
                {"message": c["delta"], "finish_reason": c["finish_reason"], "index": c["index"]}
                for c in chunk["choices"]
            ],
        }
        try:
            return ChatCompletion.model_validate(data)
        except ValidationError as exc:
            raise unreadable(exc, body) from None


if TYPE_CHECKING:
    from qwen_cli.providers.base import Provider

    _conforms: type[Provider] = DashScopeNative


# --------------------------------------------------------------------------- requests


def native_root(base_url: str) -> str:
    """``https://host`` of ``https://host/compatible-mode/v1`` (or ``/api/v1``); any other URL
    (a gateway) is taken as the root itself."""
    url = base_url.rstrip("/")
    for suffix in _API_SUFFIXES:
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def native_body(req: ChatRequest, *, multimodal: bool = False) -> dict[str, Any]:
    """The JSON body of a native generation request."""
    parameters: dict[str, Any] = {"result_format": "message", "incremental_output": True}
    for name, value in req.params:  # every option by its own name, inside `parameters`
        if value is None or value == [] or (value is False and name == "json_mode"):
            continue
        if name == "json_mode":
            parameters.setdefault("response_format", {"type": "json_object"})
        elif name in ("search_options", "extra"):
            continue  # below, with what only this protocol adds; `-o` fields last, they win
        else:
            parameters[name] = value
    if req.params.enable_search:
        parameters["search_options"] = search_options(req.params.search_options)
    parameters.update(req.params.extra)  # `-o KEY=VALUE`: any other field, inside `parameters`
    return {
        "model": req.model,
        "input": {"messages": [native_message(m, multimodal=multimodal) for m in req.messages]},
        "parameters": parameters,
    }


def search_options(given: dict[str, Any] | None) -> dict[str, Any]:
    """The options asked for, with the sources (and the ``[ref_N]`` citations) switched on.
    The ``agent`` strategies take only ``enable_source`` [DOC zh]."""
    options: dict[str, Any] = {"enable_source": True}
    strategy = str((given or {}).get("search_strategy") or "")
    if not strategy.startswith("agent"):
        options |= {"enable_citation": True, "citation_format": CITATION_FORMAT}
    return options | dict(given or {})


def native_message(m: Message, *, multimodal: bool) -> dict[str, Any]:
    """A message as the native API takes it: text models take the compatible shape (content
    parts passed through, ``cache_control`` included); multimodal ones a list of
    ``{"text"}`` / ``{"image"}`` items."""
    d = m.model_dump(exclude_none=True)
    if not multimodal:
        return d
    if isinstance(m.content, str):
        d["content"] = [{"text": m.content}]
    else:
        items = []
        for part in d["content"]:
            kind = part.pop("type", None)
            if kind == "image_url":
                items.append({"image": part["image_url"]["url"]})
            else:
                items.append(part)  # {"text": ...} and whatever rides along (cache_control)
        d["content"] = items
    return d


def _has_image(m: Message) -> bool:
    return not isinstance(m.content, str) and any(isinstance(p, ImagePart) for p in m.content)


# --------------------------------------------------------------------------- answers


def _is_error(payload: dict[str, Any]) -> bool:
    return payload.get("error") is not None or (bool(payload.get("code")) and payload.get("output") is None)


def native_error(payload: dict[str, Any]) -> APIStatusError:
    """A native error object (``{"code", "message", "request_id"}``) as one of our errors."""
    if payload.get("error") is not None:
        return error_from_event(payload)
    code = payload.get("code")
    status = payload.get("status_code")
    if not isinstance(status, int):
        status = next((s for prefix, s in _CODE_STATUS if str(code or "").startswith(prefix)), None)
    err = {"code": code, "message": payload.get("message"), "status": status}
    return error_from_event({"error": err, "request_id": payload.get("request_id")})


def _text(content: Any) -> str | None:
    """Message content as text: multimodal answers carry a list of ``{"text": ...}``."""
    if isinstance(content, list):
        return "".join(str(c.get("text") or "") for c in content if isinstance(c, dict))
    return content if content is None or isinstance(content, str) else str(content)


def chunk_data(payload: dict[str, Any]) -> dict[str, Any]:
    """A native answer (an event or a whole response) in the compatible chunk's shape."""
    output = payload.get("output")
    output = output if isinstance(output, dict) else {}
    choices: list[dict[str, Any]] = []
    raw = output.get("choices")
    if isinstance(raw, list):
        for i, c in enumerate(raw):
            if not isinstance(c, dict):
                continue
            msg: dict[str, Any] = c["message"] if isinstance(c.get("message"), dict) else {}
            delta = {k: v for k, v in msg.items() if k in ("role", "tool_calls", "reasoning_content")}
            delta["content"] = _text(msg.get("content"))
            choices.append({"index": i, "delta": delta, "finish_reason": _finish(c.get("finish_reason"))})
    elif "text" in output:  # result_format "text", should a server ignore ours
        delta = {"content": _text(output.get("text"))}
        choices.append({"index": 0, "delta": delta, "finish_reason": _finish(output.get("finish_reason"))})
    return {
        "id": payload.get("request_id"),
        "choices": choices,
        "usage": usage_data(payload.get("usage")),
        "sources": sources_data(output.get("search_info")),
    }


def _finish(value: Any) -> Any:
    return None if value in (None, "", "null") else value


def usage_data(usage: Any) -> dict[str, Any] | None:
    """Native usage (input/output tokens, their details) under the compatible names; other
    fields (``plugins`` when a search ran, image tokens) ride along."""
    if not isinstance(usage, dict):
        return None
    u = dict(usage)
    renames = {
        "input_tokens": "prompt_tokens",
        "output_tokens": "completion_tokens",
        "output_tokens_details": "completion_tokens_details",
        "input_tokens_details": "prompt_tokens_details",
    }
    for old, new in renames.items():
        if old in u:
            value = u.pop(old)
            u.setdefault(new, value)
    if "total_tokens" not in u:
        counts = [u.get("prompt_tokens"), u.get("completion_tokens")]
        u["total_tokens"] = sum(n for n in counts if isinstance(n, int))
    return u


def sources_data(info: Any) -> list[dict[str, Any]]:
    """``search_info.search_results`` as our sources: index, title, URL, site name, host."""
    results = info.get("search_results") if isinstance(info, dict) else None
    if not isinstance(results, list):
        return []
    out = []
    for r in results:
        if not isinstance(r, dict):
            continue
        url = r.get("url") if isinstance(r.get("url"), str) else None
        out.append(
            {
                "index": r.get("index"),
                "title": r.get("title"),
                "url": url,
                "site": r.get("site_name"),
                "hostname": urlsplit(url).hostname if url else None,
            }
        )
    return out
