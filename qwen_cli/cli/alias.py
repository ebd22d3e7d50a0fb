"""`qwen alias`: short names for models, kept in config.toml's [aliases] table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from qwen_cli.cli.completion import complete_model

app = typer.Typer(
    name="alias",
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _cdir() -> Path:
    from qwen_cli import config

    return config.config_dir()


def _complete_alias(incomplete: str) -> list[tuple[str, str]]:
    try:
        from qwen_cli import aliases

        return [(n, m) for n, m in aliases.load(_cdir()).items() if n.startswith(incomplete)]
    except Exception:  # a completion must never fail the shell
        return []


@app.callback(invoke_without_command=True)
def alias(ctx: typer.Context) -> None:
    """Short names for models: an alias works wherever a model name does.

    Examples:

      qwen alias set fast qwen-flash

      qwen -m fast "hello"

      qwen alias list

      qwen alias rm fast
    """
    if ctx.invoked_subcommand is None:
        list_()


@app.command("set")
def set_(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The alias, e.g. fast.")],
    model: Annotated[
        str, typer.Argument(metavar="MODEL", help="The model it stands for.", autocompletion=complete_model)
    ],
) -> None:
    """Make NAME stand for MODEL (written to config.toml)."""
    from qwen_cli import aliases
    from qwen_cli.config import CONFIG_FILE

    aliases.set_alias(_cdir(), name, model)
    sys.stderr.write(f"alias {name.strip()} -> {model.strip()} (in {_cdir() / CONFIG_FILE})\n")


@app.command("list")
def list_() -> None:
    """List the aliases: one NAME<TAB>MODEL line each."""
    from qwen_cli import aliases
    from qwen_cli.safetext import shown

    found = aliases.load(_cdir())
    for name, model in found.items():
        sys.stdout.write(shown(f"{name}\t{model}\n", sys.stdout))
    if not found and sys.stdout.isatty():
        sys.stderr.write("no aliases: add one with `qwen alias set fast qwen-flash`\n")


@app.command("rm")
def rm(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The alias.", autocompletion=_complete_alias)],
) -> None:
    """Remove an alias."""
    from qwen_cli import aliases

    model = aliases.remove(_cdir(), name)
    sys.stderr.write(f"removed alias {name} (it stood for {model})\n")
