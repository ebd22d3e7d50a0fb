"""Options of the commands that keep conversations (chat, complete)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from qwen_cli.cli.completion import complete_conversation
from qwen_cli.errors import UsageError

HISTORY = "Conversation"

Continue = Annotated[
    bool,
    typer.Option("--continue", "-c", help="Continue the most recent conversation.", rich_help_panel=HISTORY),
]


def _conversation_id(value: Optional[str]) -> Optional[str]:
    if value is not None and not value.strip():
        raise UsageError(
            "--resume needs a conversation id (got an empty string)",
            hint="run `qwen history` to list them; -c continues the most recent",
        )
    return value


Resume = Annotated[
    Optional[str],
    typer.Option(
        "--resume",
        metavar="ID",
        callback=_conversation_id,
        help="Continue conversation ID (a unique prefix is enough; see qwen history).",
        autocompletion=complete_conversation,
        rich_help_panel=HISTORY,
    ),
]
NoLog = Annotated[
    bool,
    typer.Option("--no-log", help="Do not keep this exchange in the history.", rich_help_panel=HISTORY),
]


def _fields(values: Optional[list[str]]) -> Optional[list[str]]:
    """Each ``-o`` is KEY VALUE (joined by ``options.option_argv``) or KEY=VALUE, with a key
    that is not one qwen sets itself."""
    for value in values or ():
        key, eq, _ = value.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UsageError(
                f"-o takes KEY VALUE or KEY=VALUE (got {value!r})",
                hint="for example -o top_k 20 or -o thinking_budget=2048 (VALUE is read as JSON when it "
                "parses)",
            )
        if key in OWN_FIELDS:
            raise UsageError(
                f"-o cannot set {key}: qwen sends it itself",
                hint=OWN_FIELDS[key],
            )
    return values


OWN_FIELDS = {
    "model": "choose the model with -m NAME",
    "messages": "the messages are the prompt, the system prompt (-s) and the conversation",
    "stream": "--no-stream waits for the whole answer",
}

Fields = Annotated[
    Optional[list[str]],
    typer.Option(
        "--option",
        "-o",
        metavar="KEY VALUE",
        callback=_fields,
        help="Any other request field, e.g. -o top_k 20 -o thinking_budget=2048 (VALUE as JSON when it "
        "parses; repeatable).",
        show_default=False,
    ),
]
Attach = Annotated[
    Optional[list[str]],
    typer.Option(
        "--attach",
        "-a",
        metavar="FILE",
        help="Attach an image or a document, checked as qwen upload checks it (repeatable).",
        show_default=False,
    ),
]


def parse_fields(values: Optional[list[str]]) -> dict[str, Any]:
    """``-o`` values as request fields: VALUE parsed as JSON when it parses, else the string."""
    import json

    fields: dict[str, Any] = {}
    for value in values or ():
        key, _, raw = value.partition("=")
        try:
            fields[key.strip()] = json.loads(raw)
        except ValueError:
            fields[key.strip()] = raw
    return fields
