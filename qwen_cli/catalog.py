"""Known models: context window, maximum output, capabilities and list prices.

Limits come from ../shared/protocol/dashscope.md (section d); where that table
marks a value as inferred it is kept here too, because a wrong guess costs less
than none (unknown models get ``DEFAULT``). Prices are list prices per million
tokens as published by Alibaba Cloud (CNY for the Beijing region, USD for the
international ones); they change, so every cost shown is marked approximate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

DEFAULT_CONTEXT = 32_768


@dataclass(frozen=True)
class ModelSpec:
    id: str
    context: int = DEFAULT_CONTEXT
    max_output: int = 8_192
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


_MODELS: list[ModelSpec] = [
    ModelSpec("qwen-max", 32_768, 8_192, search=True, price_cny=(2.4, 9.6), price_usd=(1.6, 6.4)),
    ModelSpec("qwen-max-latest", 131_072, 8_192, search=True, price_cny=(2.4, 9.6), price_usd=(1.6, 6.4)),
    ModelSpec("qwen3-max", 262_144, 65_536, search=True, price_cny=(6.0, 24.0), price_usd=(1.2, 6.0)),
    ModelSpec(
        "qwen-plus", 131_072, 16_384, thinking=True, search=True, price_cny=(0.8, 2.0), price_usd=(0.4, 1.2)
    ),
    ModelSpec(
        "qwen-plus-latest",
        131_072,
        16_384,
        thinking=True,
        search=True,
        price_cny=(0.8, 2.0),
        price_usd=(0.4, 1.2),
    ),
    ModelSpec(
        "qwen-turbo",
        1_000_000,
        16_384,
        thinking=True,
        search=True,
        price_cny=(0.3, 0.6),
        price_usd=(0.05, 0.2),
    ),
    ModelSpec(
        "qwen-turbo-latest",
        1_000_000,
        16_384,
        thinking=True,
        search=True,
        price_cny=(0.3, 0.6),
        price_usd=(0.05, 0.2),
    ),
    ModelSpec("qwen-flash", 1_000_000, 32_768, thinking=True, price_cny=(0.15, 1.5), price_usd=(0.05, 0.4)),
    ModelSpec("qwen3-coder-plus", 1_000_000, 65_536, price_cny=(4.0, 16.0), price_usd=(1.0, 5.0)),
    ModelSpec(
        "qwen-long", 10_000_000, 8_192, documents=True, price_cny=(0.5, 2.0), notes="Beijing region only"
    ),
    ModelSpec("qwen-vl-max", 131_072, 8_192, vision=True, price_cny=(1.6, 4.0), price_usd=(0.8, 3.2)),
    ModelSpec("qwen-vl-plus", 131_072, 8_192, vision=True, price_cny=(0.8, 2.0), price_usd=(0.21, 0.63)),
    ModelSpec(
        "qwen3-vl-plus",
        262_144,
        32_768,
        vision=True,
        thinking=True,
        price_cny=(1.0, 10.0),
        price_usd=(0.2, 1.6),
    ),
    ModelSpec("qwen-vl-ocr", 34_096, 4_096, vision=True, price_cny=(5.0, 5.0)),
    ModelSpec(
        "qvq-max",
        131_072,
        8_192,
        vision=True,
        thinking=True,
        stream_only=True,
        price_cny=(8.0, 32.0),
        price_usd=(1.2, 4.8),
    ),
    ModelSpec(
        "qwq-plus",
        131_072,
        8_192,
        thinking=True,
        stream_only=True,
        price_cny=(1.6, 4.0),
        price_usd=(0.8, 2.4),
    ),
    ModelSpec("qwq-32b", 131_072, 8_192, thinking=True, stream_only=True, price_cny=(2.0, 6.0)),
    ModelSpec("qwen-omni-turbo", 32_768, 2_048, vision=True, stream_only=True),
    ModelSpec(
        "qwen3-235b-a22b",
        131_072,
        16_384,
        thinking=True,
        thinking_default=True,
        price_cny=(2.0, 8.0),
        price_usd=(0.7, 2.8),
    ),
    ModelSpec(
        "qwen3-32b",
        131_072,
        16_384,
        thinking=True,
        thinking_default=True,
        price_cny=(2.0, 8.0),
        price_usd=(0.7, 2.8),
    ),
    ModelSpec(
        "qwen3-30b-a3b",
        131_072,
        16_384,
        thinking=True,
        thinking_default=True,
        price_cny=(0.75, 3.0),
        price_usd=(0.2, 0.8),
    ),
    ModelSpec(
        "qwen3-14b",
        131_072,
        8_192,
        thinking=True,
        thinking_default=True,
        price_cny=(1.0, 4.0),
        price_usd=(0.35, 1.4),
    ),
    ModelSpec(
        "qwen3-8b",
        131_072,
        8_192,
        thinking=True,
        thinking_default=True,
        price_cny=(0.5, 2.0),
        price_usd=(0.18, 0.7),
    ),
    ModelSpec(
        "qwen3-4b",
        32_768,
        8_192,
        thinking=True,
        thinking_default=True,
        price_cny=(0.3, 1.2),
        price_usd=(0.11, 0.42),
    ),
    ModelSpec(
        "qwen3-1.7b",
        32_768,
        8_192,
        thinking=True,
        thinking_default=True,
        price_cny=(0.3, 1.2),
        price_usd=(0.11, 0.42),
    ),
    ModelSpec(
        "qwen3-0.6b",
        32_768,
        8_192,
        thinking=True,
        thinking_default=True,
        price_cny=(0.3, 1.2),
        price_usd=(0.11, 0.42),
    ),
]
CATALOG: dict[str, ModelSpec] = {m.id: m for m in _MODELS}

# Dated snapshots (qwen-plus-2025-04-28) share their family's limits.
_SNAPSHOT = re.compile(r"^(?P<base>.+?)-(?:\d{4}-\d{2}-\d{2}|\d{4})$")

DEFAULT_VISION_MODEL = "qwen-vl-max"
DEFAULT_DOCUMENT_MODEL = "qwen-long"


def lookup(model: str) -> ModelSpec:
    """What we know of ``model``; an unknown model gets safe defaults (32K context)."""
    name = model.strip()
    key = name.lower().rsplit("/", 1)[-1]  # "Qwen/Qwen3-8B" on a local server
    if key in CATALOG:
        return replace(CATALOG[key], id=name) if key != name else CATALOG[key]
    m = _SNAPSHOT.match(key)
    if m and m.group("base") in CATALOG:
        return replace(CATALOG[m.group("base")], id=name)
    vision = "-vl" in key or key.startswith(("qvq", "qwen-vl", "qwen2.5-vl", "qwen3-vl"))
    return ModelSpec(name, vision=vision, known=False)


def all_models() -> list[ModelSpec]:
    return list(_MODELS)


def cost(model: str, prompt_tokens: int, completion_tokens: int, region: str) -> str | None:
    """``~¥0.0031`` (Beijing) or ``~$0.0012`` (elsewhere), or ``None`` when the price is unknown."""
    spec = lookup(model)
    price, symbol = (spec.price_cny, "¥") if region == "cn" else (spec.price_usd, "$")
    if price is None:
        return None
    amount = (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000
    if amount < 0.0001:
        return f"<{symbol}0.0001"
    return f"~{symbol}{amount:.4f}" if amount < 1 else f"~{symbol}{amount:.2f}"
