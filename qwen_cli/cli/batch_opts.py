"""``--template``/``-p`` and ``--schema``/``--schema-multi`` on ``qwen batch run``, ``plan`` and
``submit``: what they change in every request body, decided once, before the input is read.

* A template fills what the command line left unset (model, system prompt, options: explicit
  options win, as in ``complete``) and its prompt wraps the prompt of every prompt line, CSV
  row and ``--files`` file (``$input`` is that prompt). A Batch-API line (``{"custom_id",
  "body"}``) is sent as it is written. A template with ``shell``, ``code`` or ``extract`` is
  refused: those are interactive or display modes that a file of answers has no use for.
* A schema (or the template's ``schema`` key) gives every body its ``response_format``
  (strict ``json_schema`` where the catalogue says the body's model takes it, else
  ``json_object`` with the schema in the system prompt) and thinking off; ``run`` checks each
  answer (:mod:`qwen_cli.batch.structured`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qwen_cli.errors import UsageError
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.cli.options import Ask
    from qwen_cli.cli.template_options import Applied
    from qwen_cli.schema import Shape

# the template keys that are modes of `complete`/`chat`, not of a file of answers
NOT_FOR_BATCH = ("shell", "code", "extract")


@struct(frozen=True)
class BatchOpts:
    """What a template and a schema do to a batch's requests."""

    applied: Applied | None = None
    shape: Shape | None = None

    @property
    def wrap(self) -> Callable[[str], str] | None:
        """The template's prompt around a line's prompt (None: the prompt as it is)."""
        applied = self.applied
        if applied is None or applied.template is None:
            return None
        return lambda text: applied.message(text) or text


def resolve(
    ask: Ask,
    template: str | None,
    params: list[str] | None,
    schema: str | None,
    schema_multi: str | None,
) -> tuple[Ask, BatchOpts]:
    """``ask`` with the template's values where the command line gave none, and what the
    template and schema do to each body; a bad template or schema is a UsageError (exit 2)
    before the input is read or anything sent."""
    from qwen_cli.cli import schema_options as so
    from qwen_cli.cli import template_options as tpl

    ask, applied = tpl.apply(ask, template, params)
    modes = applied.modes
    refused = [k for k in NOT_FOR_BATCH if modes.get(k)]
    if refused and applied.template is not None:
        raise UsageError(
            f"template {applied.template.name!r} is a --{refused[0]} template: qwen batch has no "
            f"{refused[0]} mode",
            hint=f"use it with qwen complete --template {applied.template.name}, or a template "
            "without shell/code/extract",
        )
    if schema is None and schema_multi is None and modes.get("schema"):
        schema = str(modes["schema"])
    shape = so.shape_of(schema, schema_multi)  # not `ask`: plan's --json is its own output
    if shape is not None and ask.json_mode:
        raise UsageError(
            "--json-mode and --schema both set response_format", hint="give --schema alone: it implies JSON"
        )
    if applied.template is not None:
        applied.message("-")  # a variable with no value: said now, not at the first line
    return ask, BatchOpts(applied if applied.template is not None else None, shape)


def shaped(body: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """``body`` asking for JSON valid against ``shape``: its ``response_format`` for the body's
    own model, thinking off, and (``json_object``) the schema added to its system prompt."""
    from qwen_cli import catalog
    from qwen_cli.engine.structured import system_for
    from qwen_cli.schema import response_format

    spec = catalog.lookup(str(body.get("model") or ""))
    out = dict(body)
    out["response_format"] = response_format(shape, spec)
    out["enable_thinking"] = False  # thinking models do not do structured output
    out.pop("thinking_budget", None)
    messages = list(out.get("messages") or [])
    first = messages[0] if messages else None
    if isinstance(first, dict) and first.get("role") == "system" and isinstance(first.get("content"), str):
        messages[0] = {**first, "content": system_for(first["content"], shape, spec)}
    else:
        instruction = system_for(None, shape, spec)
        if instruction is not None:
            messages.insert(0, {"role": "system", "content": instruction})
    out["messages"] = messages
    return out
