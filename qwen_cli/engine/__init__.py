"""The conversation engine: builds a turn, sends it, yields its events, keeps one result, stores it.

Importable and usable without the command line (no typer, rich or prompt-toolkit; it never
prints)::

    from qwen_cli.engine import Session

    session = Session(client=client, settings=settings, store=store)
    answer = session.send("hello")            # stored: the question when sent, the answer at its end

A display is any callable that consumes a :class:`Reply` (its :mod:`~qwen_cli.engine.events`,
then ``reply.end()``) and returns the answer's one :class:`~qwen_cli.types.AnswerResult`, which
goes unchanged to the store; the CLI draws with one, the default (:func:`drain`) shows nothing.

Modules, one job each: ``events`` (what an answer says while it arrives), ``request`` (sampling
options, the request a model accepts), ``reply`` (one request sent: events, then the result),
``files`` (attachments of a chat), ``tools`` (the tools a session offers, each call approved
and run), ``session`` (a conversation's turns: messages trimmed to the
model's input limit, the store).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwen_cli.engine.events import (
        AnswerText,
        Event,
        Finish,
        ReasoningText,
        Sources,
        ToolCall,
        ToolResult,
        Trimmed,
        UsageReport,
    )
    from qwen_cli.engine.reply import Reply, drain
    from qwen_cli.engine.request import Sampling, build_request
    from qwen_cli.engine.session import (
        Display,
        Prepared,
        Session,
        held_interrupts,
        in_context,
        pick_conversation,
    )

# Each name is imported from its module when first asked for: a chat builds its Session before
# the first prompt without paying for the events and replies of an answer not yet asked.
_HOME = {
    **dict.fromkeys(
        ("AnswerText", "Event", "Finish", "ReasoningText", "Sources", "ToolCall", "ToolResult", "Trimmed"),
        "events",
    ),
    "UsageReport": "events",
    **dict.fromkeys(("Reply", "drain"), "reply"),
    **dict.fromkeys(("Sampling", "build_request"), "request"),
    **dict.fromkeys(
        ("Display", "Prepared", "Session", "held_interrupts", "in_context", "pick_conversation"), "session"
    ),
}


def __getattr__(name: str) -> Any:
    import importlib

    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "AnswerText",
    "Display",
    "Event",
    "Finish",
    "Prepared",
    "ReasoningText",
    "Reply",
    "Sampling",
    "Session",
    "Sources",
    "ToolCall",
    "ToolResult",
    "Trimmed",
    "UsageReport",
    "build_request",
    "drain",
    "held_interrupts",
    "in_context",
    "pick_conversation",
]
