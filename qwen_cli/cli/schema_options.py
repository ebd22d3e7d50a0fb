"""``--schema`` / ``--schema-multi`` and ``/schema``: structured output at the command line.

The options parse SCHEMA before anything is sent (a bad one is exit 2); :func:`run` asks
through :mod:`qwen_cli.engine.structured` with the answer held back (no Markdown, nothing on
stdout while it arrives), then prints exactly the checked JSON document on stdout: indented and
highlighted on a terminal, one compact line in a pipe. Notes, the footer and, when the answer
stays invalid, the raw answer go to stderr.
"""

from __future__ import annotations

import sys
import weakref
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from qwen_cli import structs
from qwen_cli.cli.options import OUTPUT

if TYPE_CHECKING:
    from qwen_cli.cli.answer import Output
    from qwen_cli.cli.chat_session import ChatSession
    from qwen_cli.cli.options import Ask
    from qwen_cli.client import Qwen
    from qwen_cli.schema import Shape
    from qwen_cli.store import Store
    from qwen_cli.types import AnswerResult, Message

Schema = Annotated[
    Optional[str],
    typer.Option(
        "--schema",
        metavar="SCHEMA",
        help="Answer with JSON valid against SCHEMA: a JSON Schema file, inline JSON, or fields "
        "like 'name, age int, tags list[str]: what they are'. stdout gets only the JSON.",
        rich_help_panel=OUTPUT,
    ),
]
SchemaMulti = Annotated[
    Optional[str],
    typer.Option(
        "--schema-multi",
        metavar="SCHEMA",
        help='Like --schema, for every match: {"items": [SCHEMA, ...]}.',
        rich_help_panel=OUTPUT,
    ),
]

# the schema of each chat's next turns (``/schema``), kept beside the session, not in it
_ACTIVE: weakref.WeakKeyDictionary[ChatSession, Shape] = weakref.WeakKeyDictionary()


def shape_of(schema: str | None, schema_multi: str | None, ask: Ask | None = None) -> Shape | None:
    """The schema the options name, checked (a UsageError before anything is sent), or None."""
    from qwen_cli.errors import UsageError

    if schema is None and schema_multi is None:
        return None
    if schema is not None and schema_multi is not None:
        raise UsageError(
            "give --schema or --schema-multi, not both", hint="--schema-multi SCHEMA asks for every match"
        )
    if ask is not None and ask.json:
        raise UsageError(
            "--schema already prints JSON: the checked document, alone on stdout",
            hint="leave out --json (the footer stays on stderr; -q drops it)",
        )
    from qwen_cli.schema import parse

    return parse(schema if schema is not None else schema_multi or "", multi=schema_multi is not None)


def run(session: ChatSession, text: str, shape: Shape) -> AnswerResult:
    """One structured turn shown: the checked JSON on stdout, everything else on stderr."""
    from qwen_cli.cli.report import notice
    from qwen_cli.engine.structured import ask
    from qwen_cli.schema import SchemaMismatchError

    out = session.out
    color = out.color_err
    session.out = structs.replace(out, held=True)
    try:
        done = ask(session, text, shape, note=lambda line: notice(line, color=color, style="dim"))
    except SchemaMismatchError as err:
        _raw(err.raw, color)
        raise
    finally:
        session.out = out
    if not done.answer.interrupted:  # a cut answer: exit 130, nothing on stdout
        print_data(done.data, terminal=out.terminal, color=color)
    return done.answer


def run_messages(
    client: Qwen,
    ask: Ask,
    messages: list[Message],
    headers: dict[str, str],
    *,
    model: str,
    out: Output,
    shape: Shape,
) -> AnswerResult:
    """A structured answer outside a conversation (``qwen upload --ask``): the same request
    and rule as a turn (:mod:`qwen_cli.engine.structured`), nothing stored. ``messages`` are
    built with :func:`system` as their system prompt."""
    from qwen_cli import catalog
    from qwen_cli.cli.answer import run as shown_run
    from qwen_cli.cli.report import notice
    from qwen_cli.engine.request import build_request
    from qwen_cli.engine.structured import checked, sampling_for
    from qwen_cli.schema import SchemaMismatchError
    from qwen_cli.types import Message as Wire

    spec = catalog.lookup(model)
    color = out.color_err

    def note(line: str) -> None:
        notice(line, color=color, style="dim")

    sampling = sampling_for(ask.sampling(), shape, spec, note)
    held = structs.replace(out, held=True)

    def send(more: list[Message]) -> AnswerResult:
        req = build_request(client, spec, [*messages, *more], sampling)
        req.headers.update(headers)
        result = shown_run(client, req, held)
        if result.error is not None:
            raise result.error
        return result

    first = send([])
    again = [Wire(role="assistant", content=first.content)]
    try:
        done = checked(
            shape,
            first,
            lambda text: send([*again, Wire(role="user", content=text)]),
            note=note,
            model=spec.id,
            kept=False,
        )
    except SchemaMismatchError as err:
        _raw(err.raw, color)
        raise
    if not done.answer.interrupted:
        print_data(done.data, terminal=out.terminal, color=color)
    return done.answer


