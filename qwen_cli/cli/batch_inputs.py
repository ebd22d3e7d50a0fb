"""The input options of `qwen batch run`, `plan` and `submit`, and the one way they are read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from qwen_cli.cli import options as o
from qwen_cli.errors import UsageError

if TYPE_CHECKING:
    from qwen_cli.batch.inputs import Inputs
    from qwen_cli.cli.batch_opts import BatchOpts
    from qwen_cli.config import Settings

INPUT = "Input"

File = Annotated[
    Optional[Path],
    typer.Argument(
        metavar="FILE",
        help="JSONL (one request a line) or CSV; leave out with --files.",
        show_default=False,
    ),
]
Files = Annotated[
    Optional[Path],
    typer.Option("--files", metavar="DIR", help="One request per text file in DIR.", rich_help_panel=INPUT),
]
Format = Annotated[
    Optional[str],
    typer.Option("--format", help="jsonl or csv [default: from the file's name].", rich_help_panel=INPUT),
]
PromptColumn = Annotated[
    Optional[str],
    typer.Option(
        "--prompt-column", help="CSV: the column of prompts [default: prompt].", rich_help_panel=INPUT
    ),
]
IdColumn = Annotated[
    Optional[str],
    typer.Option(
        "--id-column", help="CSV: the column of ids [default: the row number].", rich_help_panel=INPUT
    ),
]
Strict = Annotated[
    bool,
    typer.Option(
        "--strict", help="Stop at the first bad line instead of leaving it out.", rich_help_panel=INPUT
    ),
]


def read_inputs(
    ask: o.Ask,
    settings: Settings,
    file: Path | None,
    files: Path | None,
    fmt: str | None,
    prompt_column: str | None,
    id_column: str | None,
    strict: bool,
    opts: BatchOpts | None = None,
) -> Inputs:
    """The requests of FILE (or of --files DIR) with the command's model, system prompt and
    sampling as defaults (thinking always said, off unless asked); bad lines are warned about
    and left out, or stop everything with ``strict``. Shared by ``run``, ``plan`` and ``submit``.
    ``opts``: a template's prompt around each prompt, a schema asked of each body (batch_opts)."""
    from qwen_cli.batch.inputs import FORMATS, Defaults, read_items
    from qwen_cli.providers.dashscope import chat_body
    from qwen_cli.structs import replace
    from qwen_cli.types import ChatParams, ChatRequest

    if (file is None) == (files is None):
        raise UsageError(
            "give one input: a FILE or --files DIR"
            if file is None
            else "give a FILE or --files DIR, not both",
            hint="qwen batch run prompts.jsonl -o results.jsonl",
        )
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    sampling = ask.sampling()
    # thinking is always said, on or off: newer models think unless told not to, and bill for it
    sampling = replace(sampling, think=bool(sampling.think or sampling.thinking_budget))
    model = ask.model or settings.model
    shape = opts.shape if opts is not None else None
    if shape is not None:  # structured output: thinking off, for every line's model (batch_opts.shaped)
        if sampling.think or sampling.thinking_budget:
            _note("note: structured output is asked with thinking off (--schema)")
        sampling = replace(sampling, think=False, thinking_budget=None)
    body = chat_body(
        ChatRequest(model=model, messages=[], stream=False, params=ChatParams(**sampling.params()))
    )
    params = {k: v for k, v in body.items() if k not in ("model", "messages", "stream")}
    found = read_items(
        file,
        Defaults(model=model, system=ask.system, params=params, wrap=opts.wrap if opts else None),
        fmt=fmt,
        prompt_column=prompt_column,
        id_column=id_column,
        files_dir=files,
    )
    if shape is not None:
        from qwen_cli.cli.batch_opts import shaped

        found.items = [replace(it, body=shaped(it.body, shape)) for it in found.items]
    if found.problems and strict:
        line, why = found.problems[0].line, found.problems[0].message
        raise UsageError(
            f"{found.source}:{line}: {why}", hint="fix that line, or leave --strict out to skip it"
        )
    for p in found.problems:
        sys.stderr.write(f"qwen: warning: {found.source}:{p.line}: {p.message} (left out)\n")
    if not found.items:
        raise UsageError(
            f"{found.source}: no request can be sent",
            hint="the lines above say why (qwen batch plan FILE too)",
        )
    return found


def _note(line: str) -> None:
    sys.stderr.write(f"qwen: {line}\n")
