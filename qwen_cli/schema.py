"""Structured output: the schema an answer must match, how it is asked for, and the check.

A SCHEMA (``--schema``, ``/schema``) is one of:

* a JSON Schema file: ``invoice.json``;
* inline JSON: ``'{"type": "object", "properties": {...}}'``;
* llm's concise list: ``'name, age int, tags list[str]: what they are'``. Fields are separated
  by commas (or by new lines, when there are several lines, so descriptions may hold commas);
  each is ``name [type][: description]``, the type one of ``str`` (the default), ``int``,
  ``float``, ``bool``, ``list[...]`` of one of those; every field is required.

Whatever the form, the result must be a valid JSON Schema (checked against its meta-schema).
``multi`` wraps it as ``{"items": [SCHEMA, ...]}`` for "extract every X".

The request side (:func:`response_format`, :func:`system_text`): a model the catalogue marks
``json_schema`` gets ``response_format: {"type": "json_schema", ...}`` (strict); any other gets
``json_object`` with the schema in the system prompt, with the word JSON the API demands.
An answer is checked locally (:func:`check`): its JSON taken even from a fenced block, each
violation with its JSON path.

``jsonschema`` is imported only inside the functions that check, never by ``qwen --help``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwen_cli.errors import QwenAPIError, UsageError
from qwen_cli.structs import field, struct

if TYPE_CHECKING:
    from qwen_cli.catalog import ModelSpec

SCHEMA_HINT = (
    "give a JSON Schema file, inline JSON, or fields like 'name, age int, tags list[str]: what they are'"
)
TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_FIELD = re.compile(
    r"^(?P<name>[^\s:\[\]]+)(?:\s+(?P<type>[A-Za-z]+(?:\[\s*[A-Za-z]*\s*\])?))?\s*(?::(?P<desc>.*))?$",
    re.DOTALL,
)
_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_FENCE = re.compile(r"```[ \t]*(?:json[c5]?)?[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL | re.IGNORECASE)


class SchemaMismatchError(QwenAPIError):
    """The answer did not match the schema, even after one repair turn (exit 1).

    ``path`` is the first violation's JSON path (``$.items[0].age``), ``raw`` the last answer
    as the model wrote it (kept in the store too)."""

    def __init__(self, message: str, *, path: str = "$", raw: str = "", **kw: Any) -> None:
        self.path = path
        self.raw = raw
        super().__init__(message, **kw)


@struct(frozen=True)
class Shape:
    """What an answer must match: the schema (wrapped for ``multi``) and a name for the request."""

    schema: dict[str, Any]
    name: str = "answer"
    multi: bool = False
    given: str = field(default="", compare=False)  # as the user wrote it (shown by /schema)


@struct(frozen=True)
class Violation:
    path: str  # JSON path of the offending value: $, $.age, $.items[2].name
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# --------------------------------------------------------------------------- reading SCHEMA


def parse(given: str, *, multi: bool = False) -> Shape:
    """The schema ``given`` names (a file, inline JSON or a concise list), checked; UsageError
    (exit 2) for anything that is not a valid JSON Schema."""
    text = given.strip()
    if not text:
        raise UsageError("the schema is empty", hint=SCHEMA_HINT)
    name = "answer"
    if text.startswith(("{", "[")):
        schema = _json(text, "the inline schema")
    elif _looks_like_file(text):
        path = Path(text).expanduser()
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"schema file not found: {text}", hint=SCHEMA_HINT) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise UsageError(f"cannot read the schema file {text}: {reason}", hint=SCHEMA_HINT) from None
        schema = _json(raw, f"the schema file {text}")
        name = path.stem
    else:
        schema = concise(text)
    check_schema(schema)
    if isinstance(schema.get("title"), str) and name == "answer":
        name = schema["title"]
    if multi:
        schema = wrap_multi(schema)
        name = f"{name}_items"
    return Shape(
        schema=schema, name=_NAME.sub("_", name).strip("_")[:64] or "answer", multi=multi, given=given
    )


def _looks_like_file(text: str) -> bool:
    p = Path(text).expanduser()
    if p.exists():
        return True
    if "\n" in text or "," in text:
        return False
    return text.endswith(".json") or (("/" in text or "\\" in text) and not re.search(r"\s", text))


def _json(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise UsageError(f"{what} is not valid JSON: {reason}{where}", hint=SCHEMA_HINT) from None
    if not isinstance(data, dict):
        raise UsageError(
            f"{what} is not a JSON Schema: it is a JSON {type(data).__name__}, not an object",
            hint=SCHEMA_HINT,
        )
    return data


def concise(text: str) -> dict[str, Any]:
    """llm's concise schema: ``'name, age int, tags list[str]: what they are'`` as JSON Schema."""
    pieces = text.splitlines() if "\n" in text.strip() else text.split(",")
    properties: dict[str, Any] = {}
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        m = _FIELD.match(piece)
        if m is None:
            raise UsageError(f"cannot read the schema field {piece!r}", hint=SCHEMA_HINT)
        name, kind, desc = m["name"], m["type"] or "str", m["desc"]
        prop = _type(kind, name)
        if desc is not None and desc.strip():
            prop["description"] = desc.strip()
        if name in properties:
            raise UsageError(f"the schema names the field {name!r} twice", hint=SCHEMA_HINT)
        properties[name] = prop
    if not properties:
        raise UsageError("the schema names no fields", hint=SCHEMA_HINT)
    return {"type": "object", "properties": properties, "required": list(properties)}


