"""`qwen batch`: many requests at once (here: the Batch API's commands, from batch_remote)."""

from __future__ import annotations

import typer

from qwen_cli.cli import batch_remote

app = typer.Typer(
    name="batch", rich_markup_mode=None, no_args_is_help=True, help="Send many requests at once."
)
batch_remote.register(app)
