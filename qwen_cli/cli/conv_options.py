"""Options of the commands that keep conversations (chat, complete)."""

from __future__ import annotations

from typing import Annotated, Optional

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
