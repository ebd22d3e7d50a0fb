"""Settings and where each came from.

Precedence, highest first: command-line flag, environment, a ``.env`` file in
the working directory, the config file (``config.toml`` in the config
directory), the credentials file (keys only), defaults.

This is the only module that reads the environment; the client is handed
plain values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwen_cli.errors import ConfigError
from qwen_cli.providers import DEFAULT_PROVIDER
from qwen_cli.providers.base import DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from qwen_cli.structs import field, struct

if TYPE_CHECKING:
    from qwen_cli.providers.base import Credential

CONFIG_FILE = "config.toml"

# setting -> environment variables, in order (a provider's secrets: its ``credentials``)
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "provider": ("QWEN_PROVIDER",),
    "region": ("QWEN_REGION",),
    "base_url": ("QWEN_BASE_URL",),
    "model": ("QWEN_MODEL",),
    "vision_model": ("QWEN_VISION_MODEL",),
    "timeout": ("QWEN_TIMEOUT",),
    "connect_timeout": ("QWEN_CONNECT_TIMEOUT",),
    "max_retries": ("QWEN_MAX_RETRIES",),
    "oss_endpoint": ("QWEN_WEB_OSS_ENDPOINT",),
    "cache_control": ("QWEN_CACHE_CONTROL",),
}


# Top-level keys of config.toml besides the settings of ENV_NAMES; others are warned about.
CONFIG_TABLES = ("base_urls", "allowed_hosts", "aliases")


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


@struct
class Settings:
    provider: str = DEFAULT_PROVIDER
    api_key: str | None = None
    cookie: str | None = None
    region: str = ""  # the provider's default region unless set ("" for a provider without regions)
    base_url: str = ""
    model: str = ""  # the provider's default model unless set
    vision_model: str = "qwen-vl-max"
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    # The region the base URL stands for (a region's default URL, or its QWEN_BASE_URL_<R> /
    # [base_urls] override); None: another server, unpriced, that may take no key.
    dashscope_region: str | None = None
    key_required: bool = False  # refuse to send without the provider's credentials
    oss_endpoint: str | None = None
    cache_control: bool = True  # mark chats for DashScope's explicit context cache
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
        f = path.open("rb")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="fix or remove that file") from exc
    import tomllib  # only when there is a file: most runs have none

    with f:
        try:
            return tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}", hint="fix or remove that file") from exc


def region_base_url(
    region: str, *layers: Mapping[str, Any], provider: str = DEFAULT_PROVIDER
) -> tuple[str, str]:
    """The base URL for ``region``: ``QWEN_BASE_URL_<REGION>`` or ``[base_urls]``, else built in."""
    from qwen_cli.providers import provider_class

    var = f"QWEN_BASE_URL_{region.upper()}"
    for layer in layers:
        if layer.get(var):
            return str(layer[var]).rstrip("/"), var
        urls = layer.get("base_urls")
        if isinstance(urls, dict) and urls.get(region):
            return str(urls[region]).rstrip("/"), "config file"
    return provider_class(provider).regions[region].base_url, "default"


def base_urls(
    env: Mapping[str, str] | None = None, cwd: Path | None = None, *, provider: str = DEFAULT_PROVIDER
) -> dict[str, tuple[str, str]]:
    """Every region's base URL and where it came from, with the same overrides as :func:`resolve`."""
    env = dict(os.environ if env is None else env)
    dotenv = _read_dotenv(cwd or Path.cwd())
    cfile = read_config_file(config_dir(env))
    return _region_urls(provider, env, dotenv, cfile)


