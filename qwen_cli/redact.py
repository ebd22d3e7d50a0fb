"""Masking of secrets for anything a person may see: logs, errors, status lines."""

from __future__ import annotations

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
    """Remember a secret in use, so that error text can be scrubbed of it."""
    if secret and len(secret) >= 6:
        _KNOWN.add(secret)


def scrub_known(text: str) -> str:
    return scrub(text, _KNOWN)
