"""A plain Python function as an OpenAI-style tool definition, from its signature and docstring.

Type hints become JSON Schema types: ``str`` string, ``int`` integer, ``float`` number,
``bool`` boolean, ``list[X]``/``tuple``/``set`` array (of X), ``dict`` object, ``Optional[X]``
X, ``Literal[...]`` and ``Enum`` subclasses an ``enum``; a parameter without a hint is a
string. A parameter with a default is not required. The docstring's summary is the tool's
description; ``Args:`` lines (Google style) and ``:param x:`` lines (Sphinx style) describe
the parameters. ``required`` goes inside ``parameters``, where DashScope reads it.

A function whose parameters cannot be described (``*args``, ``**kwargs``, a hint with no JSON
type) is refused with a :class:`~qwen_cli.errors.UsageError` that names it.
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from qwen_cli.errors import UsageError

ToolLike = Callable[..., Any] | dict[str, Any]

_SIMPLE: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARRAYS = (list, tuple, set, frozenset, Sequence)
_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Returns?|Raises|Yields|Examples?|Notes?)\s*:\s*$"
)
_SPHINX = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_GOOGLE = re.compile(r"^(\s*)(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class _Undescribable(Exception):
    pass


def name_of(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__name__", "") or type(fn).__name__)


def describe(fn: Callable[..., Any]) -> dict[str, Any]:
    """The tool definition of ``fn``: ``{"type": "function", "function": {...}}``."""
    name = name_of(fn)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"the function {name} has no signature to describe", hint="pass a plain def"
        ) from exc
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:  # a hint that names something undefined
        raise UsageError(
            f"the parameters of the function {name} cannot be described: {exc}",
            hint="use hints made of str, int, float, bool, list, dict, Optional, Literal or an Enum",
        ) from exc
    summary, docs = parse_docstring(inspect.getdoc(fn) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise UsageError(
                f"the parameters of the function {name} cannot be described: *{p.name} takes any arguments",
                hint="give the tool named parameters with type hints",
            )
        try:
            schema = schema_of(hints.get(p.name, str))
        except _Undescribable as exc:
            raise UsageError(
                f"the parameter {p.name} of the function {name} cannot be described: {exc}",
                hint="use hints made of str, int, float, bool, list, dict, Optional, Literal or an Enum",
            ) from None
        if p.name in docs:
            schema["description"] = docs[p.name]
        if p.default is p.empty:
            required.append(p.name)
        properties[p.name] = schema
    parameters: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    function: dict[str, Any] = {"name": name, **({"description": summary} if summary else {})}
    function["parameters"] = parameters
    return {"type": "function", "function": function}


def definition(tool: ToolLike) -> dict[str, Any]:
    """A tool as the wire takes it: a dict passes as it is, a function is described."""
    if isinstance(tool, dict):
        return tool
    if callable(tool):
        return describe(tool)
    raise UsageError(
        f"a tool must be a function or a tool definition (a dict), not {type(tool).__name__}",
        hint='e.g. tools=[my_function] or tools=[{"type": "function", "function": {...}}]',
    )


def definitions(tools: Sequence[ToolLike]) -> list[dict[str, Any]]:
    return [definition(t) for t in tools]


def schema_of(hint: Any) -> dict[str, Any]:
    """The JSON Schema of one type hint; :class:`_Undescribable` when it has none."""
    if hint is Any or hint is inspect.Parameter.empty:
        return {}
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum([m.value for m in hint])
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        return _enum(list(args))
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return schema_of(rest[0])
        return {"anyOf": [schema_of(a) for a in rest]}
    if hint in _ARRAYS or origin in _ARRAYS:
        items = [a for a in args if a is not Ellipsis]
        if origin is tuple and len(items) > 1 and len(set(items)) > 1:
            return {"type": "array", "prefixItems": [schema_of(a) for a in items]}
        return {"type": "array", "items": schema_of(items[0])} if items else {"type": "array"}
    if hint is dict or origin is dict or hint is typing.Mapping or origin is typing.Mapping:
        if len(args) == 2 and args[1] is not Any:
            return {"type": "object", "additionalProperties": schema_of(args[1])}
        return {"type": "object"}
    raise _Undescribable(f"{getattr(hint, '__name__', hint)!s} has no JSON type")


def _enum(values: list[Any]) -> dict[str, Any]:
    kinds = {_SIMPLE.get(type(v)) for v in values}
    schema: dict[str, Any] = {"enum": values}
    if len(kinds) == 1 and None not in kinds:
        schema = {"type": kinds.pop(), "enum": values}
    return schema


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (text before any section, paragraphs joined) and each parameter's description."""
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    indent: int | None = None
    current: str | None = None
    for line in doc.splitlines():
        sphinx = _SPHINX.match(line)
        if sphinx:
            current, section = sphinx.group(1), "sphinx"
            params[current] = sphinx.group(2).strip()
            continue
        head = _SECTION.match(line)
        if head:
            section = "args" if head.group(1).lower().startswith(("arg", "param")) else "other"
            indent, current = None, None
            continue
        if section is None:
            summary.append(line.strip())
            continue
        if not line.strip():
            current = None
            continue
        if section == "args":
            m = _GOOGLE.match(line)
            width = len(line) - len(line.lstrip())
            if m and (indent is None or width <= indent):
                indent, current = width, m.group(2)
                params[current] = m.group(3).strip()
                continue
        if current is not None and line.startswith((" ", "\t")):  # a description goes on
            params[current] = f"{params[current]} {line.strip()}".strip()
        elif section == "sphinx" and line.lstrip().startswith(":"):
            current = None
    text = " ".join(" ".join(summary).split())
    return text, params
