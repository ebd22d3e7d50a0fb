"""The ``hint:`` line under an error: what the user can do about it.

For what a server did, the hint is chosen here, from the error's class, ``code`` and ``origin``
(what was asked of whom), never stuck onto the error in the core; an error the user's own input
caused may carry its ``hint`` from where it was raised (see :mod:`qwen_cli.errors`).
"""

from __future__ import annotations

import re

from qwen_cli import errors as e

_CONTEXT: dict[str, str] = {}
# A limit for the day (chat.qwen.ai: "You've reached the upper limit for today's usage.")
_DAILY = re.compile(r"\btoday\b|\bdaily\b|per day|\bday's\b", re.I)


def set_context(**values: str) -> None:
    """Facts the hints may mention (region, base URL), set once settings are known."""
    _CONTEXT.update(values)


_QWEN_WEB_LOGIN = "qwen auth login --provider qwen-web"
_QWEN_WEB_REFUSED = (
    "the chat.qwen.ai token or cookie was refused: copy fresh ones from a signed-in browser tab "
    f"and run `{_QWEN_WEB_LOGIN}`"
)
_QWEN_WEB_CHECK = (
    "open https://chat.qwen.ai in your browser and pass the check, then copy a fresh cookie "
    f"and run `{_QWEN_WEB_LOGIN}`"
)
_OPENAI_COMPATIBLE = "check --base-url: it should point at an OpenAI-compatible API"
# What a server sent or did that qwen cannot read or will not follow, by the error's exact class
# and ``code`` (both set in the core, which states the fact and leaves the advice to this table).
_BY_CODE: dict[tuple[type[e.QwenAPIError], str], str] = {
    (e.BadResponseError, e.CODE_HTML_PAGE): (
        "check --base-url; if a proxy or a network sign-in page stands in the way, open the URL "
        "in a browser or fix HTTPS_PROXY"
    ),
    (e.BadResponseError, e.CODE_NOT_JSON): _OPENAI_COMPATIBLE,
    (e.BadResponseError, e.CODE_NO_CHOICES): _OPENAI_COMPATIBLE,
    (e.BadResponseError, e.CODE_NO_DATA): _OPENAI_COMPATIBLE,
    (e.BadResponseError, e.CODE_UNREADABLE_FIELD): (
        "the server may not be OpenAI-compatible; run with --debug to see the answer"
    ),
    (e.BadResponseError, e.CODE_NO_OUTPUT): (
        "check --base-url: the native protocol needs DashScope (or --provider dashscope)"
    ),
    (e.BadResponseError, e.CODE_UNASKED_ENCODING): (
        "check --base-url: a proxy in the way may be rewriting the answer"
    ),
    (e.BadResponseError, e.CODE_CORRUPT_COMPRESSION): (
        "try again; if it persists, a proxy in the way may be damaging it"
    ),
    (e.BadResponseError, e.CODE_TOO_LARGE): "a compression bomb or a misbehaving server: check --base-url",
    (e.APIStatusError, e.CODE_REDIRECT): (
        "qwen never sends your key on to another address; if you trust it, use it as --base-url"
    ),
    # chat.qwen.ai answered without `choices` (a chat answer's, from another server, is a BadResponseError)
    (e.APIStatusError, e.CODE_NO_CHOICES): (
        "the site may have changed its protocol; run with --debug and report what came back"
    ),
}


def hint_for(err: e.QwenAPIError) -> str | None:
    if err.hint:
        return err.hint
    if err.code is not None and (type(err), err.code) in _BY_CODE:
        return _BY_CODE[type(err), err.code]
    if err.origin:
        hint = _by_origin(err, err.origin)
        if hint:
            return hint
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


def _by_origin(err: e.QwenAPIError, origin: str) -> str | None:
    """The hints of one endpoint or backend (``origin``, set by the core)."""
    if origin == e.ORIGIN_QWEN_WEB:
        from qwen_cli.providers.base import MAX_RETRY_AFTER
        from qwen_cli.providers.qwen_web_errors import WAF_CODE, human_wait

        if err.code == WAF_CODE:
            return _QWEN_WEB_CHECK
        if isinstance(err, e.AuthenticationError):
            return _QWEN_WEB_REFUSED
        wait = err.retry_after if isinstance(err, e.RateLimitError) else None
        if wait is not None and wait > MAX_RETRY_AFTER:  # a daily limit: waiting a minute won't do
            return (
                f"chat.qwen.ai takes requests again in {human_wait(wait)}; until then, use another provider"
            )
    if origin == e.ORIGIN_QWEN_WEB_STORAGE and not isinstance(err, (e.ServerError, e.RateLimitError)):
        return "run the upload again; its temporary credentials may have expired"
    if origin == e.ORIGIN_OBJECT_STORAGE:
        return (
            "try again; if it keeps failing, the upload policy may have expired or the region "
            "may not offer temporary uploads (they are Beijing-only)"
        )
    if isinstance(err, e.NotFoundError) and origin == e.ORIGIN_FILE:
        return "run `qwen upload --list` to see the ids of your uploaded files"
    if isinstance(err, e.NotFoundError) and origin == e.ORIGIN_BATCH:
        return "run `qwen batch list` to see your batches' ids (the service keeps them 30 days)"
    if isinstance(err, e.NotFoundError) and origin == e.ORIGIN_BATCH_API:
        return "this server has no Batch API: run the requests from here instead with `qwen batch run`"
    if isinstance(err, e.NotFoundError) and origin in (e.ORIGIN_FILES_API, e.ORIGIN_TEMPORARY_UPLOAD):
        return f"this server has no {origin}; it is a DashScope feature (--region cn)"
    return None
