"""A structured turn on top of a :class:`~qwen_cli.engine.session.Session`: an answer that is
one JSON document valid against a schema (``--schema``, ``/schema``).

The turn is a normal turn of the conversation (stored as it happens), asked with:

* ``response_format`` (strict ``json_schema`` where the catalogue says the model takes it,
  else ``json_object`` with the schema added to the system prompt for the turn);
* thinking off (thinking models do not do structured output): ``note`` says so when the model
  would have thought;
* the schema kept in the stored messages' ``options`` (``{"schema": {...}}``), so
  ``history export --data`` finds the turn.

The answer is checked locally; an invalid one gets ONE repair turn on the same model (the
violations and the answer), and a second failure raises
:class:`~qwen_cli.schema.SchemaMismatchError` (exit 1) naming the first violation's JSON path,
both answers kept in the store. Nothing here prints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from qwen_cli import structs
from qwen_cli.engine.request import Sampling
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.catalog import ModelSpec
    from qwen_cli.engine.session import Session
    from qwen_cli.schema import Shape, Violation
    from qwen_cli.types import AnswerResult

Note = Callable[[str], None]


@struct(frozen=True)
class SchemaSampling(Sampling):
    """The turn's sampling with ``response_format`` sent and the schema stored with the turn."""

    response_format: dict[str, Any] | None = None
    schema: dict[str, Any] | None = None

    def params(self) -> dict[str, Any]:
        return super().params() | {"response_format": self.response_format, "json_mode": False}

    def stored(self) -> dict[str, Any]:
        out = super().stored()
        out.pop("response_format", None)  # the schema says it, once
        if self.schema is not None:
            out["schema"] = self.schema
        return out


@struct
class Structured:
    """The outcome of a structured turn: the document (``None`` when the answer was cut) and
    the last answer; ``repaired``: the first answer was invalid, the repair turn fixed it."""

    data: Any
    answer: AnswerResult
    repaired: bool = False


def ask(session: Session, text: str, shape: Shape, *, note: Note = lambda _: None) -> Structured:
    """Send ``text`` for an answer matching ``shape``; repair once; raise if still invalid.

    The turn's errors (a refused request, a broken stream) propagate as from ``session.send``.
    An interrupted answer is returned as it is (``data`` None), never repaired.
    """
    from qwen_cli import catalog

    spec = catalog.lookup(session.model)
    with asked(session, shape, spec, note):
        return checked(shape, session.send(text), session.send, note=note, model=spec.id)


def checked(
    shape: Shape,
    first: AnswerResult,
    again: Callable[[str], AnswerResult],
    *,
    note: Note,
    model: str,
    kept: bool = True,
) -> Structured:
    """The rule, once: ``first`` checked; if invalid, ``again`` asked the repair message (the
    violations and the answer) on the same model and its answer checked; still invalid: raise.
    ``kept``: the answers are in the history (said in the hint)."""
    from qwen_cli.schema import SchemaMismatchError, check, repair_text

    if first.interrupted:
        return Structured(None, first)
    data, problems = check(first.content, shape.schema)
    if not problems:
        return Structured(data, first)
    note(f"the answer does not match the schema ({problems[0]}): asking {model} to correct it, once")
    second = again(repair_text(first.content, problems))
    if second.interrupted:
        return Structured(None, second, repaired=True)
    data, problems = check(second.content, shape.schema)
    if not problems:
        return Structured(data, second, repaired=True)
    where = "above and kept in the history (qwen history show)" if kept else "above"
    raise SchemaMismatchError(
        f"the answer does not match the schema, even after one correction: {_first(problems)}",
        path=problems[0].path,
        raw=second.content,
        request_id=second.request_id,
        hint=f"the raw answer is {where}; a simpler schema or a stronger model (-m) may help",
    )


def _first(problems: list[Violation]) -> str:
    more = len(problems) - 1
    return str(problems[0]) + (f" (and {more} more)" if more else "")


def sampling_for(base: Sampling, shape: Shape, spec: ModelSpec, note: Note) -> SchemaSampling:
    """``base`` with the schema asked for and, for a model that can think, thinking off (with a
    note when it would have thought: by default, or asked with --think / a budget)."""
    from qwen_cli.schema import response_format

    fields = {name: getattr(base, name) for name in structs.field_names(Sampling)}
    if spec.thinking:
        if base.think or base.thinking_budget or (spec.thinking_default and base.think is None):
            note(f"note: structured output is asked with thinking off ({spec.id} does not think for it)")
        fields.update(think=False, thinking_budget=None)
    return SchemaSampling(**fields, response_format=response_format(shape, spec), schema=shape.schema)


def system_for(system: str | None, shape: Shape, spec: ModelSpec) -> str | None:
    """The system prompt of a structured turn: the user's own, plus the schema where the model
    takes it in the prompt (``json_object``)."""
    from qwen_cli.schema import system_text

    instruction = system_text(shape, spec)
    if instruction is None:
        return system
    return f"{system}\n\n{instruction}" if system else instruction


@contextlib.contextmanager
def asked(session: Session, shape: Shape, spec: ModelSpec, note: Note) -> Iterator[None]:
    """The session set up for structured turns, then put back as it was (the stored system
    prompt included: the schema instruction belongs to these turns only)."""
    saved = (session.sampling, session.think, session.think_budget, session.system)
    session.sampling = sampling_for(session.turn_sampling(), shape, spec, note)
    session.think, session.think_budget = session.sampling.think, session.sampling.thinking_budget
    session.system = system_for(saved[3], shape, spec)
    try:
        yield
    finally:
        session.sampling, session.think, session.think_budget, session.system = saved
        conv = session.conversation
        if conv is not None and conv.system != saved[3]:
            session.set_system(saved[3])  # a conversation started by this turn keeps the user's own
            conv.system = saved[3]
