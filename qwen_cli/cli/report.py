"""Telling the user: the one-line error with its hint, and notices. Used by main() and the REPL."""

from __future__ import annotations

import sys
import traceback

from qwen_cli.errors import QwenAPIError


def say_error(err: QwenAPIError, *, debug: bool = False) -> None:
    """``qwen: error: ...`` and ``hint: ...`` on stderr (the traceback first with ``debug``)."""
    from qwen_cli.cli.hints import hint_for
    from qwen_cli.redact import scrub_known
    from qwen_cli.safetext import shown

    def write(text: str) -> None:  # a server's message never drives the terminal
        sys.stderr.write(shown(scrub_known(text), sys.stderr))

    if debug:
        write("".join(traceback.format_exception(err)))
    line = f"qwen: error: {err.message}"
    if err.request_id:
        line += f" (request id {err.request_id})"
    write(line + "\n")
    hint = hint_for(err)
    if hint:
        write(f"hint: {hint}\n")
    sys.stderr.flush()


def notice(text: str, *, color: bool = False, style: str = "yellow") -> None:
    """A one-line notice on stderr (yellow on a colour terminal); never read as markup."""
    from qwen_cli import render

    render.print_notice(text, err=sys.stderr, color=color, style=style)
