"""`qwen auth login | status | logout`: credentials that are asked safely and stored safely.

A key is never a command-line argument (it would land in shell history and in
``ps``): it is typed with hidden input or piped with ``--with-key-stdin``. It is
stored only in the 0600 credentials file and shown only masked (``sk-...abcd``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from qwen_cli.cli import options as o
from qwen_cli.errors import APIConnectionError, AuthenticationError, QwenAPIError, UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from qwen_cli.config import Settings
    from qwen_cli.providers.base import Provider, Region

app = typer.Typer(
    name="auth",
    help="Log in, check the key in use, log out.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

WithKeyStdin = Annotated[
    bool,
    typer.Option(
        "--with-key-stdin",
        help="Read the key from stdin instead of asking (qwen-web: token, then cookie, one per line).",
    ),
]


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _settings(provider: str | None, region: str | None, base_url: str | None, debug: bool) -> Settings:
    from qwen_cli.cli.answer import settings_for

    return settings_for(o.Ask(provider=provider, region=region, base_url=base_url, debug=debug))


def _provider(s: Settings) -> type[Provider]:
    from qwen_cli.providers import provider_class

    return provider_class(s.provider)


def _region_title(s: Settings, region: str) -> str:
    return f"{region} ({_provider(s).regions[region].title})"


def _ask_region(current: str, regions: Mapping[str, Region]) -> str:
    """Ask on stderr, read a line from the terminal; Enter keeps ``current``."""
    choices = ", ".join(f"{r} = {v.title}" for r, v in regions.items())
    while True:
        sys.stderr.write(f"Region ({choices}) [{current}]: ")
        sys.stderr.flush()
        try:
            line = sys.stdin.readline()
        except KeyboardInterrupt:
            raise typer.Abort() from None
        if not line:  # Ctrl-D
            raise typer.Abort()
        answer = line.strip().lower() or current
        if answer in regions:
            return answer
        _say(f"  {answer!r} is not a region; type {', '.join(list(regions)[:-1])} or {list(regions)[-1]}")


def _login_command(provider: str) -> str:
    from qwen_cli.providers import DEFAULT_PROVIDER

    return "qwen auth login" + (f" --provider {provider}" if provider != DEFAULT_PROVIDER else "")


def _stdin_hint(cls: type[Provider]) -> str:
    login = f"{_login_command(cls.name)} --with-key-stdin"
    fields = cls.credentials
    if len(fields) == 1:
        return f"pipe exactly that, e.g. `pass show {cls.name} | {login}`"
    names = ", then the ".join(c.noun for c in fields)
    fmt = "\\n".join("%s" for _ in fields) + "\\n"
    args = " ".join(f'"${c.noun.upper().replace(" ", "_")}"' for c in fields)
    return f"pipe the {names}: `printf '{fmt}' {args} | {login}`"


def _read_secrets(cls: type[Provider], with_stdin: bool) -> dict[str, str]:
    """The provider's secret fields by stored name, from stdin or hidden prompts; cleaned,
    registered for scrubbing."""
    import getpass

    from qwen_cli import config
    from qwen_cli.redact import register_secret

    fields = cls.credentials
    if with_stdin:
        lines = [ln.strip() for ln in sys.stdin.read().splitlines() if ln.strip()]
        for ln in lines:
            register_secret(ln)
        if len(lines) != len(fields):
            names = " and ".join(c.label for c in fields)
            raise UsageError(
                f"expected the {names} on stdin, one per line; got {len(lines)} non-empty lines",
                hint=_stdin_hint(cls),
            )
        raw = dict(zip((c.stored for c in fields), lines, strict=True))
        source = "stdin"
    else:
        if not sys.stdin.isatty():
            raise UsageError(
                "no terminal to ask for the key on (stdin is not a terminal)",
                hint="pipe the key with --with-key-stdin, e.g. `... | qwen auth login --with-key-stdin`",
            )
        raw = {}
        for c in fields:
            try:
                value = getpass.getpass(f"{c.label[0].upper()}{c.label[1:]} (input is hidden): ")
            except (KeyboardInterrupt, EOFError):  # Ctrl-C or Ctrl-D: main() says "interrupted"
                raise typer.Abort() from None
            register_secret(value)
            raw[c.stored] = value
        source = "the prompt"
    out = {}
    for c in fields:
        value = config.clean_secret(raw[c.stored], c.what or c.label, source)
        if not value:
            raise UsageError(f"no {c.label} given", hint="run `qwen auth login` again and paste it")
        register_secret(value)
        out[c.stored] = value
    return out


@app.command()
def login(
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    with_key_stdin: WithKeyStdin = False,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Store the key without checking it (GET /models).")
    ] = False,
    debug: o.Debug = False,
) -> None:
    """Store an API key in the credentials file, after checking it.

    The key is asked with hidden input (or read from stdin with
    --with-key-stdin), never taken as an argument. It is checked with GET
    /models in the chosen region; a key that belongs to another region is
    stored for that region when you did not pass --region. The file is
    credentials.json in the config directory, mode 0600.

    Examples:

      qwen auth login

      qwen auth login --region intl

      pass show dashscope | qwen auth login --with-key-stdin
    """
    from qwen_cli import config, credentials, modelcache
    from qwen_cli.cli import keycheck
    from qwen_cli.redact import mask

    s = _settings(provider, region, base_url, debug)
    cls = _provider(s)
    regional = bool(cls.regions)
    interactive = not with_key_stdin and sys.stdin.isatty()
    chosen_region = s.region
    if regional and region is None and interactive:
        chosen_region = _ask_region(s.region, cls.regions)
    if cls.login_help and interactive:
        _say(cls.login_help)
    secrets = _read_secrets(cls, with_key_stdin)
    key = secrets[cls.credentials[0].stored]
    cookie = next((secrets[c.stored] for c in cls.credentials if c.attr == "cookie"), None)
    if base_url:
        target = keycheck.Target(s.provider, chosen_region, base_url.rstrip("/"), False)
    elif regional:
        url = keycheck.region_url(chosen_region, checking=not no_verify)
        target = keycheck.Target(s.provider, chosen_region, url, True)
    else:
        target = keycheck.Target(s.provider, chosen_region, s.base_url, False)

    models: list[str] | None = None
    verifiable = keycheck.can_verify(s.provider)
    if not no_verify and verifiable:
        try:
            models = keycheck.list_models(key, target, s, cookie=cookie)
        except QwenAPIError as err:
            if not keycheck.is_refused(err):
                if isinstance(err, APIConnectionError) and not err.hint:
                    hint = "check your network and --base-url/--region; --no-verify stores it unchecked"
                    raise err.evolve(hint=hint) from err
                raise
            found = keycheck.find_region(key, target.region, s) if target.region_bound else None
            if found is None or found.region is None or found.models is None:
                raise keycheck.refused_error(err, found, s.provider) from err
            if region is not None:
                raise keycheck.wrong_region_error(found, target.region, s.provider) from err
            _say(
                f"The key was refused in {_region_title(s, target.region)} but works in "
                f"{_region_title(s, found.region)}: storing it for region {found.region}."
            )
            target = keycheck.Target(s.provider, found.region, found.base_url, True)
            models = found.models

    entry: dict[str, str] = dict(secrets)
    if regional:
        entry["region"] = target.region
    if base_url:
        entry["base_url"] = target.base_url
    path = credentials.update(
        s.config_dir, config.account_of(s.provider), entry
    )  # both DashScope protocols: one
    cache = config.cache_dir()
    modelcache.clear(cache)
    if models is not None:
        modelcache.save(cache, config.account_of(s.provider), target.base_url, models)

    where = f"region {_region_title(s, target.region)}" if regional else target.base_url
    if models is not None:
        checked = f"checked: {len(models)} models available"
    elif not verifiable:
        checked = f"not checked ({keycheck.NO_CHECK}; your first question will tell)"
    else:
        checked = "not checked (--no-verify)"
    _say(f"Logged in to {s.provider}, {where}, key {mask(key)}; {checked}.")
    _say(f"Stored in {path} (readable only by you).")
    env_source = s.source("api_key")
    if env_source not in ("default", "credentials file"):
        what = f".env in {Path.cwd()}" if env_source == ".env" else f"{env_source} in the environment"
        _say(f"note: {what} sets a key too, and it takes precedence over the stored one.")


def _describe_source(source: str, s: Settings, *, default: str = "default") -> str:
    from qwen_cli import credentials

    if source == "default":
        return default
    if source == "flag":
        return "from the command line"
    if source == ".env":
        return f"from {Path.cwd() / '.env'}"
    if source == "config file":
        return f"from {s.config_dir / 'config.toml'}"
    if source == "credentials file":
        return f"from {credentials.path_in(s.config_dir)}"
    return f"from {source}"


@app.command()
def status(
    provider: o.Provider = None,
    region: o.Region = None,
    base_url: o.BaseURL = None,
    offline: Annotated[bool, typer.Option("--offline", help="Do not check the key with the server.")] = False,
    debug: o.Debug = False,
) -> None:
    """Show the key in use (masked), where it came from, and check it.

    Prints the provider, region, base URL and key, each with where it came
    from (flag, DASHSCOPE_API_KEY, QWEN_API_KEY, .env, config file,
    credentials file), then checks the key with GET /models.
    On a 401 the key is tried once in each other region: a key that works
    there is reported as belonging to that region, with how to switch.
    Exit code 3 when not authenticated.

    Examples:

      qwen auth status

      qwen auth status --region intl --offline
    """
    from qwen_cli.cli import keycheck
    from qwen_cli.redact import mask

    s = _settings(provider, region, base_url, debug)
    cls = _provider(s)
    t = keycheck.target_for(s)
    rows = [("provider", s.provider)]
    if cls.regions:
        rows.append(("region", f"{_region_title(s, s.region)}, {_describe_source(s.source('region'), s)}"))
    rows.append(("base URL", f"{s.base_url}, {_describe_source(s.source('base_url'), s)}"))
    for c in cls.credentials:
        value = getattr(s, c.attr)
        shown = mask(value) if c.masked else f"set ({len(value)} characters)"
        line = f"{shown}, {_describe_source(s.source(c.attr), s)}" if value else "none"
        rows.append((c.what or c.label, line))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        sys.stdout.write(f"{k:<{width}}  {v}\n")
    sys.stdout.flush()
    if not s.api_key:
        first = cls.credentials[0]
        raise AuthenticationError(
            f"not logged in: no {first.label}",
            code=f"missing_{first.stored}",
            hint=f"run `{_login_command(s.provider)}`, or set "
            + " and ".join(c.env[0] for c in cls.credentials),
        )
    if not keycheck.can_verify(s.provider):
        sys.stdout.write(f"{'check':<{width}}  not possible: {keycheck.NO_CHECK}\n")
        return
    if offline:
        sys.stdout.write(f"{'check':<{width}}  skipped (--offline)\n")
        return
    try:
        models = keycheck.list_models(s.api_key, t, s, cookie=s.cookie)
    except QwenAPIError as err:
        if not keycheck.is_refused(err):
            raise
        diagnosed, found = keycheck.diagnose(err, s.api_key, t, s)
        if diagnosed is err:
            raise keycheck.refused_error(err, found, s.provider) from err
        raise diagnosed from err
    sys.stdout.write(f"{'check':<{width}}  ok: GET /models answered with {len(models)} models\n")


@app.command()
def logout(
    provider: Annotated[
        Optional[str],
        typer.Option("--provider", help="Forget only this provider's credentials [default: all of them]."),
    ] = None,
) -> None:
    """Remove the stored credentials (and the cached model lists).

    A key set in the environment (DASHSCOPE_API_KEY, QWEN_API_KEY) or in a
    .env file is not touched: qwen says so when one will still be used.
    """
    from qwen_cli import config, credentials, modelcache

    cdir = config.config_dir()
    path = credentials.path_in(cdir)
    removed = credentials.remove(cdir, provider)
    modelcache.clear(config.cache_dir())
    if removed:
        _say(f"Removed the stored credentials for {', '.join(removed)} from {path}.")
    else:
        _say(f"No stored credentials{f' for {provider}' if provider else ''}: nothing to remove.")
    for name, where in config.secret_sources(provider):
        place = f"the .env file in {Path.cwd()}" if where == ".env" else "the environment"
        _say(
            f"note: {name} is still set in {place}, so qwen will keep using that key; "
            f"remove it from {place} to log out completely."
        )
