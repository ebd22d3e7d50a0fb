"""Conversations as documents: Markdown for people, JSON for programs. Pure: no I/O."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from qwen_cli.store.records import Conversation, Message


def local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def status_note(m: Message) -> str:
    if m.status == "interrupted":
        return "interrupted (Ctrl-C): partial answer"
    if m.status == "error":
        return f"error: {m.error or 'unknown'}" + (": partial answer" if m.content else "")
    return ""


def to_markdown(conv: Conversation, messages: Sequence[Message]) -> str:
    out = [f"# {conv.title or 'Untitled conversation'}", ""]
    out.append(f"- id: `{conv.id}`")
    out.append(f"- started: {local_time(conv.created_at)}")
    if conv.model:
        out.append(f"- model: {conv.model}")
    out.append("")
    if conv.system:
        out += ["## System", "", conv.system, ""]
    for m in messages:
        who = "You" if m.role == "user" else (m.model or "Assistant") if m.role == "assistant" else m.role
        out += [f"## {who}", ""]
        for a in m.attachments:
            out += [f"*attached: {a.path} ({a.mime_type}, {a.size:,} bytes)*", ""]
        if m.content:
            out += [m.content.rstrip("\n"), ""]
        if note := status_note(m):
            out += [f"*({note})*", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def message_data(m: Message) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role, "content": m.content, "created_at": iso_time(m.created_at)}
    if m.reasoning:
        d["reasoning"] = m.reasoning
    if m.role == "assistant":
        d.update(
            model=m.model,
            status=m.status,
            error=m.error,
            finish_reason=m.finish_reason,
            usage=m.usage,
            elapsed=m.elapsed,
            first_token=m.first_token,
            request_id=m.request_id,
            left_out=m.left_out,
        )
    if m.options:
        d["options"] = m.options
    if m.attachments:
        d["attachments"] = [
            {
                k: v
                for k, v in vars(a).items()
                if k not in ("id", "message_id", "created_at") and v is not None
            }
            for a in m.attachments
        ]
    return d


def to_data(conv: Conversation, messages: Sequence[Message]) -> dict[str, Any]:
    return {
        "id": conv.id,
        "title": conv.title,
        "created_at": iso_time(conv.created_at),
        "updated_at": iso_time(conv.updated_at),
        "model": conv.model,
        "system": conv.system,
        "source": conv.source,
        "messages": [message_data(m) for m in messages],
    }


def to_json(conv: Conversation, messages: Sequence[Message]) -> str:
    return json.dumps(to_data(conv, messages), ensure_ascii=False, indent=2) + "\n"
