"""Where a key may be sent: the one rule, asked once at the end of ``config.resolve``.

A secret (the DashScope key, the chat.qwen.ai token and cookie) that the user
stored (credentials file) or exported (environment, flag) goes only to:

* the provider's own hosts over https (the provider's ``own_host``);
* a base URL the user chose: ``--base-url``, ``QWEN_BASE_URL``/``QWEN_BASE_URL_<REGION>``
  in the environment, their config file, their credentials file;
* a host the user approved: ``allowed_hosts = ["host[:port]", ...]`` in ``config.toml``.

A base URL that comes from a ``.env`` file in the working directory (anyone's
cloned repository) is refused for those secrets; only a secret from that same
``.env`` may go there, since the ``.env``'s author supplied both.

Off loopback, ``http://`` would carry any secret in clear: refused unless
``QWEN_ALLOW_HTTP=1`` is set (in the environment; a ``.env`` may only opt in
for its own secrets). No secret, nothing to protect: any host is fine.

Pure: ``config`` hands everything in; nothing here reads files or the environment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from qwen_cli.errors import ConfigError
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.config import Settings

ALLOW_HTTP_VAR = "QWEN_ALLOW_HTTP"
ALLOWED_HOSTS_KEY = "allowed_hosts"

# Where a value came from, as far as this rule cares.
USER = "user"  # flag, environment, config file, credentials file: the user's own choice
DOTENV = ".env"  # a .env file in the working directory: whoever wrote it
DEFAULT = "default"  # built in


def origin(source: str, env: Mapping[str, str]) -> str:
    """``USER``, ``DOTENV`` or ``DEFAULT`` for a ``Settings.sources`` entry.

    ``QWEN_BASE_URL_<REGION>`` is looked up in the environment first, then in the
    ``.env``: it came from the ``.env`` when the environment does not have it.
    """
    if source == "default":
        return DEFAULT
    if source == ".env":
        return DOTENV
    if source.startswith("QWEN_") and source not in env:
        return DOTENV
    return USER


def parse_base_url(url: str, source: str) -> SplitResult:
    """``url`` split, or a ConfigError when it is not an ``http(s)://host/...`` URL."""
    where = f" (from {_describe(source)})" if source != "default" else ""
    hint = "give a full URL with its scheme, e.g. --base-url http://localhost:8000/v1"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"the base URL {url!r}{where} is not a valid URL: {exc}", hint=hint) from exc
    if parts.scheme not in ("http", "https"):
        what = f"uses {parts.scheme}://" if "://" in url else "has no scheme"
        raise ConfigError(
            f"the base URL {url!r}{where} {what}; qwen speaks http:// and https:// only", hint=hint
        )
    if not parts.hostname:
        raise ConfigError(f"the base URL {url!r}{where} has no host", hint=hint)
    return parts


def host_port(parts: SplitResult) -> str:
    """``host`` or ``host:port`` as the user would type it (no user name or password)."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``: the key never leaves the machine."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(cfile: Mapping[str, Any], path: Path) -> list[str]:
    """The ``allowed_hosts`` list of the config file, checked."""
    value = cfile.get(ALLOWED_HOSTS_KEY, [])
    if not isinstance(value, list) or not all(isinstance(h, str) and h.strip() for h in value):
        raise ConfigError(
            f"{ALLOWED_HOSTS_KEY} in {path} must be a list of host names",
            hint=f'write it like {ALLOWED_HOSTS_KEY} = ["gateway.example.com", "127.0.0.1:8000"]',
        )
    return [h.strip().lower() for h in value]


def is_allowed(parts: SplitResult, allowed: Iterable[str]) -> bool:
    """An entry ``host`` allows every port of that host; ``host:port`` only that port."""
    exact = host_port(parts).lower()
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    return any(entry in (exact, host) for entry in allowed)


@struct(frozen=True)
class Request:
    """Everything the rule looks at, handed in by ``config.resolve``."""

    provider: str
    base_url: str
    base_url_origin: str
    base_url_source: str
    secrets: Mapping[str, str]  # secret name -> its origin (USER, DOTENV), for the secrets present
    allowed: tuple[str, ...] = ()
    allow_http_origin: str | None = None  # where QWEN_ALLOW_HTTP=1 came from, if set
    dotenv_path: Path = Path(".env")
    config_path: Path = Path("config.toml")


def check(req: Request) -> None:
    """Raise ConfigError when a secret would go where the user did not send it."""
    parts = parse_base_url(req.base_url, req.base_url_source)
    if not req.secrets:
        return
    host = host_port(parts)
    stored_or_user = [n for n, o in req.secrets.items() if o != DOTENV]

    chosen = req.base_url_origin != DOTENV or _own_host(req.provider, parts) or is_allowed(parts, req.allowed)
    if stored_or_user and not chosen:
        raise ConfigError(
            f"{req.dotenv_path} sets the base URL to {host}, which would receive your "
            f"{_label(req.provider, stored_or_user)}; "
            "not sent, since a .env file may come with a project you did not write",
            hint=(
                f'if you trust {host}, add it to your config file: {ALLOWED_HOSTS_KEY} = ["{host}"] '
                f"in {req.config_path}, or pass --base-url {req.base_url} yourself"
            ),
        )

    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        opted_in = req.allow_http_origin == USER or (req.allow_http_origin == DOTENV and not stored_or_user)
        if not opted_in:
            raise ConfigError(
                f"the base URL {req.base_url} (from {_describe(req.base_url_source)}) is plain http: "
                f"your {_label(req.provider, req.secrets)} would cross the network in clear",
                hint=f"use https://, or set {ALLOW_HTTP_VAR}=1 if you accept that (e.g. a trusted LAN)",
            )


def enforce(
    s: Settings,
    *,
    env: Mapping[str, str],
    dotenv: Mapping[str, str],
    cfile: Mapping[str, Any],
    dotenv_path: Path,
) -> None:
    """:func:`check` the resolved settings ``s``, given the layers they were resolved from."""
    config_path = s.config_dir / "config.toml"
    secrets = {name: origin(s.source(name), env) for name in ("api_key", "cookie") if getattr(s, name, None)}
    allow_http = None
    if _truthy(env.get(ALLOW_HTTP_VAR)):
        allow_http = USER
    elif _truthy(dotenv.get(ALLOW_HTTP_VAR)):
        allow_http = DOTENV
    check(
        Request(
            provider=s.provider,
            base_url=s.base_url,
            base_url_origin=origin(s.source("base_url"), env),
            base_url_source=s.source("base_url"),
            secrets=secrets,
            allowed=tuple(allowed_hosts(cfile, config_path)),
            allow_http_origin=allow_http,
            dotenv_path=dotenv_path,
            config_path=config_path,
        )
    )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _own_host(provider: str, parts: SplitResult) -> bool:
    if parts.scheme != "https":
        return False
    from qwen_cli.providers import provider_class

    return provider_class(provider).own_host(parts.hostname or "")


def _label(provider: str, names: Iterable[str]) -> str:
    from qwen_cli.providers import provider_class

    nouns: dict[str, str] = {c.attr: c.noun for c in provider_class(provider).credentials}
    return " and ".join(nouns.get(n, n) for n in names)


def _describe(source: str) -> str:
    return {"flag": "--base-url", "default": "the default"}.get(source, source)
