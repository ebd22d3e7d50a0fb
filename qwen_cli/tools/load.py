"""The tools a command line names: ``--functions FILE.py`` (its public functions) and ``--tool NAME``.

A file's public functions are those defined in it whose name does not start with ``_``
(imported helpers are not tools). A file that does not import is a
:class:`~qwen_cli.errors.UsageError`; its traceback shows with ``--debug`` (the error's cause).
``--tool NAME`` picks among the files' functions and the built-ins; without it every function
of the files is a tool. An unknown name is refused with the close ones.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qwen_cli.errors import UsageError

Function = Callable[..., Any]


def load_file(path: str) -> dict[str, Function]:
    """The public functions defined in the Python file ``path``, by name, in file order."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UsageError(f"--functions {path}: no such file", hint="give the path of a Python file")
    digest = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:12]
    name = f"qwen_functions_{digest}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise UsageError(f"--functions {path}: not a Python file", hint="give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look their module up
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        where = _line_of(exc, str(file))
        raise UsageError(
            f"--functions {path} does not import{where}: {type(exc).__name__}: {exc}",
            hint="fix the file (--debug shows the traceback)",
        ) from exc
    found: dict[str, Function] = {
        k: v
        for k, v in vars(module).items()
        if not k.startswith("_") and inspect.isfunction(v) and v.__module__ == name
    }
    if not found:
        raise UsageError(
            f"--functions {path} defines no public function",
            hint="define the tools as top-level def functions whose names do not start with _",
        )
    return found


def _line_of(exc: BaseException, file: str) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line else ""


def select(files: Sequence[str], names: Sequence[str]) -> dict[str, Function]:
    """The tools of a command: every function of ``files``, or only ``names`` among them and the built-ins."""
    from qwen_cli.tools.builtin import BUILTINS

    defined: dict[str, Function] = {}
    for path in files:
        for name, fn in load_file(path).items():
            if name in defined:
                raise UsageError(
                    f"two --functions files define {name}", hint="rename one, or give one file at a time"
                )
            defined[name] = fn
    if not names:
        return defined
    known = {**BUILTINS, **defined}  # a file's function wins over a built-in of the same name
    chosen: dict[str, Function] = {}
    for name in names:
        if name not in known:
            raise unknown_tool(name, known)
        chosen[name] = known[name]
    return chosen


def unknown_tool(name: str, known: dict[str, Function]) -> UsageError:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    message = f"there is no tool named {name!r}"
    if close:
        message += f" (did you mean {', '.join(close)}?)"
    return UsageError(
        message,
        hint=f"the tools are: {', '.join(sorted(known))} (built-ins, and the --functions files' functions)",
    )