def _region_urls(provider: str, *layers: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    from qwen_cli.providers import provider_class

    regions = provider_class(provider).regions
    return {r: region_base_url(r, *layers, provider=provider) for r in regions}


def _credentials_of(provider: str | None) -> list[Credential]:
    """The secrets of ``provider``, or of every provider."""
    from qwen_cli.providers import PROVIDERS, provider_class

    names = [provider] if provider else list(PROVIDERS)
    return [c for name in names if name in PROVIDERS for c in provider_class(name).credentials]


def secret_sources(
    provider: str | None = None, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> list[tuple[str, str]]:
    """``(variable, "environment" | ".env")`` for each secret set outside the credentials file."""
    env = os.environ if env is None else env
    dotenv = _read_dotenv(cwd or Path.cwd())
    found = []
    for var in dict.fromkeys(var for c in _credentials_of(provider) for var in c.env):
        if env.get(var):
            found.append((var, "environment"))
        elif dotenv.get(var):
            found.append((var, ".env"))
    return found


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
        got = _pick_env(ENV_NAMES.get(name, ()), env, dotenv)
        if got:
            return got
        if name in cfile and name in ENV_NAMES:  # never a secret: those live in credentials.json
            return cfile[name], "config file"
        return None

    for name in ("provider", "region", "model", "vision_model", "oss_endpoint"):
        got = pick(name)
        if got:
            setattr(s, name, str(got[0]))
            s.sources[name] = got[1]
    from qwen_cli import aliases  # a model's alias is expanded here, once, wherever it was set

    known = aliases.table(cfile, cdir / CONFIG_FILE)
    s.model, s.vision_model = aliases.expand(s.model, known), aliases.expand(s.vision_model, known)
    for name, conv in (("timeout", float), ("connect_timeout", float), ("max_retries", int)):
        got = pick(name)
        if got:
            setattr(s, name, _number(name, conv, got, cdir / CONFIG_FILE))
            s.sources[name] = got[1]
    s.warnings.extend(unknown_keys(cfile, cdir / CONFIG_FILE))

    got = pick("cache_control")
    if got:
        s.cache_control, s.sources["cache_control"] = _flag(got[0], "cache_control", got[1]), got[1]

    from qwen_cli.providers import PROVIDERS, provider_class

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
    cls = provider_class(s.provider)
    if "model" not in s.sources:
        s.model = cls.default_model
    if "region" not in s.sources:
        s.region = cls.default_region or ""

    s.warnings.extend(credentials.check(cdir))
    stored = stored_all.get(account_of(s.provider), {})
    if not isinstance(stored, dict):
        stored = {}

    def secret(c: Credential) -> tuple[str, str] | None:
        got = _pick_env(c.env, env, dotenv) if c.setting not in flags else (flags[c.setting], "flag")
        if got:
            value, source = str(got[0]), got[1]
        elif stored.get(c.stored):
            value, source = str(stored[c.stored]), "credentials file"
        else:
            return None
        value = clean_secret(value, c.noun, source)
        return (value, source) if value else None

    for i, c in enumerate(cls.credentials):
        got_secret = secret(c)
        if got_secret:
            setattr(s, c.attr, got_secret[0])
            s.sources[c.attr] = got_secret[1]
            # A key read from the file goes with the region it was stored for.
            from_file = got_secret[1] == "credentials file"
            if i == 0 and from_file and "region" not in s.sources and cls.regions and stored.get("region"):
                s.region, s.sources["region"] = str(stored["region"]), "credentials file"

    s.region = s.region.strip().lower()  # --region INTL, QWEN_REGION=Intl: region names have one case
    if cls.regions and s.region not in cls.regions:
        choices = ", ".join(f"{r} ({t.title})" for r, t in cls.regions.items())
        raise ConfigError(f"unknown region {s.region!r} (from {s.source('region')})", hint=f"use {choices}")
    region_urls = _region_urls(s.provider, env, dotenv, cfile)
    got = pick("base_url")
    if got:
        s.base_url, s.sources["base_url"] = str(got[0]).rstrip("/"), got[1]
    elif stored.get("base_url") and (not cls.regions or s.source("region") == "credentials file"):
        # a base URL stored by `qwen auth login --base-url`: with the region stored alongside
        s.base_url, s.sources["base_url"] = str(stored["base_url"]).rstrip("/"), "credentials file"
    elif cls.regions:
        s.base_url, s.sources["base_url"] = region_urls[s.region]
    else:
        s.base_url = cls.default_base_url
    s.dashscope_region = dashscope_region(s.provider, s.base_url, {r: u for r, (u, _) in region_urls.items()})
    s.key_required = cls.key_required(s.dashscope_region)

    from qwen_cli import keypolicy  # keys go only where the user sent them

    keypolicy.enforce(s, env=env, dotenv=dotenv, cfile=cfile, dotenv_path=(cwd or Path.cwd()) / ".env")
    return s


def account_of(provider: str) -> str:
    """The credentials entry (and model list) ``provider`` uses: its own, or, for a second
    protocol of the same service (``dashscope-native``), that service's."""
    from qwen_cli.providers import provider_class

    cls = provider_class(provider)
    return str(getattr(cls, "account", cls.name))


def for_sources(s: Settings) -> tuple[Settings, bool]:
    """``s`` for a web search whose sources are wanted: on a provider that cannot return them,
    the protocol of the same account that can (DashScope's native one), when ``s`` points at
    that service itself (a region). Returns the settings and whether sources can come back."""
    from qwen_cli.providers import PROVIDERS, provider_class

    if provider_class(s.provider).capabilities.search_sources:
        return s, True
    if s.dashscope_region is None:  # another server: it gets enable_search and nothing more
        return s, False
    account = account_of(s.provider)
    for name in PROVIDERS:
        if account_of(name) == account and provider_class(name).capabilities.search_sources:
            s.provider = name
            s.sources["provider"] = "--search"
            return s, True
    return s, False


def dashscope_region(provider: str, base_url: str, region_urls: Mapping[str, str]) -> str | None:
    """The region of ``provider`` that ``base_url`` stands for, or ``None`` (another server).

    ``region_urls`` are each region's URL as configured (``QWEN_BASE_URL_<R>``, ``[base_urls]``,
    else built in): pointing a region at a gateway keeps it that region, priced and keyed."""
    from qwen_cli.providers import provider_class, region_of

    return region_of(provider_class(provider).regions, base_url, region_urls)


def _flag(value: Any, name: str, source: str) -> bool:
    """A yes/no setting: a TOML boolean, or on/off words in the environment."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ConfigError(
        f"{name} must be true or false, got {value!r} (from {source})", hint="use true or false"
    )


def _pick_env(
    names: tuple[str, ...], env: Mapping[str, str], dotenv: Mapping[str, str]
) -> tuple[str, str] | None:
    for var in names:
        if env.get(var):
            return env[var], var
    for var in names:
        if dotenv.get(var):
            return dotenv[var], ".env"
    return None


def _number(name: str, conv: type[float] | type[int], got: tuple[Any, str], path: Path) -> float | int:
    """``got``'s value as a number, or a ConfigError saying where the bad one was set."""
    value, source = got
    try:
        if isinstance(value, bool) or (conv is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        return conv(value)
    except (TypeError, ValueError) as exc:
        default = f"{getattr(Settings, name):g}"
        if source == "config file":
            hint = f"write a number in {path}, e.g. {name} = {default}"
        elif source == ".env":
            hint = f"write a number for {ENV_NAMES[name][0]} in .env, e.g. {ENV_NAMES[name][0]}={default}"
        else:
            hint = f"set {source} to a number, e.g. {source}={default}"
        raise ConfigError(
            f"{name.replace('_', '-')} must be a number, got {value!r} (from {source})", hint=hint
        ) from exc


def unknown_keys(cfile: Mapping[str, Any], path: Path) -> list[str]:
    """A warning for each top-level key of the config file that nothing reads (a typo, mostly)."""
    known = [*ENV_NAMES, *CONFIG_TABLES]
    if all(key in known for key in cfile):
        return []  # the usual case, answered without loading every provider's module
    import difflib

    from qwen_cli.providers import PROVIDERS, provider_class

    known += [f"QWEN_BASE_URL_{r.upper()}" for p in PROVIDERS for r in provider_class(p).regions]
    secrets = {c.setting for c in _credentials_of(None)} | {c.stored for c in _credentials_of(None)}
    warnings = []
    for key in cfile:
        if key in known:
            continue
        if key in secrets:
            warnings.append(
                f"{path}: {key!r} is ignored: keys and cookies are not read from config.toml; "
                "run `qwen auth login` or set them in the environment"
            )
            continue
        close = difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.6)
        guess = (
            f"; did you mean {close[0]!r}?"
            if close
            else f" (known: {', '.join([*ENV_NAMES, *CONFIG_TABLES])})"
        )
        warnings.append(f"{path}: unknown setting {key!r} is ignored{guess}")
    return warnings
