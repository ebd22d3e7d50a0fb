"""What the store hands out: conversations, messages, attachments, search hits."""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass, field
from typing import Any

TITLE_LENGTH = 60
STATUSES = ("complete", "interrupted", "error")


@dataclass
class Attachment:
    """A file sent with a message; the upload command fills ``url`` or ``file_id``."""

    path: str
    mime_type: str
    size: int
    sha256: str
    url: str | None = None
    file_id: str | None = None
    id: int | None = None
    message_id: int | None = None


@dataclass
class NewMessage:
    """A message to write; ``usage`` is the server's usage object as JSON data."""

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


@dataclass
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


@dataclass
class Exchange:
    """A user message and the answer to it (``None`` when none was stored)."""

    user: Message
    answer: Message | None = None


@dataclass
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


@dataclass
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
        options=json.loads(r["options"] or "{}"), usage=json.loads(r["usage"]) if r["usage"] else None,
        elapsed=r["elapsed"], first_token=r["first_token"], request_id=r["request_id"],
        response_id=r["response_id"], finish_reason=r["finish_reason"], status=r["status"],
        error=r["error"], left_out=r["left_out"], id=r["id"], conversation_id=r["conversation_id"],
        seq=r["seq"], created_at=r["created_at"],
    )  # fmt: skip
