"""Settings and where each came from.

Precedence, highest first: command-line flag, environment, a ``.env`` file in
the working directory, the config file (``config.toml`` in the config
directory), the credentials file (keys only), defaults.

This is the only module that reads the environment; the client is handed
plain values.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qwen_cli.errors import ConfigError

DEFAULT_MODEL = "qwen-max"
DEFAULT_REGION = "cn"
DEFAULT_PROVIDER = "dashscope"
REGION_CHOICES = ("cn", "intl", "us")
CONFIG_FILE = "config.toml"

# setting -> environment variables, in order
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "api_key": ("DASHSCOPE_API_KEY", "QWEN_API_KEY"),
    "web_token": ("QWEN_AUTH_TOKEN",),
    "cookie": ("QWEN_COOKIE",),
    "provider": ("QWEN_PROVIDER",),
    "region": ("QWEN_REGION",),
    "base_url": ("QWEN_BASE_URL",),
    "model": ("QWEN_MODEL",),
    "vision_model": ("QWEN_VISION_MODEL",),
    "timeout": ("QWEN_TIMEOUT",),
    "connect_timeout": ("QWEN_CONNECT_TIMEOUT",),
    "max_retries": ("QWEN_MAX_RETRIES",),
    "oss_endpoint": ("QWEN_WEB_OSS_ENDPOINT",),
}


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("QWEN_CONFIG_DIR"):
        return Path(env["QWEN_CONFIG_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("qwen", appauthor=False))


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("QWEN_DATA_DIR"):
        return Path(env["QWEN_DATA_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("qwen", appauthor=False))


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("QWEN_CACHE_DIR"):
        return Path(env["QWEN_CACHE_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("qwen", appauthor=False))


@dataclass
class Settings:
    provider: str = DEFAULT_PROVIDER
    api_key: str | None = None
    cookie: str | None = None
    region: str = DEFAULT_REGION
    base_url: str = ""
    model: str = DEFAULT_MODEL
    vision_model: str = "qwen-vl-max"
    timeout: float = 120.0
    connect_timeout: float = 10.0
    max_retries: int = 2
    oss_endpoint: str | None = None
    config_dir: Path = field(default_factory=Path)
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # for the command line to show on stderr

    def source(self, name: str) -> str:
        return self.sources.get(name, "default")


def _read_dotenv(cwd: Path) -> dict[str, str]:
    path = cwd / ".env"
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path, encoding="utf-8").items() if v}


def read_config_file(cdir: Path) -> dict[str, Any]:
    path = cdir / CONFIG_FILE
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="fix or remove that file") from exc


def region_base_url(region: str, *layers: Mapping[str, Any]) -> tuple[str, str]:
    """The base URL for ``region``: ``QWEN_BASE_URL_<REGION>`` or ``[base_urls]``, else built in."""
    from qwen_cli.providers.dashscope import REGIONS

    var = f"QWEN_BASE_URL_{region.upper()}"
    for layer in layers:
        if layer.get(var):
            return str(layer[var]), var
        urls = layer.get("base_urls")
        if isinstance(urls, dict) and urls.get(region):
            return str(urls[region]), "config file"
    return REGIONS[region], "default"


def base_urls(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> dict[str, tuple[str, str]]:
    """Every region's base URL and where it came from, with the same overrides as :func:`resolve`."""
    env = dict(os.environ if env is None else env)
    dotenv = _read_dotenv(cwd or Path.cwd())
    cfile = read_config_file(config_dir(env))
    return {r: region_base_url(r, env, dotenv, cfile) for r in REGION_CHOICES}


_PROVIDER_SECRETS = {"dashscope": ("api_key",), "qwen-web": ("web_token", "cookie")}


