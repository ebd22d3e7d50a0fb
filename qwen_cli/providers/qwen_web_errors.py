"""Errors of chat.qwen.ai, mapped onto the one exception tree.

The `qwen-api` library gets most of these wrong (../shared/protocol/qwen-web.md, section 6):
a 429 is a plain error and never retried, an error envelope sent with HTTP 200 becomes an
empty answer, an HTML page escapes as a JSON decoding error. Here every one of them is a
``QwenAPIError`` with the exit code of its class:

* the envelope ``{"success": false, "data": {"code", "details"[, "num"]}}``, with any status:
  ``Unauthorized`` -> authentication, ``RateLimited`` -> rate limit (``num`` = hours to wait),
  anything else -> ``APIStatusError``;
* a captcha / WAF page (``RGV587``, ``FAIL_SYS_USER_VALIDATE``, ``/punish``): the site wants
  a browser check, which only a fresh cookie from a browser gets past;
* another web page (a proxy's 502, a login page): said in one line, not dumped;
* an object-storage XML error (``<Error><Code>``) from the upload's PUT.

Each error says where it came from (``origin``: chat.qwen.ai, or object storage); the hints that
tell the user what to do about it are chosen by the command line (``cli/hints.py``).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from qwen_cli.errors import (
    ORIGIN_QWEN_WEB,
    ORIGIN_QWEN_WEB_STORAGE,
    APIStatusError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    classify,
    error_for_status,
    parse_error_body,
)
from qwen_cli.providers.base import MAX_RETRY_AFTER, request_id_from, retry_after_seconds

LOGIN = "qwen auth login --provider qwen-web"
WAF_CODE = "waf_challenge"
WAF_MARKERS = ("RGV587", "FAIL_SYS_USER_VALIDATE", "/punish", "x5secdata", "_____tmd_____")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_XML_FIELD = "<{0}>(.*?)</{0}>"


def is_waf(text: str) -> bool:
    return any(marker in text for marker in WAF_MARKERS)


def is_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html")) or "<head" in head or "<body" in head


def waf_error(status: int | None, body: Any = None, request_id: str | None = None) -> PermissionDeniedError:
    return PermissionDeniedError(
        "chat.qwen.ai asked for a browser check (captcha) instead of answering",
        status_code=status,
        code=WAF_CODE,
        body=body,
        request_id=request_id,
        origin=ORIGIN_QWEN_WEB,
    )


def page_error(status: int, text: str, request_id: str | None = None) -> APIStatusError:
    """A web page where the API should have answered."""
    found = _TITLE.search(text)
    title = " ".join(found.group(1).split())[:80] if found else ""
    what = f"a web page ({title})" if title else "a web page"
    message = f"HTTP {status}: the server answered with {what}, not the chat API"
    cls = classify(status, None, message)
    if cls is APIStatusError and status < 400:
        message += "; check --base-url"
    return cls(message, status_code=status, body=text[:2000], request_id=request_id, origin=ORIGIN_QWEN_WEB)


def oss_error(status: int, text: str, request_id: str | None = None) -> APIStatusError:
    """Object storage's ``<Error><Code>..</Code><Message>..</Message></Error>``."""

    def field(name: str) -> str | None:
        m = re.search(_XML_FIELD.format(name), text, re.S)
        return m.group(1).strip() if m else None

    code = field("Code")
    message = f"object storage refused the upload: {code or f'HTTP {status}'}"
    if field("Message"):
        message += f": {field('Message')}"
    rid = request_id or field("RequestId")
    kw: dict[str, Any] = {
        "status_code": status,
        "code": code,
        "body": text[:2000],
        "request_id": rid,
        "origin": ORIGIN_QWEN_WEB_STORAGE,
    }
    if status >= 500:
        return ServerError(message, **kw)
    if status == 429:
        return RateLimitError(message, **kw)
    return APIStatusError(message, **kw)


def envelope_error(
    payload: dict[str, Any], status: int | None = None, headers: dict[str, str] | None = None
) -> APIStatusError:
    """The ``success: false`` envelope (or an ``error`` object), with whatever status it came with."""
    headers = headers or {}
    code, message, body_rid = parse_error_body(payload)
    detail = payload.get("detail")
    message = message or (str(detail) if detail else None)
    message = message or (f"HTTP {status}" if status else "chat.qwen.ai reported an error")
    cls = classify(status, code, message)
    kw: dict[str, Any] = {
        "status_code": status,
        "code": code,
        "body": payload,
        "request_id": request_id_from(headers) or body_rid,
    }
    err = RateLimitError(message, **kw) if cls is RateLimitError else cls(message, **kw)
    return finish(err, payload, headers)


def finish(err: APIStatusError, payload: Any, headers: dict[str, str]) -> APIStatusError:
    """``err`` as said by chat.qwen.ai (a new error: they are immutable); a rate limit learns how
    long to wait, and says so when it is long."""
    changes: dict[str, Any] = {"origin": ORIGIN_QWEN_WEB}
    if isinstance(err, RateLimitError):
        wait = retry_after_seconds(headers)
        hours = _num(payload)
        if wait is None and hours is not None:
            wait = hours * 3600.0
        if wait is not None:
            changes["retry_after"] = wait
        if wait is not None and wait > MAX_RETRY_AFTER:
            when = time.strftime("%H:%M", time.localtime(time.time() + wait))
            changes["message"] = f"{err.message} (try again in {human_wait(wait)}, at about {when})"
    return err.evolve(**changes)


def response_error(status: int, body: bytes, headers: dict[str, str]) -> APIStatusError:
    """Any answer with an error status (or an HTML page sent with 200), mapped onto the tree."""
    rid = request_id_from(headers)
    text = body.decode("utf-8", "replace")
    if is_waf(text):
        return waf_error(status, text[:2000], rid)
    stripped = text.lstrip()
    if stripped.startswith("<?xml") or (stripped.startswith("<Error>") and "<Code>" in text):
        return oss_error(status, text, rid)
    if is_html(text):
        return finish(page_error(status, text, rid), None, headers)
    try:
        payload: Any = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        return envelope_error(payload, status, headers)
    err = error_for_status(status, body, request_id=rid, retry_after=retry_after_seconds(headers))
    return finish(err, None, headers)


def _num(payload: Any) -> float | None:
    data = payload.get("data") if isinstance(payload, dict) else None
    num = data.get("num") if isinstance(data, dict) else None
    if isinstance(num, bool) or not isinstance(num, (int, float, str)):
        return None
    try:
        value = float(num)
    except ValueError:
        return None
    return value if value > 0 else None


def human_wait(seconds: float) -> str:
    if seconds < 90:
        return f"{round(seconds)} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    hours = seconds / 3600
    return f"{hours:.0f} hours" if hours >= 1.5 else "1 hour"
