"""What the store hands out: conversations, messages, attachments, search hits."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from qwen_cli.structs import field, struct

if TYPE_CHECKING:  # the wire types load when a record is read or written, not with the store
    from qwen_cli.store.fragments import Fragment
    from qwen_cli.types import AnswerResult, ToolCall, Usage

TITLE_LENGTH = 60
STATUSES = ("complete", "interrupted", "error")


@struct
class Attachment:
    """A file sent with a message: a reference to it, never its bytes.

    ``via`` says how it went: ``inline`` (a ``data:`` URL made from the file on disk, which is
    never stored: read the file again), ``oss`` (``url`` is the ``oss://`` URL of DashScope's
    temporary upload, bound to ``model`` and valid for 48 hours from ``created_at``) or
    ``file`` (``file_id`` in the Files API). Rows written before these fields existed have
    ``None`` in them.
    """

    path: str
    mime_type: str
    size: int
    sha256: str
    url: str | None = None
    file_id: str | None = None
    id: int | None = None
    message_id: int | None = None
    kind: str | None = None  # image | document
    type: str | None = None  # png, pdf, ...
    width: int | None = None
    height: int | None = None
    via: str | None = None  # inline | oss | file
    model: str | None = None  # the model an oss:// upload is bound to
    created_at: float | None = None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Attachment:
        """From ``qwen_cli.attachments.Sent.record()``."""
        url = record.get("url")
        if url is not None and not str(url).startswith("oss://"):
            raise ValueError("only oss:// URLs are stored, never the file's bytes as a data: URL")
        return cls(
            path=str(record["path"]), mime_type=str(record["mime"]), size=int(record["size"]),
            sha256=str(record["sha256"]), url=url, file_id=record.get("file_id"),
            kind=record.get("kind"), type=record.get("type"), width=record.get("width"),
            height=record.get("height"), via=record.get("via"), model=record.get("model"),
        )  # fmt: skip

    def record(self) -> dict[str, Any]:
        """The fields of ``Sent.record()``, for ``qwen_cli.attachments.restore``."""
        return {
            "path": self.path, "kind": self.kind, "type": self.type, "mime": self.mime_type,
            "size": self.size, "sha256": self.sha256, "width": self.width, "height": self.height,
            "via": self.via, "url": self.url, "file_id": self.file_id, "model": self.model,
        }  # fmt: skip

    @property
    def is_image(self) -> bool:
        return self.kind == "image" if self.kind else self.mime_type.startswith("image/")


@struct
class NewMessage:
    """A message to write; ``usage`` is the server's usage object as JSON data.

    A turn may hold several messages after the user's: an assistant message with
    ``tool_calls``, one ``tool`` message per call (``tool_call_id`` says which), and so on
    until the final answer.
    """

    role: str
    content: str
    reasoning: str = ""
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    elapsed: float | None = None
    first_token: float | None = None
    request_id: str | None = None
    response_id: str | None = None
    finish_reason: str | None = None
    status: str = "complete"
    error: str | None = None
    left_out: int | None = None
    attachments: list[Attachment] = field(default_factory=list)
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    sources: list[dict[str, Any]] | None = None  # web-search sources (store/sources.py)
    fragments: list[Fragment] = field(default_factory=list)  # -f texts, sent first (store/fragments.py)

    @classmethod
    def of_result(
        cls,
        r: AnswerResult,
        *,
        error: str | None,
        model: str | None = None,
        options: dict[str, Any] | None = None,
        left_out: int | None = None,
    ) -> NewMessage:
        """The assistant message for answer ``r``, as it ended. ``error`` is the error's text,
        scrubbed of secrets by the caller (the store never sees a key)."""
        return cls(
            "assistant",
            r.content,
            reasoning=r.reasoning,
            model=r.model or model,
            options=dict(options or {}),
            usage=r.usage.model_dump(mode="json", exclude_none=True) if r.usage else None,
            elapsed=round(r.elapsed, 3),
            first_token=round(r.first_token_at, 3) if r.first_token_at is not None else None,
            request_id=r.request_id,
            response_id=r.id,
            finish_reason=r.finish_reason,
            status=r.state,
            error=error if r.error is not None else None,
            left_out=left_out,
            tool_calls=[c.model_copy(deep=True) for c in r.tool_calls] or None,
            sources=[x.model_dump(mode="json", exclude_none=True) for x in r.sources] or None,
        )

    @property
    def usage_model(self) -> Usage | None:
        from qwen_cli.types import Usage

        return Usage.model_validate(self.usage) if self.usage else None


@struct
class Message(NewMessage):
    id: int = 0
    conversation_id: str = ""
    seq: int = 0
    created_at: float = 0.0

    @property
    def prompt_tokens(self) -> int | None:
        return int_of(self.usage, "prompt_tokens")

    @property
    def completion_tokens(self) -> int | None:
        return int_of(self.usage, "completion_tokens")

    @property
    def answer_tokens(self) -> int | None:
        """Completion tokens of the visible answer: reasoning tokens taken out."""
        n = self.completion_tokens
        if n is None:
            return None
        details = (self.usage or {}).get("completion_tokens_details") or {}
        return max(0, n - int(details.get("reasoning_tokens") or 0))


@struct
class Exchange:
    """A user message and the answer to it (``None`` when none was stored).

    ``steps`` are the messages of the turn before the answer: assistant messages that made
    tool calls and the tool results sent back. A turn whose last message is a tool result
    (the tool loop stopped before an answer) has steps and no answer.
    """

    user: Message
    answer: Message | None = None
    steps: list[Message] = field(default_factory=list)

    def messages(self) -> list[Message]:
        """Every message of the turn, in order."""
        return [self.user, *self.steps, *([self.answer] if self.answer is not None else [])]


@struct
class Conversation:
    id: str
    created_at: float
    updated_at: float
    title: str = ""
    model: str | None = None
    system: str | None = None
    source: str = "chat"
    options: dict[str, Any] = field(default_factory=dict)
    turns: int = 0
    tokens: int = 0


@struct
class Hit:
    conversation: Conversation
    message: Message


def int_of(usage: dict[str, Any] | None, key: str) -> int | None:
    v = (usage or {}).get(key)
    return int(v) if isinstance(v, (int, float)) else None


def make_title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def new_id() -> str:
    return secrets.token_hex(6)


def conversation_from(r: sqlite3.Row) -> Conversation:
    return Conversation(
        r["id"], r["created_at"], r["updated_at"], r["title"], r["model"], r["system"], r["source"],
        json.loads(r["options"] or "{}"), int(r["turns"]), int(r["tokens"]),
    )  # fmt: skip


def message_from(r: sqlite3.Row) -> Message:
    return Message(
        role=r["role"], content=r["content"], reasoning=r["reasoning"], model=r["model"],
        options=json.loads(r["options"] or "{}"), usage=usage_from(r["usage"]),
        elapsed=r["elapsed"], first_token=r["first_token"], request_id=r["request_id"],
        response_id=r["response_id"], finish_reason=r["finish_reason"], status=r["status"],
        error=r["error"], left_out=r["left_out"], id=r["id"], conversation_id=r["conversation_id"],
        seq=r["seq"], created_at=r["created_at"], tool_calls=tool_calls_from(r["tool_calls"]),
        tool_call_id=r["tool_call_id"],
    )  # fmt: skip


def usage_from(text: str | None) -> dict[str, Any] | None:
    """A stored usage object; one that cannot be read is left out rather than hiding the message."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def tool_calls_json(calls: list[ToolCall] | None) -> str | None:
    return json.dumps([c.model_dump(mode="json") for c in calls], ensure_ascii=False) if calls else None


def tool_calls_from(text: str | None) -> list[ToolCall] | None:
    from qwen_cli.types import ToolCall

    return [ToolCall.model_validate(c) for c in json.loads(text)] if text else None


def usage_counts(usage: dict[str, Any] | None) -> dict[str, int | None]:
    """The token counts the store keeps in columns, from the usage object."""
    from qwen_cli.record import ValidationError
    from qwen_cli.types import Usage

    try:
        u = Usage.model_validate(usage) if usage else Usage()
    except ValidationError:  # counts of a type we cannot read are left out, never fatal
        u = Usage()
    return {
        "prompt_tokens": int_of(usage, "prompt_tokens"),
        "completion_tokens": int_of(usage, "completion_tokens"),
        "total_tokens": int_of(usage, "total_tokens"),
        "cached_tokens": u.cached_tokens,
        "cache_creation_tokens": u.cache_creation_tokens,
        "reasoning_tokens": u.reasoning_tokens,
    }
