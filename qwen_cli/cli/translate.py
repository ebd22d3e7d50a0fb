"""`qwen translate`: a text or a whole document through Qwen-MT, streamed, one footer."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from qwen_cli.cli import conv_options as co
from qwen_cli.cli import options as o
from qwen_cli.errors import EXIT_INTERRUPTED, UsageError

if TYPE_CHECKING:
    from qwen_cli.cli.answer import Output
    from qwen_cli.engine.reply import Reply
    from qwen_cli.render import Renderer
    from qwen_cli.types import AnswerResult

TRANSLATION = "Translation"


def read_text(text: str | None) -> str:
    """The text from the argument, or stdin for ``-`` (or no argument and a pipe)."""
    if text == "-" or (text is None and sys.stdin is not None and not sys.stdin.isatty()):
        data = o.stdin_text()
    else:
        data = text or ""
    if not data.strip():
        raise UsageError(
            "nothing to translate",
            hint='pass it as an argument (qwen translate "..." --to English) or pipe it on stdin',
        )
    return data


def translate(
    text: Annotated[
        Optional[str], typer.Argument(help="The text; - reads it from stdin.", show_default=False)
    ] = None,
    to: Annotated[
        Optional[str],
        typer.Option(
            "--to",
            help="Target language: English name or code (English, id, zh_tw).",
            rich_help_panel=TRANSLATION,
        ),
    ] = None,
    from_: Annotated[
        str,
        typer.Option("--from", help="Source language, or auto to detect it.", rich_help_panel=TRANSLATION),
    ] = "auto",
    terms: Annotated[
        Optional[str],
        typer.Option(
            "--terms",
            metavar="FILE",
            help="Glossary: source,target per line (CSV; .tsv: tabs).",
            rich_help_panel=TRANSLATION,
        ),
    ] = None,
    tm: Annotated[
        Optional[str],
        typer.Option(
            "--tm",
            metavar="FILE",
            help="Translation memory: source<TAB>target per line (.csv: commas).",
            rich_help_panel=TRANSLATION,
        ),
    ] = None,
    domain: Annotated[
        Optional[str],
        typer.Option(
            "--domain", help='The field and style, e.g. "legal contracts".', rich_help_panel=TRANSLATION
        ),
    ] = None,
    chunk_tokens: Annotated[
        Optional[int],
        typer.Option(
            "--chunk-tokens",
            min=16,
            help="Most tokens of text per request [default: what the model's limits allow].",
            rich_help_panel=TRANSLATION,
        ),
    ] = None,
    languages: Annotated[
        bool,
        typer.Option(
            "--languages", help="List the languages and their codes, then exit.", rich_help_panel=TRANSLATION
        ),
    ] = False,
    model: Annotated[
        Optional[str],
        typer.Option(
            "--model",
            "-m",
            help="qwen-mt-flash (default), qwen-mt-plus, qwen-mt-turbo or qwen-mt-lite.",
            rich_help_panel=o.SAMPLING,
        ),
    ] = None,
    no_log: co.NoLog = False,
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
    """Translate a text or a document with Qwen-MT.

    Long input is sent in pieces cut at paragraphs (never inside a code
    block) and put back together in order, Markdown intact; one footer
    counts the whole job. The job is kept in the history unless --no-log.

    Examples:

      qwen translate "Bonjour tout le monde" --to English

      cat README.md | qwen translate - --to Indonesian > README.id.md

      qwen translate - --from zh --to en --terms glossary.csv --domain "legal contracts" < contract.md
    """
    from qwen_cli import languages as lang

    if languages:
        for name, code in lang.LANGUAGES:
            sys.stdout.write(f"{name}\t{code}\n")
        return
    if to is None:
        raise UsageError(
            "--to is needed: the language to translate into", hint="e.g. --to English, or --to id"
        )
    if model is not None and not model.strip():
        raise UsageError("--model must name a model (got an empty string)", hint="e.g. -m qwen-mt-plus")
    # Everything the user gave is checked before anything is read from stdin or sent.
    target = lang.resolve(to, flag="--to")
    source = lang.resolve(from_, flag="--from", allow_auto=True)
    from qwen_cli import translate as tr

    glossary = tr.read_pairs(terms, flag="--terms") if terms is not None else None
    memory = tr.read_pairs(tm, flag="--tm") if tm is not None else None
    body = read_text(text)
    opts = tr.translation_options(source, target, terms=glossary, tm=memory, domain=domain)
    _run(
        body,
        opts,
        chunk_tokens,
        no_log,
        o.Ask(
            model=model or tr.DEFAULT_MODEL,
            quiet=quiet,
            no_color=no_color,
            provider=provider,
            region=region,
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            debug=debug,
        ),
    )


def _run(body: str, opts: dict[str, object], chunk_tokens: int | None, no_log: bool, ask: o.Ask) -> None:
    from qwen_cli import catalog, render
    from qwen_cli import translate as tr
    from qwen_cli.cli import answer
    from qwen_cli.cli.storelog import open_store

    settings = answer.settings_for(ask)
    client = answer.client_for(settings)
    out = answer.Output.detect(ask, settings)
    spec = catalog.lookup(settings.model)
    budget = chunk_tokens or tr.chunk_budget(spec, opts)
    store = None if no_log else open_store(needed=False, what="this translation")
    r = render.make_renderer(out=sys.stdout, err=sys.stderr, terminal=out.terminal, color=out.color_err)
    closed: list[bool] = []

    def write(text: str) -> None:
        if text and not closed:
            try:
                r.content(text)
            except BrokenPipeError:
                closed.append(True)

    try:
        with client, answer.no_tty_echo(out.terminal):
            job = tr.Job(client=client, spec=spec, text=body, options=opts, budget=budget, store=store)
            try:
                whole = job.run(lambda reply: _show(reply, r, closed), write)
            finally:
                _finish(r, closed)
    finally:
        if store is not None:
            store.close()
    _footer(whole, len(job.results), out)


def _show(reply: Reply, r: Renderer, closed: list[bool]) -> AnswerResult:
    """Draw one piece's translation as it arrives; Ctrl-C or a closed stdout ends the job."""
    from qwen_cli.engine import events as ev

    interrupted = False
    try:
        for e in reply:
            if isinstance(e, ev.AnswerText) and not closed:
                r.content(e.text)
    except KeyboardInterrupt:
        if not reply.opened:
            raise
        interrupted = True
    except BrokenPipeError:
        closed.append(True)
    return reply.end(interrupted=interrupted, output_closed=bool(closed))


def _finish(r: Renderer, closed: list[bool]) -> None:
    from qwen_cli.cli.answer import _silence_stdout

    try:
        r.finish()
    except BrokenPipeError:
        closed.append(True)
    if closed:
        _silence_stdout()


def _footer(whole: AnswerResult, requests: int, out: Output) -> None:
    from qwen_cli import catalog, render

    if whole.interrupted and not whole.output_closed:
        render.print_notice(
            "interrupted: the partial translation was kept", err=sys.stderr, color=out.color_err
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    if out.quiet or whole.output_closed:
        return
    cost = None
    if out.price_region is not None and whole.usage is not None:
        u = whole.usage
        cost = catalog.cost(whole.model, u.prompt_tokens, u.completion_tokens, out.price_region)
    line = render.format_footer(
        model=whole.model,
        usage=whole.usage,
        elapsed=whole.elapsed,
        first_token_at=whole.first_token_at,
        cost=cost,
    )
    if requests > 1:
        line += f" · {requests} requests"
    render.print_footer(line, err=sys.stderr, color=out.color_err)