def system(given: str | None, shape: Shape | None, model: str) -> str | None:
    """The system prompt to send: the user's own, plus the schema where the model needs it there."""
    if shape is None:
        return given
    from qwen_cli import catalog
    from qwen_cli.engine.structured import system_for

    return system_for(given, shape, catalog.lookup(model))


def print_data(data: object, *, terminal: bool, color: bool) -> None:
    """The document on stdout: indented and highlighted on a terminal, one line in a pipe."""
    from qwen_cli.safetext import shown
    from qwen_cli.schema import dumps

    if terminal:
        from qwen_cli import render

        render.print_json(dumps(data, pretty=True), out=sys.stdout, color=color)
        return
    sys.stdout.write(shown(dumps(data, pretty=False), sys.stdout, json=True) + "\n")
    sys.stdout.flush()


def _raw(raw: str, color: bool) -> None:
    """The answer that stayed invalid, as the model wrote it, on stderr (never obeyed there)."""
    from qwen_cli.cli.report import notice
    from qwen_cli.safetext import shown

    notice("the model's last answer (not valid against the schema):", color=color, style="dim")
    sys.stderr.write(shown(raw if raw.endswith("\n") else raw + "\n", sys.stderr))
    sys.stderr.flush()


# --------------------------------------------------------------------------- qwen chat


def active(session: ChatSession) -> Shape | None:
    """The schema the chat's next turns must match (``--schema`` at start, ``/schema``)."""
    return _ACTIVE.get(session)


def set_active(session: ChatSession, shape: Shape | None) -> None:
    if shape is None:
        _ACTIVE.pop(session, None)
    else:
        _ACTIVE[session] = shape


def send(session: ChatSession, text: str) -> AnswerResult | None:
    """A chat turn under its schema, if one is set (else None: the caller sends as usual)."""
    shape = active(session)
    return run(session, text, shape) if shape is not None else None


def slash(session: ChatSession, arg: str) -> None:
    """``/schema FILE|INLINE`` sets the schema of the next turns, ``/schema -`` drops it,
    ``/schema`` alone shows it."""
    from qwen_cli.cli.chat_commands import write_info
    from qwen_cli.cli.report import notice
    from qwen_cli.schema import dumps, parse

    color = session.out.color_err
    current = active(session)
    if not arg:
        write_info(dumps(current.schema, pretty=True) if current else "no schema: answers are free text")
        return
    if arg == "-":
        set_active(session, None)
        notice("schema dropped: answers are free text again", color=color, style="dim")
        return
    shape = parse(arg)
    set_active(session, shape)
    fields = ", ".join(shape.schema.get("properties", {})) or "see /schema"
    notice(f"answers must now match the schema ({fields}); /schema - drops it", color=color, style="dim")


# --------------------------------------------------------------------------- qwen history export --data


def data_lines(store: Store, conversation: str | None) -> str:
    """``history export --data``: each structured answer (a turn asked with --schema or /schema)
    that matches its schema, as one JSON line, oldest first; of one conversation, or of all.
    An answer that stayed invalid is left out (``history show`` has it, raw)."""
    from qwen_cli.schema import check, dumps

    if conversation is not None:
        convs = [store.get(store.resolve(conversation))]
    else:
        convs = sorted(store.recent(None), key=lambda c: c.created_at)
    out: list[str] = []
    for conv in convs:
        for msg in store.messages(conv.id):
            shape = msg.options.get("schema") if msg.role == "assistant" else None
            if not isinstance(shape, dict) or not msg.content:
                continue
            data, problems = check(msg.content, shape)
            if not problems:
                out.append(dumps(data, pretty=False) + "\n")
    return "".join(out)
