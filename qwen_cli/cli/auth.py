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
    from qwen_cli.config import Settings

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


def _ask_region(current: str) -> str:
    """Ask on stderr, read a line from the terminal; Enter keeps ``current``."""
    from qwen_cli.config import REGION_CHOICES
    from qwen_cli.providers.dashscope import REGION_NAMES

    choices = ", ".join(f"{r} = {REGION_NAMES[r]}" for r in REGION_CHOICES)
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
        if answer in REGION_CHOICES:
            return answer
        _say(f"  {answer!r} is not a region; type cn, intl or us")


def _read_secrets(provider: str, with_stdin: bool) -> dict[str, str]:
    """The provider's secret fields, from stdin or hidden prompts; cleaned, registered for scrubbing."""
    import getpass

    from qwen_cli import config, credentials
    from qwen_cli.redact import register_secret

    fields = credentials.FIELDS[provider]
    if with_stdin:
        lines = [ln.strip() for ln in sys.stdin.read().splitlines() if ln.strip()]
        for ln in lines:
            register_secret(ln)
        if len(lines) != len(fields):
            names = " and ".join(label for _, label in fields)
            raise UsageError(
                f"expected the {names} on stdin, one per line; got {len(lines)} non-empty lines",
                hint="pipe exactly that, e.g. `pass show dashscope | qwen auth login --with-key-stdin`"
                if provider == "dashscope"
                else f'pipe the token, then the cookie: `printf \'%s\\n%s\\n\' "$TOKEN" "$COOKIE" | '
                f"qwen auth login --provider {provider} --with-key-stdin`",
            )
        raw = dict(zip((name for name, _ in fields), lines, strict=True))
        source = "stdin"
    else:
        if not sys.stdin.isatty():
            raise UsageError(
                "no terminal to ask for the key on (stdin is not a terminal)",
                hint="pipe the key with --with-key-stdin, e.g. `... | qwen auth login --with-key-stdin`",
            )
        raw = {}
        for name, label in fields:
            try:
                value = getpass.getpass(f"{label[0].upper()}{label[1:]} (input is hidden): ")
            except (KeyboardInterrupt, EOFError):  # Ctrl-C or Ctrl-D: main() says "interrupted"
                raise typer.Abort() from None
            register_secret(value)
            raw[name] = value
        source = "the prompt"
    out = {}
    for name, label in fields:
        what = "cookie" if name == "cookie" else label
        value = config.clean_secret(raw[name], what, source)
        if not value:
            raise UsageError(f"no {label} given", hint="run `qwen auth login` again and paste it")
        register_secret(value)
        out[name] = value
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
    from qwen_cli.providers.dashscope import REGION_NAMES
    from qwen_cli.redact import mask

    s = _settings(provider, region, base_url, debug)
    if s.provider not in credentials.FIELDS:
        raise UsageError(f"`qwen auth login` does not know provider {s.provider!r} yet")
    dashscope = s.provider == "dashscope"
    interactive = not with_key_stdin and sys.stdin.isatty()
    chosen_region = s.region
    if dashscope and region is None and interactive:
        chosen_region = _ask_region(s.region)
    if not dashscope and interactive:
        from qwen_cli.cli.web_login import HOW_TO

        _say(HOW_TO.rstrip())
    secrets = _read_secrets(s.provider, with_key_stdin)
    key = secrets.get("api_key") or secrets.get("token") or ""
    if base_url:
        target = keycheck.Target(s.provider, chosen_region, base_url.rstrip("/"), False)
    elif dashscope:
        target = keycheck.Target(
            s.provider, chosen_region, keycheck.region_url(chosen_region, checking=not no_verify), True
        )
    else:
        target = keycheck.Target(s.provider, chosen_region, s.base_url, False)

    models: list[str] | None = None
    verifiable = keycheck.can_verify(s.provider)
    if not no_verify and verifiable:
        try:
            models = keycheck.list_models(key, target, s, cookie=secrets.get("cookie"))
        except QwenAPIError as err:
            if not keycheck.is_refused(err):
                if isinstance(err, APIConnectionError) and not err.hint:
                    err.hint = "check your network and --base-url/--region; --no-verify stores it unchecked"
                raise
            found = keycheck.find_region(key, target.region, s) if target.region_bound else None
            if found is None or found.region is None or found.models is None:
                raise keycheck.refused_error(err, found) from err
            if region is not None:
                raise keycheck.wrong_region_error(found, target.region) from err
            _say(
                f"The key was refused in {target.region} ({REGION_NAMES[target.region]}) but works in "
                f"{found.region} ({REGION_NAMES[found.region]}): storing it for region {found.region}."
            )
            target = keycheck.Target(s.provider, found.region, found.base_url, True)
            models = found.models

    entry: dict[str, str] = dict(secrets)
    if dashscope:
        entry["region"] = target.region
    if base_url:
        entry["base_url"] = target.base_url
    path = credentials.update(s.config_dir, s.provider, entry)
    cache = config.cache_dir()
    modelcache.clear(cache)
    if models is not None:
        modelcache.save(cache, s.provider, target.base_url, models)

    where = f"region {target.region} ({REGION_NAMES[target.region]})" if dashscope else target.base_url
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
    from qwen_cli.providers.dashscope import REGION_NAMES
    from qwen_cli.redact import mask

    s = _settings(provider, region, base_url, debug)
    t = keycheck.target_for(s)
    rows = [("provider", s.provider)]
    if s.provider == "dashscope":
        where = _describe_source(s.source("region"), s)
        rows.append(("region", f"{s.region} ({REGION_NAMES[s.region]}), {where}"))
    rows.append(("base URL", f"{s.base_url}, {_describe_source(s.source('base_url'), s)}"))
    label = "API key" if s.provider == "dashscope" else "token"
    key_line = f"{mask(s.api_key)}, {_describe_source(s.source('api_key'), s)}" if s.api_key else "none"
    rows.append((label, key_line))
    if s.provider != "dashscope":
        cookie = (
            f"set ({len(s.cookie)} characters), {_describe_source(s.source('cookie'), s)}" if s.cookie else ""
        )
        rows.append(("cookie", cookie or "none"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        sys.stdout.write(f"{k:<{width}}  {v}\n")
    sys.stdout.flush()
    if not s.api_key:
        raise AuthenticationError(
            "not logged in: no API key" if s.provider == "dashscope" else "not logged in",
            code="missing_api_key",
            hint="run `qwen auth login`, or set DASHSCOPE_API_KEY"
            if s.provider == "dashscope"
            else f"run `qwen auth login --provider {s.provider}`, or set QWEN_AUTH_TOKEN and QWEN_COOKIE",
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
        found = keycheck.find_region(s.api_key, s.region, s) if t.region_bound else None
        if found is None or found.region is None:
            raise keycheck.refused_error(err, found) from err
        raise keycheck.wrong_region_error(found, s.region) from err
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
