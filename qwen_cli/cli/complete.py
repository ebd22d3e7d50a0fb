"""`qwen complete`: one prompt, one streamed answer."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from qwen_cli import structs
from qwen_cli.cli import conv_options as co
from qwen_cli.cli import fragment_options as fo
from qwen_cli.cli import mode_options as mo
from qwen_cli.cli import options as o
from qwen_cli.cli import schema_options as so
from qwen_cli.cli import template_options as tpl
from qwen_cli.cli import tool_options as to
from qwen_cli.errors import EXIT_INTERRUPTED, AuthenticationError, UsageError


def read_prompt(prompt: str | None, *, stdin: bool = True, required: bool = True) -> str:
    """The prompt from the argument and/or stdin, as the help text describes (``stdin``: false
    when stdin is taken by ``-f -``; ``required``: false when fragments say enough)."""
    stdin_text = None
    if not stdin and prompt == "-":
        raise UsageError(
            "-f - and the prompt - both read stdin", hint='give the question as an argument: -f - "..."'
        )
    if stdin and (prompt == "-" or not sys.stdin.isatty()):
        stdin_text = o.stdin_text()
    if prompt == "-":
        text = stdin_text or ""
    elif prompt is not None and stdin_text and stdin_text.strip():
        text = f"{prompt}\n\n{stdin_text}"
    elif prompt is not None:
        text = prompt
    else:
        text = stdin_text or ""
    if not text.strip() and required:
        raise no_prompt()
    return text


def no_prompt() -> UsageError:
    return UsageError(
        "no prompt: nothing was given",
        hint='pass it as an argument (qwen complete "...") or pipe it on stdin (... | qwen complete -)',
    )


def complete(
    prompt: Annotated[
        Optional[str], typer.Argument(help="The prompt; - reads it from stdin.", show_default=False)
    ] = None,
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
    no_log: co.NoLog = False,
    no_stream: o.NoStream = False,
    json: o.Json = False,
    quiet: o.Quiet = False,
    no_color: o.NoColor = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    connect_timeout: o.ConnectTimeout = None,
    max_retries: o.MaxRetries = None,
    fragment: fo.FragmentOpt = None,
    shell: mo.ShellFlag = False,
    code: mo.CodeFlag = False,
    extract: mo.ExtractFlag = False,
    schema: so.Schema = None,
    schema_multi: so.SchemaMulti = None,
    functions: to.Functions = None,
    tool: to.Tool = None,
    yes: to.Yes = False,
    tool_timeout: to.ToolTimeout = to.DEFAULT_TIMEOUT,
    template: tpl.TemplateName = None,
    param: tpl.Params = None,
    save: tpl.Save = None,
    debug: o.Debug = False,
) -> None:
    """Ask one question and stream the answer.

    With no prompt and a pipe on stdin, stdin is the prompt; with both, the
    prompt comes first, then the piped text. The exchange is kept in the
    history (qwen history) unless --no-log; -c continues the latest
    conversation, sending it along.

    Examples:

      qwen complete "Explain SSE in one paragraph"

      git diff | qwen complete - --system "review this"

      cat notes.txt | qwen complete "summarize this" > summary.md

      qwen complete -c "and in one sentence?"

      qwen complete -a photo.png "what is in this picture?"

      qwen complete -o top_k=20 -o thinking_budget=2048 --think "why?"

      qwen complete -f notes.md -f https://example.com/page "compare them"

      qwen complete --shell "find files over 100 MB here"

      qwen complete --code "a bash loop over *.png" > loop.sh

      cat invoice.txt | qwen complete - --schema 'number, total float, items list[str]'

      git diff --cached | qwen complete --template commit

      qwen complete -T translate -p lang=French "good morning"
    """
    from qwen_cli.cli import answer
    from qwen_cli.cli.chat_session import attach_all, open_log

    ask = o.Ask(**{k: v for k, v in locals().items() if k in structs.field_names(o.Ask)})
    if save is not None:
        return tpl.save(save, ask, prompt, template, param)
    ask, applied = tpl.apply(ask, template, param)
    modes = applied.modes  # a template's shell/code/extract/schema, as if their flags were given
    shell, code, extract = (
        flag or bool(modes.get(k)) for flag, k in ((shell, "shell"), (code, "code"), (extract, "extract"))
    )
    if schema is None and schema_multi is None and modes.get("schema"):
        schema = str(modes["schema"])
    mode = mo.Mode.of(shell=shell, code=code, extract=extract, json=json)
    shape = so.shape_of(schema, schema_multi, ask)  # a bad schema: refused before anything is read
    if shape is not None and mode.name is not None:
        raise UsageError(f"--schema and --{mode.name} ask for two kinds of answer", hint="give one of them")
    ask.system = mode.system(ask.system)
    asked = read_prompt(
        prompt, stdin=not fo.reads_stdin(fragment), required=applied.template is None and not fragment
    )
    text = applied.message(asked) or ""
    if not text.strip() and not fragment:
        raise no_prompt()
    settings = answer.settings_for(ask)
    client = answer.client_for(settings)
    out = answer.Output.detect(ask, settings)
    tools = to.toolbox_for(client, out, functions=functions, tools=tool, yes=yes, timeout=tool_timeout)
    try:
        with open_log(client, settings, ask, out, continue_=continue_, log=not no_log) as session, client:
            session.tools = tools
            attach_all(session, attach)
            fo.add_fragments(session, fragment)
            if mode.name is not None:
                session.display = mo.display(mode, out)
            # raises the turn's error once it is stored
            result = so.run(session, text, shape) if shape else session.send(text)
            if mode.name == "shell" and mo.interactive() and not result.interrupted:
                mo.menu(session, result)
    except AuthenticationError as err:  # a key from another region is told so, as by `auth status`
        from qwen_cli.cli import keycheck

        diagnosed, _ = keycheck.diagnose(err, settings.api_key, keycheck.target_for(settings), settings)
        if diagnosed is err:
            raise
        raise diagnosed from err
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
