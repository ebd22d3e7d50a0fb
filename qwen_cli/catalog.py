"""Known models: context window, maximum input and output, capabilities and list prices.

This is what the rest of the tool asks about a model: ``lookup(name).input_limit``
(chat trimming), ``cost(...)`` (the footer), ``lookup(name).vision`` (uploads),
``lookup(name).stream_only``. Unknown models get safe defaults (32K context,
8K output) plus what their name gives away (``-vl`` sees, ``qwq`` thinks).

Limits come from ../shared/protocol/dashscope.md (section d); where that table
marks a value as inferred it is kept here too, because a wrong guess costs less
than none. Prices are list prices per million tokens as published by Alibaba
Cloud (CNY for the Beijing region, USD for the international ones); they change,
so every cost shown is marked approximate.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from qwen_cli.structs import replace, struct

if TYPE_CHECKING:
    from qwen_cli.types import Usage

DEFAULT_CONTEXT = 32_768
DEFAULT_MAX_OUTPUT = 8_192
CAPABILITIES = ("vision", "thinking", "search", "documents", "stream-only")
CURRENCIES = {"cn": ("CNY", "¥"), "intl": ("USD", "$"), "us": ("USD", "$")}


@struct(frozen=True)
class ModelSpec:
    id: str
    context: int = DEFAULT_CONTEXT
    max_output: int = DEFAULT_MAX_OUTPUT
    vision: bool = False
    thinking: bool = False  # can think (hybrid or always)
    search: bool = False
    documents: bool = False  # accepts fileid:// documents
    stream_only: bool = False
    thinking_default: bool = False  # thinks unless told not to (open-source Qwen3)
    price_cny: tuple[float, float] | None = None  # (input, output) per million tokens
    price_usd: tuple[float, float] | None = None
    known: bool = True
    notes: str = ""
    max_input: int | None = None  # when the provider accepts less than the context window
    tools: bool = False  # function calling [DOC-FC model list]
    json_schema: bool = False  # response_format json_schema (strict structured output) [DOC-SO]

    @property
    def capabilities(self) -> list[str]:
        flags = (
            ("vision", self.vision),
            ("thinking", self.thinking),
            ("search", self.search),
            ("documents", self.documents),
            ("stream-only", self.stream_only),
        )
        return [name for name, on in flags if on]

    @property
    def input_limit(self) -> int:
        """Most prompt tokens the model accepts: what chat trimming should aim below."""
        return self.max_input or self.context

    def price(self, region: str) -> tuple[float, float, str, str] | None:
        """(input, output, currency code, symbol) per million tokens in ``region``, if known."""
        code, symbol = CURRENCIES.get(region, CURRENCIES["intl"])
        p = self.price_cny if code == "CNY" else self.price_usd
        return (p[0], p[1], code, symbol) if p else None

    def as_dict(self, region: str | None = None) -> dict[str, Any]:
        """Plain data for ``--json``; limits are ``null`` when the model is not in the catalogue."""
        p = self.price(region) if region else None
        return {
            "id": self.id,
            "known": self.known,
            "context": self.context if self.known else None,
            "max_input": self.input_limit if self.known else None,
            "max_output": self.max_output if self.known else None,
            "capabilities": self.capabilities,
            "price": {"input": p[0], "output": p[1], "currency": p[2]} if p else None,
            "notes": self.notes or None,
        }


# id, context, max input (0: the context), max output, capabilities, CNY in/out, USD in/out, notes.
# "think*" marks open-source Qwen3, which thinks unless told not to. "tools": function calling
# [DOC-FC model list, 2026-06]; "schema": strict structured output, only qwen-plus-latest
# and its dated snapshots in Beijing [DOC-SO zh, 2026-01].
_Row = tuple[str, int, int, int, str, tuple[float, float] | None, tuple[float, float] | None, str]
_MT = "translation only (qwen translate)"
_TABLE: list[_Row] = [
    ("qwen-max", 32_768, 30_720, 8_192, "search tools", (2.4, 9.6), (1.6, 6.4), ""),
    ("qwen-max-latest", 131_072, 129_024, 8_192, "search tools", (2.4, 9.6), (1.6, 6.4), ""),
    ("qwen3-max", 262_144, 258_048, 65_536, "search tools", (6.0, 24.0), (1.2, 6.0), ""),
    ("qwen-plus", 131_072, 129_024, 16_384, "thinking search tools", (0.8, 2.0), (0.4, 1.2), ""),
    (
        "qwen-plus-latest",
        131_072,
        129_024,
        16_384,
        "thinking search tools schema",
        (0.8, 2.0),
        (0.4, 1.2),
        "",
    ),
    ("qwen-turbo", 1_000_000, 0, 16_384, "thinking search tools", (0.3, 0.6), (0.05, 0.2), ""),
    ("qwen-turbo-latest", 1_000_000, 0, 16_384, "thinking search tools", (0.3, 0.6), (0.05, 0.2), ""),
    ("qwen-flash", 1_000_000, 997_952, 32_768, "thinking tools", (0.15, 1.5), (0.05, 0.4), ""),
    ("qwen3-coder-plus", 1_000_000, 997_952, 65_536, "tools", (4.0, 16.0), (1.0, 5.0), ""),
    ("qwen3.5-plus", 1_000_000, 983_616, 65_536, "thinking search tools", None, None, ""),
    ("qwen-long", 10_000_000, 0, 8_192, "documents", (0.5, 2.0), None, "Beijing region only"),
    ("qwen-vl-max", 131_072, 129_024, 8_192, "vision", (1.6, 4.0), (0.8, 3.2), ""),
    ("qwen-vl-plus", 131_072, 129_024, 8_192, "vision", (0.8, 2.0), (0.21, 0.63), ""),
    ("qwen3-vl-plus", 262_144, 0, 32_768, "vision thinking tools", (1.0, 10.0), (0.2, 1.6), ""),
    ("qwen3-vl-flash", 262_144, 0, 32_768, "vision thinking tools", None, None, ""),
    ("qwen-vl-ocr", 34_096, 0, 4_096, "vision", (5.0, 5.0), None, ""),
    ("qvq-max", 131_072, 0, 8_192, "vision thinking stream-only", (8.0, 32.0), (1.2, 4.8), ""),
    ("qwq-plus", 131_072, 98_304, 8_192, "thinking stream-only", (1.6, 4.0), (0.8, 2.4), ""),
    ("qwq-32b", 131_072, 98_304, 8_192, "thinking stream-only", (2.0, 6.0), None, ""),
    ("qwen-omni-turbo", 32_768, 30_720, 2_048, "vision stream-only", None, None, ""),
    ("qwen3-235b-a22b", 131_072, 129_024, 16_384, "think* tools", (2.0, 8.0), (0.7, 2.8), ""),
    ("qwen3-32b", 131_072, 129_024, 16_384, "think* tools", (2.0, 8.0), (0.7, 2.8), ""),
    ("qwen3-30b-a3b", 131_072, 129_024, 16_384, "think* tools", (0.75, 3.0), (0.2, 0.8), ""),
    ("qwen3-14b", 131_072, 129_024, 8_192, "think* tools", (1.0, 4.0), (0.35, 1.4), ""),
    ("qwen3-8b", 131_072, 129_024, 8_192, "think* tools", (0.5, 2.0), (0.18, 0.7), ""),
    ("qwen3-4b", 32_768, 30_720, 8_192, "think* tools", (0.3, 1.2), (0.11, 0.42), ""),
    ("qwen3-1.7b", 32_768, 30_720, 8_192, "think* tools", (0.3, 1.2), (0.11, 0.42), ""),
    ("qwen3-0.6b", 32_768, 30_720, 8_192, "think* tools", (0.3, 1.2), (0.11, 0.42), ""),
    ("qwen2.5-72b-instruct", 131_072, 129_024, 8_192, "tools", None, None, ""),
    ("qwen2.5-32b-instruct", 131_072, 129_024, 8_192, "tools", None, None, ""),
    ("qwen2.5-14b-instruct", 131_072, 129_024, 8_192, "tools", None, None, ""),
    ("qwen2.5-7b-instruct", 131_072, 129_024, 8_192, "tools", None, None, ""),
    ("qwen2.5-14b-instruct-1m", 1_000_000, 0, 8_192, "tools", None, None, ""),
    ("qwen2.5-7b-instruct-1m", 1_000_000, 0, 8_192, "tools", None, None, ""),
    # Qwen-MT (qwen translate): 16,384 context, 8,192 in and out [DOC: model pages qwen-mt-turbo and
    # qwen-mt-lite-us, 2026]. Prices: qwen-mt-turbo [DOC model page: Beijing $0.101/$0.28 = the
    # zh page's ¥0.0007/¥0.00195 per 1K; Singapore $0.16/$0.49]; qwen-mt-plus [DOC zh page
    # ¥0.0018/¥0.0054 per 1K; en page $2.46/$7.37]; qwen-mt-lite [DOC lite-us page $0.12/$0.36;
    # CNY INF]; qwen-mt-flash [INF: priced as turbo]. The older 2,048-token limit of plus/turbo
    # is gone [DOC].
    ("qwen-mt-plus", 16_384, 8_192, 8_192, "", (1.8, 5.4), (2.46, 7.37), _MT),
    ("qwen-mt-flash", 16_384, 8_192, 8_192, "", (0.7, 1.95), (0.16, 0.49), _MT),
    ("qwen-mt-turbo", 16_384, 8_192, 8_192, "", (0.7, 1.95), (0.16, 0.49), _MT),
    ("qwen-mt-lite", 16_384, 8_192, 8_192, "", (0.6, 1.6), (0.12, 0.36), _MT),
]


def _spec(row: _Row) -> ModelSpec:
    name, context, max_input, max_output, caps, cny, usd, notes = row
    flags = set(caps.split())
    return ModelSpec(
        name,
        context,
        max_output,
        vision="vision" in flags,
        thinking=bool(flags & {"thinking", "think*"}),
        search="search" in flags,
        documents="documents" in flags,
        stream_only="stream-only" in flags,
        thinking_default="think*" in flags,
        tools="tools" in flags,
        json_schema="schema" in flags,
        price_cny=cny,
        price_usd=usd,
        notes=notes,
        max_input=max_input or None,
    )


_MODELS: list[ModelSpec] = [_spec(row) for row in _TABLE]
CATALOG: dict[str, ModelSpec] = {m.id: m for m in _MODELS}

# Dated snapshots (qwen-plus-2025-04-28, qwen-max-0919) share their family's limits.
_SNAPSHOT = re.compile(r"^(?P<base>.+?)-(?:\d{4}-\d{2}-\d{2}|\d{4})$")

DEFAULT_VISION_MODEL = "qwen-vl-max"
DEFAULT_DOCUMENT_MODEL = "qwen-long"


def _guess(name: str, key: str) -> ModelSpec:
    """An unknown model: default limits, plus what its name says it can do."""
    vision = "-vl" in key or key.startswith(("qvq", "qwen-vl", "qwen2.5-vl", "qwen3-vl", "qwen-omni"))
    always_thinks = key.startswith(("qwq", "qvq")) or "-thinking" in key
    return ModelSpec(
        name,
        vision=vision,
        thinking=always_thinks,
        stream_only=always_thinks or "omni" in key,
        tools=not key.startswith(("qwen-mt", "qwen-vl-ocr")),  # most current models call tools
        known=False,
    )


def lookup(model: str) -> ModelSpec:
    """What we know of ``model``; an unknown model gets safe defaults (32K context)."""
    name = model.strip()
    key = name.lower().rsplit("/", 1)[-1]  # "Qwen/Qwen3-8B" on a local server
    if key in CATALOG:
        return replace(CATALOG[key], id=name) if key != name else CATALOG[key]
    m = _SNAPSHOT.match(key)
    if m and m.group("base") in CATALOG:
        return replace(CATALOG[m.group("base")], id=name)
    return _guess(name, key)


def all_models() -> list[ModelSpec]:
    return list(_MODELS)


def names() -> list[str]:
    return [m.id for m in _MODELS]


def context_window(model: str) -> int:
    return lookup(model).context


def supports_vision(model: str) -> bool:
    return lookup(model).vision


# --------------------------------------------------------------------------- pricing what was reported

# Context cache rates, as a share of the input price [DOC-CC: help.aliyun.com document 2862577,
# https://www.alibabacloud.com/help/en/model-studio/context-cache; ../shared/protocol/dashscope-more.md (c)4]:
# tokens written to the explicit cache cost 125 %, explicit hits 10 %, implicit hits 20 %.
CACHE_WRITE_RATE = 1.25
EXPLICIT_HIT_RATE = 0.10
IMPLICIT_HIT_RATE = 0.20
CACHE_MIN_TOKENS = 1024  # the shortest prefix the explicit cache keeps [DOC-CC]
CACHE_MAX_MARKERS = 4  # markers a request may carry; beyond that only the last four count [DOC-CC]

# Models with an explicit cache (cache_control markers), by region [DOC-CC, 2026]; the others
# (qwen-max, the VL models, ...) only hit the implicit cache. "cn" is the Beijing list; the
# international list serves "intl" and, unlisted in the docs, "us" [INF].
_EXPLICIT_CACHE: dict[str, tuple[str, ...]] = {
    "qwen3-max": ("cn", "intl", "us"),
    "qwen3.5-plus": ("cn", "intl", "us"),
    "qwen-plus": ("cn", "intl", "us"),
    "qwen-plus-latest": ("cn", "intl", "us"),
    "qwen3.5-flash": ("cn", "intl", "us"),
    "qwen-flash": ("cn", "intl", "us"),
    "qwen3-coder-plus": ("cn", "intl", "us"),
    "qwen3-coder-flash": ("cn", "intl", "us"),
    "qwen3-vl-plus": ("cn",),
}

# Output price per million tokens when the answer thought, where it differs from the plain output
# price (CNY, USD). Source: Alibaba Cloud Model Studio pricing pages (qwen-plus: "thinking mode"
# output ¥8 / $4) [DOC, not re-checked from this project]; every other model is priced at its
# output price, as the protocol notes say of reasoning tokens [dashscope-more.md].
_THINKING_OUTPUT: dict[str, tuple[float, float]] = {
    "qwen-plus": (8.0, 4.0),
    "qwen-plus-latest": (8.0, 4.0),
}

# Web search fees per 1,000 searches by strategy (CNY, USD) [DOC, billing since 2026-02-27, via
# dashscope-more.md]: turbo ¥3 and max ¥4 (Chinese mainland only), agent ¥4 / ≈¥73.39 a thousand
# internationally, shown here in USD at ≈ 7.1 CNY to the dollar [INF].
DEFAULT_SEARCH_STRATEGY = "turbo"  # what the server uses when the request names none
SEARCH_FEES: dict[str, tuple[float | None, float | None]] = {
    "turbo": (3.0, None),
    "max": (4.0, None),
    "agent": (4.0, 73.39 / 7.1),
}


def explicit_cache(model: str, region: str | None) -> bool:
    """Does ``model`` take ``cache_control`` markers in DashScope ``region``?"""
    if region is None:
        return False
    spec = lookup(model)
    key = spec.id.lower().rsplit("/", 1)[-1]
    m = _SNAPSHOT.match(key)
    regions = _EXPLICIT_CACHE.get(key) or (_EXPLICIT_CACHE.get(m.group("base"), ()) if m else ())
    return region in regions


@struct(frozen=True)
class Cost:
    """What an answer (or several) cost, and what it would have cost with no cache at all."""

    amount: float  # everything, search fees included
    uncached: float  # the same tokens at the plain input price (and the same fees)
    symbol: str
    fees: float = 0.0  # web search fees, part of ``amount``

    @property
    def saved(self) -> float:
        return self.uncached - self.amount

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.amount + other.amount, self.uncached + other.uncached, self.symbol, self.fees + other.fees
        )

    def text(self) -> str:
        """``~¥0.0031``, then ``saved ~¥0.0120 by cache`` (or what writing the cache added)."""
        out = _money(self.amount - self.fees, self.symbol)
        if self.fees > 0:
            out += f" + search {_money(self.fees, self.symbol)}"
        if self.saved >= 0.00005:
            out += f" · saved {_money(self.saved, self.symbol)} by cache"
        elif self.saved <= -0.00005:
            out += f" · cache write +{_money(-self.saved, self.symbol).lstrip('~')}"
        return out


def _money(amount: float, symbol: str) -> str:
    if amount < 0.0001:
        return f"<{symbol}0.0001"
    return f"~{symbol}{amount:.4f}" if amount < 1 else f"~{symbol}{amount:.2f}"


def price_usage(model: str, usage: Usage, region: str, *, explicit: bool = False) -> Cost | None:
    """The cost of what the server reported, each kind of token at its own rate, or ``None``
    when the model's price in ``region`` is unknown.

    Input: cache writes at 125 %, hits at 10 % (``explicit``: the request carried markers) or
    20 % (implicit), the rest at the input price; a search at its strategy's fee when the
    usage says one ran. Output: at the thinking-mode price when the answer reasoned.
    """
    price = lookup(model).price(region)
    if price is None:
        return None
    p_in, p_out, code, symbol = price
    hit = max(usage.cached_tokens or 0, 0)
    written = max(usage.cache_creation_tokens or 0, 0)
    plain = max(usage.prompt_tokens - hit - written, 0)
    hit_rate = EXPLICIT_HIT_RATE if explicit else IMPLICIT_HIT_RATE
    cost_in = (plain + written * CACHE_WRITE_RATE + hit * hit_rate) * p_in
    if usage.reasoning_tokens:
        thinking = _THINKING_OUTPUT.get(lookup(model).id.lower().rsplit("/", 1)[-1])
        if thinking is not None:
            p_out = thinking[0] if code == "CNY" else thinking[1]
    cost_out = usage.completion_tokens * p_out
    fees = _search_fee(usage, code)
    amount = (cost_in + cost_out) / 1_000_000 + fees
    uncached = (usage.prompt_tokens * p_in + cost_out) / 1_000_000 + fees
    return Cost(amount, uncached, symbol, fees)


def _search_fee(usage: Usage, code: str) -> float:
    """The web search fee, when the usage names the searches and their strategy (``usage.plugins``,
    native protocol [DOC]; its inner shape is [INF]: ``{"search": {"count": N, "strategy": S}}``)."""
    plugins = (usage.model_extra or {}).get("plugins")
    search = plugins.get("search") if isinstance(plugins, dict) else None
    if not isinstance(search, dict):
        return 0.0
    count, strategy = search.get("count", 1), search.get("strategy") or DEFAULT_SEARCH_STRATEGY
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        count = 1  # a search ran, its count unreadable: one
    fees = SEARCH_FEES.get(str(strategy).lower())
    if count == 0 or fees is None:
        return 0.0
    fee = fees[0] if code == "CNY" else fees[1]
    return count * fee / 1000 if fee is not None else 0.0


def cost(model: str, prompt_tokens: int, completion_tokens: int, region: str) -> str | None:
    """``~¥0.0031`` (Beijing) or ``~$0.0012`` (elsewhere), or ``None`` when the price is unknown."""
    from qwen_cli.types import Usage

    got = price_usage(model, Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens), region)
    return got.text() if got is not None else None
