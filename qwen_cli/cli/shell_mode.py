"""``qwen complete --shell``: the menu after the command, on a terminal only.

``[E]xecute, [D]escribe, [R]evise, [C]opy, [A]bort``, one key each (no Enter). The command runs
only after ``e``, in the user's shell (:func:`qwen_cli.modes.detect`), its output straight to
the terminal, and its exit code is reported. Describe and Revise continue the conversation.
Any other key, Ctrl-C, Ctrl-D or a closed stdin runs nothing. Without a terminal this module is
never reached (:func:`qwen_cli.cli.mode_options.interactive`). Each choice is kept with the
answer it was made on (:mod:`qwen_cli.store.choices`).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from qwen_cli.cli.report import notice

if TYPE_CHECKING:
    from qwen_cli.cli.chat_session import ChatSession
    from qwen_cli.modes import Shell
    from qwen_cli.types import AnswerResult

MENU = "[E]xecute, [D]escribe, [R]evise, [C]opy, [A]bort? "
DESCRIBE = (
    "Describe what the command you just gave does, part by part, briefly. Say if it changes or "
    "deletes anything."
)
REVISE = "Change the command: {change}. Answer with the whole new command only, as before."


def read_key() -> str:
    """One key from the terminal, without waiting for Enter (lower case; "" at end of input)."""
    fd = sys.stdin.fileno()
    try:
        import termios
        import tty
    except ImportError:  # Windows
        import msvcrt  # type: ignore[import-not-found,unused-ignore]

        return str(msvcrt.getwch()).lower()  # type: ignore[attr-defined,unused-ignore]
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        data = os.read(fd, 8)  # an escape sequence (an arrow key) comes whole: one read
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    return data.decode("utf-8", "replace")[:1].lower()


def menu(session: ChatSession, ans: AnswerResult, shell: Shell, *, color: bool) -> int:
    """Offer the menu for ``ans``'s command until it is run, copied or given up; the exit code
    of qwen (0, or that of an aborted menu: 0 too; a command's own code is only reported)."""
    from qwen_cli.cli import mode_options as mo

    command = mo.command_of(ans)
    while command:
        sys.stderr.write(MENU)
        sys.stderr.flush()
        try:
            key = read_key()
        except KeyboardInterrupt:
            key = "\x03"
        sys.stderr.write((key if key.isprintable() else "") + "\n")
        sys.stderr.flush()
        if key == "e":
            _record(session, "execute", command, execute(command, shell, color=color))
            return 0
        if key == "d":
            _record(session, "describe", command)
            _with_display(session, None, DESCRIBE, system=None)
            continue
        if key == "r":
            change = _ask("what should change? ")
            if not change:
                continue
            _record(session, "revise", command)
            shown = mo.display(mo.Mode("shell"), session.out, shell)
            command = mo.command_of(_with_display(session, shown, REVISE.format(change=change)))
            continue
        if key == "c":
            from qwen_cli.cli.chat_edit import copy

            how = copy(command)
            _record(session, "copy", command)
            notice(f"copied {how}", color=color, style="dim")
            return 0
        _record(session, "abort", command)
        notice("aborted: nothing was run", color=color, style="dim")
        return 0
    return 0


def execute(command: str, shell: Shell, *, color: bool) -> int | None:
    """Run ``command`` in the user's shell, attached to the terminal; report its exit code."""
    import subprocess

    from qwen_cli.safetext import is_safe

    if not is_safe(command):  # what runs must be exactly what was shown
        notice("not run: the command holds control characters (shown as symbols above)", color=color)
        return None
    try:
        code = subprocess.call(shell.argv(command))
    except OSError as exc:
        notice(f"could not start {shell.path}: {exc.strerror or exc}", color=color)
        return None
    except KeyboardInterrupt:
        code = 130
    notice(f"exit code {code}", color=color, style="dim" if code == 0 else "yellow")
    return code


def _ask(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        return sys.stdin.readline().strip()
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return ""


_KEEP = object()


def _with_display(session: ChatSession, display: object, text: str, system: object = _KEEP) -> AnswerResult:
    """One more turn of the conversation, shown by ``display`` (``None``: as a normal answer);
    ``system``: the system prompt for this turn only (describing is not answering with a command)."""
    saved, saved_system = session.display, session.system
    session.display = display if callable(display) else session._show
    if system is not _KEEP:
        session.system = system if isinstance(system, str) else None
    try:
        return session.send(text)
    finally:
        session.display, session.system = saved, saved_system


def _record(session: ChatSession, choice: str, command: str, exit_code: int | None = None) -> None:
    """Keep the choice with the answer it was made on (not with --no-log)."""
    ex = session.exchanges[-1] if session.exchanges else None
    if not session.log or session.store is None or ex is None or ex.answer is None or ex.answer.id <= 0:
        return
    from qwen_cli.store import choices

    choices.record(session.store, ex.answer.id, choice, command, exit_code)
