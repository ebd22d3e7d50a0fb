"""The typer application: commands are registered here and live in their own modules."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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
    """The click command for ``name``, built now; ``None`` for an unknown name. A group's
    subcommands are built only when one is asked for (:func:`lazy_app`)."""
    import importlib

    spec = COMMANDS.get(name)
    if spec is None:
        return None
    module, attr, group = spec
    obj = getattr(importlib.import_module(module), attr)
    if group:
        cmd = lazy_app(obj)
    else:
        single = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
        single.command(name=name)(obj)
        with signatures_read_once():
            cmd = typer.main.get_command(single)
    cmd.name = name
    return coerce.lighten(cmd)


@contextlib.contextmanager
def signatures_read_once() -> Iterator[None]:
    """While a command is built, typer reads its function's signature once, not twice.

    typer reads it (every annotation compiled and evaluated by ``get_type_hints``) for the
    options, then again, whole, for the names its callback passes on: ~3 ms of chat's start
    for its 40 options. The second read only takes the names, so the first one serves.
    """
    main: Any = typer.main
    real = getattr(main, "get_params_from_function", None)
    if real is None:  # another typer: built as it builds
        yield
        return
    read: dict[Any, Any] = {}

    def once(func: Any) -> Any:
        if func not in read:
            read[func] = real(func)
        return read[func]

    main.get_params_from_function = once
    try:
        yield
    finally:
        main.get_params_from_function = real


def _lazy_base() -> type:
    """A group that lists its subcommands, with their one-line help, without building them; it
    builds one (then keeps it in ``commands``) when it is invoked, completed or asked for.
    typer would build every option of every subcommand just to print their names: this is the
    one rule for the root and for every group (history, auth, batch, ...)."""
    from difflib import get_close_matches

    from typer._click.exceptions import UsageError as ParserError
    from typer._click.shell_completion import CompletionItem
    from typer.core import TyperGroup

    class Lazy(TyperGroup):
        def summaries(self, limit: int) -> list[tuple[str, str]]:
            """(name, one-line help) of each visible subcommand, the help cut to ``limit``."""
            raise NotImplementedError

        def build(self, name: str) -> Any:
            """The click command ``name``, built now, or ``None``."""
            raise NotImplementedError

        def list_commands(self, ctx: Any) -> list[str]:
            return [name for name, _ in self.summaries(45)]

        def get_command(self, ctx: Any, cmd_name: str) -> Any:
            if cmd_name not in self.commands:
                cmd = self.build(cmd_name)
                if cmd is None:
                    return None
                self.commands[cmd_name] = cmd
            return self.commands[cmd_name]

        def format_commands(self, ctx: Any, formatter: Any) -> None:
            names = self.list_commands(ctx)
            if names:  # the limit typer gives each line
                rows = self.summaries(formatter.width - 6 - max(map(len, names)))
                with formatter.section("Commands"):
                    formatter.write_dl(rows)

        def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
            found = [CompletionItem(name, help=text) for name, text in self.summaries(45)]
            options = super(TyperGroup, self).shell_complete(ctx, incomplete)
            return [item for item in found if item.value.startswith(incomplete)] + options

        def resolve_command(self, ctx: Any, args: list[str]) -> Any:
            try:
                return self._click_resolve_command(ctx, args)
            except ParserError as e:  # typer's suggestion, taken from the names, not the built
                close = get_close_matches(args[0], self.list_commands(ctx)) if args else []
                if self.suggest_commands and close:
                    e.message = f"{e.message.rstrip('.')}. Did you mean {', '.join(map(repr, close))}?"
                raise

    return Lazy


def _lazy_root() -> type:
    class LazyRoot(_lazy_base()):  # type: ignore[misc]
        def list_commands(self, ctx: Any) -> list[str]:
            return list(COMMANDS)

        def summaries(self, limit: int) -> list[tuple[str, str]]:
            return list(SUMMARIES.items())

        def build(self, name: str) -> Any:
            return load_command(name)

    return LazyRoot


def lazy_app(app: typer.Typer) -> Any:
    """The click group of ``app`` (a typer app of subcommands) as typer builds it, but for its
    subcommands: each is built when it is invoked or asked for. Their one-line help is read
    where typer reads it (``help=``, else the docstring), so the list cannot drift from them."""
    import copy
    import inspect

    from typer.main import get_command_from_info, get_command_name

    callback = app.registered_callback or app.info.callback
    if app.registered_groups or not (callback or len(app.registered_commands) > 1):
        return typer.main.get_command(app)  # not a group of commands only: built whole

    infos = {
        info.name or get_command_name(getattr(info.callback, "__name__", "")): info
        for info in app.registered_commands
    }

    class LazyApp(_lazy_base()):  # type: ignore[misc]
        def summaries(self, limit: int) -> list[tuple[str, str]]:
            from typer.core import TyperCommand

            rows = []
            for name, info in infos.items():
                if not info.hidden:
                    doc = inspect.cleandoc(info.help) if info.help else inspect.getdoc(info.callback)
                    shown = TyperCommand(
                        name, help=doc, short_help=info.short_help, deprecated=info.deprecated
                    )
                    rows.append((name, shown.get_short_help_str(limit)))
            return rows

        def build(self, name: str) -> Any:
            info = infos.get(name)
            if info is None:
                return None
            with signatures_read_once():
                cmd = get_command_from_info(
                    info,
                    pretty_exceptions_short=app.pretty_exceptions_short,
                    rich_markup_mode=app.rich_markup_mode,
                )
            return coerce.lighten(cmd)

    bare = copy.copy(app)  # the group and its own options as typer builds them, no subcommand
    bare.registered_commands = []
    bare.info = copy.copy(app.info)
    bare.info.cls = LazyApp
    with signatures_read_once():
        group = typer.main.get_group(bare)
    if app._add_completion:  # as typer.main.get_command adds them
        group.params.extend(typer.main.get_install_completion_arguments())
    return group


def build() -> Any:
    """The click command behind ``qwen``."""
    app = typer.Typer(
        name="qwen",
        cls=_lazy_root(),
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
