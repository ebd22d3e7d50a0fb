"""Wire types: what we send (strict) and what we accept (tolerant).

Request models forbid unknown fields so a typo in our own code fails loudly;
response models allow them, because OpenAI-compatible servers add fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

if TYPE_CHECKING:
    from qwen_cli.errors import QwenAPIError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow")


# --------------------------------------------------------------------------- request


class TextPart(_Strict):
    type: Literal["text"] = "text"
    text: str


class ImageURL(_Strict):
    url: str


class ImagePart(_Strict):
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


ContentPart = TextPart | ImagePart


class FunctionCall(_Strict):
    name: str = ""
    arguments: str = ""  # JSON text exactly as the model wrote it: never stripped or re-serialised


class ToolCall(_Strict):
    """A call the model asked for; sent back as is on the assistant message that carried it."""

    id: str = ""
    type: str = "function"
    function: FunctionCall = Field(default_factory=FunctionCall)


class Message(_Strict):
    """One message of a request.

    An assistant message may carry the ``tool_calls`` the model made (its content is then
    often ``""``); each result goes back as a ``tool`` message naming its ``tool_call_id``.
    """

    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[ContentPart]
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _tool_fields_fit_the_role(self) -> Message:
        if self.tool_calls is not None and self.role != "assistant":
            raise ValueError("only an assistant message carries tool_calls")
        if self.tool_call_id is not None and self.role != "tool":
            raise ValueError("only a tool message carries a tool_call_id")
        return self

    @property
    def text(self) -> str:
        """The message's text, whatever its shape."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


class ChatParams(_Strict):
    """Sampling and feature options; ``None`` means "let the server decide"."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    enable_thinking: bool | None = None
    thinking_budget: int | None = None
    enable_search: bool | None = None
    json_mode: bool = False


class ChatRequest(_Strict):
    model: str
    messages: list[Message]
    stream: bool = True
    params: ChatParams = Field(default_factory=ChatParams)
    headers: dict[str, str] = Field(default_factory=dict)


# --------------------------------------------------------------------------- response


class PromptTokensDetails(_Tolerant):
    cached_tokens: int | None = None
    cache_creation_input_tokens: int | None = None  # written to the explicit cache (DashScope)
    cache_creation: Any = None  # the same, by kind: {"ephemeral_5m_input_tokens": N}


class CompletionTokensDetails(_Tolerant):
    reasoning_tokens: int | None = None


class Usage(_Tolerant):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None

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


class SearchSource(_Tolerant):
    """One web-search result reported alongside an answer."""

    url: str | None = None
    title: str | None = None
    snippet: str | None = None
    hostname: str | None = None
    date: str | None = None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class FunctionDelta(_Tolerant):
    name: str | None = None
    arguments: Any = None  # a piece of the JSON text; null, missing or an object are tolerated


class ToolCallDelta(_Tolerant):
    """A tool call as the wire has it: whole in a message, a fragment in a stream delta.

    In a stream the first fragment of a call carries its ``id``, ``type`` and
    ``function.name``; later ones (``id: ""``) add to ``function.arguments``. ``index``
    says which call a fragment belongs to.
    """

    index: Any = None
    id: str | None = None
    type: str | None = None
    function: FunctionDelta | None = None


class Delta(_Tolerant):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(_Tolerant):
    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None


class ChatCompletionChunk(_Tolerant):
    id: str | None = None
    model: str | None = None
    created: int | None = None
    object: str | None = None
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None
    sources: list[SearchSource] = Field(default_factory=list)

    @property
    def delta(self) -> Delta:
        return self.choices[0].delta if self.choices else Delta()


class AssistantMessage(_Tolerant):
    role: str = "assistant"
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class Choice(_Tolerant):
    index: int = 0
    message: AssistantMessage = Field(default_factory=AssistantMessage)
    finish_reason: str | None = None


class ChatCompletion(_Tolerant):
    id: str | None = None
    model: str | None = None
    created: int | None = None
    object: str | None = None
    choices: list[Choice] = Field(default_factory=list)
    usage: Usage | None = None
    request_id: str | None = None
    sources: list[SearchSource] = Field(default_factory=list)
    _result: AnswerResult | None = PrivateAttr(default=None)

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


class CompletionChoice(_Tolerant):
    index: int = 0
    text: str = ""
    finish_reason: str | None = None


class Completion(_Tolerant):
    """The ``completion.create(prompt=...)`` result: ``choices[0].text``."""

    id: str | None = None
    model: str | None = None
    choices: list[CompletionChoice] = Field(default_factory=list)
    usage: Usage | None = None
    request_id: str | None = None


class ModelInfo(_Tolerant):
    id: str
    object: str | None = None
    created: int | None = None
    owned_by: str | None = None


class FileObject(_Tolerant):
    """A file stored by the Files API (``POST /files``, ``GET /files``)."""

    id: str
    object: str | None = None
    bytes: int | None = None
    created_at: int | None = None
    filename: str | None = None
    purpose: str | None = None
    status: str | None = None
    status_details: Any = None


class UploadPolicy(_Tolerant):
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


@dataclass
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


def dump_json_safe(obj: BaseModel) -> dict[str, Any]:
    """A model as plain JSON data, unknown fields included."""
    return obj.model_dump(mode="json", exclude_none=True)
