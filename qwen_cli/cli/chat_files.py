"""How a chat's files are shown while they go: progress bars, and a line once each is sent.

The files themselves (``/attach``, uploads, references sent again) are the engine's:
:mod:`qwen_cli.engine.files`.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from qwen_cli.cli.report import notice
from qwen_cli.engine.files import ATTACH_HINT

if TYPE_CHECKING:
    from qwen_cli.attachments import Sent
    from qwen_cli.cli.answer import Output
    from qwen_cli.cli.progress import UploadProgress

__all__ = ["ATTACH_HINT", "FilesShown"]


class FilesShown:
    """The CLI's :class:`~qwen_cli.engine.files.FileView`: bars on a terminal, notices on stderr."""

    def __init__(self, out: Output) -> None:
        self.out = out

    @property
    def recall(self) -> str:
        return " (Up recalls it)" if sys.stdin.isatty() else ""

    def bars(self) -> UploadProgress:
        from qwen_cli.cli.progress import UploadProgress

        shown = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
        return UploadProgress(enabled=shown, no_color=not self.out.color_err)

    def told(self, sent: Sent) -> None:
        from qwen_cli.cli.upload import sent_note

        line = sent_note(sent)
        if line and not self.out.quiet:
            notice(line, color=self.out.color_err, style="dim")
