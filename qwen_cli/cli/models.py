"""`qwen models` and `qwen models show NAME`: the account's models, joined with the catalogue."""

from __future__ import annotations

import json as jsonlib
import os
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qwen_cli.cli import options as o
from qwen_cli.cli.completion import complete_model
from qwen_cli.errors import APIConnectionError, NotFoundError, RateLimitError, ServerError
from qwen_cli.safetext import shown

if TYPE_CHECKING:
    from qwen_cli.catalog import ModelSpec
    from qwen_cli.config import Settings
    from qwen_cli.modelcache import ModelList

app = typer.Typer(name="models", rich_markup_mode=None)

JsonOut = Annotated[bool, typer.Option("--json", help="Print the same data as JSON.")]
Refresh = Annotated[bool, typer.Option("--refresh", help="Fetch the list again even if the cache is fresh.")]
Offline = Annotated[
    bool, typer.Option("--offline", help="Do not fetch: show the cached list, or else the catalogue.")
]
# Failures that leave us without the account's list but say nothing against the key.
_FALLBACK_ERRORS = (APIConnectionError, ServerError, RateLimitError, NotFoundError)


def _settings(ask: o.Ask) -> Settings:
    from qwen_cli.cli.answer import settings_for

    return settings_for(ask)


def _catalogue(s: Settings) -> ModelList:
    from qwen_cli import catalog
    from qwen_cli.modelcache import ModelList

    return ModelList(ids=catalog.names(), source="catalogue", base_url=s.base_url)


def get_list(s: Settings, *, refresh: bool = False, offline: bool = False) -> ModelList:
    """The account's model ids: a fresh cache, else ``GET /models``; on network trouble the
    cache of any age or the catalogue, marked stale. Authentication errors are raised."""
    from qwen_cli import config, modelcache
    from qwen_cli.cli.answer import client_for
    from qwen_cli.providers import get_provider
    from qwen_cli.redact import scrub_known

    provider = get_provider(s.provider, base_url=s.base_url, api_key=None)
    listed = provider.catalog() if provider.capabilities.model_list == "catalogue" else None
    if listed is not None:  # no model-list call: the provider's own catalogue, nothing fetched
        return modelcache.ModelList(
            ids=[m.id for m in listed],
            source="provider",
            base_url=s.base_url,
            extra={"note": provider.catalog_note, "provider": s.provider},
        )
    cache = config.cache_dir()
    if offline:
        got = modelcache.load(cache, config.account_of(s.provider), s.base_url, max_age=None) or _catalogue(s)
        got.stale, got.problem = True, "--offline"
        return got
    if not refresh:
        fresh = modelcache.load(cache, config.account_of(s.provider), s.base_url)
        if fresh is not None:
            return fresh
    try:
        with client_for(s) as client:
            ids = [m.id for m in client.models.list()]
    except _FALLBACK_ERRORS as err:
        got = modelcache.load(cache, config.account_of(s.provider), s.base_url, max_age=None) or _catalogue(s)
        got.stale, got.problem = True, scrub_known(err.message)
        return got
    modelcache.save(cache, config.account_of(s.provider), s.base_url, ids)
    return modelcache.ModelList(ids=ids, source="api", base_url=s.base_url, fetched_at=time.time())


def _ago(seconds: float) -> str:
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{round(seconds / 60)} min ago"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"


def describe(ml: ModelList) -> str:
    """Where the list came from, in words."""
    from qwen_cli import __version__

    if ml.source == "catalogue":
        return f"the catalogue shipped with qwen {__version__} (not your account's list)"
    if ml.source == "provider":
        return f"the {ml.extra.get('provider')} catalogue ({ml.extra.get('note')})"
    age = _ago(ml.age() or 0.0)
    if ml.source == "cache":
        return f"the cache, fetched {age} from {ml.base_url}/models"
    return f"GET {ml.base_url}/models, {age}"


def _listed(
    provider: str | None,
    region: str | None,
    base_url: str | None,
    timeout: float | None,
    max_retries: int | None,
    debug: bool,
    *,
    refresh: bool,
    offline: bool,
) -> tuple[Settings, ModelList]:
    """Settings from the shared options, and the model list for them (staleness said on stderr)."""
    ask = o.Ask(
        provider=provider,
        region=region,
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
        debug=debug,
    )
    s = _settings(ask)
    ml = get_list(s, refresh=refresh, offline=offline)
    _warn_stale(ml)
    return s, ml


