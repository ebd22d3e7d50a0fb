"""`qwen default`: show the settings and where each comes from, or write one to config.toml."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from qwen_cli.errors import ConfigError, UsageError

# how a value typed on the command line is written to config.toml
NUMBERS: dict[str, type[float] | type[int]] = {"timeout": float, "connect_timeout": float, "max_retries": int}
BOOLEANS = ("cache_control",)


def _complete_setting(incomplete: str) -> list[str]:
    from qwen_cli.config import ENV_NAMES

    return [n for n in ENV_NAMES if n.startswith(incomplete)]


def default(
    name: Annotated[
        Optional[str],
        typer.Argument(metavar="[SETTING]", help="A setting, e.g. model.", autocompletion=_complete_setting),
    ] = None,
    value: Annotated[Optional[str], typer.Argument(metavar="[VALUE]", help="Its new value.")] = None,
    unset: Annotated[bool, typer.Option("--unset", help="Remove the setting from config.toml.")] = False,
) -> None:
    """Show the settings and where each comes from, or write one to config.toml.

    With no argument: each setting, its value and where it comes from (flag,
    environment, .env, config file, default). With a setting and a value: write
    it to config.toml, keeping the rest of the file as it is.

    Examples:

      qwen default

      qwen default model qwen-plus

      qwen default region intl

      qwen default timeout --unset
    """
    from qwen_cli.config import ENV_NAMES

    if name is None:
        if unset:
            raise UsageError("--unset needs a setting", hint="e.g. qwen default model --unset")
        return _list()
    if name.replace("-", "_") in ENV_NAMES:
        name = name.replace("-", "_")
    else:
        import difflib

        close = difflib.get_close_matches(name, list(ENV_NAMES), n=1)
        raise UsageError(
            f"no setting {name!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
            hint=f"settings: {', '.join(ENV_NAMES)}",
        )
    if unset and value is not None:
        raise UsageError("give a value or --unset, not both", hint=f"qwen default {name} --unset")
    if value is None and not unset:
        return _show(name)
    _write(name, None if unset else _typed(name, value or ""))


def _typed(name: str, value: str) -> Any:
    from qwen_cli.config import _flag

    if name in NUMBERS:
        try:
            number = NUMBERS[name](value)
        except ValueError:
            kind = "a whole number" if NUMBERS[name] is int else "a number"
            raise UsageError(
                f"{name} must be {kind} (got {value!r})", hint=f"e.g. qwen default {name} 3"
            ) from None
        if number < 0 or (name != "max_retries" and number < 0.1):
            raise UsageError(f"{name} is too small (got {value})", hint=f"e.g. qwen default {name} 3")
        return number
    if name in BOOLEANS:
        try:
            return _flag(value, name, "the command line")
        except ConfigError as err:
            raise UsageError(err.message, hint=f"qwen default {name} true (or false)") from err
    if not value.strip():
        raise UsageError(f"{name} cannot be empty", hint=f"to remove it: qwen default {name} --unset")
    return value.strip()


def _write(name: str, value: Any) -> None:
    """Write (or remove) the setting; the file is put back as it was if the result is refused."""
    from qwen_cli import config, configfile

    cdir = config.config_dir()
    path = cdir / config.CONFIG_FILE
    existed = path.is_file()
    text, _ = configfile.read(path)
    changed = (
        configfile.remove_value(path, name) if value is None else configfile.set_value(path, name, value)
    )
    try:  # the file alone, as every command will read it
        config.resolve(env={"QWEN_CONFIG_DIR": str(cdir)}, cwd=cdir)
    except ConfigError as err:
        if existed:
            configfile.write_text(path, text)
        else:
            path.unlink(missing_ok=True)
        raise err.evolve(
            hint=f"{config.CONFIG_FILE} is unchanged; {err.hint or 'try another value'}"
        ) from err
    if value is None:
        sys.stderr.write(f"{name} removed from {path}\n" if changed else f"{name} was not set in {path}\n")
    else:
        sys.stderr.write(f"{name} = {configfile.toml_value(value)} written to {path}\n")
    now = config.resolve()
    source = now.source(name)
    if source not in ("config file", "default"):
        sys.stderr.write(f"note: {source} overrides it here ({name} = {_value(now, name)})\n")


def _value(s: Any, name: str) -> str:
    got = getattr(s, name)
    if got is None or got == "":
        return "-"
    return str(got).lower() if isinstance(got, bool) else str(got)


def _list() -> None:
    from qwen_cli import config
    from qwen_cli.cli.tables import print_table

    s = config.resolve()
    rows = [(n, _value(s, n), s.source(n)) for n in config.ENV_NAMES]
    # one line a setting: a long value gives way (`qwen default NAME` prints it whole)
    print_table(("SETTING", "VALUE", "FROM"), rows, wide=1)


def _show(name: str) -> None:
    from qwen_cli import config
    from qwen_cli.safetext import shown

    s = config.resolve()
    sys.stdout.write(shown(_value(s, name) + "\n", sys.stdout))
    sys.stderr.write(f"from {s.source(name)}\n")
