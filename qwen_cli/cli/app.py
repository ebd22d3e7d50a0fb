"""The typer application: commands are registered here and live in their own modules."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from qwen_cli import __version__


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qwen {__version__}")
        raise typer.Exit()


def build() -> Any:
    """The click command behind ``qwen``."""
    app = typer.Typer(
        name="qwen",
        help="Chat with Alibaba's Qwen models from the terminal.",
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
        130 interrupted.
        """

    from qwen_cli.cli import auth, models
    from qwen_cli.cli.chat import chat
    from qwen_cli.cli.complete import complete
    from qwen_cli.cli.history import app as history
    from qwen_cli.cli.upload import upload

    app.command(rich_help_panel="Ask")(complete)
    app.command(rich_help_panel="Ask")(chat)
    app.command(rich_help_panel="Ask")(upload)
    app.add_typer(history, rich_help_panel="History")
    app.add_typer(auth.app, name="auth", rich_help_panel="Account")
    app.add_typer(models.app, name="models", rich_help_panel="Account")
    return typer.main.get_command(app)
