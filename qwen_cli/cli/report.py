"""Telling the user: the one-line error with its hint, and notices. Used by main() and the REPL."""

from __future__ import annotations

import sys
import traceback

from qwen_cli.errors import QwenAPIError


def say_error(err: QwenAPIError, *, debug: bool = False) -> None:
    """``qwen: error: ...`` and ``hint: ...`` on stderr (the traceback first with ``debug``)."""
    from qwen_cli.cli.hints import hint_for
    from qwen_cli.redact import scrub_known

    if debug:
        sys.stderr.write(scrub_known("".join(traceback.format_exception(err))))
    line = f"qwen: error: {scrub_known(err.message)}"
    if err.request_id:
        line += f" (request id {err.request_id})"
    sys.stderr.write(line + "\n")
    hint = hint_for(err)
    if hint:
        sys.stderr.write(f"hint: {scrub_known(hint)}\n")
    sys.stderr.flush()


def notice(text: str, *, color: bool = False, style: str = "yellow") -> None:
    """A one-line notice on stderr (yellow on a colour terminal); never read as markup."""
    from qwen_cli import render

    render.print_notice(text, err=sys.stderr, color=color, style=style)
