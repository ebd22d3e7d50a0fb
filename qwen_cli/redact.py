"""Masking of secrets for anything a person may see: logs, errors, status lines."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "x-oss-security-token", "x-api-key", "bx-umidtoken"}
)


def mask(secret: str | None) -> str:
    """``sk-...abcd``: enough to tell two keys apart, never enough to use one."""
    if not secret:
        return "(none)"
    s = secret.strip()
    if len(s) < 12:
        return "****"
    prefix = s[:3] if s.startswith("sk-") else ""
    return f"{prefix}...{s[-4:]}"


def mask_header(name: str, value: str) -> str:
    lname = name.lower()
    if lname not in SECRET_HEADERS:
        return value
    if lname == "authorization":
        scheme, _, cred = value.partition(" ")
        return f"{scheme} {mask(cred)}" if cred else mask(value)
    return f"<{len(value)} characters, masked>"


def mask_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: mask_header(k, v) for k, v in items}


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each secret in ``text`` by its mask.

    Longest first: a cookie that contains the token must be masked whole, not around it.
    """
    for s in sorted((s for s in secrets if s and len(s) >= 6), key=len, reverse=True):
        text = text.replace(s, mask(s))
    return text


_KNOWN: set[str] = set()


def register_secret(secret: str | None) -> None:
    """Remember a secret in use, so that error text can be scrubbed of it (also without the
    whitespace around it, which error messages print escaped)."""
    for s in (secret, secret.strip() if secret else None):
        if s and len(s) >= 6:
            _KNOWN.add(s)


def scrub_known(text: str) -> str:
    return scrub(text, _KNOWN)


_SECRET_FIELD = re.compile(
    r'("[A-Za-z_\-]*(?:secret|token|password|passwd|cookie|signature|api_?key|access_?key)[A-Za-z_\-]*"'
    r'\s*:\s*")([^"\\]*(?:\\.[^"\\]*)*)(")',
    re.IGNORECASE,
)


def scrub_body(text: str, secrets: Iterable[str | None] = ()) -> str:
    """A logged body with secret-looking JSON fields and every known secret masked."""
    text = _SECRET_FIELD.sub(lambda m: m.group(1) + mask(m.group(2)) + m.group(3), text)
    return scrub(text, [*secrets, *_KNOWN])
