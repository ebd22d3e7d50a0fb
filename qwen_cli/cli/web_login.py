"""Storing chat.qwen.ai's token and cookie: the ``qwen-web`` half of ``qwen auth login``.

``qwen auth login --provider qwen-web`` calls :func:`login_web`. Both values are read with
hidden input (or one line each from a pipe), cleaned the way the provider cleans them, and
stored in the 0600 credentials file under ``"qwen-web"``, marked as the default provider.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path

from qwen_cli import credentials
from qwen_cli.errors import UsageError
from qwen_cli.providers.qwen_web import QwenWeb, clean_cookie, clean_token
from qwen_cli.redact import mask

HOW_TO = f"{QwenWeb.login_help}\n"


def hidden_input(label: str) -> str:
    """A line typed without echo on a terminal; one line from stdin when it is a pipe."""
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(label, stream=sys.stderr)
    sys.stderr.write(label + "\n")
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


def check_token(raw: str) -> str:
    token = clean_token(raw)
    if not token:
        raise UsageError("no token given", hint="paste the Authorization value from the browser")
    if any(c.isspace() for c in token):
        raise UsageError("the token contains spaces or line breaks", hint="paste it as one line")
    return token


def check_cookie(raw: str) -> str:
    cookie = clean_cookie(raw)
    if not cookie:
        raise UsageError("no cookie given", hint="paste the Cookie header from the browser")
    if any(c in cookie for c in "\r\n\0") or "=" not in cookie:
        raise UsageError(
            "that does not look like a cookie (name=value; name=value ...)",
            hint="copy the whole Cookie header of a request to chat.qwen.ai, as one line",
        )
    return cookie


def login_web(
    config_dir: Path,
    *,
    token: str | None = None,
    cookie: str | None = None,
    ask: Callable[[str], str] = hidden_input,
    make_default: bool = True,
) -> Path:
    """Ask for (or take) the token and cookie, store them; return the credentials file's path."""
    if token is None or cookie is None:
        sys.stderr.write(HOW_TO)
    token = check_token(token if token is not None else ask("chat.qwen.ai token (input hidden): "))
    cookie = check_cookie(cookie if cookie is not None else ask("chat.qwen.ai cookie (input hidden): "))
    data = credentials.load(config_dir)
    data["qwen-web"] = {"token": token, "cookie": cookie}
    if make_default:
        data = credentials.with_default(data, "qwen-web")
    path = credentials.save(config_dir, data)
    sys.stderr.write(
        f"saved the chat.qwen.ai token ({mask(token)}) and cookie ({len(cookie)} characters) to {path}\n"
    )
    return path
