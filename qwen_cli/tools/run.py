"""One tool call executed: the model's arguments parsed, the function called within a time
limit, whatever happened turned into the text the model gets back.

Nothing here raises for the model's or the tool's mistakes: arguments that are not a JSON
object, an unknown tool, a tool that raises or runs too long each become an ``error: ...``
text sent back as the call's result, so the model can correct itself. A tool runs in a worker
thread; past the timeout it is abandoned (Python cannot stop a thread: it runs on, unheard).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import Callable
from typing import Any

from qwen_cli.structs import struct

Function = Callable[..., Any]

# What the model gets for a call the user did not allow.
REFUSED = "error: the user did not allow this call; do not call it again unless asked to"


@struct(frozen=True)
class Outcome:
    """What a call gave: the text for the model, and whether the tool ran to a result."""

    content: str
    ok: bool


def parse_arguments(text: str | None) -> dict[str, Any]:
    """The call's arguments (``""`` or ``null``: none); ``ValueError`` if they are not a JSON object."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the arguments are not valid JSON ({exc.msg} at column {exc.colno})") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"the arguments must be a JSON object, not {type(value).__name__}")
    return value


def as_text(value: Any) -> str:
    """A tool's return value as the model reads it: a string as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def failed(text: str) -> Outcome:
    return Outcome(f"error: {text}", ok=False)


def _raised(name: str, exc: BaseException) -> Outcome:
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return failed(f"the tool {name} raised {detail}")


def _prepared(fn: Function | None, name: str, arguments: str | None) -> Outcome | dict[str, Any]:
    if fn is None:
        return failed(f"there is no tool named {name!r}")
    try:
        args = parse_arguments(arguments)
    except ValueError as exc:
        return failed(f"{exc}; call {name} again with a JSON object of its parameters")
    try:
        inspect.signature(fn).bind(**args)
    except TypeError as exc:
        return failed(f"wrong arguments for {name}: {exc}")
    except ValueError:  # no signature to check: the call will say
        pass
    return args


def _invoke(fn: Function, args: dict[str, Any]) -> Any:
    value = fn(**args)
    if inspect.isawaitable(value):
        return asyncio.run(_awaited(value))
    return value


async def _awaited(value: Any) -> Any:
    return await value


def call(fn: Function | None, name: str, arguments: str | None, *, timeout: float | None = None) -> Outcome:
    """Run ``fn`` with the model's ``arguments`` in a worker thread, waiting at most ``timeout`` seconds."""
    prepared = _prepared(fn, name, arguments)
    if isinstance(prepared, Outcome):
        return prepared
    assert fn is not None
    box: list[Outcome] = []

    def work() -> None:
        try:
            box.append(Outcome(as_text(_invoke(fn, prepared)), ok=True))
        except BaseException as exc:  # SystemExit from a tool is the tool's failure, not ours
            box.append(_raised(name, exc))

    worker = threading.Thread(target=work, name=f"tool-{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:  # still running: abandoned
        return failed(f"the tool {name} did not finish within {timeout:g} seconds and was stopped")
    return box[0]


async def acall(
    fn: Function | None, name: str, arguments: str | None, *, timeout: float | None = None
) -> Outcome:
    """:func:`call` for an event loop: a coroutine function is awaited, a plain one runs in a thread."""
    prepared = _prepared(fn, name, arguments)
    if isinstance(prepared, Outcome):
        return prepared
    assert fn is not None
    try:
        if inspect.iscoroutinefunction(fn):
            value = await asyncio.wait_for(fn(**prepared), timeout)
        else:
            return await asyncio.to_thread(call, fn, name, arguments, timeout=timeout)
    except TimeoutError:
        return failed(f"the tool {name} did not finish within {timeout:g} seconds and was stopped")
    except Exception as exc:
        return _raised(name, exc)
    return Outcome(as_text(value), ok=True)
