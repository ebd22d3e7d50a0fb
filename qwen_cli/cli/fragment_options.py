"""``-f PATH|URL|-`` (``--fragment``): text put before the question (:mod:`qwen_cli.fragments`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from qwen_cli.errors import UsageError

if TYPE_CHECKING:
    from qwen_cli.engine.session import Session

FragmentOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--fragment",
        "-f",
        metavar="PATH|URL|-",
        help="Put a text file, a web page's text or stdin (-) before the question, labelled with "
        "its source (repeatable; kept once in the history however often it is sent).",
        show_default=False,
    ),
]


def reads_stdin(specs: list[str] | None) -> bool:
    """``-f -``: stdin is a fragment, so it is not also the prompt."""
    return "-" in (specs or ())


def add_fragments(session: Session, specs: list[str] | None, *, stdin_free: bool = True) -> None:
    """Read each ``-f`` now (before anything is sent) for the session's next message.
    ``stdin_free``: false in a chat, whose stdin is the conversation."""
    if not specs:
        return
    from qwen_cli import fragments

    if not stdin_free and reads_stdin(specs):
        raise UsageError(
            "-f - cannot read stdin here: it is the conversation",
            hint='pipe it to qwen complete instead: ... | qwen complete -f - "..."',
        )
    from qwen_cli.cli.options import stdin_text

    session.fragments = fragments.ordered(fragments.load_all(specs, read_stdin=stdin_text))
