"""Showing answers: shared by complete, chat and upload.

The engine (:mod:`qwen_cli.engine`) builds, sends and stores; this module decides how to write
(:class:`Output`), sets up what a command needs (logging, settings, the client) and draws a
:class:`~qwen_cli.engine.reply.Reply`'s events, then the footer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from qwen_cli.cli.options import Ask
from qwen_cli.safetext import shown
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.cli.spinner import Spinner
    from qwen_cli.client import Qwen
    from qwen_cli.config import Settings
    from qwen_cli.engine.events import ToolCall, Trimmed
    from qwen_cli.engine.reply import Reply
    from qwen_cli.render import Renderer
    from qwen_cli.types import AnswerResult, ChatRequest, Message, Usage

__all__ = ["Output", "build_request", "client_for", "run", "settings_for", "show"]


@struct
class Output:
    """How to write: decided once from the terminal, the flags and the environment."""

    terminal: bool  # live Markdown on stdout
    color_err: bool  # dim footer and reasoning on stderr
    json: bool = False
    quiet: bool = False
    price_region: str | None = None  # price the footer for this region; None: unpriced server
    held: bool = False  # the answer is not drawn: --schema checks it, then prints the JSON itself

    @classmethod
    def detect(cls, ask: Ask, settings: Settings | None = None) -> Output:
        env = os.environ
        plain = ask.no_color or "NO_COLOR" in env or env.get("TERM") == "dumb"
        return cls(
            terminal=sys.stdout.isatty() and not plain and not ask.json,
            color_err=sys.stderr.isatty() and not plain,
            json=ask.json,
            quiet=ask.quiet,
            # priced where the base URL stands for a DashScope region (config decided which)
            price_region=settings.dashscope_region if settings is not None else None,
        )


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is logged."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass

    def format(self, record: logging.LogRecord) -> str:  # logged bodies never drive the terminal
        return shown(super().format(record), sys.stderr)


def setup_logging(debug: bool) -> None:
    """``--debug``: log to stderr; otherwise stay silent. Safe to call any number of times."""
    log = logging.getLogger("qwen_cli")
    for h in [h for h in log.handlers if isinstance(h, _StderrHandler)]:
        log.removeHandler(h)
    if not debug:
        log.setLevel(logging.NOTSET)
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("debug: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)


def settings_for(ask: Ask) -> Settings:
    from qwen_cli import config
    from qwen_cli.cli.hints import set_context
    from qwen_cli.redact import register_secret

    setup_logging(ask.debug)
    s = config.resolve(ask.flags())
    if ask.model is not None:
        ask.model = s.model  # -m ALIAS: expanded where every model setting is (config.resolve)
    if ask.searching:  # sources need a protocol that returns them: chosen here, once
        s, with_sources = config.for_sources(s)
        if not with_sources:
            s.warnings.append("web search sources need DashScope: this server gets enable_search only")
    register_secret(s.api_key)
    register_secret(s.cookie)
    for warning in s.warnings:  # e.g. a credentials file others can read
        sys.stderr.write(f"qwen: warning: {warning}\n")
    set_context(
        region=s.dashscope_region or s.region,
        base_url=s.base_url,
        provider=s.provider,
        region_bound="1" if s.dashscope_region is not None else "",
    )
    return s


def client_for(s: Settings) -> Qwen:
    from qwen_cli.client import Qwen

    return Qwen.from_settings(s)


def build_request(
    client: Qwen, ask: Ask, settings: Settings, messages: list[Message], *, model: str | None = None
) -> ChatRequest:
    """The request for ``messages``, adjusted to what the model accepts (see the engine's)."""
    from qwen_cli import catalog
    from qwen_cli.engine.request import build_request as build

    return build(client, catalog.lookup(model or settings.model), messages, ask.sampling())


@contextlib.contextmanager
def no_tty_echo(active: bool) -> Iterator[None]:
    """Stop the terminal echoing keys (and ``^C``) into the live region while it is drawn."""
    saved = None
    if active:
        try:
            import termios

            fd = sys.stdout.fileno()
            saved = termios.tcgetattr(fd)
        except Exception:  # not a terminal, or no termios (Windows)
            saved = None
    if saved is None:  # yielded outside any `except`: the body's errors chain to nothing of ours
        yield
        return
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | termios.ECHOCTL)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def run(client: Qwen, req: ChatRequest, out: Output) -> AnswerResult:
    """Send ``req`` and show the answer; Ctrl-C and broken streams end it, never lose it."""
    from qwen_cli.engine.reply import Reply

    return show(Reply(client, req), out)


def show(
    reply: Reply, out: Output, *, in_chat: bool = False, renderer: Renderer | None = None
) -> AnswerResult:
    """Draw ``reply`` as it arrives, then the footer; the engine's display for a terminal or a pipe.

    Ctrl-C while connecting propagates (nothing arrived); after that it keeps the partial.
    ``in_chat``: a cut answer's hint names ``/continue``. ``renderer``: draws the answer instead
    of the live Markdown or plain one (``--code``, ``--shell``: held until the end).
    """
    with no_tty_echo(out.terminal):
        return _show(reply, out, in_chat, renderer)


