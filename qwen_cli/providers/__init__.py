"""Backends: each knows its URLs, body extras and error shapes; none does I/O."""

from __future__ import annotations

from qwen_cli.errors import ConfigError
from qwen_cli.providers.base import Provider, RequestSpec, StreamItem

PROVIDERS = ("dashscope", "qwen-web")


def get_provider(name: str, *, base_url: str, api_key: str | None, cookie: str | None = None) -> Provider:
    """The provider called ``name``, pointed at ``base_url``."""
    if name == "dashscope":
        from qwen_cli.providers.dashscope import DashScope

        return DashScope(base_url=base_url, api_key=api_key)
    if name == "qwen-web":
        from qwen_cli.providers.qwen_web import QwenWeb

        return QwenWeb(base_url=base_url, token=api_key, cookie=cookie)
    raise ConfigError(
        f"unknown provider {name!r}",
        hint=f"use one of: {', '.join(PROVIDERS)}",
    )


__all__ = ["PROVIDERS", "Provider", "RequestSpec", "StreamItem", "get_provider"]
