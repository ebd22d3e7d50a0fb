"""`qwen batch`: many prompts from a file: plan them, run them locally (resumable), resume.

The Batch API's commands (submit, status, wait, fetch, cancel, list) live in
``qwen_cli.cli.batch_remote`` and join this group at the end of this module.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from qwen_cli import structs
from qwen_cli.cli import options as o
from qwen_cli.cli import schema_options as so
from qwen_cli.cli import template_options as tpl
from qwen_cli.cli.batch_inputs import File, Files, Format, IdColumn, PromptColumn, Strict, read_inputs
from qwen_cli.errors import EXIT_INTERRUPTED, QwenAPIError, UsageError

if TYPE_CHECKING:
    from qwen_cli.batch.inputs import Inputs
    from qwen_cli.cli.batch_opts import BatchOpts
    from qwen_cli.config import Settings

app = typer.Typer(
    name="batch",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

RUN = "Run"

Rpm = Annotated[
    Optional[int],
    typer.Option(
        "--rpm", min=1, max=1_000_000, help="Requests per minute to stay under.", rich_help_panel=RUN
    ),
]
Tpm = Annotated[
    Optional[int],
    typer.Option(
        "--tpm", min=1, max=1_000_000_000, help="Tokens per minute to stay under.", rich_help_panel=RUN
    ),
]
Output = Annotated[
    Path,
    typer.Option("--output", "-o", metavar="FILE", help="Where the results go (JSONL).", rich_help_panel=RUN),
]
Concurrency = Annotated[
    int,
    typer.Option(
        "--concurrency", "-j", min=1, max=256, help="Requests in flight at most.", rich_help_panel=RUN
    ),
]
Ordered = Annotated[
    bool,
    typer.Option("--ordered", help="Results in input order (else as they complete).", rich_help_panel=RUN),
]
Append = Annotated[
    bool, typer.Option("--append", help="Add to an existing output: resume it.", rich_help_panel=RUN)
]
Force = Annotated[
    bool, typer.Option("--force", help="Replace an existing output and start over.", rich_help_panel=RUN)
]
RetryFailed = Annotated[
    bool,
    typer.Option("--retry-failed", help="Send the requests that failed before again.", rich_help_panel=RUN),
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Neither use nor keep cached answers.", rich_help_panel=RUN)
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the plan and send nothing.", rich_help_panel=RUN)
]
PlanJson = Annotated[bool, typer.Option("--json", help="Print the plan as one JSON object.")]


@app.callback()
def batch() -> None:
    """Run many prompts from a file: locally, or on DashScope's Batch API.

    Input: JSONL, one request a line ({"custom_id", "body"} as the Batch API
    takes it, {"id", "prompt", "system", ...}, or a bare "string"), CSV
    with a prompt column, or --files DIR (one request per text file).

    Examples:

      qwen batch plan prompts.jsonl -m qwen-plus

      qwen batch run prompts.jsonl -o results.jsonl -j 16 --no-think

      qwen batch run tickets.csv --prompt-column text --id-column id -o out.jsonl

      qwen batch resume prompts.jsonl -o results.jsonl

      qwen batch submit prompts.jsonl -m qwen-plus    (then: wait ID, fetch ID -o out.jsonl)
    """


def _ask(**kw: object) -> o.Ask:
    return o.Ask(**{k: v for k, v in kw.items() if k in structs.field_names(o.Ask)})  # type: ignore[arg-type]


def _limits(settings: Settings, model: str, rpm: int | None, tpm: int | None):  # type: ignore[no-untyped-def]
    from qwen_cli.batch.ratelimit import limits_for

    return limits_for(model, dashscope=settings.dashscope_region is not None, rpm=rpm, tpm=tpm)


def _fitted(text: str) -> str:
    """The end summary wrapped between words on a terminal (under its ``qwen: `` prefix)."""
    from qwen_cli.render import terminal_width, wrap_lines

    return wrap_lines(text.rstrip("\n"), terminal_width(sys.stderr), 6) + "\n"


def _show_plan(
    found: Inputs, settings: Settings, model: str, rpm: int | None, tpm: int | None, json: bool
) -> None:
    from qwen_cli.batch.plan import make_plan
    from qwen_cli.safetext import shown

    p = make_plan(found, _limits(settings, model, rpm, tpm), settings.dashscope_region)
    if json:
        import json as _json

        sys.stdout.write(
            shown(_json.dumps(p.as_dict(), ensure_ascii=False, indent=2) + "\n", sys.stdout, json=True)
        )
        return

    def money(x: float | None) -> str:
        return "unknown (no price for this server or model)" if x is None else f"~{p.currency}{x:.4f}"

    guess = (
        f" (assumed {p.output_tokens // max(p.requests, 1):,} a request: set --max-tokens)"
        if p.output_assumed
        else ""
    )
    rate = (
        f"{p.minutes:,.1f} min at {p.rpm or '-':,} rpm / {p.tpm or '-':,} tpm ({p.limits_source})"
        if p.minutes is not None
        else "not limited (no rate limits for this server: --rpm/--tpm)"
    )
    lines = [
        f"input     {p.source}",
        f"requests  {p.requests:,}" + (f" ({len(p.problems)} problem(s) below)" if p.problems else ""),
        "models    " + ", ".join(f"{m} ({n:,})" for m, n in p.models.items()),
        f"tokens    ~{p.input_tokens:,} in, at most ~{p.output_tokens:,} out{guess}",
        f"cost      real-time {money(p.cost_realtime)}",
        f"          Batch API {money(p.cost_batch)} (50%, within 24 h: qwen batch submit)",
        f"time      {rate}",
    ]
    lines += [f"note      {n}" for n in p.notes]
    lines += [f"line {n}: {m}" for n, m in p.problems]
    from qwen_cli.render import terminal_width, wrap_lines

    sys.stdout.write(shown(wrap_lines("\n".join(lines), terminal_width(sys.stdout), 10) + "\n", sys.stdout))


@app.command()
def plan(
    file: File = None,
    files: Files = None,
    fmt: Format = None,
    prompt_column: PromptColumn = None,
    id_column: IdColumn = None,
    strict: Strict = False,
    rpm: Rpm = None,
    tpm: Tpm = None,
    json: PlanJson = False,
    model: o.Model = None,
    system: o.System = None,
    temperature: o.Temperature = None,
    top_p: o.TopP = None,
    max_tokens: o.MaxTokens = None,
    seed: o.Seed = None,
    stop: o.Stop = None,
    think: o.Think = None,
    think_budget: o.ThinkBudget = None,
    json_mode: o.JsonMode = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    template: tpl.TemplateName = None,
    param: tpl.Params = None,
    schema: so.Schema = None,
    schema_multi: so.SchemaMulti = None,
    debug: o.Debug = False,
) -> None:
    """Count requests, tokens, cost and time, and find problems; send nothing.

    Example: qwen batch plan prompts.jsonl -m qwen-plus --max-tokens 300
    """
    from qwen_cli.cli import answer
    from qwen_cli.cli.batch_opts import resolve

    ask, opts = resolve(_ask(**locals()), template, param, schema, schema_multi)
    settings = answer.settings_for(ask)
    found = _inputs_for_plan(ask, settings, file, files, fmt, prompt_column, id_column, strict, opts)
    _show_plan(found, settings, ask.model or settings.model, rpm, tpm, json)


def _inputs_for_plan(
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
    """The inputs for a plan: problems are part of what it shows, not warnings."""
    import contextlib
    import io

    if not strict:
        with contextlib.redirect_stderr(io.StringIO()):
            try:
                return read_inputs(ask, settings, file, files, fmt, prompt_column, id_column, strict, opts)
            except UsageError as err:
                if "no request can be sent" not in err.message:
                    raise
        from qwen_cli.batch.inputs import Inputs

        return Inputs(str(file or files))  # nothing sendable: the plan still lists the problems
    return read_inputs(ask, settings, file, files, fmt, prompt_column, id_column, strict, opts)


@app.command()
def run(
    file: File = None,
    output: Output = Path("results.jsonl"),
    files: Files = None,
    fmt: Format = None,
    prompt_column: PromptColumn = None,
    id_column: IdColumn = None,
    strict: Strict = False,
    concurrency: Concurrency = 8,
    rpm: Rpm = None,
    tpm: Tpm = None,
    ordered: Ordered = False,
    append: Append = False,
    force: Force = False,
    retry_failed: RetryFailed = False,
    no_cache: NoCache = False,
    dry_run: DryRun = False,
    model: o.Model = None,
    system: o.System = None,
    temperature: o.Temperature = None,
    top_p: o.TopP = None,
    max_tokens: o.MaxTokens = None,
    seed: o.Seed = None,
    stop: o.Stop = None,
    think: o.Think = None,
    think_budget: o.ThinkBudget = None,
    json_mode: o.JsonMode = False,
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
    """Send every request from this machine, concurrently, resumably.

    Results go to -o FILE as JSONL, one line a request (custom_id, answer,
    usage, error). Interrupted (Ctrl-C, kill)? The same command again sends
    only what has no answer yet; identical requests answered before come
    from the cache, free.

    --template wraps each line's prompt ($input) and fills unset options; a
    {"custom_id", "body"} line is sent as written. --schema: each answer is
    checked, repaired once, and its line gets "data" (or a schema_mismatch error).

    Example: qwen batch run prompts.jsonl -o results.jsonl -j 16 --no-think
    """
    _run(**locals())


@app.command()
def resume(
    file: File = None,
    output: Output = Path("results.jsonl"),
    files: Files = None,
    fmt: Format = None,
    prompt_column: PromptColumn = None,
    id_column: IdColumn = None,
    concurrency: Concurrency = 8,
    rpm: Rpm = None,
    tpm: Tpm = None,
    ordered: Ordered = False,
    retry_failed: RetryFailed = False,
    no_cache: NoCache = False,
    model: o.Model = None,
    system: o.System = None,
    temperature: o.Temperature = None,
    top_p: o.TopP = None,
    max_tokens: o.MaxTokens = None,
    seed: o.Seed = None,
    stop: o.Stop = None,
    think: o.Think = None,
    think_budget: o.ThinkBudget = None,
    json_mode: o.JsonMode = False,
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
    """Finish an interrupted run: send only the requests with no answer in -o FILE.

    The same as qwen batch run ... --append; give the same input and options.

    Example: qwen batch resume prompts.jsonl -o results.jsonl
    """
    _run(**locals(), append=True, force=False, strict=False, dry_run=False)


def _run(
    *,
    file: Path | None,
    output: Path,
    files: Path | None,
    fmt: str | None,
    prompt_column: str | None,
    id_column: str | None,
    strict: bool,
    concurrency: int,
    rpm: int | None,
    tpm: int | None,
    ordered: bool,
    append: bool,
    force: bool,
    retry_failed: bool,
    no_cache: bool,
    dry_run: bool,
    **kw: object,
) -> None:
    import os

    from qwen_cli import config
    from qwen_cli.batch import local
    from qwen_cli.batch.cache import ResponseCache, cache_path
    from qwen_cli.batch.ratelimit import Pacer
    from qwen_cli.batch.state import state_path
    from qwen_cli.cli import answer
    from qwen_cli.cli.batch_progress import BatchProgress, summary

    if append and force:
        raise UsageError(
            "--append resumes the output, --force replaces it", hint="give one of them, not both"
        )
    from qwen_cli.cli.batch_opts import resolve

    ask, opts = resolve(_ask(**kw), *(kw.get(k) for k in ("template", "param", "schema", "schema_multi")))  # type: ignore[arg-type]
    settings = answer.settings_for(ask)
    model = ask.model or settings.model
    if dry_run:
        found = _inputs_for_plan(ask, settings, file, files, fmt, prompt_column, id_column, strict, opts)
        _show_plan(found, settings, model, rpm, tpm, False)
        return
    found = read_inputs(ask, settings, file, files, fmt, prompt_column, id_column, strict, opts)
    if output.is_dir():
        raise UsageError(f"{output} is a directory", hint="-o names the results file, e.g. -o results.jsonl")
    retries = settings.max_retries
    settings.max_retries = 0  # the runner retries, so that a 429 also slows the others down
    client = answer.client_for(settings)
    data = config.data_dir()
    job = local.Job(
        items=found.items,
        output=output,
        state_path=state_path(data, output),
        concurrency=concurrency,
        ordered=ordered,
        append=append,
        force=force,
        retry_failed=retry_failed,
        retries=retries,
        server=client.base_url,
        price_region=settings.dashscope_region,
        shape=opts.shape,
    )
    pacer = Pacer(_limits(settings, model, rpm, tpm), concurrency)
    cache = None if no_cache else ResponseCache(cache_path(data))
    env = os.environ
    plain = ask.no_color or "NO_COLOR" in env or env.get("TERM") == "dumb"
    progress = BatchProgress(terminal=sys.stderr.isatty() and not plain, no_color=plain)
    counts = local.Counts()
    started = False

    def on_progress(c: local.Counts) -> None:
        nonlocal started
        if not started:
            started = True
            progress.start(c)
        progress.update(c)

    interrupted = False
    try:
        local.run(client, job, pacer, cache, on_progress, counts=counts)
    except KeyboardInterrupt:
        interrupted = True
    except QwenAPIError:  # e.g. a refused key: what was answered is kept; say so, then the error
        progress.close()
        if counts.total:  # the run had started
            sys.stderr.write(_fitted(summary(counts, str(output), interrupted=True)))
        raise
    finally:
        progress.close()
        if cache is not None:
            cache.close()
    sys.stderr.write(_fitted(summary(counts, str(output), interrupted=interrupted)))
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if counts.failed:
        raise typer.Exit(1)


from qwen_cli.cli import batch_remote  # noqa: E402 (the Batch API's commands join the group)

batch_remote.register(app)