def _show(reply: Reply, out: Output, in_chat: bool, renderer: Renderer | None = None) -> AnswerResult:
    from qwen_cli import render
    from qwen_cli.engine import events as ev
    from qwen_cli.types import cut_note

    show = not (out.json or out.held)
    r = renderer or render.make_renderer(
        out=sys.stdout, err=sys.stderr, terminal=out.terminal, color=out.color_err
    )
    interrupted = output_closed = False
    calls: list[ToolCall] = []  # shown once the live answer is done, so they never tear it
    spin = _spinner(out)  # until something visible arrives; erased before anything is drawn
    try:
        for e in reply:
            if isinstance(e, ev.AnswerText):
                if spin is not None:
                    spin.stop()
                    spin = None
                if show:
                    r.content(e.text)
            elif isinstance(e, ev.ReasoningText):
                if spin is not None and r.shows_reasoning:  # the thinking is the sign of life
                    spin.stop()
                    spin = None
                elif spin is not None:
                    spin.label = "thinking"
                if show:
                    r.reasoning(e.text)
            elif isinstance(e, ev.Sources):
                if show:
                    r.sources(e.items)
            elif isinstance(e, ev.ToolCall):
                calls.append(e)
            elif isinstance(e, ev.Trimmed):
                with spin.paused() if spin is not None else contextlib.nullcontext():
                    _trimmed(e, out)
            elif isinstance(e, ev.Notice):
                with spin.paused() if spin is not None else contextlib.nullcontext():
                    render.print_notice(e.text, err=sys.stderr, color=out.color_err)
    except KeyboardInterrupt:
        if not reply.opened:
            raise
        interrupted = True
    except BrokenPipeError:
        output_closed = True
    finally:
        if spin is not None:
            spin.stop()
        try:
            r.finish()
        except BrokenPipeError:
            output_closed = True
        ans = reply.end(interrupted=interrupted, output_closed=output_closed)
    if show:
        _tool_calls(calls, out)
    if ans.output_closed:
        _silence_stdout()
    elif out.json and not out.held and not ans.interrupted:
        sys.stdout.write(shown(json.dumps(ans.as_json(), ensure_ascii=False) + "\n", sys.stdout, json=True))
        sys.stdout.flush()
    if ans.interrupted:
        render.print_notice("interrupted: the partial answer was kept", err=sys.stderr, color=out.color_err)
    elif not out.quiet and ans.error is None:
        line = render.format_footer(
            model=ans.model,
            usage=ans.usage,
            elapsed=ans.elapsed,
            first_token_at=ans.first_token_at,
            cost=cost_text([(ans.model, ans.usage, reply.request.cache_marked)], out.price_region),
            ending=cut_note(ans.finish_reason, reply.request.params.max_tokens),
            output_closed=ans.output_closed,
        )
        render.print_footer(line, err=sys.stderr, color=out.color_err)
    if ans.state == "complete":
        _cut(ans, reply.request.params.max_tokens, out, in_chat)
    return ans


def _spinner(out: Output) -> Spinner | None:
    """A spinner on stderr while nothing visible has arrived: only with live Markdown on a
    terminal and stderr a terminal too (never in a pipe, a file or plain mode)."""
    if not (out.terminal and sys.stderr.isatty()):
        return None
    from qwen_cli.cli.spinner import Spinner

    return Spinner(sys.stderr).start()


def _cut(ans: AnswerResult, max_tokens: int | None, out: Output, in_chat: bool) -> None:
    """A cut answer says so on stderr, and how to get the rest."""
    from qwen_cli.cli.report import notice
    from qwen_cli.types import cut_note

    what = cut_note(ans.finish_reason, max_tokens)
    if what is None:
        return
    notice(f"note: the answer was {what}", color=out.color_err)
    if ans.finish_reason != "length":
        hint = "rephrasing the question may help"
    elif in_chat:
        hint = "/continue asks the model to go on"
    elif max_tokens:
        hint = "raise --max-tokens, or qwen chat -c then /continue"
    else:
        hint = "qwen chat -c then /continue asks the model to go on"
    notice(f"hint: {hint}", color=out.color_err, style="dim")


def _trimmed(e: Trimmed, out: Output) -> None:
    from qwen_cli.cli.report import notice

    accepts = f"; it accepts {e.input_limit:,}" if e.input_limit < e.context else ""
    notice(
        f"note: {e.left_out} earlier turn{'s' if e.left_out != 1 else ''} left out to fit "
        f"{e.model}'s {e.context:,}-token context window "
        f"(~{e.tokens:,} prompt tokens sent{accepts})",
        color=out.color_err,
    )


def _tool_calls(calls: list[ToolCall], out: Output) -> None:
    """Each tool call the answer made, dim on stderr: nothing runs them yet, but an answer that
    is only tool calls does not leave an empty screen."""
    from qwen_cli import render

    for c in calls:  # the arguments trimmed for the eye only: the result and the store keep them as sent
        line = f"tool call: {c.name or '?'}({c.arguments.strip()})"
        render.print_notice(line, err=sys.stderr, color=out.color_err, style="dim")


def _silence_stdout() -> None:
    """Nobody reads stdout any more: send what is left (and Python's last flush) nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def cost_text(answers: Iterable[tuple[str, Usage | None, bool]], region: str | None) -> str | None:
    """What ``answers`` cost (``~¥0.0031 · saved ~¥0.0120 by cache``), each priced from what its
    server reported (:func:`qwen_cli.catalog.price_usage`); ``None`` for an unpriced server or
    when a price or a usage is unknown. Each answer is ``(model, usage, the request carried
    cache markers)``. The footer prices one answer, ``/usage`` a conversation's."""
    if region is None:
        return None
    from qwen_cli import catalog

    total: catalog.Cost | None = None
    for model, usage, explicit in answers:
        if usage is None:
            return None
        cost = catalog.price_usage(model, usage, region, explicit=explicit)
        if cost is None:
            return None
        total = cost if total is None else total + cost
    return total.text() if total is not None else None
