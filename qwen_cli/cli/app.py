"""The typer application: commands are registered here and live in their own modules."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from qwen_cli import __version__
from qwen_cli.cli import coerce


def _version(value: bool) -> None:
    if value:
        # Qwen Code (QwenLM's coding agent) installs a `qwen` command too: say which one this is.
        typer.echo(f"qwen {__version__} (qwen-cli: the command line for Qwen models)")
        raise typer.Exit()


# name -> (module, attribute, is a group of subcommands). Only the command that runs is
# built: typer's introspection of every signature would double the cost of `qwen --help`.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "complete": ("qwen_cli.cli.complete", "complete", False),
    "chat": ("qwen_cli.cli.chat", "chat", False),
    "upload": ("qwen_cli.cli.upload", "upload", False),
    "history": ("qwen_cli.cli.history", "app", True),
    "auth": ("qwen_cli.cli.auth", "app", True),
    "models": ("qwen_cli.cli.models", "app", True),
    "translate": ("qwen_cli.cli.translate", "translate", False),
    "batch": ("qwen_cli.cli.batch", "app", True),
    "templates": ("qwen_cli.cli.templates", "app", True),
    "alias": ("qwen_cli.cli.alias", "app", True),
    "default": ("qwen_cli.cli.default", "default", False),
}
# The one-line help `qwen --help` shows for each; tests/test_cli_app.py keeps it in step with
# the commands' own docstrings.
SUMMARIES: dict[str, str] = {
    "complete": "Ask one question and stream the answer.",
    "chat": "Talk with a model.",
    "upload": "Ask about images and documents, or upload them and print their references.",
    "history": "List the kept conversations, most recent first.",
    "auth": "Log in, check the key in use, log out.",
    "models": "List the models your key can use: limits, capabilities, prices.",
    "translate": "Translate a text or a document with Qwen-MT.",
    "batch": "Run many prompts from a file: locally, or on DashScope's Batch API.",
    "templates": "List, show, edit and remove templates: a system prompt, a prompt and options, by name.",
    "alias": "Short names for models: an alias works wherever a model name does.",
    "default": "Show the settings and where each comes from, or write one to config.toml.",
}


# The root's own options; any other first argument starts a bare prompt or names a command.
# tests/test_cli_start.py keeps it in step with the root command's options.
ROOT_OPTIONS = ("-h", "--help", "-V", "--version", "--install-completion", "--show-completion")
# A single word at least this close (difflib's ratio) to a command's name, or the name with two
# neighbouring letters swapped, is taken for a mistyped command ("compete", "modles", "chta");
# any other word is a prompt ("what", "hello").
TYPO_RATIO = 0.8


def _swapped(word: str, name: str) -> bool:
    """``word`` is ``name`` with two neighbouring letters swapped."""
    diff = [i for i, (a, b) in enumerate(zip(word, name, strict=False)) if a != b]
    return (
        len(word) == len(name)
        and len(diff) == 2
        and diff[1] == diff[0] + 1
        and word[diff[0]] == name[diff[1]]
        and word[diff[1]] == name[diff[0]]
    )


def closest_command(word: str) -> str | None:
    """The command ``word`` is a typo of, if it is one (see TYPO_RATIO)."""
    import difflib

    word = word.lower()
    swapped = [name for name in COMMANDS if _swapped(word, name)]
    close = swapped or difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=TYPO_RATIO)
    return close[0] if close else None


def route(args: list[str]) -> list[str]:
    """The arguments for the root group: a bare prompt becomes ``complete``'s.

    ``qwen "question"`` and ``qwen -m qwen-plus "question"`` run ``qwen complete ...``; a
    command's name stays a command; ``qwen -- "..."`` is always a prompt; a single word close
    to a command's name is refused with the closest one as a suggestion.
    """
    if not args or args[0] in ROOT_OPTIONS or args[0] in COMMANDS:
        return args
    first = args[0]
    if first == "--":
        return ["complete", *args]
    if not first.startswith("-") and first.strip() and not any(ch.isspace() for ch in first):
        close = closest_command(first)
        if close:
            from qwen_cli.errors import UsageError

            raise UsageError(
                f"no command {first!r}; did you mean {close!r}?",
                hint=f"to send it as a prompt instead: qwen -- {first}",
            )
    return ["complete", *args]


def load_command(name: str) -> Any:
    """The click command for ``name``, built now; ``None`` for an unknown name."""
    import importlib

    spec = COMMANDS.get(name)
    if spec is None:
        return None
    module, attr, group = spec
    obj = getattr(importlib.import_module(module), attr)
    if group:
        cmd = typer.main.get_command(obj)
    else:
        single = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
        single.command(name=name)(obj)
        cmd = typer.main.get_command(single)
    cmd.name = name
    return coerce.lighten(cmd)


def _lazy_group() -> type:
    from typer.core import TyperGroup

    class LazyGroup(TyperGroup):
        def list_commands(self, ctx: Any) -> list[str]:
            return list(COMMANDS)

        def get_command(self, ctx: Any, cmd_name: str) -> Any:
            return load_command(cmd_name)

        def format_commands(self, ctx: Any, formatter: Any) -> None:
            with formatter.section("Commands"):
                formatter.write_dl(list(SUMMARIES.items()))

    return LazyGroup


def build() -> Any:
    """The click command behind ``qwen``."""
    app = typer.Typer(
        name="qwen",
        cls=_lazy_group(),
        help=(
            "Chat with Alibaba's Qwen models from the terminal.\n\n"
            'A bare prompt runs complete: qwen "question", cat notes.txt | qwen "summarize", '
            'qwen -m qwen-plus "question"; qwen -- ... is always a prompt.'
        ),
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        version: Annotated[
            Optional[bool],
            typer.Option(
                "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
            ),
        ] = None,
    ) -> None:
        """Chat with Alibaba's Qwen models from the terminal.

        Exit codes: 0 ok, 1 API error, 2 bad input, 3 authentication,
        4 rate limited, 5 network or timeout, 6 server error or broken stream,
        130 interrupted (Ctrl-C), 143 and 129 ended by SIGTERM and SIGHUP.
        """

    return coerce.lighten(typer.main.get_command(app))
