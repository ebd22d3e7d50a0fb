"""What an answer says while it arrives: small typed events, consumed by a display.

The engine yields them in order (llm's ``display_stream_events`` shape): a display draws
``ReasoningText`` and ``AnswerText`` as they come, lists ``Sources``, and may ignore the rest.
A new kind of answer is a new event here and a new field on the result, not a new code path.
``ToolCall`` comes once per call when an answer asked for tools (whole calls, after the text);
``ToolResult`` is what a call gave, handed to a toolbox's ``report`` (:mod:`qwen_cli.engine.tools`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.types import SearchSource, Usage


@struct(frozen=True)
class Trimmed:
    """Before sending: the oldest ``left_out`` turns did not fit and are not sent."""

    model: str
    left_out: int
    tokens: int  # the prompt's size as sent (estimated, or anchored on the server's count)
    budget: int  # the most prompt tokens allowed: the input limit less the answer's room
    context: int  # the model's context window
    input_limit: int  # the most prompt tokens the model accepts


@struct(frozen=True)
class Notice:
    """Before sending: a one-line warning about the request (``--think`` on a model that cannot)."""

    text: str


@struct(frozen=True)
class ReasoningText:
    text: str


@struct(frozen=True)
class AnswerText:
    text: str


@struct(frozen=True)
class Sources:
    """Web search results the answer drew on (``--search``), once the answer has ended."""

    items: list[SearchSource]


@struct(frozen=True)
class UsageReport:
    usage: Usage


@struct(frozen=True)
class Finish:
    """The answer ended as the server said (``stop``, ``length``, ...), or ``None``."""

    reason: str | None


@struct(frozen=True)
class ToolCall:
    """A complete tool call the answer made (``arguments`` kept byte for byte, as the model wrote it)."""

    index: int
    id: str | None
    name: str
    arguments: str


@struct(frozen=True)
class ToolResult:
    """What the call ``call_id`` gave the model: the tool's result, its error or the refusal."""

    call_id: str
    content: str


Event = Union[Trimmed, Notice, ReasoningText, AnswerText, Sources, UsageReport, Finish, ToolCall, ToolResult]