def _warn_stale(ml: ModelList) -> None:
    if not ml.stale:
        return
    if ml.problem == "--offline":
        sys.stderr.write(f"qwen: note: offline: showing {describe(ml)}; it may be stale\n")
    else:
        text = (
            f"qwen: warning: could not fetch the model list ({ml.problem}); "
            f"showing {describe(ml)} instead; it may be stale\n"
        )
        sys.stderr.write(shown(text, sys.stderr))  # the problem can be a server's message


def price_region(s: Settings) -> str | None:
    """The region whose list prices apply, or ``None`` for servers that are not DashScope's."""
    return s.dashscope_region


def _money(v: float, symbol: str = "") -> str:
    return f"{symbol}{v:.2f}" if round(v, 2) == v else f"{symbol}{v:g}"


def _payload(ml: ModelList, region: str | None) -> dict[str, Any]:
    from datetime import UTC, datetime

    at = ml.fetched_at
    return {
        "source": ml.source,
        "description": describe(ml),
        "base_url": ml.base_url,
        "fetched_at": datetime.fromtimestamp(at, UTC).isoformat() if at is not None else None,
        "stale": ml.stale,
        "price_region": region,
    }


def _plain() -> bool:
    return "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"


def _table(specs: list[ModelSpec], region: str | None, caption: str, no_color: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from qwen_cli import render
    from qwen_cli.catalog import CURRENCIES
    from qwen_cli.safetext import visible

    symbol = CURRENCIES[region][1] if region else ""
    headers = ["model", "context", "max out", "capabilities"]
    if region:
        headers += [f"in {symbol}/M", f"out {symbol}/M"]
    rows: list[list[str]] = []
    for m in specs:
        cells = [visible(m.id)]  # a listed name never drives the terminal
        cells += [f"{m.context:,}" if m.known else "?", f"{m.max_output:,}" if m.known else "?"]
        cells.append(", ".join(m.capabilities) or "-")
        if region:
            p = m.price(region)
            cells += [_money(p[0]), _money(p[1])] if p else ["-", "-"]
        rows.append(cells)
    plain = no_color or _plain()
    console = Console(
        file=sys.stdout, highlight=False, soft_wrap=False, color_system=None if plain else "auto"
    )
    # Numbers and names are never cut: capabilities wrap (at least its longest word), and
    # when the screen is still too narrow, prices, then max out, then capabilities go.
    least = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    least[3] = max([len("capabilities"), *(len(w) for r in rows for w in r[3].split())])
    kept = render.fit_columns(least, console.width, [5, 4, 2, 3] if region else [2, 3])
    table = Table(header_style="bold", box=None, pad_edge=False)
    for i in kept:
        wraps = i == 3
        table.add_column(
            headers[i], justify="left" if i in (0, 3) else "right", no_wrap=not wraps, min_width=least[i]
        )
    for r in rows:
        table.add_row(*(Text(r[i]) for i in kept))
    render.print_unpadded(console, table)
    render.print_unpadded(console, Text(caption, style="dim"))


def _tsv(specs: list[ModelSpec], region: str | None) -> None:
    for m in specs:
        p = m.price(region) if region else None
        cells = [
            m.id,
            str(m.context) if m.known else "",
            str(m.max_output) if m.known else "",
            ",".join(m.capabilities),
            _money(p[0]) if p else "",
            _money(p[1]) if p else "",
        ]
        sys.stdout.write("\t".join(cells) + "\n")
    sys.stdout.flush()


@app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    json: JsonOut = False,
    vision: Annotated[bool, typer.Option("--vision", help="Only models that take images.")] = False,
    thinking: Annotated[bool, typer.Option("--thinking", help="Only models that can think.")] = False,
    refresh: Refresh = False,
    offline: Offline = False,
    no_color: o.NoColor = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    max_retries: o.MaxRetries = None,
    debug: o.Debug = False,
) -> None:
    """List the models your key can use: limits, capabilities, prices.

    For each model: context window, max output, capabilities (vision,
    thinking, search, documents, stream-only) and list price per million
    tokens (¥ in region cn, $ in intl and us).

    The list comes from GET /models and is cached for a day; when the network
    fails, the cached list or the shipped catalogue is shown, with a note on
    stderr. On a terminal it is a table; in a pipe, tab-separated columns:
    model, context, max output, capabilities, input price, output price.

    Examples:

      qwen models

      qwen models --vision

      qwen models --json | jq '.models[].id'

      qwen models show qwen-plus
    """
    if ctx.invoked_subcommand is not None:
        return
    from qwen_cli import catalog

    s, ml = _listed(provider, region, base_url, timeout, max_retries, debug, refresh=refresh, offline=offline)
    pr = price_region(s)
    specs = sorted((catalog.lookup(i) for i in ml.ids), key=lambda m: m.id)
    specs = [m for m in specs if (not vision or m.vision) and (not thinking or m.thinking)]
    if json:
        data = {**_payload(ml, pr), "models": [m.as_dict(pr) for m in specs]}
        sys.stdout.write(
            shown(jsonlib.dumps(data, ensure_ascii=False, indent=2) + "\n", sys.stdout, json=True)
        )
        return
    filters = " ".join(f for f, on in (("--vision", vision), ("--thinking", thinking)) if on)
    if not specs:
        sys.stderr.write(f"qwen: no models match {filters} in {describe(ml)}\n")
        return
    n = f"{len(specs)} model{'s' if len(specs) != 1 else ''}"
    caption = f"{n}{f' ({filters})' if filters else ''} from {describe(ml)}."
    if pr:
        caption += " Prices: list prices per million tokens, approximate."
    if sys.stdout.isatty():
        _table(specs, pr, caption, no_color)
    else:
        _tsv(specs, pr)
        sys.stderr.write(f"qwen: {caption}\n")


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="The model's name.", autocompletion=complete_model)],
    json: JsonOut = False,
    refresh: Refresh = False,
    offline: Offline = False,
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    timeout: o.Timeout = None,
    max_retries: o.MaxRetries = None,
    debug: o.Debug = False,
) -> None:
    """Show what qwen knows about one model, and whether your key can use it.

    Example:

      qwen models show qwen-vl-max
    """
    from qwen_cli import catalog

    s, ml = _listed(provider, region, base_url, timeout, max_retries, debug, refresh=refresh, offline=offline)
    spec = catalog.lookup(name)
    listed = ml.source != "catalogue"
    available = (name in ml.ids) if listed else None
    if not spec.known and available is False:
        raise NotFoundError(
            f"unknown model {name!r}: not in the catalogue, nor in the list from {describe(ml)}",
            hint="run `qwen models` to see the models your key can use",
        )
    pr = price_region(s)
    if json:
        data = {**spec.as_dict(pr), "available": available, "list": _payload(ml, pr)}
        sys.stdout.write(
            shown(jsonlib.dumps(data, ensure_ascii=False, indent=2) + "\n", sys.stdout, json=True)
        )
        return
    rows: list[tuple[str, str]] = []
    if spec.known:
        ctx_line = f"{spec.context:,} tokens"
        if spec.input_limit != spec.context:
            ctx_line += f" ({spec.input_limit:,} of them input)"
        rows += [("context", ctx_line), ("max output", f"{spec.max_output:,} tokens")]
    else:
        rows.append(
            (
                "catalogue",
                f"not listed: qwen assumes {spec.context:,} tokens of context "
                f"and {spec.max_output:,} of output",
            )
        )
    rows.append(("capabilities", ", ".join(spec.capabilities) or "text only"))
    p = spec.price(pr) if pr else None
    if p:
        rows.append(("price", f"{_money(p[0], p[3])} input, {_money(p[1], p[3])} output per million tokens"))
    elif pr:
        rows.append(("price", f"unknown in region {pr}"))
    if available is None:
        rows.append(("your account", f"unknown (showing {describe(ml)})"))
    else:
        rows.append(("your account", f"{'listed' if available else 'not listed'} in {describe(ml)}"))
    if spec.notes:
        rows.append(("notes", spec.notes))
    width = max(len(k) for k, _ in rows)
    out = [spec.id] + [f"  {k:<{width}}  {v}" for k, v in rows]
    sys.stdout.write("\n".join(out) + "\n")
