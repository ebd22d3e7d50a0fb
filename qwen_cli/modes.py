"""Shell-command mode and code mode: the system prompts, and the answer cut down to what is wanted.

Pure: the environment is passed in (``os.environ``, ``sys.platform`` by default), nothing runs
and nothing prints. ``qwen complete --shell`` asks for one command for the user's shell and OS
(:func:`detect`); ``--code`` asks for code only; both strip what a model adds anyway (fences,
a sentence before or after) with :func:`strip_answer`. ``--extract`` keeps the first fenced
block of a normal answer (:func:`extract`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

from qwen_cli.structs import struct

__all__ = ["Shell", "code_prompt", "detect", "extract", "shell_prompt", "strip_answer"]

# An opening fence (``` or ~~~, three or more) with an optional info string, then its body up to
# a closing fence of the same kind at least as long; or to the end (an answer cut short).
_FENCE = re.compile(
    r"^[ \t]{0,3}(?P<f>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n"
    r"(?P<body>.*?)(?:^[ \t]{0,3}(?P=f)[`~]*[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)

_OS_NAMES = {"linux": "Linux", "darwin": "macOS", "win32": "Windows", "cygwin": "Windows"}


@struct(frozen=True)
class Shell:
    """The user's shell (``bash``, ``zsh``, ``fish``, ``powershell``, ``sh`` ...) and OS."""

    name: str
    path: str  # what runs a command: $SHELL, or the shell's name to look up on PATH
    os: str  # Linux, macOS, Windows, or the platform's own name

    def argv(self, command: str) -> list[str]:
        """How to run ``command`` in this shell, as the user would type it there."""
        if self.name == "powershell":
            return [self.path, "-NoProfile", "-Command", command]
        if self.name == "cmd":
            return [self.path, "/c", command]
        return [self.path, "-c", command]


def detect(env: Mapping[str, str] | None = None, platform: str | None = None) -> Shell:
    """The user's shell from ``$SHELL`` (PowerShell from ``$PSModulePath`` on Windows), and the OS."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    osname = _OS_NAMES.get(platform, "Linux" if platform.startswith("linux") else platform)
    shell = env.get("SHELL", "").strip()
    if shell:
        base = os.path.basename(shell.replace("\\", "/")).lower().removesuffix(".exe")
        name = "powershell" if base in ("pwsh", "powershell") else base
        return Shell(name, shell, osname)
    if osname == "Windows":
        if env.get("PSModulePath"):
            return Shell("powershell", "powershell", osname)
        return Shell("cmd", env.get("COMSPEC", "cmd.exe"), osname)
    return Shell("sh", "/bin/sh", osname)


def shell_prompt(shell: Shell) -> str:
    """The system prompt of shell mode: one command, nothing else."""
    label = "PowerShell" if shell.name == "powershell" else shell.name
    return (
        f"You turn requests into one shell command for {label} on {shell.os}. "
        "Answer with the command only: one line (join steps with && or ; or a pipe), no "
        "explanation, no Markdown, no code fences, no quotes around it. If the request is "
        "ambiguous, pick the most common and safest reading. Never answer with anything but a "
        "command that can be run as it is."
    )


def code_prompt() -> str:
    """The system prompt of code mode: code only."""
    return (
        "Answer with code only: no explanation before or after it, no Markdown, no code fences. "
        "Comments inside the code are fine where they help. If a language is not named, pick "
        "the one the request implies."
    )


def extract(text: str) -> str | None:
    """The body of the first fenced code block of a Markdown ``text`` (``None``: there is none)."""
    m = _FENCE.search(text)
    if m is None:
        return None
    return _ensure_newline(m.group("body"))


def strip_answer(text: str) -> str:
    """What a shell-/code-mode answer means: the first fenced block when there is one (the
    prose around it dropped), else the text, trimmed of blank lines; ending with one newline."""
    body = extract(text)
    if body is None:
        lines = text.strip("\n").splitlines()
        # a lone ``` line left by a cut answer, or inline backticks around a whole command
        lines = [ln for ln in lines if not re.fullmatch(r"\s*(`{3,}|~{3,})\S*\s*", ln)]
        body = "\n".join(lines).strip("\n")
        if "\n" not in body and len(body) > 2 and body.startswith("`") and body.endswith("`"):
            body = body.strip("`")
    body = body.strip("\n")
    return body + "\n" if body else ""


def one_command(text: str) -> str:
    """A shell-mode answer as the command to show and run: stripped, no trailing newline."""
    return strip_answer(text).rstrip("\n")


def _ensure_newline(body: str) -> str:
    body = body.rstrip("\n")
    return body + "\n" if body else ""
