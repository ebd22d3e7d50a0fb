"""Wire types: what we send (strict) and what we accept (tolerant).

Request models forbid unknown fields so a typo in our own code fails loudly;
response models allow them, because OpenAI-compatible servers add fields.
They are records (``record.py``), not pydantic models: a short answer must not pay for pydantic.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from qwen_cli.record import Record, Repairs, Strict, Tolerant, ValidationError
from qwen_cli.structs import field, struct
from qwen_cli.utf8 import clean_text

if TYPE_CHECKING:
    from qwen_cli.errors import QwenAPIError


# --------------------------------------------------------------------------- request


class CacheControl(Strict):
    """Marks the end of a prefix for DashScope's explicit context cache; only ``ephemeral`` exists."""

    type: Literal["ephemeral"] = "ephemeral"


class TextPart(Strict):
    type: Literal["text"] = "text"
    text: str
    cache_control: CacheControl | None = None


class ImageURL(Strict):
    url: str


class ImagePart(Strict):
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


ContentPart = TextPart | ImagePart


class FunctionCall(Strict):
    name: str = ""
    arguments: str = ""  # JSON text exactly as the model wrote it: never stripped or re-serialised


class ToolCall(Strict):
    """A call the model asked for; sent back as is on the assistant message that carried it."""

    id: str = ""
    type: str = "function"
    function: FunctionCall = field(default_factory=FunctionCall)


class Message(Strict):
    """One message of a request.

    An assistant message may carry the ``tool_calls`` the model made (its content is then
    often ``""``); each result goes back as a ``tool`` message naming its ``tool_call_id``.
    """

    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[ContentPart]
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def _check(self) -> None:
        if self.tool_calls is not None and self.role != "assistant":
            raise ValidationError("only an assistant message carries tool_calls")
        if self.tool_call_id is not None and self.role != "tool":
            raise ValidationError("only a tool message carries a tool_call_id")

    @property
    def text(self) -> str:
        """The message's text, whatever its shape."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


class ChatParams(Strict):
    """Sampling and feature options; ``None`` means "let the server decide"."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    enable_thinking: bool | None = None
    thinking_budget: int | None = None
    enable_search: bool | None = None
    search_options: dict[str, Any] | None = None  # DashScope's web-search options (native wire)
    json_mode: bool = False
    translation_options: dict[str, Any] | None = None  # Qwen-MT: languages, terms, tm_list, domains
    # Structured output: ``{"type": "json_schema", "json_schema": {...}}`` (wins over json_mode)
    response_format: dict[str, Any] | None = None
    # Tool calling, OpenAI-style: ``[{"type": "function", "function": {name, description, parameters}}]``
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None  # "auto", "none", or one function by name
    parallel_tool_calls: bool | None = None
    # any other request field, as given (``-o top_k 20``): merged into the body by the provider
    extra: dict[str, Any] = field(default_factory=dict)


class ChatRequest(Strict):
    model: str
    messages: list[Message]
    stream: bool = True
    params: ChatParams = field(default_factory=ChatParams)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def cache_marked(self) -> bool:
        """Some content carries a ``cache_control`` marker: a cache hit is then an explicit one."""
        return any(
            isinstance(p, TextPart) and p.cache_control is not None
            for m in self.messages
            if not isinstance(m.content, str)
            for p in m.content
        )


# --------------------------------------------------------------------------- response
#
# Tolerant in: a field the CLI does not need is optional and takes any value; a field it reads
# is repaired when it has the wrong type (a number where text belongs becomes text, a count
# that is not a whole non-negative number is dropped, a lone UTF-16 surrogate becomes U+FFFD),
# so one odd chunk from a compatible server never ends an answer.
#
# Each field the CLI reads has a repair (``_repairs``) that reads it whatever its shape; the
# others take their declared type, or anything when declared ``Any``.


def _text(v: Any) -> str | None:
    if isinstance(v, str):
        return clean_text(v)
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return str(v) if not isinstance(v, float) or math.isfinite(v) else None
    return None


def _content(v: Any) -> str | None:
    """Answer text: a string, a number, or a list of text parts (``[{"type": "text", ...}]``)."""
    if isinstance(v, list):
        texts = [_text(p.get("text")) if isinstance(p, dict) else _text(p) for p in v]
        return "".join(t for t in texts if t) or None
    return _text(v)


