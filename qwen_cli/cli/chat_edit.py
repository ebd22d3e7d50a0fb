"""``/edit`` and ``/copy`` in ``qwen chat``: the message in the user's editor, an answer on the
clipboard.

``/copy`` writes OSC 52 (the text base64-encoded, as the sequence requires) when a terminal is
on stderr or stdout (inside tmux, ``tmux load-buffer -w`` first: tmux does not pass an
application's OSC 52 on by default); in a pipe it tries a clipboard tool (wl-copy, xclip, xsel,
pbcopy), and says so when there is none.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from qwen_cli.errors import UsageError

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n(.*?)^ {0,3}\1[`~]*[ \t]*$", re.MULTILINE | re.DOTALL)

# (command, when it can work): the first one found on PATH whose condition holds is used
_TOOLS: tuple[tuple[tuple[str, ...], str | None], ...] = (
    (("wl-copy",), "WAYLAND_DISPLAY"),
    (("xclip", "-selection", "clipboard"), "DISPLAY"),
    (("xsel", "--clipboard", "--input"), "DISPLAY"),
    (("pbcopy",), None),
)


def edit_text(text: str) -> str:
    """``text`` after the user edited it in ``$VISUAL`` or ``$EDITOR`` (unchanged if they quit)."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise UsageError(
            "no editor: neither $VISUAL nor $EDITOR is set",
            hint="set one, e.g. export EDITOR=nano (or vim, or 'code --wait')",
        )
    fd, name = tempfile.mkstemp(prefix="qwen-message-", suffix=".md")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            code = subprocess.call([*shlex.split(editor), str(path)])
        except OSError as exc:
            raise UsageError(
                f"cannot run the editor {editor!r}: {exc.strerror or exc}",
                hint="check $VISUAL / $EDITOR",
            ) from exc
        if code != 0:
            raise UsageError(
                f"the editor exited with code {code}: the message was not changed",
                hint="save and quit the editor normally to keep what you wrote",
            )
        return path.read_text(encoding="utf-8", errors="replace").rstrip("\n")
    finally:
        path.unlink(missing_ok=True)


def last_code_block(text: str) -> str | None:
    """The content of the last fenced code block of a Markdown ``text``."""
    blocks = _FENCE.findall(text)
    return blocks[-1][1].rstrip("\n") if blocks else None


def copy(text: str) -> str:
    """Put ``text`` on the clipboard; returns how (for the confirmation)."""
    stream = _terminal()
    if stream is not None and os.environ.get("TMUX") and _run(("tmux", "load-buffer", "-w", "-"), text):
        return "with tmux (its paste buffer and, where the terminal allows, the clipboard)"
    if stream is not None:
        encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
        stream.write(f"\x1b]52;c;{encoded}\x07")
        stream.flush()
        return "through the terminal (OSC 52)"
    for command, needs in _TOOLS:
        if (needs is None or os.environ.get(needs)) and _run(command, text):
            return f"with {command[0]}"
    raise UsageError(
        "cannot copy: no terminal to send OSC 52 to, and no clipboard tool (wl-copy, xclip, xsel, pbcopy)",
        hint="install one of those tools, or /save FILE to keep the conversation",
    )


def _run(command: tuple[str, ...], text: str) -> bool:
    """Feed ``text`` to a clipboard tool; whether it took it."""
    if not shutil.which(command[0]):
        return False
    try:
        subprocess.run(command, input=text.encode("utf-8"), check=True, timeout=10,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _terminal() -> TextIO | None:
    """The terminal OSC 52 goes to: stderr, else stdout, when one is a terminal (not in a pipe)."""
    if os.environ.get("TERM") == "dumb":
        return None
    for stream in (sys.stderr, sys.stdout):
        if stream is not None and stream.isatty():
            return stream
    return None
