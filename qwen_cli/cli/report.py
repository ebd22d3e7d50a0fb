"""Telling the user: the one-line error with its hint, and notices. Used by main() and the REPL.

An error is ``qwen: error: ...`` plus ``hint: ...`` on stderr; with ``--json`` it is also one
``{"error": {...}}`` object on stdout, so scripts never parse text. The option parser's own
errors (typer's) are turned into ours here (:func:`from_parser`), in our wording.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

from qwen_cli.errors import QwenAPIError, UsageError


def say_error(err: QwenAPIError, *, debug: bool = False, json_out: bool = False) -> None:
    """``qwen: error: ...`` and ``hint: ...`` on stderr (the traceback first with ``debug``).

    An error made of several (each file's problem) is told one by one. ``json_out``: the error
    is also one JSON object on stdout.
    """
    from qwen_cli.cli.hints import hint_for
    from qwen_cli.redact import scrub_known
    from qwen_cli.safetext import shown

    def write(text: str) -> None:  # a server's message never drives the terminal
        sys.stderr.write(shown(scrub_known(text), sys.stderr))

    if debug:
        write("".join(traceback.format_exception(err)))
    for one in _each(err):
        line = f"qwen: error: {one.message}"
        if one.request_id:
            line += f" (request id {one.request_id})"
        write(line + "\n")
        hint = hint_for(one)
        if hint:
            write(f"hint: {hint}\n")
    sys.stderr.flush()
    if json_out:
        text = json.dumps({"error": error_json(err)}, ensure_ascii=False)
        try:
            sys.stdout.write(shown(scrub_known(text), sys.stdout, json=True) + "\n")
            sys.stdout.flush()
        except (BrokenPipeError, ValueError):  # nobody reads stdout any more
            pass


def error_json(err: QwenAPIError) -> dict[str, Any]:
    """The ``error`` object of ``--json``: type (its class in :mod:`qwen_cli.errors`), message,
    hint, exit code, request id (and ``errors``, each one's own, when it is made of several)."""
    from qwen_cli.cli.hints import hint_for

    obj: dict[str, Any] = {
        "type": next(c.__name__ for c in type(err).__mro__ if c.__module__ == "qwen_cli.errors"),
        "message": err.message,
        "hint": hint_for(err),
        "exit_code": err.exit_code,
        "request_id": err.request_id,
    }
    each = _each(err)
    if each != [err]:
        obj["errors"] = [error_json(one) for one in each]
    return obj


def _each(err: QwenAPIError) -> list[QwenAPIError]:
    """The errors ``err`` is made of: each file's (attachments.Problems), else itself."""
    attachments = sys.modules.get("qwen_cli.attachments")  # not loaded: no such error (and no cost)
    if attachments is not None and isinstance(err, attachments.Problems) and err.problems:
        return list(err.problems)
    return [err]


def wants_json(args: list[str]) -> bool:
    """``--json`` among the options (not after ``--``, where it would be a prompt)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def from_parser(exc: Any) -> UsageError:
    """typer's usage error (an unknown option, a value that is no number or out of range) in our
    words, with a hint: ``--temperature must be between 0 and 2 (got 5)``."""
    ctx = getattr(exc, "ctx", None)
    where = f"`{ctx.command_path} --help`" if ctx is not None else "`qwen --help`"
    param = getattr(exc, "param", None)
    if param is not None:
        from qwen_cli.cli.options import bad_value

        flag = max(getattr(param, "opts", None) or [param.human_readable_name], key=len)
        message = bad_value(flag, _annotation(param), *_limits(param), _rejected(exc))
        if message is not None:
            help_text = (getattr(param, "help", None) or "").strip().rstrip(".")
            about = f"{flag}: {help_text[:1].lower()}{help_text[1:]}; " if help_text else ""
            return UsageError(message, hint=f"{about}{where} lists the options")
    text = exc.format_message()
    hint = f"{where} lists what it takes"
    possibilities = getattr(exc, "possibilities", None)
    if possibilities:
        text = exc.message
        hint = f"did you mean {' or '.join(sorted(possibilities))}? {hint}"
    text = text[:-1] if text.endswith(".") and not text.endswith("..") else text
    return UsageError(text, hint=hint)


def _limits(param: Any) -> tuple[float | None, float | None]:
    info = getattr(getattr(param, "type_descriptor", None), "parameter_info", None)
    return getattr(info, "min", None), getattr(info, "max", None)


def _annotation(param: Any) -> Any:
    return getattr(getattr(param, "type_descriptor", None), "annotation", None)


def _rejected(exc: BaseException) -> tuple[str, object] | None:
    """(kind of failure, the value as typed) from the validation error behind ``exc``."""
    cause = exc.__cause__
    errors = getattr(cause, "errors", None)
    if not callable(errors):
        return None
    try:
        first = errors()[0]
    except (IndexError, TypeError):
        return None
    return str(first.get("type", "")), first.get("input")


def notice(text: str, *, color: bool = False, style: str = "yellow") -> None:
    """A one-line notice on stderr (yellow on a colour terminal); never read as markup."""
    from qwen_cli import render

    render.print_notice(text, err=sys.stderr, color=color, style=style)