def _count(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        v = int(v)
    if isinstance(v, str) and v.strip().isdigit():
        v = int(v)
    return v if isinstance(v, int) and v >= 0 else None


def _count0(v: Any) -> int:
    return _count(v) or 0


def _objects(v: Any) -> list[Any]:
    if isinstance(v, (dict, Record)):
        v = [v]
    return [x for x in v if isinstance(x, (dict, Record))] if isinstance(v, list) else []


def _nested(model: type[Tolerant]) -> Callable[[Any], Any]:
    """A nested record read from an object (``None`` from anything else)."""

    def read(v: Any) -> Any:
        v = model._input(v)
        return model.model_validate(v) if isinstance(v, (dict, Record)) else None

    return read


def _nested_always(model: type[Tolerant]) -> Callable[[Any], Any]:
    """A nested record read from an object, an empty one from anything else."""
    read = _nested(model)
    return lambda v: read(v) or model()


def _nested_list(model: type[Tolerant]) -> Callable[[Any], list[Any]]:
    read = _nested(model)
    return lambda v: [read(x) for x in _objects(v)]


class PromptTokensDetails(Tolerant):
    cached_tokens: int | None = None
    cache_creation_input_tokens: int | None = None  # written to the explicit cache (DashScope)
    cache_creation: Any = None  # the same, by kind: {"ephemeral_5m_input_tokens": N}
    _repairs: ClassVar[Repairs] = {"cached_tokens": _count, "cache_creation_input_tokens": _count}


class CompletionTokensDetails(Tolerant):
    reasoning_tokens: int | None = None
    _repairs: ClassVar[Repairs] = {"reasoning_tokens": _count}


class Usage(Tolerant):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    _repairs: ClassVar[Repairs] = {
        "prompt_tokens": _count0,
        "completion_tokens": _count0,
        "total_tokens": _count0,
        "prompt_tokens_details": _nested(PromptTokensDetails),
        "completion_tokens_details": _nested(CompletionTokensDetails),
    }

    @property
    def cached_tokens(self) -> int | None:
        """Prompt tokens read from a cache; some DashScope models report them at the top level."""
        d = self.prompt_tokens_details
        if d is not None and d.cached_tokens is not None:
            return d.cached_tokens
        return _count((self.model_extra or {}).get("cached_tokens"))

    @property
    def cache_creation_tokens(self) -> int | None:
        """Prompt tokens written to the cache (billed above the input price)."""
        d = self.prompt_tokens_details
        if d is None:
            return None
        if d.cache_creation_input_tokens is not None:
            return d.cache_creation_input_tokens
        if isinstance(d.cache_creation, dict):
            counts = [n for n in map(_count, d.cache_creation.values()) if n is not None]
            return sum(counts) if counts else None
        return None

    @property
    def reasoning_tokens(self) -> int | None:
        d = self.completion_tokens_details
        return d.reasoning_tokens if d else None


class SearchSource(Tolerant):
    """One web-search result reported alongside an answer; ``index`` is the N of the answer's
    ``[ref_N]`` markers, ``site`` the site's name as the server gives it."""

    index: int | None = None
    url: str | None = None
    title: str | None = None
    snippet: str | None = None
    hostname: str | None = None
    site: str | None = None
    date: str | None = None
    _repairs: ClassVar[Repairs] = {
        "index": _count,
        **dict.fromkeys(("url", "title", "snippet", "hostname", "site", "date"), _text),
    }


class FunctionDelta(Tolerant):
    name: str | None = None
    arguments: Any = None  # a piece of the JSON text; null, missing or an object are tolerated
    _repairs: ClassVar[Repairs] = {"name": _text}


class ToolCallDelta(Tolerant):
    """A tool call as the wire has it: whole in a message, a fragment in a stream delta.

    In a stream the first fragment of a call carries its ``id``, ``type`` and
    ``function.name``; later ones (``id: ""``) add to ``function.arguments``. ``index``
    says which call a fragment belongs to.
    """

    index: Any = None
    id: str | None = None
    type: str | None = None
    function: FunctionDelta | None = None
    _repairs: ClassVar[Repairs] = {"id": _text, "type": _text, "function": _nested(FunctionDelta)}


class Delta(Tolerant):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    _repairs: ClassVar[Repairs] = {
        "role": _text,
        "content": _content,
        "reasoning_content": _content,
        "tool_calls": _nested_list(ToolCallDelta),
    }

    @classmethod
    def _input(cls, data: Any) -> Any:
        return {"content": data} if isinstance(data, str) else data  # some servers send the text itself


class ChunkChoice(Tolerant):
    index: Any = 0
    delta: Delta = field(default_factory=Delta)
    finish_reason: str | None = None
    _repairs: ClassVar[Repairs] = {"delta": _nested_always(Delta), "finish_reason": _text}


class ChatCompletionChunk(Tolerant):
    id: str | None = None
    model: str | None = None
    created: Any = None
    object: Any = None
    choices: list[ChunkChoice] = field(default_factory=list)
    usage: Usage | None = None
    sources: list[SearchSource] = field(default_factory=list)
    _repairs: ClassVar[Repairs] = {
        "id": _text,
        "model": _text,
        "choices": _nested_list(ChunkChoice),
        "usage": _nested(Usage),
        "sources": _nested_list(SearchSource),
    }

    @property
    def delta(self) -> Delta:
        return self.choices[0].delta if self.choices else Delta()


class AssistantMessage(Tolerant):
    role: Any = "assistant"
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    _repairs: ClassVar[Repairs] = {
        "content": _content,
        "reasoning_content": _content,
        "tool_calls": _nested_list(ToolCallDelta),
    }


class Choice(Tolerant):
    index: Any = 0
    message: AssistantMessage = field(default_factory=AssistantMessage)
    finish_reason: str | None = None
    _repairs: ClassVar[Repairs] = {"message": _nested_always(AssistantMessage), "finish_reason": _text}


class ChatCompletion(Tolerant):
    id: str | None = None
    model: str | None = None
    created: Any = None
    object: Any = None
    choices: list[Choice] = field(default_factory=list)
    usage: Usage | None = None
    request_id: str | None = None
    sources: list[SearchSource] = field(default_factory=list)
    _repairs: ClassVar[Repairs] = {
        "id": _text,
        "model": _text,
        "choices": _nested_list(Choice),
        "usage": _nested(Usage),
        "request_id": _text,
        "sources": _nested_list(SearchSource),
    }
    _result: AnswerResult | None = None

    @classmethod
    def of_result(cls, r: AnswerResult) -> ChatCompletion:
        """``r`` in the response's shape (``choices[0].message``); ``.result`` is ``r`` itself."""
        calls = [
            ToolCallDelta(index=i, id=c.id, type=c.type, function=FunctionDelta(**c.function.model_dump()))
            for i, c in enumerate(r.tool_calls)
        ]
        message = AssistantMessage(
            content=r.content, reasoning_content=r.reasoning or None, tool_calls=calls or None
        )
        c = cls(
            id=r.id,
            model=r.model or None,
            choices=[Choice(message=message, finish_reason=r.finish_reason)],
            usage=r.usage,
            request_id=r.request_id,
            sources=list(r.sources),
        )
        c._result = r
        return c

    @property
    def result(self) -> AnswerResult:
        """The answer as one :class:`AnswerResult` (made on first use, then the same object)."""
        if self._result is None:
            self._result = result_of(self)
        return self._result

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.result.tool_calls

    @property
    def content(self) -> str:
        return (self.choices[0].message.content or "") if self.choices else ""

    @property
    def reasoning(self) -> str:
        return (self.choices[0].message.reasoning_content or "") if self.choices else ""

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason if self.choices else None


class CompletionChoice(Tolerant):
    index: int = 0
    text: str = ""
    finish_reason: str | None = None


class Completion(Tolerant):
    """The ``completion.create(prompt=...)`` result: ``choices[0].text``."""

    id: str | None = None
    model: str | None = None
    choices: list[CompletionChoice] = field(default_factory=list)
    usage: Usage | None = None
    request_id: str | None = None


class ModelInfo(Tolerant):
    id: str
    object: Any = None
    created: Any = None  # an int (DashScope), a float (transformers serve) or missing (llama.cpp)
    owned_by: str | None = None
    _repairs: ClassVar[Repairs] = {"owned_by": _text}


class FileObject(Tolerant):
    """A file stored by the Files API (``POST /files``, ``GET /files``)."""

    id: str
    object: Any = None
    bytes: int | None = None
    created_at: int | None = None
    filename: str | None = None
    purpose: str | None = None
    status: str | None = None
    status_details: Any = None
    _repairs: ClassVar[Repairs] = {
        "bytes": _count,
        "created_at": _count,
        "filename": _text,
        "purpose": _text,
        "status": _text,
    }


class UploadPolicy(Tolerant):
    """DashScope's temporary-upload policy (``GET /api/v1/uploads?action=getPolicy``)."""

    policy: str
    signature: str
    upload_dir: str
    upload_host: str
    oss_access_key_id: str
    expire_in_seconds: int | None = None
    max_file_size_mb: float | None = None
    capacity_limit_mb: float | None = None
    x_oss_object_acl: str = "private"
    x_oss_forbid_overwrite: str = "true"


# --------------------------------------------------------------------------- the result


AnswerState = Literal["complete", "interrupted", "error"]


@struct
class AnswerResult:
    """One answer, from the socket to the store: what arrived, how it ended, what it cost.

    A stream accumulates straight into it (``StreamCore``); a whole response maps to it in
    :func:`result_of`; the store writes it as it is. ``state`` says how it ended: complete,
    interrupted (Ctrl-C, or stdout's reader went away) or error (``error`` says which; the
    text received until then is kept).
    """

    content: str = ""
    reasoning: str = ""
    model: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    request_id: str | None = None
    elapsed: float = 0.0  # seconds from sending the request to the last byte
    first_token_at: float | None = None  # seconds from sending to the first text or tool call
    interrupted: bool = False
    output_closed: bool = False  # stdout's reader went away (`qwen complete ... | head -1`)
    error: QwenAPIError | None = None
    sources: list[SearchSource] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    done: bool = False  # the stream reached its end (an end marker or a whole response)

    @property
    def state(self) -> AnswerState:
        if self.interrupted or self.output_closed:
            return "interrupted"
        return "error" if self.error is not None else "complete"

    def message(self) -> Message:
        """The answer as the assistant message to send back on a later request."""
        return Message(role="assistant", content=self.content, tool_calls=list(self.tool_calls) or None)

    def as_json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.tool_calls:
            extra["tool_calls"] = [c.model_dump(mode="json") for c in self.tool_calls]
        if self.sources:  # web search, when it ran
            extra["sources"] = [s.model_dump(mode="json", exclude_none=True) for s in self.sources]
        return {
            "id": self.id,
            "model": self.model,
            "content": self.content,
            "reasoning": self.reasoning or None,
            "finish_reason": self.finish_reason,
            "usage": self.usage.model_dump(mode="json", exclude_none=True) if self.usage else None,
            "request_id": self.request_id,
            **extra,
        }


def cut_note(finish_reason: str | None, max_tokens: int | None = None) -> str | None:
    """How an answer that did not end by itself ended, in words; ``None`` when it did.

    ``length``: the token limit cut it (``--max-tokens`` when one was set, else the model's own
    output limit); ``content_filter``: the provider's filter stopped it. The one rule behind the
    stderr note, the footer, ``/history`` and ``qwen history show``.
    """
    if finish_reason == "length":
        return f"cut at --max-tokens {max_tokens}" if max_tokens else "cut at the model's output limit"
    if finish_reason == "content_filter":
        return "stopped by the content filter"
    return None


def result_of(c: ChatCompletion) -> AnswerResult:
    """A whole (non-streamed) response as the one result type."""
    msg = c.choices[0].message if c.choices else AssistantMessage()
    return AnswerResult(
        content=msg.content or "",
        reasoning=msg.reasoning_content or "",
        model=c.model or "",
        finish_reason=c.finish_reason,
        usage=c.usage,
        id=c.id,
        request_id=c.request_id,
        sources=list(c.sources),
        tool_calls=[whole_tool_call(t) for t in msg.tool_calls or ()],
        done=True,
    )


def whole_tool_call(t: ToolCallDelta) -> ToolCall:
    """A tool call of a whole response (not a stream fragment)."""
    fn = t.function or FunctionDelta()
    return ToolCall(
        id=t.id or "",
        type=t.type or "function",
        function=FunctionCall(name=fn.name or "", arguments=arguments_text(fn.arguments)),
    )


def arguments_text(value: Any) -> str:
    """Argument text as sent: a string verbatim, nothing for null, an object as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def dump_json_safe(obj: Record) -> dict[str, Any]:
    """A model as plain JSON data, unknown fields included."""
    return obj.model_dump(mode="json", exclude_none=True)
