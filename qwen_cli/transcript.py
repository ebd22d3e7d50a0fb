"""Conversations as documents: Markdown for people, JSON for programs. Pure: no I/O."""

from __future__ import annotations

import json
import re
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
    from qwen_cli.types import cut_note  # not at import: `qwen chat` starts without the wire types

    return cut_note(m.finish_reason, (m.options or {}).get("max_tokens")) or ""


def to_markdown(conv: Conversation, messages: Sequence[Message]) -> str:
    out = [f"# {conv.title or 'Untitled conversation'}", ""]
    out.append(f"- id: `{conv.id}`")
    out.append(f"- started: {local_time(conv.created_at)}")
    if conv.model:
        out.append(f"- model: {conv.model}")
    out.append("")
    if conv.system:
        out += ["## System", "", conv.system, ""]
    names = {c.id: c.function.name for m in messages for c in m.tool_calls or () if c.id}
    for m in messages:
        if m.role == "tool":
            out += tool_result_markdown(m, names.get(m.tool_call_id or ""))
            continue
        who = "You" if m.role == "user" else (m.model or "Assistant") if m.role == "assistant" else m.role
        out += [f"## {who}", ""]
        for a in m.attachments:
            out += [f"*attached: {a.path} ({a.mime_type}, {a.size:,} bytes)*", ""]
        for f in m.fragments:
            out += [f"*fragment: {f.source} ({f.size:,} bytes)*", ""]
        if m.content:
            out += [m.content.rstrip("\n"), ""]
        for call in m.tool_calls or ():
            out += [
                f"**tool call** `{call.function.name or '?'}`" + (f" (id `{call.id}`)" if call.id else ""),
                "",
            ]
            out += (
                [*fence(call.function.arguments, "json"), ""]
                if call.function.arguments
                else ["(no arguments)", ""]
            )
        if m.sources:
            out += ["Sources:", "", *sources_markdown(m.sources), ""]
        if note := status_note(m):
            out += [f"*({note})*", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def sources_markdown(sources: Sequence[dict[str, Any]]) -> list[str]:
    """``[N] [title](url) — site``, numbered as the answer's ``[ref_N]`` markers."""
    lines = []
    for n, src in enumerate(sources, 1):
        number = src.get("index") if isinstance(src.get("index"), int) else n
        title = str(src.get("title") or src.get("site") or src.get("url") or "(untitled)")
        url, site = src.get("url"), src.get("site") or src.get("hostname")
        entry = f"[{title}]({url})" if url else title
        lines.append(f"- [{number}] {entry}" + (f" — {site}" if site and site != title else ""))
    return lines


def tool_result_markdown(m: Message, name: str | None) -> list[str]:
    """A tool result: which call it answers, and its text as it was sent back."""
    head = f"## Tool result: {name}" if name else "## Tool result"
    head += f" (id `{m.tool_call_id}`)" if m.tool_call_id else ""
    return [head, "", *fence(m.content), ""]


def fence(text: str, lang: str = "") -> list[str]:
    """``text`` as a fenced code block: kept as it is, the fence longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    bar = "`" * max(3, longest + 1)
    return [bar + lang, text.removesuffix("\n"), bar]


def message_data(m: Message) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role, "content": m.content, "created_at": iso_time(m.created_at)}
    if m.reasoning:
        d["reasoning"] = m.reasoning
    if m.tool_calls:
        d["tool_calls"] = [c.model_dump(mode="json") for c in m.tool_calls]
    if m.tool_call_id is not None:
        d["tool_call_id"] = m.tool_call_id
    if m.sources:
        d["sources"] = m.sources
    if m.fragments:
        d["fragments"] = [{"source": f.source, "size": f.size, "sha256": f.sha256} for f in m.fragments]
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
