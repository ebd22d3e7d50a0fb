"""Options shared by the commands that ask the model something."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from qwen_cli.cli.completion import (
    complete_model,
    complete_provider,
    complete_region,
)
from qwen_cli.errors import UsageError
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.engine.request import Sampling

BACKEND = "Backend"
SAMPLING = "Sampling"
OUTPUT = "Output"
# The largest integer DashScope takes for max_tokens and seed (a 32-bit signed int).
INT32_MAX = 2**31 - 1


def bad_value(
    flag: str, annotation: Any, low: float | None, high: float | None, rejected: tuple[str, object] | None
) -> str | None:
    """The one wording of a refused number: ``--temperature must be between 0 and 2 (got 5)``.

    ``rejected`` is (the validator's kind of failure, the value as typed); ``None`` when this is
    not a number option or not a failure this can word."""
    kind = {int: "a whole number", float: "a number"}.get(annotation)
    if kind is None or rejected is None:
        return None
    failure, got = rejected
    if low is not None and high is not None:
        bounds = f"between {_n(low)} and {_n(high)}"
    elif low is not None:
        bounds = f"at least {_n(low)}"
    elif high is not None:
        bounds = f"at most {_n(high)}"
    else:
        bounds = ""
    if failure.endswith(("_parsing", "_type", "_from_float")) or failure == "finite_number":
        return f"{flag} must be {kind}{' ' + bounds if bounds else ''} (got {got})"
    if bounds and failure.startswith(("less_than", "greater_than")):
        return f"{flag} must be {bounds} (got {got})"
    return None


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _model_name(value: Optional[str]) -> Optional[str]:
    if value is not None and not value.strip():
        raise UsageError(
            "--model must name a model (got an empty string)",
            hint="run `qwen models` to list them, or leave -m out for the default",
        )
    return value


Model = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        "-m",
        help="Model to use [default: qwen-max, or QWEN_MODEL / config].",
        callback=_model_name,
        autocompletion=complete_model,
        rich_help_panel=SAMPLING,
    ),
]
System = Annotated[
    Optional[str], typer.Option("--system", "-s", help="System prompt.", rich_help_panel=SAMPLING)
]
Temperature = Annotated[
    Optional[float],
    typer.Option(
        "--temperature",
        "-t",
        min=0.0,
        max=2.0,
        help="Sampling temperature, 0 to 2.",
        rich_help_panel=SAMPLING,
    ),
]
TopP = Annotated[
    Optional[float],
    typer.Option("--top-p", min=0.0, max=1.0, help="Nucleus sampling, 0 to 1.", rich_help_panel=SAMPLING),
]
MaxTokens = Annotated[
    Optional[int],
    typer.Option(
        "--max-tokens",
        min=1,
        max=INT32_MAX,
        help="Most tokens to generate (caps the answer's length), e.g. --max-tokens 2000.",
        rich_help_panel=SAMPLING,
    ),
]
Seed = Annotated[
    Optional[int],
    typer.Option(
        "--seed",
        min=0,
        max=INT32_MAX,
        help="Random seed, for repeatable answers, e.g. --seed 42.",
        rich_help_panel=SAMPLING,
    ),
]
Stop = Annotated[
    Optional[list[str]], typer.Option("--stop", help="Stop sequence (repeatable).", rich_help_panel=SAMPLING)
]
Think = Annotated[
    Optional[bool],
    typer.Option(
        "--think/--no-think",
        help="Turn the model's thinking on or off (enable_thinking).",
        show_default=False,
        rich_help_panel=SAMPLING,
    ),
]


ThinkBudget = Annotated[
    Optional[int],
    typer.Option(
        "--think-budget",
        metavar="N",
        min=1,
        max=INT32_MAX,
        help="Most tokens to think for (thinking_budget); implies --think.",
        rich_help_panel=SAMPLING,
    ),
]
NoCacheControl = Annotated[
    bool,
    typer.Option(
        "--no-cache-control",
        help=(
            "Do not mark the conversation for DashScope's explicit context cache "
            "[config cache_control = false, env QWEN_CACHE_CONTROL=0]."
        ),
        rich_help_panel=SAMPLING,
    ),
]
Search = Annotated[
    bool,
    typer.Option(
        "--search",
        help="Let the model search the web (enable_search); --search force: before every answer. "
        "On DashScope the answer's sources follow it.",
        rich_help_panel=SAMPLING,
    ),
]
SEARCH_STRATEGIES = ("turbo", "max", "agent")


def _strategy(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in SEARCH_STRATEGIES:
        raise UsageError(
            f"unknown --search-strategy {value!r}",
            hint=f"use one of: {', '.join(SEARCH_STRATEGIES)} (agent: qwen3-max only)",
        )
    return value


def _hosts(values: Optional[list[str]]) -> Optional[list[str]]:
    from urllib.parse import urlsplit

    for v in values or ():
        host = urlsplit(f"//{v}").hostname if v and "/" not in v and ":" not in v else None
        if not host or " " in v or "." not in v:
            raise UsageError(
                f"--search-site takes a host name, not {v!r}",
                hint="give the site's host alone, e.g. --search-site docs.python.org",
            )
    return values


def search_argv(args: list[str]) -> list[str]:
    """``--search force`` (and ``--search=force``) as the parser takes it: ``--search
    --search-force``. A plain ``--search`` keeps its next word (often the prompt)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            return out + args[i:]
        if (
            a in ("--search", "--search=on") and i + 1 < len(args) and args[i + 1] == "force"
        ) or a == "--search=force":
            out += ["--search", "--search-force"]
            i += 1 if a == "--search=force" else 2
            continue
        out.append("--search" if a == "--search=on" else a)
        i += 1
    return out


# The commands whose -o is "any other request field" (elsewhere -o may be --output).
FIELD_COMMANDS = ("complete", "chat", "upload")
_NUMBER = re.compile(r"^-\.?\d")


def option_argv(args: list[str]) -> list[str]:
    """``-o KEY VALUE`` as the parser takes it: ``-o KEY=VALUE`` (typer has no repeatable
    two-word option). Only for the commands of :data:`FIELD_COMMANDS` (``args[0]``); a VALUE
    that starts with ``-`` is taken only when it is a number (``-o presence_penalty -0.5``)."""
    if not args or args[0] not in FIELD_COMMANDS:
        return args
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            return out + args[i:]
        if a in ("-o", "--option") and i + 2 < len(args) and "=" not in args[i + 1]:
            key, value = args[i + 1], args[i + 2]
            if value != "--" and (not value.startswith("-") or _NUMBER.match(value)):
                out += [a, f"{key}={value}"]
                i += 3
                continue
        out.append(a)
        i += 1
    return out


SearchForce = Annotated[
    bool, typer.Option("--search-force", hidden=True, help="Search before every answer (--search force).")
]
SearchStrategy = Annotated[
    Optional[str],
    typer.Option(
        "--search-strategy",
        help="How hard to search: turbo, max or agent (implies --search).",
        callback=_strategy,
        rich_help_panel=SAMPLING,
    ),
]
SearchFreshness = Annotated[
    Optional[int],
    typer.Option(
        "--search-freshness",
        metavar="DAYS",
        help="Only pages from the last DAYS days (implies --search).",
        min=1,
        max=3650,
        rich_help_panel=SAMPLING,
    ),
]
SearchSite = Annotated[
    Optional[list[str]],
    typer.Option(
        "--search-site",
        metavar="HOST",
        help="Only search this site (repeatable; implies --search).",
        callback=_hosts,
        rich_help_panel=SAMPLING,
    ),
]
JsonMode = Annotated[
    bool,
    typer.Option(
        "--json-mode", help="Ask for a JSON object as the answer (response_format).", rich_help_panel=SAMPLING
    ),
]

NoStream = Annotated[
    bool,
    typer.Option(
        "--no-stream", help="Wait for the whole answer instead of streaming it.", rich_help_panel=OUTPUT
    ),
]
Json = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON object: id, model, content, reasoning, finish_reason, usage.",
        rich_help_panel=OUTPUT,
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No usage footer.", rich_help_panel=OUTPUT)]
NoColor = Annotated[
    bool,
    typer.Option(
        "--no-color",
        help="Plain text, no colour or live Markdown (also NO_COLOR, TERM=dumb).",
        rich_help_panel=OUTPUT,
    ),
]

Provider = Annotated[
    Optional[str],
    typer.Option(
        "--provider",
        help="dashscope (default), dashscope-native (the native protocol, same key) or qwen-web "
        "[env QWEN_PROVIDER].",
        autocompletion=complete_provider,
        rich_help_panel=BACKEND,
    ),
]
Region = Annotated[
    Optional[str],
    typer.Option(
        "--region",
        "-r",
        help="DashScope region: cn (Beijing, default), intl (Singapore), us (Virginia) [env QWEN_REGION].",
        autocompletion=complete_region,
        rich_help_panel=BACKEND,
    ),
]
BaseURL = Annotated[
    Optional[str],
    typer.Option(
        "--base-url",
        help=(
            "Any OpenAI-compatible base URL, e.g. http://localhost:8000/v1; for qwen-web the site's "
            "root [env QWEN_BASE_URL]."
        ),
        rich_help_panel=BACKEND,
    ),
]
Timeout = Annotated[
    Optional[float],
    typer.Option(
        "--timeout",
        min=0.1,
        help="Seconds to wait for data from the server [default: 120].",
        rich_help_panel=BACKEND,
    ),
]
ConnectTimeout = Annotated[
    Optional[float],
    typer.Option(
        "--connect-timeout",
        min=0.1,
        help="Seconds to wait for a connection [default: 10].",
        rich_help_panel=BACKEND,
    ),
]
MaxRetries = Annotated[
    Optional[int],
    typer.Option(
        "--max-retries",
        min=0,
        help="Retries on connection errors, 429 and 5xx [default: 2].",
        rich_help_panel=BACKEND,
    ),
]
Debug = Annotated[
    bool,
    typer.Option(
        "--debug",
        help="Log requests and responses (keys masked) and show tracebacks.",
        rich_help_panel=BACKEND,
    ),
]


def stdin_text() -> str:
    """All of stdin as text; invalid UTF-8 is replaced, never a crash (the README's promise)."""
    return sys.stdin.buffer.read().decode("utf-8", "replace") if sys.stdin is not None else ""


@struct
class Ask:
    """Everything a command needs to ask the model one thing."""

    model: str | None = None
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    think: bool | None = None
    think_budget: int | None = None
    no_cache_control: bool = False
    search: bool = False
    search_force: bool = False
    search_strategy: str | None = None
    search_freshness: int | None = None
    search_site: list[str] | None = None
    json_mode: bool = False
    no_stream: bool = False
    json: bool = False
    quiet: bool = False
    no_color: bool = False
    provider: str | None = None
    region: str | None = None
    base_url: str | None = None
    timeout: float | None = None
    connect_timeout: float | None = None
    max_retries: int | None = None
    debug: bool = False
    option: list[str] | None = None  # -o KEY=VALUE: other request fields

    def sampling(self) -> Sampling:
        """How to ask, for the engine."""
        from qwen_cli.cli.conv_options import parse_fields
        from qwen_cli.engine.request import Sampling

        if self.think_budget is not None and self.think is False:
            raise UsageError(
                "--think-budget asks for thinking, --no-think turns it off",
                hint="give one of them, not both",
            )
        return Sampling(
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            seed=self.seed,
            stop=self.stop,
            think=self.think,
            thinking_budget=self.think_budget,
            search=self.searching,
            search_force=self.search_force,
            search_strategy=self.search_strategy,
            search_freshness=self.search_freshness,
            search_sites=tuple(self.search_site or ()),
            json_mode=self.json_mode,
            no_stream=self.no_stream,
            extra=parse_fields(self.option),
        )

    @property
    def searching(self) -> bool:
        """Web search asked for, by --search or any of its options."""
        return bool(
            self.search
            or self.search_force
            or self.search_strategy
            or self.search_freshness
            or self.search_site
        )

    def params(self) -> dict[str, Any]:
        return self.sampling().params()

    def flags(self) -> dict[str, object]:
        return {
            "model": self.model,
            "provider": self.provider,
            "region": self.region,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "connect_timeout": self.connect_timeout,
            "max_retries": self.max_retries,
        }
