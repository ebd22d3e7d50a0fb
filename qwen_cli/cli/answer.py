"""Asking the model and showing the answer: shared by complete, chat and upload."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qwen_cli.cli.options import Ask
from qwen_cli.errors import QwenAPIError, StreamInterruptedError

if TYPE_CHECKING:
    from qwen_cli.client import Qwen
    from qwen_cli.config import Settings
    from qwen_cli.types import ChatRequest, Message, Usage


@dataclass
class Output:
    """How to write: decided once from the terminal, the flags and the environment."""

    terminal: bool  # live Markdown on stdout
    color_err: bool  # dim footer and reasoning on stderr
    json: bool = False
    quiet: bool = False
    price_region: str | None = None  # price the footer for this region; None: unpriced server

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


@dataclass
class Answer:
    """One answer as it ended: complete, interrupted by Ctrl-C, or broken off."""

    content: str = ""
    reasoning: str = ""
    model: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    request_id: str | None = None
    elapsed: float = 0.0
    first_token_at: float | None = None
    interrupted: bool = False
    output_closed: bool = False  # stdout's reader went away (`qwen complete ... | head -1`)
    error: QwenAPIError | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        extra = {"sources": self.sources} if self.sources else {}  # web search, when it ran
        return {
            "id": self.id,
            "model": self.model,
            "content": self.content,
            "reasoning": self.reasoning or None,
            "finish_reason": self.finish_reason,
            "usage": self.usage.model_dump(mode="json", exclude_none=True) if self.usage else None,
            "request_id": self.request_id,
            **extra,
        }


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is logged."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


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

    return Qwen(
        s.api_key,
        base_url=s.base_url,
        region=s.region,
        provider=s.provider,
        cookie=s.cookie,
        timeout=s.timeout,
        connect_timeout=s.connect_timeout,
        max_retries=s.max_retries,
        key_required=s.key_required,
    )


def build_request(
    client: Qwen, ask: Ask, settings: Settings, messages: list[Message], *, model: str | None = None
) -> ChatRequest:
    """The request for ``messages``, adjusted to what the model accepts.

    Stream-only models (QwQ, QVQ, Omni) are streamed even with ``--no-stream``; open-source
    Qwen3, which thinks by default, only answers non-streamed calls with thinking off, so
    ``--no-stream`` turns it off unless ``--think`` asked for it (then the call streams).
    """
    from qwen_cli import catalog

    name = model or settings.model
    spec = catalog.lookup(name)
    params = ask.params()
    stream = not ask.no_stream
    if not stream and spec.stream_only:
        stream = True
    elif not stream and spec.thinking_default:
        if ask.think:
            stream = True
        else:
            params["enable_thinking"] = False
    return client.chat.request(messages, model=name, stream=stream, **params)


@contextlib.contextmanager
def no_tty_echo(active: bool) -> Iterator[None]:
    """Stop the terminal echoing keys (and ``^C``) into the live region while it is drawn."""
    fd = sys.stdout.fileno() if active else -1
    try:
        import termios

        saved = termios.tcgetattr(fd)
    except Exception:  # not a terminal, or no termios (Windows)
        yield
        return
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | termios.ECHOCTL)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def run(client: Qwen, req: ChatRequest, out: Output) -> Answer:
    """Send ``req`` and show the answer; Ctrl-C and broken streams end it, never lose it."""
    with no_tty_echo(out.terminal):
        return _run(client, req, out)


def _run(client: Qwen, req: ChatRequest, out: Output) -> Answer:
    from qwen_cli import render

    ans = Answer(model=req.model)
    show = not out.json
    r = render.make_renderer(out=sys.stdout, err=sys.stderr, terminal=out.terminal, color=out.color_err)
    start = time.monotonic()
    stream = None
    try:
        if req.stream:
            stream = client.chat.stream(req)
            try:
                for chunk in stream:
                    d = chunk.delta
                    if ans.first_token_at is None and (d.content or d.reasoning_content):
                        ans.first_token_at = time.monotonic() - start
                    if d.reasoning_content and show:
                        r.reasoning(d.reasoning_content)
                    if d.content and show:
                        r.content(d.content)
            except KeyboardInterrupt:
                ans.interrupted = True
            except BrokenPipeError:
                ans.output_closed = True
            except QwenAPIError as err:
                ans.error = err
            finally:
                stream.close()
            _absorb(ans, stream.completion())
        else:
            try:
                completion = client.chat.complete(req)
            except KeyboardInterrupt:
                ans.interrupted = True
            except StreamInterruptedError as err:  # a whole answer read from a stream (qwen-web)
                ans.error, ans.content = err, err.partial
                if show and err.partial:
                    r.content(err.partial)
            else:
                _absorb(ans, completion)
                if show and completion.reasoning:
                    r.reasoning(completion.reasoning)
                if show:
                    r.content(completion.content)
        if show and ans.sources:
            from qwen_cli.types import SearchSource

            r.sources([SearchSource.model_validate(s) for s in ans.sources])
    except BrokenPipeError:
        ans.output_closed = True
    finally:
        try:
            r.finish()
        except BrokenPipeError:
            ans.output_closed = True
        ans.elapsed = time.monotonic() - start
    if ans.output_closed:
        _silence_stdout()
    elif out.json and not ans.interrupted:
        sys.stdout.write(json.dumps(ans.as_json(), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    if ans.interrupted:
        render.print_notice("interrupted: the partial answer was kept", err=sys.stderr, color=out.color_err)
    elif not out.quiet and ans.error is None:
        line = render.format_footer(
            model=ans.model,
            usage=ans.usage,
            elapsed=ans.elapsed,
            first_token_at=ans.first_token_at,
            cost=_cost(ans, out.price_region),
        )
        render.print_footer(line, err=sys.stderr, color=out.color_err)
    return ans


def _silence_stdout() -> None:
    """Nobody reads stdout any more: send what is left (and Python's last flush) nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _cost(ans: Answer, region: str | None) -> str | None:
    if region is None or ans.usage is None:
        return None
    from qwen_cli import catalog

    return catalog.cost(ans.model, ans.usage.prompt_tokens, ans.usage.completion_tokens, region)


def _absorb(ans: Answer, c: Any) -> None:
    ans.content = c.content
    ans.reasoning = c.reasoning
    ans.model = c.model or ans.model
    ans.finish_reason = c.finish_reason
    ans.usage = c.usage
    ans.id = c.id
    ans.request_id = c.request_id
    ans.sources = [s.model_dump(mode="json", exclude_none=True) for s in c.sources]
