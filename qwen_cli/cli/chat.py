"""`qwen chat`: an interactive conversation, kept on disk, resumable."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from qwen_cli import structs
from qwen_cli.cli import conv_options as co
from qwen_cli.cli import fragment_options as fo
from qwen_cli.cli import options as o
from qwen_cli.cli import schema_options as so
from qwen_cli.cli import template_options as tpl
from qwen_cli.cli import tool_options as to
from qwen_cli.errors import EXIT_INTERRUPTED, QwenAPIError, UsageError

if TYPE_CHECKING:
    from qwen_cli.cli.chat_session import ChatSession


def recap(session: ChatSession, shown: int = 5) -> None:
    """On resuming: which conversation, and its last few turns (stderr)."""
    conv = session.conversation
    if conv is None:
        return
    from qwen_cli import render
    from qwen_cli.cli.chat_commands import history_lines, plural
    from qwen_cli.cli.report import notice
    from qwen_cli.transcript import local_time

    n = len(session.exchanges)
    color = session.out.color_err
    details = f"{conv.id} · {plural(n, 'turn')} · {session.model} · {local_time(conv.created_at)}"
    for line in resume_header(conv.title or "untitled", details, render.terminal_width(sys.stderr)):
        notice(line, color=color, style="bold")
    if n > shown:
        notice(
            f"  ... {plural(n - shown, 'earlier turn')} (/history shows them all)", color=color, style="dim"
        )
    for line in history_lines(session.exchanges[-shown:], start=max(1, n - shown + 1)):
        notice(line, color=color, style="dim")


def resume_header(title: str, details: str, width: int | None) -> list[str]:
    """``continuing “title” (details)`` fitted to ``width``: the title cut first (to no less
    than 12 characters), then the details on lines of their own, wrapped between their parts."""
    from rich.cells import cell_len

    from qwen_cli import render
    from qwen_cli.cli.chat_commands import one_line

    def line(t: str) -> str:
        return f"continuing “{t}” ({details})"

    first = line(one_line(title, 30))
    if width is None or cell_len(first) <= width:
        return [first]
    room = width - cell_len(line(""))
    if room >= 12:
        return [line(one_line(title, room))]
    head = f"continuing “{one_line(title, max(12, width - 13))}”"
    return [head, *("  " + part for part in render.fit_line(details, width - 2))]


def stdin_lines() -> Iterator[str]:
    for raw in sys.stdin.buffer:
        yield raw.decode("utf-8", "replace")


def chat(
    model: o.Model = None,
    system: o.System = None,
    temperature: o.Temperature = None,
    top_p: o.TopP = None,
    max_tokens: o.MaxTokens = None,
    seed: o.Seed = None,
    stop: o.Stop = None,
    think: o.Think = None,
    think_budget: o.ThinkBudget = None,
    search: o.Search = False,
    search_force: o.SearchForce = False,
    search_strategy: o.SearchStrategy = None,
    search_freshness: o.SearchFreshness = None,
    search_site: o.SearchSite = None,
    json_mode: o.JsonMode = False,
    no_cache_control: o.NoCacheControl = False,
    attach: co.Attach = None,
    option: co.Fields = None,
    continue_: co.Continue = False,
    resume: co.Resume = None,
    quiet: o.Quiet = False,
    no_color: o.NoColor = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    connect_timeout: o.ConnectTimeout = None,
    max_retries: o.MaxRetries = None,
    fragment: fo.FragmentOpt = None,
    schema: so.Schema = None,
    schema_multi: so.SchemaMulti = None,
    functions: to.Functions = None,
    tool: to.Tool = None,
    yes: to.Yes = False,
    tool_timeout: to.ToolTimeout = to.DEFAULT_TIMEOUT,
    template: tpl.TemplateName = None,
    param: tpl.Params = None,
    debug: o.Debug = False,
) -> None:
    """Talk with a model. Every conversation is kept; -c picks up the last one.

    On a terminal: Enter sends, Alt-Enter (or Esc then Enter) starts a new
    line, Up/Down and Ctrl-R recall earlier input, Tab completes /commands,
    Ctrl-C stops an answer (or clears the line), Ctrl-D or /exit leaves.
    /help lists the commands.

    With a pipe on stdin: one message per line (lines starting with / are
    commands), plain answers on stdout.

    Examples:

      qwen chat -s "answer briefly"

      qwen chat -c

      qwen chat -a report.pdf -o top_k=20

      printf 'hi\\nand again\\n' | qwen chat
    """
    from qwen_cli import config
    from qwen_cli.cli import answer, chat_commands, signals
    from qwen_cli.cli.chat_session import ChatSession, attach_all, pick_conversation
    from qwen_cli.cli.hints import hint_for
    from qwen_cli.cli.report import notice, say_error
    from qwen_cli.cli.storelog import OpenLater, open_store
    from qwen_cli.repl import Repl

    ask = o.Ask(**{k: v for k, v in locals().items() if k in structs.field_names(o.Ask)})
    ask, applied = tpl.apply(ask, template, param)  # its prompt wraps each message
    if schema is None and schema_multi is None and applied.modes.get("schema"):
        schema = str(applied.modes["schema"])
    shape = so.shape_of(schema, schema_multi)  # a bad schema: refused before the chat starts
    settings = answer.settings_for(ask)
    # -c and --resume read the history now; a new conversation opens it when its first
    # message is stored, so the prompt comes without SQLite
    needed = continue_ or resume is not None
    store = open_store(needed=True, what="this conversation") if needed else None
    later = None if needed else OpenLater("this conversation")
    try:
        conv = pick_conversation(store, continue_, resume) if store is not None else None
        client = answer.client_for(settings)
        out = answer.Output.detect(ask, settings)
        tools = to.toolbox_for(client, out, functions=functions, tools=tool, yes=yes, timeout=tool_timeout)
        session = ChatSession(
            client=client,
            settings=settings,
            ask=ask,
            out=out,
            store=store,
            conversation=conv,
            open_store=later,
        )
        so.set_active(session, shape)  # the answers match it until /schema - drops it
        session.tools = tools
        interactive = sys.stdin.isatty()
        attach_all(session, attach)  # checked before the first prompt; they go with the first message
        for att in session.pending:
            notice(f"attached {att.describe()} to your first message", color=out.color_err, style="dim")
        fo.add_fragments(session, fragment, stdin_free=False)  # read now; sent before the first message
        for f in session.fragments:
            notice(
                f"fragment {f.source} ({f.size:,} bytes) goes with your first message",
                color=out.color_err,
                style="dim",
            )

        def send(text: str) -> None:
            structured = so.send(session, text)  # --schema, /schema: checked JSON, repaired once
            if structured is not None:
                if structured.interrupted and not interactive:
                    raise typer.Exit(EXIT_INTERRUPTED)
                return
            try:
                # uploads: on failure nothing is written or sent
                turn = session.prepare(applied.message(text) or text)
            except QwenAPIError as err:
                if interactive and not isinstance(err, UsageError):
                    repl.draft = text
                    again = "your message is back at the prompt: Enter sends it again"
                    raise err.evolve(hint=f"{hint_for(err) or 'try again'}; {again}") from err
                raise
            except KeyboardInterrupt:
                if interactive:
                    repl.draft = text
                raise
            ans = session.commit(turn)
            if ans.interrupted and not interactive:
                raise typer.Exit(EXIT_INTERRUPTED)  # in a script, Ctrl-C means stop

        def prompt() -> str:
            flags = (" +think" if session.think else "") + (" +search" if session.search else "")
            flags += " +schema" if so.active(session) is not None else ""
            return f"{session.model}{flags}> "

        repl = Repl(
            send,
            [],
            on_error=lambda err: say_error(err, debug=ask.debug or os.environ.get("QWEN_DEBUG") == "1"),
            on_interrupt=lambda: notice("interrupted", color=out.color_err),
            history_path=config.data_dir() / "input_history",
            prompt=prompt,
            stop=signals.pending,  # SIGTERM/SIGHUP: the answer is kept, then the loop ends
        )
        redraft = (lambda text: setattr(repl, "draft", text)) if interactive else None
        commands = chat_commands.build(session, lambda: repl.help_lines(keys=True), redraft)
        repl.commands.update((c.name, c) for c in commands)
        with client:
            recap(session)
            if not interactive:
                code = repl.run_lines(stdin_lines())
                if code:
                    raise typer.Exit(code)
                return
            if conv is None:
                notice(
                    f"qwen chat with {session.model} · /help lists the commands · Ctrl-D leaves",
                    color=out.color_err,
                    style="dim",
                )
            repl.run(output=_prompt_output())
    finally:
        if store is not None:
            store.close()
        if later is not None:
            later.close()


def _prompt_output() -> object | None:
    """With stdout redirected but a terminal on stderr, draw the prompt there."""
    if sys.stdout.isatty() or not sys.stderr.isatty():
        return None
    from prompt_toolkit.output import create_output

    return create_output(stdout=sys.stderr)
