"""A turn's request: the sampling options and what the model accepts, decided once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwen_cli.catalog import ModelSpec
    from qwen_cli.client import Qwen
    from qwen_cli.types import ChatRequest, Message


@dataclass(frozen=True)
class Sampling:
    """How to ask: the options a command or a chat's slash commands set, with the wire names."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    think: bool | None = None
    search: bool = False
    search_force: bool = False  # search before every answer (forced_search)
    search_strategy: str | None = None  # turbo | max | agent
    search_freshness: int | None = None  # only pages from the last N days
    search_sites: tuple[str, ...] = ()  # only these hosts
    json_mode: bool = False
    no_stream: bool = False

    def params(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": self.stop or None,
            "enable_thinking": self.think,
            "enable_search": True if self.search else None,
            "search_options": self.search_options(),
            "json_mode": self.json_mode,
        }

    def search_options(self) -> dict[str, Any] | None:
        """DashScope's ``search_options`` for what was asked, or ``None``."""
        if not self.search:
            return None
        options: dict[str, Any] = {}
        if self.search_force:
            options["forced_search"] = True
        if self.search_strategy:
            options["search_strategy"] = self.search_strategy
        if self.search_freshness:
            options["freshness"] = self.search_freshness
        if self.search_sites:
            options["assigned_site_list"] = list(self.search_sites)
        return options or None

    def stored(self) -> dict[str, Any]:
        """The options as stored with each message: only those set."""
        return {k: v for k, v in self.params().items() if v is not None and not (k == "json_mode" and not v)}


def build_request(
    client: Qwen, spec: ModelSpec, messages: Sequence[Message], sampling: Sampling
) -> ChatRequest:
    """The request for ``messages`` to the model ``spec`` describes, adjusted to what it accepts.

    Stream-only models (QwQ, QVQ, Omni) are streamed even with ``--no-stream``; open-source
    Qwen3, which thinks by default, only answers non-streamed calls with thinking off, so
    ``--no-stream`` turns it off unless ``--think`` asked for it (then the call streams).
    """
    params = sampling.params()
    stream = not sampling.no_stream
    if not stream and spec.stream_only:
        stream = True
    elif not stream and spec.thinking_default:
        if sampling.think:
            stream = True
        else:
            params["enable_thinking"] = False
    return client.chat.request(messages, model=spec.id, stream=stream, **params)
