"""The tools of a conversation: what each request offers, and each call asked for, approved, run.

A :class:`Toolbox` holds the functions (by name), their definitions (sent with every request)
and the ``approve`` callback the command line supplies: it is asked once per call, before the
call runs, and a refusal is what the model gets as the call's result. ``report`` hears each
result (a :class:`~qwen_cli.engine.events.ToolResult`). The session loop itself is in
:mod:`qwen_cli.engine.session`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from qwen_cli.engine import events as ev
from qwen_cli.structs import field, struct

if TYPE_CHECKING:
    from qwen_cli.catalog import ModelSpec
    from qwen_cli.store import Message as Stored
    from qwen_cli.types import ChatRequest, Message, ToolCall

from qwen_cli.tools.loop import MAX_ROUNDS

Approve = Callable[[ev.ToolCall], bool]


def _always(call: ev.ToolCall) -> bool:
    return True


def _quiet(result: ev.ToolResult) -> None:
    return None


@struct
class Toolbox:
    """The tools a session offers the model, and how a call is let through."""

    functions: Mapping[str, Callable[..., Any]]
    approve: Approve = _always
    report: Callable[[ev.ToolResult], None] = _quiet
    timeout: float | None = None
    max_rounds: int = MAX_ROUNDS
    definitions: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.definitions:
            from qwen_cli.tools.describe import describe

            self.definitions = [describe(fn) for fn in self.functions.values()]

    @property
    def names(self) -> list[str]:
        return list(self.functions)

    @staticmethod
    def note(spec: ModelSpec) -> str | None:
        """The warning for a model the catalogue knows and says cannot call tools."""
        if spec.known and not spec.tools:
            return f"warning: {spec.id} cannot call tools (by the catalogue): they are offered anyway"
        return None

    def offered(self, req: ChatRequest, rounds: int) -> ChatRequest:
        """``req`` with the tools on it; past ``max_rounds`` the model may no longer call them."""
        update: dict[str, Any] = {"tools": self.definitions}
        if rounds >= self.max_rounds:
            update["tool_choice"] = "none"
        return req.model_copy(update={"params": req.params.model_copy(update=update)})

    def answer(self, index: int, call: ToolCall) -> str:
        """The result of one call: refused, or run (errors and timeouts as text for the model)."""
        from qwen_cli.tools import run

        name = call.function.name
        shown = ev.ToolCall(index, call.id or None, name, call.function.arguments)
        if not self.approve(shown):
            content = run.REFUSED
        else:
            content = run.call(
                self.functions.get(name), name, call.function.arguments, timeout=self.timeout
            ).content
        self.report(ev.ToolResult(call.id, content))
        return content


def step_message(m: Stored) -> Message:
    """A stored step of a turn (an assistant message with tool calls, or a tool result) as it is resent."""
    from qwen_cli.types import Message

    if m.role == "tool":
        return Message(role="tool", content=m.content, tool_call_id=m.tool_call_id or "")
    calls = [c.model_copy(deep=True) for c in m.tool_calls or []] or None
    return Message(role="assistant", content=m.content, tool_calls=calls)
