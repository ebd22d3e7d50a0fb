"""``--functions FILE``, ``--tool NAME``, ``--yes`` and ``--tool-timeout``: the tools a command offers.

Each call the model makes is shown (name and arguments, dim on stderr) and runs only once the
user allows it: on a terminal ``y`` (once), ``a`` (always, for this tool) or ``n`` (refused:
the refusal is the call's result); without a terminal only with ``--yes``, else refused with
a note. The tools themselves live in :mod:`qwen_cli.tools`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from qwen_cli.cli.answer import Output
    from qwen_cli.client import Qwen
    from qwen_cli.engine.events import ToolCall, ToolResult
    from qwen_cli.engine.tools import Toolbox

TOOLS = "Tools"
DEFAULT_TIMEOUT = 30.0
ARGS_ASKED = 60  # characters of the arguments repeated in the question
RESULT_SHOWN = 200  # characters of a result shown on stderr (the model gets all of it)

Functions = Annotated[
    Optional[list[str]],
    typer.Option(
        "--functions",
        help="A Python file whose public functions the model may call (repeatable).",
        metavar="FILE.py",
        rich_help_panel=TOOLS,
        show_default=False,
    ),
]
Tool = Annotated[
    Optional[list[str]],
    typer.Option(
        "--tool",
        help="Offer only this tool (repeatable): a --functions function, or now, read_file, fetch.",
        metavar="NAME",
        rich_help_panel=TOOLS,
        show_default=False,
    ),
]
Yes = Annotated[
    bool,
    typer.Option("--yes", help="Run the tools the model calls without asking.", rich_help_panel=TOOLS),
]
ToolTimeout = Annotated[
    float,
    typer.Option(
        "--tool-timeout",
        help="Seconds a tool call may run before it is stopped.",
        min=0.1,
        max=3600,
        metavar="SECONDS",
        rich_help_panel=TOOLS,
    ),
]


def toolbox_for(
    client: Qwen,
    out: Output,
    *,
    functions: list[str] | None,
    tools: list[str] | None,
    yes: bool,
    timeout: float,
) -> Toolbox | None:
    """The tools the options name, checked before anything is sent (``None``: no tools)."""
    if not functions and not tools:
        return None
    from qwen_cli.engine.tools import Toolbox
    from qwen_cli.tools.load import select

    chosen = select(functions or [], tools or [])
    if not chosen:
        return None
    box = Toolbox(chosen, timeout=timeout)
    _check_provider(client, box)
    approver = Approver(out, yes=yes)
    box.approve, box.report = approver, approver.report
    return box


def _check_provider(client: Qwen, box: Toolbox) -> None:
    """A provider whose wire has no tools refuses them now, in one line, not after the first prompt."""
    from qwen_cli.types import ChatParams, ChatRequest, Message

    probe = ChatRequest(
        model=client.provider.default_model,
        messages=[Message(role="user", content="")],
        params=ChatParams(tools=box.definitions),
    )
    from qwen_cli.errors import UsageError

    try:
        client.provider.chat_request(probe)
    except UsageError as err:
        raise err.evolve(message=f"--functions/--tool cannot be used here: {err.message}") from err


class Approver:
    """Asks before each call (or lets it through with ``--yes``), and shows each result."""

    def __init__(self, out: Output, *, yes: bool) -> None:
        self.out, self.yes = out, yes
        self.always: set[str] = set()
        self.terminal = sys.stdin.isatty() and sys.stderr.isatty()

    def _note(self, text: str, style: str = "dim") -> None:
        from qwen_cli.cli.report import notice

        notice(text, color=self.out.color_err, style=style)

    def __call__(self, call: ToolCall) -> bool:
        if self.out.json:  # the answer's display did not draw the call: show it before it runs
            self._note(f"tool call: {call.name or '?'}({call.arguments.strip()})")
        if self.yes or call.name in self.always:
            return True
        if not self.terminal:
            self._note(
                f"refused the call to {call.name}: without a terminal tools run only with --yes", "yellow"
            )
            return False
        args = " ".join(call.arguments.split())
        if len(args) > ARGS_ASKED:
            args = args[: ARGS_ASKED - 1] + "…"
        choice = ask(f"run {call.name}({args})? [y]es / [a]lways for this tool / [n]o ")
        if choice == "a":
            self.always.add(call.name)
        return choice in ("y", "a")

    def report(self, result: ToolResult) -> None:
        if self.out.quiet:
            return
        text = " ".join(result.content.split())
        if len(text) > RESULT_SHOWN:
            text = text[: RESULT_SHOWN - 1] + "…"
        self._note(f"tool result: {text}")


def ask(question: str) -> str:
    """One key from the terminal: ``y``, ``a`` or ``n`` (Enter, Esc and Ctrl-D say no)."""
    from qwen_cli.safetext import shown

    words = {"y": "yes", "a": "always", "n": "no"}
    with _keys() as read_key:  # keys are read one by one from before the question shows
        sys.stderr.write(shown(question, sys.stderr))
        sys.stderr.flush()
        key = read_key()
        while key not in words and key not in ("\r", "\n", "\x1b", "\x04", ""):
            key = read_key()
    choice = key if key in words else "n"
    sys.stderr.write(words[choice] + "\n")
    sys.stderr.flush()
    return choice


@contextlib.contextmanager
def _keys() -> Iterator[Callable[[], str]]:
    """Read single characters from stdin without waiting for Enter (Ctrl-C still interrupts)."""
    try:
        import termios
        import tty
    except ImportError:  # not a POSIX terminal: a line will do
        yield lambda: (sys.stdin.readline()[:1] or "").lower()
        return
    import os

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield lambda: os.read(fd, 8).decode("utf-8", "ignore")[:1].lower()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
