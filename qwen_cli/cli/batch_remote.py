"""`qwen batch submit/status/wait/fetch/cancel/list`: DashScope's Batch API, at half price.

``register(app)`` adds the commands to the ``qwen batch`` group (``cli/batch.py``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from qwen_cli import structs
from qwen_cli.cli import batch_inputs as bi
from qwen_cli.cli import options as o
from qwen_cli.cli import schema_options as so
from qwen_cli.cli import template_options as tpl
from qwen_cli.errors import EXIT_INTERRUPTED, QwenAPIError, UsageError
from qwen_cli.safetext import shown

if TYPE_CHECKING:
    from qwen_cli.batch.remote import BatchInfo
    from qwen_cli.client import Qwen
    from qwen_cli.config import Settings

REMOTE = "Batch API"
MAX_POLL = 600.0  # wait's longest pause between looks (unless --interval asks for more)
BACKOFF = 1.5

BatchId = Annotated[
    str, typer.Argument(metavar="ID", help="The batch's id (batch_...), as submit printed it.")
]
Window = Annotated[
    str,
    typer.Option(
        "--window",
        metavar="TIME",
        help="Time the service may take: 24h to 336h, or 1d to 14d.",
        rich_help_panel=REMOTE,
    ),
]
Name = Annotated[
    Optional[str],
    typer.Option("--name", help="A name for the batch (up to 100 characters).", rich_help_panel=REMOTE),
]
Description = Annotated[
    Optional[str],
    typer.Option("--description", help="A description (up to 200 characters).", rich_help_panel=REMOTE),
]
Resubmit = Annotated[
    bool,
    typer.Option(
        "--force", help="Submit even if the same input was submitted before.", rich_help_panel=REMOTE
    ),
]
Interval = Annotated[
    float,
    typer.Option(
        "--interval",
        metavar="SECONDS",
        min=0.01,
        max=3600.0,
        help="Seconds before the second look; later ones wait longer (up to 10 minutes).",
        rich_help_panel=REMOTE,
    ),
]
Out = Annotated[
    str, typer.Option("--output", "-o", metavar="FILE", help="Where to write the results; - for stdout.")
]
Overwrite = Annotated[bool, typer.Option("--force", help="Overwrite the output file if it exists.")]
Limit = Annotated[
    int, typer.Option("--limit", min=1, max=1000, help="How many batches to list, newest first.")
]


def register(app: typer.Typer) -> None:
    """Add the Batch API commands to the ``qwen batch`` group."""
    for name, fn in (
        ("submit", submit),
        ("status", status),
        ("wait", wait),
        ("fetch", fetch),
        ("cancel", cancel),
        ("list", list_batches),
    ):
        app.command(name)(fn)


# --------------------------------------------------------------------------- shared


def _ask(**kw: object) -> o.Ask:
    return o.Ask(**{k: v for k, v in kw.items() if k in structs.field_names(o.Ask)})  # type: ignore[arg-type]


def _open(ask: o.Ask) -> tuple[Settings, Qwen]:
    """Settings and a client for a server with a batch service; one clear error otherwise."""
    from qwen_cli.cli.answer import client_for, settings_for
    from qwen_cli.providers import provider_class

    s = settings_for(ask)
    if not provider_class(s.provider).capabilities.batch:
        raise UsageError(
            f"the {s.provider} provider has no batch service",
            hint="run the requests from here instead with `qwen batch run FILE -o results.jsonl`, "
            "or use --provider dashscope",
        )
    return s, client_for(s)


def _color(ask: o.Ask) -> bool:
    plain = ask.no_color or "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"
    return sys.stderr.isatty() and not plain


def _note(ask: o.Ask, text: str) -> None:
    if not ask.quiet:
        from qwen_cli.cli.report import notice

        notice(text, color=_color(ask), style="dim")


def _json_out(obj: object) -> None:
    import json

    sys.stdout.write(shown(json.dumps(obj, ensure_ascii=False) + "\n", sys.stdout, json=True))


def _remembered(batch_id: str, status: str) -> None:
    from qwen_cli.batch import jobs

    jobs.note_status(batch_id, status)


# --------------------------------------------------------------------------- submit


def submit(
    file: bi.File = None,
    files: bi.Files = None,
    fmt: bi.Format = None,
    prompt_column: bi.PromptColumn = None,
    id_column: bi.IdColumn = None,
    model: o.Model = None,
    system: o.System = None,
    think: o.Think = None,
    window: Window = "24h",
    name: Name = None,
    description: Description = None,
    strict: bi.Strict = False,
    force: Resubmit = False,
    json: o.Json = False,
    quiet: o.Quiet = False,
    no_color: o.NoColor = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    connect_timeout: o.ConnectTimeout = None,
    max_retries: o.MaxRetries = None,
    template: tpl.TemplateName = None,
    param: tpl.Params = None,
    schema: so.Schema = None,
    schema_multi: so.SchemaMulti = None,
    debug: o.Debug = False,
) -> None:
    """Submit a file of requests to DashScope's Batch API (half price, done within --window).

    The input is read as `qwen batch run` reads it: JSONL ({"custom_id", "body"} as the
    Batch API takes it, {"id", "prompt", "system", ...} or a bare "string"), CSV with
    --prompt-column, or --files DIR. -m, -s and --think/--no-think fill in what a line does
    not say (thinking is always sent, off unless --think). One model a file; over 50,000
    requests or 500 MB the file is split into several batches. Prints each batch's id; the
    batch is remembered here, for fetch. --template wraps each prompt line's prompt (a
    {"custom_id", "body"} line is sent as written); with --schema, fetch checks each answer.

    Examples:

      qwen batch submit prompts.jsonl -m qwen-plus --no-think

      qwen batch submit prompts.jsonl --window 7d --name "tickets, March"
    """
    from qwen_cli.batch import jobs
    from qwen_cli.batch import submit as sub
    from qwen_cli.cli.batch_opts import resolve

    ask, opts = resolve(_ask(**locals()), template, param, schema, schema_multi)
    window = sub.check_window(window)
    meta = sub.metadata(name, description)
    s, client = _open(ask)
    found = bi.read_inputs(ask, s, file, files, fmt, prompt_column, id_column, strict, opts)
    items = [(it.custom_id, it.body) for it in found.items]
    prep = sub.prepare(items, model=s.model, think=think)
    before = jobs.submitted_before(prep.sha256, client.base_url)
    if before and not force:
        b = before[-1]
        raise UsageError(
            f"this input was already submitted as {b.id} ({b.status} when last seen)",
            hint=f"follow it with `qwen batch wait {b.id}`, or give --force to submit (and pay) again",
        )
    source = str(file if file is not None else files)
    path = os.path.abspath(source)
    stem = os.path.splitext(os.path.basename(source.rstrip("/")))[0] or "batch"
    n = len(prep.parts)
    if n > 1:
        _note(ask, f"{prep.count} requests: over the Batch API's limits for one file, so {n} batches")
    with client:
        for i, (ids, payload) in enumerate(zip(prep.parts, prep.payloads, strict=True), 1):
            upload_name = f"{stem}.part{i}.jsonl" if n > 1 else f"{stem}.jsonl"
            uploaded = client.batches.upload(upload_name, payload)
            batch = client.batches.create(uploaded.id, endpoint=prep.endpoint, window=window, metadata=meta)
            jobs.add(
                jobs.Job(
                    id=batch.id,
                    base_url=client.base_url,
                    input=path,
                    sha256=prep.sha256,
                    model=prep.model,
                    count=len(ids),
                    part=i,
                    parts=n,
                    input_file_id=uploaded.id,
                    status=batch.status,
                    schema=opts.shape.schema if opts.shape is not None else None,
                ),
                ids,
            )
            if json:
                _json_out(
                    {
                        "id": batch.id,
                        "status": batch.status,
                        "requests": len(ids),
                        "input_file_id": uploaded.id,
                    }
                )
            else:
                sys.stdout.write(shown(batch.id + "\n", sys.stdout))
            sys.stdout.flush()
            _note(ask, f"submitted {batch.id}: {len(ids)} requests to {prep.model}, window {window}")
    _note(
        ask,
        f"follow it with: qwen batch wait {batch.id}" if n == 1 else "follow them with: qwen batch wait ID",
    )


# --------------------------------------------------------------------------- status, list


def status(
    batch_id: Annotated[
        Optional[str], typer.Argument(metavar="[ID]", help="A batch's id; none: list them.")
    ] = None,
    limit: Limit = 20,
    json: o.Json = False,
    quiet: o.Quiet = False,
    no_color: o.NoColor = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    connect_timeout: o.ConnectTimeout = None,
    max_retries: o.MaxRetries = None,
    debug: o.Debug = False,
) -> None:
    """Show a batch's status and counts, or a table of your batches.

    Examples:

      qwen batch status batch_0123abcd

      qwen batch status
    """
    ask = _ask(**locals())
    if batch_id is None:
        _list(ask, limit)
        return
    from qwen_cli.batch import jobs
    from qwen_cli.cli import batch_view

    _, client = _open(ask)
    with client:
        b = client.batches.retrieve(batch_id)
    _remembered(b.id, b.status)
    if json:
        _json_out(b.raw)
    else:
        sys.stdout.write(shown(batch_view.block(b, jobs.find(b.id)), sys.stdout))


def list_batches(
    limit: Limit = 20,
    json: o.Json = False,
    quiet: o.Quiet = False,
    no_color: o.NoColor = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    connect_timeout: o.ConnectTimeout = None,
    max_retries: o.MaxRetries = None,
    debug: o.Debug = False,
) -> None:
    """List your batches of the last 30 days, newest first.

    Example:

      qwen batch list --limit 50
    """
    _list(_ask(**locals()), limit)


def _list(ask: o.Ask, limit: int) -> None:
    import shutil

    from qwen_cli.batch import jobs
    from qwen_cli.cli import batch_view

    _, client = _open(ask)
    with client:
        items = client.batches.list(limit=limit)
    if ask.json:
        _json_out([b.raw for b in items])
        return
    if not items:
        _note(ask, "no batches")
        return
    known = {j.id: j for j in jobs.load()}
    width = shutil.get_terminal_size((100, 24)).columns
    bold = _color(ask) and sys.stdout.isatty()
    batch_view.table(items, known, out=sys.stdout, width=width, bold=bold)


# --------------------------------------------------------------------------- wait


def wait(
    batch_id: BatchId,
    interval: Interval = 60.0,
    json: o.Json = False,
    quiet: o.Quiet = False,
    no_color: o.NoColor = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    connect_timeout: o.ConnectTimeout = None,
    max_retries: o.MaxRetries = None,
    debug: o.Debug = False,
) -> None:
    """Wait until a batch is done, showing its progress on stderr.

    Looks again after --interval seconds, then less and less often (up to every 10
    minutes). Exits 0 once completed; 1 if it failed, expired or was cancelled.
    Ctrl-C stops waiting, not the batch.

    Example:

      qwen batch wait batch_0123abcd && qwen batch fetch batch_0123abcd -o results.jsonl
    """
    from qwen_cli.cli.batch_view import WaitView

    ask = _ask(**locals())
    _, client = _open(ask)
    live = sys.stderr.isatty() and os.environ.get("TERM") != "dumb" and not ask.quiet
    view = WaitView(live=live, color=_color(ask))
    pause = interval
    try:
        with client:
            while True:
                b = client.batches.retrieve(batch_id)
                _remembered(b.id, b.status)
                if not ask.quiet:
                    view.update(b)
                if b.settled:
                    break
                time.sleep(pause)
                pause = min(pause * BACKOFF, max(MAX_POLL, interval))
    except KeyboardInterrupt:
        view.close()
        _note(ask, f"stopped waiting; the batch goes on (qwen batch wait {batch_id} to wait again)")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    view.close()
    if json:
        _json_out(b.raw)
    _settled(ask, b)


def _settled(ask: o.Ask, b: BatchInfo) -> None:
    """Say how a settled batch ended; an error for any end but ``completed``."""
    c = b.counts
    fetch = f"qwen batch fetch {b.id} -o results.jsonl"
    if b.status == "completed":
        _note(ask, f"{b.id} completed: {c.completed} done, {c.failed} failed; get the results with: {fetch}")
        return
    if b.status == "failed":
        why = "; ".join(b.errors) or "no reason given"
        raise QwenAPIError(
            f"batch {b.id} failed: {why}", hint="fix the input and submit it again (nothing was billed)"
        )
    raise QwenAPIError(
        f"batch {b.id} {b.status}: {c.completed + c.failed} of {c.total} requests done",
        hint=f"get what was done with: {fetch} (the rest was not billed)",
    )


# --------------------------------------------------------------------------- cancel


def cancel(
    batch_id: BatchId,
    json: o.Json = False,
    quiet: o.Quiet = False,
    no_color: o.NoColor = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    connect_timeout: o.ConnectTimeout = None,
    max_retries: o.MaxRetries = None,
    debug: o.Debug = False,
) -> None:
    """Cancel a batch; the requests done by then are billed and their results kept.

    Example:

      qwen batch cancel batch_0123abcd
    """
    ask = _ask(**locals())
    _, client = _open(ask)
    with client:
        b = client.batches.retrieve(batch_id)
        if b.settled:
            _remembered(b.id, b.status)
            raise UsageError(
                f"batch {b.id} is already {b.status}: nothing to cancel",
                hint=f"get its results with: qwen batch fetch {b.id} -o results.jsonl",
            )
        b = client.batches.cancel(batch_id)
    _remembered(b.id, b.status)
    if json:
        _json_out(b.raw)
    _note(ask, f"{b.id}: {b.status}; what was done is kept: qwen batch wait {b.id}, then fetch it")


# --------------------------------------------------------------------------- fetch


def fetch(
    batch_id: BatchId,
    output: Out = "-",
    force: Overwrite = False,
    quiet: o.Quiet = False,
    no_color: o.NoColor = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    connect_timeout: o.ConnectTimeout = None,
    max_retries: o.MaxRetries = None,
    debug: o.Debug = False,
) -> None:
    """Download a settled batch's results: one JSON line per request, by custom_id.

    Each line: {"custom_id", "answer", "finish_reason", "usage", "error", "status_code",
    "request_id"}. Every line is judged on its own (a failure can hide in the output
    file while the batch counts none); requests of the input with no result at all are
    written with the error "not_processed". Exits 1 if any request failed.

    Example:

      qwen batch fetch batch_0123abcd -o results.jsonl
    """
    from qwen_cli.cli import batch_fetch

    ask = _ask(**locals())
    if output != "-" and os.path.exists(output) and not force:
        raise UsageError(f"{output} exists", hint="give another -o FILE, or --force to overwrite it")
    _, client = _open(ask)
    with client:
        b = client.batches.retrieve(batch_id)
        _remembered(b.id, b.status)
        batch_fetch.run(ask, client, b, output)
