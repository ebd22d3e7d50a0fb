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
from dataclasses import dataclass, replace
from typing import Any

DEFAULT_CONTEXT = 32_768
DEFAULT_MAX_OUTPUT = 8_192
CAPABILITIES = ("vision", "thinking", "search", "documents", "stream-only")
CURRENCIES = {"cn": ("CNY", "¥"), "intl": ("USD", "$"), "us": ("USD", "$")}


@dataclass(frozen=True)
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
# "think*" marks open-source Qwen3, which thinks unless told not to.
_Row = tuple[str, int, int, int, str, tuple[float, float] | None, tuple[float, float] | None, str]
_TABLE: list[_Row] = [
    ("qwen-max", 32_768, 30_720, 8_192, "search", (2.4, 9.6), (1.6, 6.4), ""),
    ("qwen-max-latest", 131_072, 129_024, 8_192, "search", (2.4, 9.6), (1.6, 6.4), ""),
    ("qwen3-max", 262_144, 258_048, 65_536, "search", (6.0, 24.0), (1.2, 6.0), ""),
    ("qwen-plus", 131_072, 129_024, 16_384, "thinking search", (0.8, 2.0), (0.4, 1.2), ""),
    ("qwen-plus-latest", 131_072, 129_024, 16_384, "thinking search", (0.8, 2.0), (0.4, 1.2), ""),
    ("qwen-turbo", 1_000_000, 0, 16_384, "thinking search", (0.3, 0.6), (0.05, 0.2), ""),
    ("qwen-turbo-latest", 1_000_000, 0, 16_384, "thinking search", (0.3, 0.6), (0.05, 0.2), ""),
    ("qwen-flash", 1_000_000, 997_952, 32_768, "thinking", (0.15, 1.5), (0.05, 0.4), ""),
    ("qwen3-coder-plus", 1_000_000, 997_952, 65_536, "", (4.0, 16.0), (1.0, 5.0), ""),
    ("qwen3.5-plus", 1_000_000, 983_616, 65_536, "thinking search", None, None, ""),
    ("qwen-long", 10_000_000, 0, 8_192, "documents", (0.5, 2.0), None, "Beijing region only"),
    ("qwen-vl-max", 131_072, 129_024, 8_192, "vision", (1.6, 4.0), (0.8, 3.2), ""),
    ("qwen-vl-plus", 131_072, 129_024, 8_192, "vision", (0.8, 2.0), (0.21, 0.63), ""),
    ("qwen3-vl-plus", 262_144, 0, 32_768, "vision thinking", (1.0, 10.0), (0.2, 1.6), ""),
    ("qwen3-vl-flash", 262_144, 0, 32_768, "vision thinking", None, None, ""),
    ("qwen-vl-ocr", 34_096, 0, 4_096, "vision", (5.0, 5.0), None, ""),
    ("qvq-max", 131_072, 0, 8_192, "vision thinking stream-only", (8.0, 32.0), (1.2, 4.8), ""),
    ("qwq-plus", 131_072, 98_304, 8_192, "thinking stream-only", (1.6, 4.0), (0.8, 2.4), ""),
    ("qwq-32b", 131_072, 98_304, 8_192, "thinking stream-only", (2.0, 6.0), None, ""),
    ("qwen-omni-turbo", 32_768, 30_720, 2_048, "vision stream-only", None, None, ""),
    ("qwen3-235b-a22b", 131_072, 129_024, 16_384, "think*", (2.0, 8.0), (0.7, 2.8), ""),
    ("qwen3-32b", 131_072, 129_024, 16_384, "think*", (2.0, 8.0), (0.7, 2.8), ""),
    ("qwen3-30b-a3b", 131_072, 129_024, 16_384, "think*", (0.75, 3.0), (0.2, 0.8), ""),
    ("qwen3-14b", 131_072, 129_024, 8_192, "think*", (1.0, 4.0), (0.35, 1.4), ""),
    ("qwen3-8b", 131_072, 129_024, 8_192, "think*", (0.5, 2.0), (0.18, 0.7), ""),
    ("qwen3-4b", 32_768, 30_720, 8_192, "think*", (0.3, 1.2), (0.11, 0.42), ""),
    ("qwen3-1.7b", 32_768, 30_720, 8_192, "think*", (0.3, 1.2), (0.11, 0.42), ""),
    ("qwen3-0.6b", 32_768, 30_720, 8_192, "think*", (0.3, 1.2), (0.11, 0.42), ""),
    ("qwen2.5-72b-instruct", 131_072, 129_024, 8_192, "", None, None, ""),
    ("qwen2.5-32b-instruct", 131_072, 129_024, 8_192, "", None, None, ""),
    ("qwen2.5-14b-instruct", 131_072, 129_024, 8_192, "", None, None, ""),
    ("qwen2.5-7b-instruct", 131_072, 129_024, 8_192, "", None, None, ""),
    ("qwen2.5-14b-instruct-1m", 1_000_000, 0, 8_192, "", None, None, ""),
    ("qwen2.5-7b-instruct-1m", 1_000_000, 0, 8_192, "", None, None, ""),
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


def cost(model: str, prompt_tokens: int, completion_tokens: int, region: str) -> str | None:
    """``~¥0.0031`` (Beijing) or ``~$0.0012`` (elsewhere), or ``None`` when the price is unknown."""
    price = lookup(model).price(region)
    if price is None:
        return None
    p_in, p_out, _code, symbol = price
    amount = (prompt_tokens * p_in + completion_tokens * p_out) / 1_000_000
    if amount < 0.0001:
        return f"<{symbol}0.0001"
    return f"~{symbol}{amount:.4f}" if amount < 1 else f"~{symbol}{amount:.2f}"


# Web search fees per call, by strategy (``search_options.search_strategy``), Chinese mainland
# only: turbo ¥3 and max ¥4 per 1,000 calls (discounted), agent ¥4 per 1,000, since 2026-02-27
# [DOC, ../shared/protocol/dashscope-more.md "Web search with sources"]. The international
# agent price is given only in CNY (≈ ¥73.39 per 1,000), so no USD fee is known: none is shown.
SEARCH_FEES = {"cn": {"turbo": 0.003, "max": 0.004, "agent": 0.004}}
DEFAULT_SEARCH_STRATEGY = "turbo"


def search_fee(plugins: Any, region: str) -> str | None:
    """``search ~¥0.0030`` for the searches a native answer's ``usage.plugins`` reports
    (``{"search": {"count", "strategy"}}``, shape [INF]), or ``None``: no search, or no fee known."""
    search = plugins.get("search") if isinstance(plugins, dict) else None
    fees = SEARCH_FEES.get(region)
    if not isinstance(search, dict) or fees is None:
        return None
    count = search.get("count", 1)
    count = count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else 1
    fee = fees.get(str(search.get("strategy") or ""), fees[DEFAULT_SEARCH_STRATEGY])
    _code, symbol = CURRENCIES[region]
    return f"search ~{symbol}{count * fee:.4f}" if count else None
