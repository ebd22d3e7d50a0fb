"""``--shell``, ``--code`` and ``--extract``: what they ask the model, and how the answer is shown.

In these modes the answer cannot be drawn as live Markdown: it is held (a spinner on stderr
when stderr is a terminal) and written once it is whole, cut down to what was asked for
(:mod:`qwen_cli.modes`). ``--code`` and ``--extract``: stdout gets only the code (highlighted
on a terminal, the bytes as they are in a pipe). ``--shell``: the command, then on a terminal
the menu of :mod:`qwen_cli.cli.shell_mode`; in a pipe the command is printed and nothing runs.

A mode is a plain value (:class:`Mode`), so a template can switch one on as the flags do.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from qwen_cli import structs
from qwen_cli.errors import UsageError
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.cli.answer import Output
    from qwen_cli.cli.chat_session import ChatSession
    from qwen_cli.cli.spinner import Spinner
    from qwen_cli.engine.reply import Reply
    from qwen_cli.modes import Shell
    from qwen_cli.types import AnswerResult, SearchSource

MODES = "Modes"

ShellFlag = Annotated[
    bool,
    typer.Option(
        "--shell",
        help="Answer with one command for your shell and OS, then [E]xecute, [D]escribe, [R]evise, "
        "[C]opy or [A]bort (in a pipe: printed, never run).",
        rich_help_panel=MODES,
    ),
]
CodeFlag = Annotated[
    bool,
    typer.Option(
        "--code",
        help='Answer with code only: no prose, no fences (qwen complete --code "..." > file).',
        rich_help_panel=MODES,
    ),
]
ExtractFlag = Annotated[
    bool,
    typer.Option(
        "--extract",
        "-x",
        help="Print only the first fenced code block of the answer.",
        rich_help_panel=MODES,
    ),
]


@struct(frozen=True)
class Mode:
    """Which mode a command runs in: ``shell``, ``code``, ``extract`` or none of them."""

    name: str | None = None

    @classmethod
    def of(
        cls, *, shell: bool = False, code: bool = False, extract: bool = False, json: bool = False
    ) -> Mode:
        chosen = [n for n, on in (("shell", shell), ("code", code), ("extract", extract)) if on]
        if len(chosen) > 1:
            raise UsageError(
                f"--{chosen[0]} and --{chosen[1]} cannot go together",
                hint="--shell answers with a command, --code with code, --extract keeps a normal "
                "answer's first code block: pick one",
            )
        if chosen and json:
            raise UsageError(
                f"--{chosen[0]} and --json cannot go together",
                hint=f"--json prints the whole answer as JSON; --{chosen[0]} prints only the "
                f"{'command' if chosen[0] == 'shell' else 'code'}",
            )
        return cls(chosen[0] if chosen else None)

    def system(self, system: str | None, shell: Shell | None = None) -> str | None:
        """The system prompt: the mode's, then the user's own (``-s``) when both are given."""
        from qwen_cli import modes

        if self.name == "shell":
            own = modes.shell_prompt(shell or modes.detect())
        elif self.name == "code":
            own = modes.code_prompt()
        else:
            return system
        return f"{own}\n\n{system}" if system else own


def interactive() -> bool:
    """The shell-mode menu needs a person at a terminal: stdin, stdout and stderr all terminals."""
    return all(s is not None and s.isatty() for s in (sys.stdin, sys.stdout, sys.stderr))


class HeldRenderer:
    """Holds the answer until it is whole, then writes what the mode keeps of it.

    A :class:`qwen_cli.render.Renderer` for :func:`qwen_cli.cli.answer.show`. ``write`` gets
    the whole answer text when it ends (complete, cut or interrupted)."""

    shows_reasoning = False

    def __init__(self, write: Callable[[str], None], *, spinner: bool) -> None:
        self._write = write
        self._parts: list[str] = []
        self._spin: Spinner | None = None
        if spinner:
            from qwen_cli.cli.spinner import Spinner

            self._spin = Spinner(sys.stderr).start()

    def reasoning(self, text: str) -> None:
        if self._spin is not None:
            self._spin.label = "thinking"

    def content(self, text: str) -> None:
        self._parts.append(text)

    def sources(self, items: list[SearchSource]) -> None:
        """Sources are not code: kept with the answer in the history, not printed here."""

    def finish(self) -> None:
        if self._spin is not None:
            self._spin.stop()
            self._spin = None
        text, self._parts = "".join(self._parts), []
        self._write(text)


def lexer_of(text: str, default: str = "text") -> str:
    """The language a fenced answer names (```python), for highlighting; else ``default``."""
    import re

    m = re.search(r"^[ \t]{0,3}(?:`{3,}|~{3,})[ \t]*([\w+#.-]+)", text, re.MULTILINE)
    return m.group(1).lower() if m else default


def write_code(code: str, *, lexer: str, color: bool) -> None:
    """Code on stdout: highlighted on a terminal, the bytes exactly in a pipe or a file."""
    from qwen_cli import render

    if not code:
        return
    if sys.stdout.isatty():
        render.print_code(code, out=sys.stdout, lexer=lexer, color=color)
    else:
        sys.stdout.write(code)
        sys.stdout.flush()


def shell_lexer(shell: Shell) -> str:
    return {"powershell": "powershell", "fish": "fish", "cmd": "batch"}.get(shell.name, "bash")


def display(mode: Mode, out: Output, shell: Shell | None = None) -> Callable[[Reply], AnswerResult]:
    """The session's display in ``mode``: the answer held, then written as the mode wants it."""
    from qwen_cli import modes
    from qwen_cli.cli.answer import show

    color = out.color_err and sys.stdout.isatty()
    spin = sys.stderr.isatty() and not out.json

    def write(text: str) -> None:
        if mode.name == "code":
            write_code(modes.strip_answer(text), lexer=lexer_of(text), color=color)
        elif mode.name == "extract":
            block = modes.extract(text)
            if block is None and text.strip():
                from qwen_cli.cli.report import notice

                notice("note: the answer has no fenced code block: all of it follows", color=out.color_err)
            write_code(
                block if block is not None else modes.strip_answer(text), lexer=lexer_of(text), color=color
            )

    def run(reply: Reply) -> AnswerResult:
        held = HeldRenderer(write, spinner=spin)
        ans = show(reply, structs.replace(out, terminal=False), renderer=held)
        if mode.name == "shell":
            show_command(ans, out, shell)
        return ans

    return run


def show_command(ans: AnswerResult, out: Output, shell: Shell | None) -> None:
    """Shell mode's command: only from a whole answer (a cut one could run half a command).
    On a terminal it is shown highlighted on stderr, for the menu; in a pipe it is stdout."""
    from qwen_cli import modes

    command = command_of(ans)
    if not command:
        return
    if interactive():
        from qwen_cli import render

        color = out.color_err
        render.print_code(command, out=sys.stderr, lexer=shell_lexer(shell or modes.detect()), color=color)
    else:
        sys.stdout.write(command + "\n")
        sys.stdout.flush()


def command_of(ans: AnswerResult) -> str:
    """The command of a shell-mode answer; "" unless the answer is whole (a cut one could run
    half a command)."""
    from qwen_cli import modes

    if ans.state != "complete" or ans.finish_reason == "length":
        return ""
    return modes.one_command(ans.content)


def menu(session: ChatSession, ans: AnswerResult) -> None:
    """Shell mode on a terminal: the menu after the command (:mod:`qwen_cli.cli.shell_mode`)."""
    from qwen_cli import modes
    from qwen_cli.cli import shell_mode

    shell_mode.menu(session, ans, modes.detect(), color=session.out.color_err)
