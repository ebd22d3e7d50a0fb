"""LlamaIndex's types to ours and back: messages out, answers in, tool calls both ways.

Pure functions, no I/O: :mod:`qwen_cli.llamaindex.llm` sends what they build.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
)
from llama_index.core.llms.llm import ToolSelection

from qwen_cli.errors import UsageError
from qwen_cli.types import (
    AnswerResult,
    ContentPart,
    FunctionCall,
    ImagePart,
    ImageURL,
    Message,
    TextPart,
    ToolCall,
    arguments_text,
)

# LlamaIndex's roles on the wire; any other (a vendor's own) is refused, never guessed.
_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}
# Blocks that carry nothing for the server: the model's own thinking, and tool calls (sent as
# the message's ``tool_calls``).
_SKIPPED_BLOCKS = ("thinking", "tool_call", "cache")


def to_messages(messages: Sequence[ChatMessage]) -> list[Message]:
    """LlamaIndex messages as the messages of a request."""
    return [to_message(m) for m in messages]


def to_message(m: ChatMessage) -> Message:
    role = _ROLES.get(MessageRole(m.role))
    if role is None:
        raise UsageError(
            f"a message with the role {m.role.value!r} cannot be sent", hint="use user or system"
        )
    content = _content(m)
    if role == "assistant":
        calls = tool_calls_of(m)
        return Message(role="assistant", content=content, tool_calls=calls or None)
    if role == "tool":
        call_id = m.additional_kwargs.get("tool_call_id")
        text = (
            content
            if isinstance(content, str)
            else "".join(p.text for p in content if isinstance(p, TextPart))
        )
        return Message(role="tool", content=text, tool_call_id=str(call_id) if call_id else None)
    return Message(role=role, content=content)  # type: ignore[arg-type]  # system or user


def _content(m: ChatMessage) -> str | list[ContentPart]:
    parts: list[ContentPart] = []
    for b in m.blocks:
        if isinstance(b, TextBlock):
            parts.append(TextPart(text=b.text))
        elif isinstance(b, ImageBlock):
            parts.append(ImagePart(image_url=ImageURL(url=_image_url(b))))
        elif getattr(b, "block_type", None) not in _SKIPPED_BLOCKS:
            kind = getattr(b, "block_type", type(b).__name__)
            raise UsageError(
                f"a {kind} block cannot be sent to a Qwen chat model",
                hint="send text and images; upload documents with `qwen upload` or client.files",
            )
    if all(isinstance(p, TextPart) for p in parts):
        return "\n".join(p.text for p in parts if isinstance(p, TextPart))
    return parts


def _image_url(b: ImageBlock) -> str:
    if b.url is not None:
        return str(b.url)
    return str(b.inline_url())  # a data: URL of the bytes or the file


def tool_calls_of(m: ChatMessage) -> list[ToolCall]:
    """The calls an assistant message carries: ours in ``additional_kwargs["tool_calls"]``
    (OpenAI's shape, which other LlamaIndex LLMs use too), else its ``ToolCallBlock``s."""
    calls = [_call(c) for c in m.additional_kwargs.get("tool_calls") or ()]
    if calls:
        return calls
    blocks: list[Any] = [b for b in m.blocks if getattr(b, "block_type", None) == "tool_call"]
    for b in blocks:  # a ToolCallBlock: tool_call_id, tool_name, tool_kwargs (a dict, or text)
        args = (
            b.tool_kwargs if isinstance(b.tool_kwargs, str) else json.dumps(b.tool_kwargs, ensure_ascii=False)
        )
        calls.append(
            ToolCall(id=b.tool_call_id or "", function=FunctionCall(name=b.tool_name, arguments=args))
        )
    return calls


def _call(c: Any) -> ToolCall:
    d = c.model_dump() if hasattr(c, "model_dump") else c
    if not isinstance(d, dict):
        raise UsageError(
            f"a tool call must be a mapping, got {type(c).__name__}", hint="pass OpenAI-style dicts"
        )
    fn = d.get("function") or {}
    return ToolCall(
        id=str(d.get("id") or ""),
        type=str(d.get("type") or "function"),
        function=FunctionCall(name=str(fn.get("name") or ""), arguments=arguments_text(fn.get("arguments"))),
    )


# --------------------------------------------------------------------------- answers


def tool_call_dicts(calls: Iterable[ToolCall]) -> list[dict[str, Any]]:
    """Tool calls as plain OpenAI-style dicts (copies: a stream keeps growing its own)."""
    return [c.model_dump(mode="json") for c in calls]


def message_of(r: AnswerResult) -> ChatMessage:
    """The answer as LlamaIndex's assistant message; its tool calls in ``additional_kwargs``."""
    kw = {"tool_calls": tool_call_dicts(r.tool_calls)} if r.tool_calls else {}
    return ChatMessage(role=MessageRole.ASSISTANT, content=r.content, additional_kwargs=kw)


def extras(r: AnswerResult) -> dict[str, Any]:
    """What an answer says besides its text, for ``additional_kwargs``: reasoning, usage (flat
    counts too, with cached and reasoning tokens), sources, request id, finish reason, model."""
    out: dict[str, Any] = {"model": r.model, "request_id": r.request_id, "finish_reason": r.finish_reason}
    if r.id:
        out["id"] = r.id
    if r.reasoning:
        out["reasoning"] = r.reasoning
    if r.sources:
        out["sources"] = [s.model_dump(mode="json", exclude_none=True) for s in r.sources]
    u = r.usage
    if u is not None:
        out["usage"] = u.model_dump(mode="json", exclude_none=True)
        out.update(
            prompt_tokens=u.prompt_tokens,
            completion_tokens=u.completion_tokens,
            total_tokens=u.total_tokens,
            cached_tokens=u.cached_tokens,
            cache_creation_tokens=u.cache_creation_tokens,
            reasoning_tokens=u.reasoning_tokens,
        )
    return out


def chat_response(
    r: AnswerResult, raw: Any, *, delta: str | None = None, thinking_delta: str | None = None
) -> ChatResponse:
    kw = extras(r)
    if thinking_delta:
        kw["thinking_delta"] = thinking_delta  # what LlamaIndex's agents stream as thinking
    return ChatResponse(message=message_of(r), raw=raw, delta=delta, additional_kwargs=kw)


def completion_response(c: ChatResponse) -> CompletionResponse:
    kw = dict(c.additional_kwargs)
    if c.message.additional_kwargs.get("tool_calls"):
        kw["tool_calls"] = c.message.additional_kwargs["tool_calls"]
    return CompletionResponse(text=c.message.content or "", delta=c.delta, raw=c.raw, additional_kwargs=kw)


# --------------------------------------------------------------------------- tools


def tool_selections(response: ChatResponse) -> list[ToolSelection]:
    """The calls of ``response`` as LlamaIndex's selections; arguments that are not (yet) a
    JSON object, as in a stream still arriving, select the tool with no arguments."""
    return [
        ToolSelection(tool_id=c.id, tool_name=c.function.name, tool_kwargs=_kwargs(c.function.arguments))
        for c in tool_calls_of(response.message)
    ]


def _kwargs(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def tool_choice(choice: str | dict[str, Any] | None, tools: Sequence[dict[str, Any]], required: bool) -> Any:
    """``tool_choice`` on the wire: a tool's name becomes the choice of that function; a
    required call is that one tool when there is one, else ``"required"``."""
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        return {"type": "function", "function": {"name": choice}}
    if choice is None and required:
        if len(tools) == 1:
            return {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
        return "required"
    return choice
