"""The ``hint:`` line under an error: what the user can do about it."""

from __future__ import annotations

import re

from qwen_cli import errors as e

_CONTEXT: dict[str, str] = {}
# A limit for the day (chat.qwen.ai: "You've reached the upper limit for today's usage.")
_DAILY = re.compile(r"\btoday\b|\bdaily\b|per day|\bday's\b", re.I)


def set_context(**values: str) -> None:
    """Facts the hints may mention (region, base URL), set once settings are known."""
    _CONTEXT.update(values)


def hint_for(err: e.QwenAPIError) -> str | None:
    if err.hint:
        return err.hint
    region = _CONTEXT.get("region", "")
    base_url = _CONTEXT.get("base_url", "")
    msg = err.message.lower()
    if isinstance(err, e.PermissionDeniedError):
        return "check the account's billing, quota and model access in the Model Studio console"
    if isinstance(err, e.AuthenticationError):
        from qwen_cli.providers import DEFAULT_PROVIDER, provider_class

        cls = provider_class(_CONTEXT.get("provider") or DEFAULT_PROVIDER)
        if cls.refused_hint:
            return cls.refused_hint
        if not _CONTEXT.get("region_bound"):  # another server: its keys are its own business
            return f"check the key{f' for {base_url}' if base_url else ''}, or run `qwen auth status`"
        others = " or ".join(f"--region {r}" for r in cls.regions if r != region)
        return (
            f"DashScope keys are bound to a region and this request used region {region} "
            f"({base_url}): try {others}, or run `qwen auth status` to find the key's region"
        )
    if isinstance(err, e.NotFoundError):
        return "run `qwen models` to see the models your key can use"
    if isinstance(err, e.RateLimitError) and _DAILY.search(err.message):  # no minute's wait helps
        return "the daily quota is used up: try again tomorrow, or use another model or provider"
    if isinstance(err, e.RateLimitError):
        return "wait a minute and try again, or retry more with --max-retries N"
    if isinstance(err, e.ContextLengthError):
        return "shorten the input, or use a model with a larger context window (qwen-plus, qwen-turbo)"
    if isinstance(err, e.ContentFilterError):
        return "the provider's content inspection refused this text; rephrase it and try again"
    if isinstance(err, e.InvalidRequestError) and "stream" in msg and "only" in msg:
        return "this model only answers in streaming mode: drop --no-stream"
    if isinstance(err, e.InvalidRequestError):  # invalid_parameter_error and other 400s
        return (
            "the server refused a value in the request: check the model and the options given "
            "(-t, --top-p, --max-tokens, --stop, --think, --json-mode); --debug shows what was sent"
        )
    if isinstance(err, e.APITimeoutError):
        return "raise --timeout (or --connect-timeout), or check that the server is up"
    if isinstance(err, e.APIConnectionError):
        return "check --base-url / --region, your network, and HTTPS_PROXY if you use a proxy"
    if isinstance(err, e.ServerError):
        return "the server failed; try again in a moment"
    if isinstance(err, e.StreamInterruptedError):
        return "the partial answer above was kept; run the command again for a complete one"
    if isinstance(err, e.BadResponseError):
        return "check --base-url: it should point at an OpenAI-compatible API"
    if isinstance(err, e.InvalidRequestError):
        return "the server refused the request: check the model and options (--debug shows what was sent)"
    return None
