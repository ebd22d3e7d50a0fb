"""`qwen complete`: one prompt, one streamed answer."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from qwen_cli.cli import conv_options as co
from qwen_cli.cli import options as o
from qwen_cli.cli import template_options as to
from qwen_cli.errors import EXIT_INTERRUPTED, AuthenticationError, UsageError


def read_prompt(prompt: str | None, required: bool = True) -> str:
    """The prompt from the argument and/or stdin, as the help text describes."""
    stdin_text = None
    if prompt == "-" or not sys.stdin.isatty():
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
    template: to.TemplateName = None,
    param: to.Params = None,
    save: to.Save = None,
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

      git diff --cached | qwen complete --template commit

      qwen complete -T translate -p lang=French "good morning"
    """
    from qwen_cli.cli import answer
    from qwen_cli.cli.chat_session import attach_all, open_log

    ask = o.Ask(**{k: v for k, v in locals().items() if k in o.Ask.__dataclass_fields__})
    if save is not None:
        return to.save(save, ask, prompt, template, param)
    ask, applied = to.apply(ask, template, param)
    text = applied.message(read_prompt(prompt, required=applied.template is None)) or ""
    if not text.strip():
        raise no_prompt()
    settings = answer.settings_for(ask)
    client = answer.client_for(settings)
    out = answer.Output.detect(ask, settings)
    try:
        with open_log(client, settings, ask, out, continue_=continue_, log=not no_log) as session, client:
            attach_all(session, attach)
            result = session.send(text)  # raises the turn's error once it is stored
    except AuthenticationError as err:  # a key from another region is told so, as by `auth status`
        from qwen_cli.cli import keycheck

        diagnosed, _ = keycheck.diagnose(err, settings.api_key, keycheck.target_for(settings), settings)
        if diagnosed is err:
            raise
        raise diagnosed from err
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