def secret_sources(
    provider: str | None = None, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> list[tuple[str, str]]:
    """``(variable, "environment" | ".env")`` for each secret set outside the credentials file."""
    env = os.environ if env is None else env
    dotenv = _read_dotenv(cwd or Path.cwd())
    settings = (
        _PROVIDER_SECRETS.get(provider, ())
        if provider
        else sorted({n for names in _PROVIDER_SECRETS.values() for n in names})
    )
    found = []
    for name in settings:
        for var in ENV_NAMES[name]:
            if env.get(var):
                found.append((var, "environment"))
            elif dotenv.get(var):
                found.append((var, ".env"))
    return found


_SECRET_NAMES = {"api_key": "API key", "web_token": "token", "cookie": "cookie"}


def clean_secret(value: str, what: str, source: str) -> str:
    """``value`` without surrounding whitespace; a ConfigError (never echoing it) if it cannot be sent.

    HTTP headers take printable ASCII only; a stray line break or a non-ASCII
    character would otherwise fail deep in the HTTP library, whose error message
    quotes the whole header, key included.
    """
    v = value.strip()
    allowed_space = what == "cookie"
    for i, ch in enumerate(v, 1):
        if not (0x21 <= ord(ch) <= 0x7E or (allowed_space and ch == " ")):
            kind = "a space" if ch == " " else "a control character" if ord(ch) < 0x20 else "a character"
            raise ConfigError(
                f"the {what} from {source} contains {kind} HTTP cannot send (at position {i} of {len(v)})",
                hint=f"copy the {what} again, without quotes or line breaks",
            )
    return v


def resolve(
    flags: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Settings from every layer, with ``sources`` naming where each value came from."""
    from qwen_cli import credentials

    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = dict(os.environ if env is None else env)
    cdir = config_dir(env)
    dotenv = _read_dotenv(cwd or Path.cwd())
    cfile = read_config_file(cdir)
    s = Settings(config_dir=cdir)

    def pick(name: str) -> tuple[Any, str] | None:
        if name in flags:
            return flags[name], "flag"
        for var in ENV_NAMES.get(name, ()):
            if env.get(var):
                return env[var], var
        for var in ENV_NAMES.get(name, ()):
            if dotenv.get(var):
                return dotenv[var], ".env"
        if name in cfile and name not in ("api_key", "cookie", "web_token"):
            return cfile[name], "config file"
        return None

    for name in ("provider", "region", "model", "vision_model", "oss_endpoint"):
        got = pick(name)
        if got:
            setattr(s, name, str(got[0]))
            s.sources[name] = got[1]
    for name, conv in (("timeout", float), ("connect_timeout", float), ("max_retries", int)):
        got = pick(name)
        if got:
            try:
                setattr(s, name, conv(got[0]))
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"{name.replace('_', '-')} must be a number, got {got[0]!r} (from {got[1]})"
                ) from exc
            s.sources[name] = got[1]

    from qwen_cli.providers import PROVIDERS

    stored_all = credentials.load(cdir)
    if "provider" not in s.sources:  # the provider saved by `qwen auth login --provider NAME`
        saved = credentials.default_provider(stored_all)
        if saved in PROVIDERS:
            s.provider, s.sources["provider"] = saved, "credentials file"
    if s.provider not in PROVIDERS:
        raise ConfigError(
            f"unknown provider {s.provider!r} (from {s.source('provider')})",
            hint=f"use one of: {', '.join(PROVIDERS)}",
        )

    s.warnings.extend(credentials.check(cdir))
    stored = stored_all.get(s.provider, {})
    if not isinstance(stored, dict):
        stored = {}

    def secret(name: str, stored_name: str) -> tuple[str, str] | None:
        got = pick(name)
        if got:
            value, source = str(got[0]), got[1]
        elif stored.get(stored_name):
            value, source = str(stored[stored_name]), "credentials file"
        else:
            return None
        value = clean_secret(value, _SECRET_NAMES[name], source)
        return (value, source) if value else None

    if s.provider == "dashscope":
        got_key = secret("api_key", "api_key")
        if got_key:
            s.api_key, s.sources["api_key"] = got_key
            if got_key[1] == "credentials file" and "region" not in s.sources and stored.get("region"):
                s.region, s.sources["region"] = stored["region"], "credentials file"
    else:
        if "model" not in s.sources:
            from qwen_cli.providers.qwen_web import WEB_DEFAULT_MODEL

            s.model = WEB_DEFAULT_MODEL
        got_key = secret("web_token", "token")
        if got_key:
            s.api_key, s.sources["api_key"] = got_key
        got_cookie = secret("cookie", "cookie")
        if got_cookie:
            s.cookie, s.sources["cookie"] = got_cookie

    if s.region not in REGION_CHOICES:
        raise ConfigError(
            f"unknown region {s.region!r} (from {s.source('region')})",
            hint="use cn (Beijing), intl (Singapore) or us (Virginia)",
        )
    got = pick("base_url")
    if got:
        s.base_url, s.sources["base_url"] = str(got[0]).rstrip("/"), got[1]
    elif stored.get("base_url") and (s.provider != "dashscope" or s.source("region") == "credentials file"):
        s.base_url, s.sources["base_url"] = str(stored["base_url"]), "credentials file"
    elif s.provider == "qwen-web":
        s.base_url = "https://chat.qwen.ai"
    else:
        s.base_url, s.sources["base_url"] = region_base_url(s.region, env, dotenv, cfile)

    from qwen_cli import keypolicy  # keys go only where the user sent them

    keypolicy.enforce(s, env=env, dotenv=dotenv, cfile=cfile, dotenv_path=(cwd or Path.cwd()) / ".env")
    return s
