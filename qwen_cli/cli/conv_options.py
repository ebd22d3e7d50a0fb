"""Options of the commands that keep conversations (chat, complete)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from qwen_cli.cli.completion import complete_conversation

HISTORY = "Conversation"

Continue = Annotated[
    bool,
    typer.Option("--continue", "-c", help="Continue the most recent conversation.", rich_help_panel=HISTORY),
]
Resume = Annotated[
    Optional[str],
    typer.Option(
        "--resume",
        metavar="ID",
        help="Continue conversation ID (a unique prefix is enough; see qwen history).",
        autocompletion=complete_conversation,
        rich_help_panel=HISTORY,
    ),
]
NoLog = Annotated[
    bool,
    typer.Option("--no-log", help="Do not keep this exchange in the history.", rich_help_panel=HISTORY),
]
