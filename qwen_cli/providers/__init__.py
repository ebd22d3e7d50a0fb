"""Backends: each describes itself and knows its URLs, body extras and error shapes; none does I/O.

The registry below has one line per provider: its name and where its class lives (imported only
when asked for, so start-up stays cheap). A new provider is one module whose class follows
:class:`~qwen_cli.providers.base.Provider`, and one line here.
"""

from __future__ import annotations

import importlib

from qwen_cli.errors import ConfigError
from qwen_cli.providers.base import Provider, RequestSpec, StreamItem, region_of

_REGISTRY: dict[str, str] = {
    "dashscope": "qwen_cli.providers.dashscope:DashScope",
    "dashscope-native": "qwen_cli.providers.dashscope_native:DashScopeNative",
    "qwen-web": "qwen_cli.providers.qwen_web:QwenWeb",
}
PROVIDERS = tuple(_REGISTRY)
DEFAULT_PROVIDER = PROVIDERS[0]


def provider_class(name: str) -> type[Provider]:
    """The class of the provider called ``name``: its description, and how to build one."""
    where = _REGISTRY.get(name)
    if where is None:
        raise ConfigError(f"unknown provider {name!r}", hint=f"use one of: {', '.join(PROVIDERS)}")
    module, _, cls = where.partition(":")
    found: type[Provider] = getattr(importlib.import_module(module), cls)
    return found


def get_provider(name: str, *, base_url: str, api_key: str | None, cookie: str | None = None) -> Provider:
    """The provider called ``name``, pointed at ``base_url``."""
    return provider_class(name).create(base_url=base_url, api_key=api_key, cookie=cookie)


__all__ = [
    "DEFAULT_PROVIDER",
    "PROVIDERS",
    "Provider",
    "RequestSpec",
    "StreamItem",
    "get_provider",
    "provider_class",
    "region_of",
]
