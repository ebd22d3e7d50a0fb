"""Wire types: what we send (strict) and what we accept (tolerant).

Request models forbid unknown fields so a typo in our own code fails loudly;
response models allow them, because OpenAI-compatible servers add fields.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from qwen_cli.utf8 import clean_text


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


class Message(_Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[ContentPart]
    name: str | None = None

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
#
# Tolerant in: a field the CLI does not need is optional and takes any value; a field it reads
# is repaired when it has the wrong type (a number where text belongs becomes text, a count
# that is not a whole non-negative number is dropped, a lone UTF-16 surrogate becomes U+FFFD),
# so one odd chunk from a compatible server never ends an answer.


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


def _object(v: Any) -> Any:
    return v if isinstance(v, (dict, BaseModel)) else None


def _objects(v: Any) -> list[Any]:
    if isinstance(v, (dict, BaseModel)):
        v = [v]
    return [x for x in v if isinstance(x, (dict, BaseModel))] if isinstance(v, list) else []


def _delta(v: Any) -> Any:
    if isinstance(v, str):
        return {"content": v}  # some servers send the text itself
    return v if isinstance(v, (dict, BaseModel)) else {}


Text = Annotated[str | None, BeforeValidator(_text)]
Content = Annotated[str | None, BeforeValidator(_content)]
Count = Annotated[int | None, BeforeValidator(_count)]


class PromptTokensDetails(_Tolerant):
    cached_tokens: Count = None


class CompletionTokensDetails(_Tolerant):
    reasoning_tokens: Count = None


class Usage(_Tolerant):
    prompt_tokens: Annotated[int, BeforeValidator(lambda v: _count(v) or 0)] = 0
    completion_tokens: Annotated[int, BeforeValidator(lambda v: _count(v) or 0)] = 0
    total_tokens: Annotated[int, BeforeValidator(lambda v: _count(v) or 0)] = 0
    prompt_tokens_details: Annotated[PromptTokensDetails | None, BeforeValidator(_object)] = None
    completion_tokens_details: Annotated[CompletionTokensDetails | None, BeforeValidator(_object)] = None

    @property
    def cached_tokens(self) -> int | None:
        d = self.prompt_tokens_details
        return d.cached_tokens if d else None

    @property
    def reasoning_tokens(self) -> int | None:
        d = self.completion_tokens_details
        return d.reasoning_tokens if d else None


class SearchSource(_Tolerant):
    """One web-search result reported alongside an answer."""

    url: Text = None
    title: Text = None
    snippet: Text = None
    hostname: Text = None
    date: Text = None


class Delta(_Tolerant):
    role: Text = None
    content: Content = None
    reasoning_content: Content = None


class ChunkChoice(_Tolerant):
    index: Any = 0
    delta: Annotated[Delta, BeforeValidator(_delta)] = Field(default_factory=Delta)
    finish_reason: Text = None


class ChatCompletionChunk(_Tolerant):
    id: Text = None
    model: Text = None
    created: Any = None
    object: Any = None
    choices: Annotated[list[ChunkChoice], BeforeValidator(_objects)] = Field(default_factory=list)
    usage: Annotated[Usage | None, BeforeValidator(_object)] = None
    sources: Annotated[list[SearchSource], BeforeValidator(_objects)] = Field(default_factory=list)

    @property
    def delta(self) -> Delta:
        return self.choices[0].delta if self.choices else Delta()


class AssistantMessage(_Tolerant):
    role: Any = "assistant"
    content: Content = None
    reasoning_content: Content = None


class Choice(_Tolerant):
    index: Any = 0
    message: Annotated[AssistantMessage, BeforeValidator(lambda v: _object(v) or {})] = Field(
        default_factory=AssistantMessage
    )
    finish_reason: Text = None


class ChatCompletion(_Tolerant):
    id: Text = None
    model: Text = None
    created: Any = None
    object: Any = None
    choices: Annotated[list[Choice], BeforeValidator(_objects)] = Field(default_factory=list)
    usage: Annotated[Usage | None, BeforeValidator(_object)] = None
    request_id: Text = None
    sources: Annotated[list[SearchSource], BeforeValidator(_objects)] = Field(default_factory=list)

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
    object: Any = None
    created: Any = None  # an int (DashScope), a float (transformers serve) or missing (llama.cpp)
    owned_by: Text = None


class FileObject(_Tolerant):
    """A file stored by the Files API (``POST /files``, ``GET /files``)."""

    id: str
    object: Any = None
    bytes: Count = None
    created_at: Count = None
    filename: Text = None
    purpose: Text = None
    status: Text = None
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


def dump_json_safe(obj: BaseModel) -> dict[str, Any]:
    """A model as plain JSON data, unknown fields included."""
    return obj.model_dump(mode="json", exclude_none=True)
