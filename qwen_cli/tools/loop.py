"""The Python API's tool loop: ``client.chat.run(...)`` and ``await client.chat.arun(...)``.

Each round sends the messages; when the answer asks for tools, the assistant message (with
its ``tool_calls``, as returned) and one ``{"role": "tool", "tool_call_id": ..., "content": ...}``
per call are appended and the messages are sent again, until an answer without calls. Every
call of a round is answered (parallel calls too; the async loop runs them concurrently). A
forcing ``tool_choice`` (one function, or ``"required"``) applies to the first round only: kept,
the model would never stop calling. After ``max_rounds`` rounds of calls the last request says
``tool_choice: "none"``, so the model answers with what it has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from qwen_cli.errors import UsageError
from qwen_cli.structs import field, struct
from qwen_cli.tools import run as runner
from qwen_cli.tools.describe import ToolLike, definitions, name_of

if TYPE_CHECKING:
    from qwen_cli.resources import Chat, MessageLike
    from qwen_cli.types import ChatCompletion, Message, ToolCall

MAX_ROUNDS = 8  # rounds of calls before the model must answer (the command line's too)

Approve = Callable[["ToolCall"], bool]


@struct
class ToolRun:
    """How a loop ended: the last answer, every message of the exchange, the rounds of calls made."""

    completion: ChatCompletion
    messages: list[Message] = field(default_factory=list)  # the input, the steps, the final answer
    rounds: int = 0

    @property
    def content(self) -> str:
        return self.completion.content


class _Plan:
    """What the loop sends and runs, decided once."""

    def __init__(self, tools: Sequence[ToolLike], max_rounds: int, kw: dict[str, Any]) -> None:
        if not tools:
            raise UsageError("run() needs tools=[...]", hint="pass Python functions or tool definitions")
        if max_rounds < 1:
            raise UsageError(f"max_rounds must be at least 1 (got {max_rounds})", hint="e.g. max_rounds=8")
        self.definitions = definitions(tools)
        self.functions = {name_of(t): t for t in tools if not isinstance(t, dict)}
        self.max_rounds = max_rounds
        self.kw = dict(kw)

    def params(self, rounds: int) -> dict[str, Any]:
        kw = dict(self.kw, tools=self.definitions)
        choice = kw.get("tool_choice")
        if rounds >= self.max_rounds:
            kw["tool_choice"] = "none"
        elif rounds > 0 and choice is not None and choice not in ("auto", "none"):
            del kw["tool_choice"]  # forcing a tool again would loop for ever
        return kw


def _assistant(c: ChatCompletion) -> Message:
    from qwen_cli.types import Message

    r = c.result
    calls = [t.model_copy() for t in r.tool_calls] or None
    return Message(role="assistant", content=r.content, tool_calls=calls)


def _tool_message(call: ToolCall, content: str) -> Message:
    from qwen_cli.types import Message

    return Message(role="tool", content=content, tool_call_id=call.id)


def _ends(c: ChatCompletion, rounds: int, plan: _Plan) -> bool:
    return not c.result.tool_calls or rounds >= plan.max_rounds


def run(
    chat: Chat,
    messages: Sequence[MessageLike],
    *,
    tools: Sequence[ToolLike],
    max_rounds: int = MAX_ROUNDS,
    tool_timeout: float | None = None,
    approve: Approve | None = None,
    **kw: Any,
) -> ToolRun:
    """Call, run the requested functions, send their results, repeat until an answer."""
    from qwen_cli.resources import as_messages

    plan = _Plan(tools, max_rounds, kw)
    sent = as_messages(messages)
    rounds = 0
    while True:
        c = chat.complete(chat.request(sent, stream=False, **plan.params(rounds)))
        if _ends(c, rounds, plan):
            return ToolRun(c, [*sent, _assistant(c)], rounds)
        sent.append(_assistant(c))
        for call in c.result.tool_calls:
            name = call.function.name
            if approve is not None and not approve(call):
                content = runner.REFUSED
            else:
                fn = plan.functions.get(name)
                content = runner.call(fn, name, call.function.arguments, timeout=tool_timeout).content
            sent.append(_tool_message(call, content))
        rounds += 1


async def arun(
    chat: Chat,
    messages: Sequence[MessageLike],
    *,
    tools: Sequence[ToolLike],
    max_rounds: int = MAX_ROUNDS,
    tool_timeout: float | None = None,
    approve: Approve | None = None,
    **kw: Any,
) -> ToolRun:
    """:func:`run` for an event loop; the calls of one round run concurrently."""
    from qwen_cli.resources import as_messages

    plan = _Plan(tools, max_rounds, kw)
    sent = as_messages(messages)
    rounds = 0
    while True:
        c = await chat.acomplete(chat.request(sent, stream=False, **plan.params(rounds)))
        if _ends(c, rounds, plan):
            return ToolRun(c, [*sent, _assistant(c)], rounds)
        sent.append(_assistant(c))
        calls = list(c.result.tool_calls)

        async def one(call: ToolCall) -> str:
            if approve is not None and not approve(call):
                return runner.REFUSED
            name = call.function.name
            fn = plan.functions.get(name)
            return (await runner.acall(fn, name, call.function.arguments, timeout=tool_timeout)).content

        results = await asyncio.gather(*(one(call) for call in calls))
        sent += [_tool_message(call, content) for call, content in zip(calls, results, strict=True)]
        rounds += 1
