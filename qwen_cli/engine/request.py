"""A turn's request: the sampling options and what the model accepts, decided once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qwen_cli.structs import field, struct

if TYPE_CHECKING:
    from qwen_cli.catalog import ModelSpec
    from qwen_cli.client import Qwen
    from qwen_cli.types import ChatRequest, Message


@struct(frozen=True)
class Sampling:
    """How to ask: the options a command or a chat's slash commands set, with the wire names."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    think: bool | None = None
    thinking_budget: int | None = None  # most reasoning tokens; implies thinking
    search: bool = False
    search_force: bool = False  # search before every answer (forced_search)
    search_strategy: str | None = None  # turbo | max | agent
    search_freshness: int | None = None  # only pages from the last N days
    search_sites: tuple[str, ...] = ()  # only these hosts
    json_mode: bool = False
    no_stream: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # other request fields, passed through

    def params(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": self.stop or None,
            "enable_thinking": True if self.thinking_budget else self.think,
            "thinking_budget": self.thinking_budget,
            "enable_search": True if self.search else None,
            "search_options": self.search_options(),
            "json_mode": self.json_mode,
            "extra": dict(self.extra),
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
        params = self.params().items()
        return {k: v for k, v in params if v is not None and (v or k not in ("json_mode", "extra"))}


def thinking_note(spec: ModelSpec, sampling: Sampling) -> str | None:
    """Refuse a thinking budget for a model the catalogue says cannot think (nothing is sent);
    for ``--think`` on such a model, the one-line warning to show."""
    from qwen_cli.errors import UsageError

    if spec.thinking:
        return None
    if sampling.thinking_budget:
        raise UsageError(
            f"{spec.id} cannot think, so a thinking budget does not apply to it",
            hint="pick a model that thinks (e.g. qwen-plus), or ask without a budget",
        )
    if sampling.think:
        return f"warning: {spec.id} cannot think (by the catalogue): --think is sent but may do nothing"
    return None


def cache_marked(messages: Sequence[Message]) -> list[Message]:
    """``messages`` with DashScope's explicit-cache markers on their stable prefix.

    The one rule: a marker (``cache_control: {"type": "ephemeral"}``) ends the leading system
    messages (the system prompt, documents) and the last message, the multi-turn pattern of
    the context-cache docs, so each turn hits the cache the turn before wrote. A marker goes
    only where the prefix it ends is long enough to be cached (``CACHE_MIN_TOKENS``, estimated);
    only the last ``CACHE_MAX_MARKERS`` are kept. A marked message's content takes the list
    form, its last text part carrying the marker; the others are left as they are.
    """
    from qwen_cli.catalog import CACHE_MAX_MARKERS, CACHE_MIN_TOKENS
    from qwen_cli.conversation import message_tokens

    msgs = list(messages)
    leading = next((i for i, m in enumerate(msgs) if m.role != "system"), len(msgs))
    candidates = list(range(leading))
    if msgs and len(msgs) - 1 not in candidates:
        candidates.append(len(msgs) - 1)
    marks, prefix, upto = [], 0, 0
    for i in candidates:
        prefix += sum(message_tokens(m) for m in msgs[upto : i + 1])
        upto = i + 1
        if prefix >= CACHE_MIN_TOKENS:
            marks.append(i)
    for i in marks[-CACHE_MAX_MARKERS:]:
        msgs[i] = _marked(msgs[i])
    return msgs


def _marked(m: Message) -> Message:
    """``m`` with the marker on its last text part (a message of images only is left as it is)."""
    from qwen_cli.types import CacheControl, ContentPart, TextPart

    parts: list[ContentPart] = [TextPart(text=m.content)] if isinstance(m.content, str) else list(m.content)
    last = next((i for i in reversed(range(len(parts))) if isinstance(parts[i], TextPart)), None)
    if last is None:
        return m
    parts[last] = parts[last].model_copy(update={"cache_control": CacheControl()})
    return m.model_copy(update={"content": parts})


def build_request(
    client: Qwen,
    spec: ModelSpec,
    messages: Sequence[Message],
    sampling: Sampling,
    *,
    cache: bool = False,
) -> ChatRequest:
    """The request for ``messages`` to the model ``spec`` describes, adjusted to what it accepts.

    Stream-only models (QwQ, QVQ, Omni) are streamed even with ``--no-stream``; open-source
    Qwen3, which thinks by default, only answers non-streamed calls with thinking off, so
    ``--no-stream`` turns it off unless ``--think`` asked for it (then the call streams).
    ``cache``: mark the stable prefix for the explicit context cache (:func:`cache_marked`).
    """
    thinking_note(spec, sampling)  # a budget for a model that cannot think goes nowhere
    if cache:
        messages = cache_marked(messages)
    params = sampling.params()
    stream = not sampling.no_stream
    if not stream and spec.stream_only:
        stream = True
    elif not stream and spec.thinking_default:
        if sampling.think or sampling.thinking_budget:
            stream = True
        else:
            params["enable_thinking"] = False
    return client.chat.request(messages, model=spec.id, stream=stream, **params)