def _type(kind: str, name: str) -> dict[str, Any]:
    bare = kind.replace(" ", "")
    if bare in TYPES:
        return {"type": TYPES[bare]}
    if bare == "list" or bare == "list[]":
        return {"type": "array", "items": {"type": "string"}}
    if bare.startswith("list[") and bare.endswith("]") and bare[5:-1] in TYPES:
        return {"type": "array", "items": {"type": TYPES[bare[5:-1]]}}
    raise UsageError(
        f"unknown type {kind!r} for the schema field {name!r}",
        hint="types are str (the default), int, float, bool and list[...] of one of them",
    )


def check_schema(schema: dict[str, Any]) -> None:
    """UsageError unless ``schema`` is valid against its JSON Schema meta-schema."""
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as err:
        where = json_path(err.absolute_path)
        raise UsageError(
            f"the schema is not valid JSON Schema: {err.message} (at {where})", hint=SCHEMA_HINT
        ) from None


def wrap_multi(schema: dict[str, Any]) -> dict[str, Any]:
    """``--schema-multi``: every match, as ``{"items": [...]}``."""
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": schema}},
        "required": ["items"],
    }


# --------------------------------------------------------------------------- the request side


def response_format(shape: Shape, spec: ModelSpec) -> dict[str, Any]:
    """Strict ``json_schema`` where the catalogue says the model takes it, else ``json_object``."""
    if spec.json_schema:
        return {
            "type": "json_schema",
            "json_schema": {"name": shape.name, "strict": True, "schema": shape.schema},
        }
    return {"type": "json_object"}


def system_text(shape: Shape, spec: ModelSpec) -> str | None:
    """The instruction that goes with ``json_object`` (the schema, and the word JSON the API
    demands); ``None`` where the schema travels in ``response_format`` itself."""
    if spec.json_schema:
        return None
    return (
        "Answer with one JSON document only, no prose and no code fences. "
        "It must be valid against this JSON Schema:\n" + json.dumps(shape.schema, ensure_ascii=False)
    )


def repair_text(answer: str, problems: list[Violation]) -> str:
    """The one repair turn: what was wrong, and the answer that was wrong."""
    listed = "\n".join(f"- {p}" for p in problems[:20])
    more = f"\n- ... and {len(problems) - 20} more" if len(problems) > 20 else ""
    return (
        "Your answer does not match the required JSON Schema:\n"
        f"{listed}{more}\n\n"
        f"Your answer was:\n{answer}\n\n"
        "Reply with the corrected JSON document only."
    )


# --------------------------------------------------------------------------- checking an answer


def extract(text: str) -> Any:
    """The JSON document in an answer: the whole text, else a fenced block, else the outermost
    ``{...}``/``[...]``. ValueError (with the parser's reason) when there is none."""
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    for open_, close in (("{", "}"), ("[", "]")):
        start, end = text.find(open_), text.rfind(close)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    first: ValueError | None = None
    for c in candidates:
        try:
            return json.loads(c)
        except ValueError as exc:
            first = first or exc
    if not text.strip():
        raise ValueError("the answer is empty")
    if len(candidates) == 1 and not text.lstrip().startswith(("{", "[")):
        raise ValueError("the answer is not JSON")
    raise ValueError(f"the answer's JSON does not parse: {first}")


def check(text: str, schema: dict[str, Any]) -> tuple[Any, list[Violation]]:
    """The answer's JSON and its violations of ``schema`` (none: it matches), in document order."""
    from jsonschema import validators

    try:
        data = extract(text)
    except ValueError as exc:
        return None, [Violation("$", str(exc))]
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    errors = sorted(cls(schema).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return data, [Violation(json_path(e.absolute_path), e.message) for e in errors]


def json_path(parts: Any) -> str:
    """``$.items[0].name`` from a jsonschema path (a deque of keys and indexes)."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(p)):
            out += f".{p}"
        else:
            out += "[" + json.dumps(str(p), ensure_ascii=False) + "]"
    return out


def dumps(data: Any, *, pretty: bool) -> str:
    """The document as printed: indented on a terminal, one compact line in a pipe."""
    if pretty:
        return json.dumps(data, ensure_ascii=False, indent=2)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
