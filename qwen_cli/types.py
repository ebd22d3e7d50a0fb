"""Wire types: what we send (strict) and what we accept (tolerant).

Request models forbid unknown fields so a typo in our own code fails loudly;
response models allow them, because OpenAI-compatible servers add fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class PromptTokensDetails(_Tolerant):
    cached_tokens: int | None = None


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
        d = self.prompt_tokens_details
        return d.cached_tokens if d else None

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


class Delta(_Tolerant):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None


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


def dump_json_safe(obj: BaseModel) -> dict[str, Any]:
    """A model as plain JSON data, unknown fields included."""
    return obj.model_dump(mode="json", exclude_none=True)
