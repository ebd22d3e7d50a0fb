"""Progress bars on stderr for uploads that take more than a moment (rich, drawn only here)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from qwen_cli.attachments import Attachment

ProgressHook = Callable[[int], None]

MIN_BYTES = 1024 * 1024  # a file this big gets a bar from its first byte
MIN_SECONDS = 0.5  # a smaller one only once its upload has taken this long


class UploadProgress:
    """``hook(attachment)`` gives the uploader a callback; bars appear only when worth it.

    Disabled (no bars at all) when stderr is not a terminal. The bars are transient: they
    vanish when the uploads end, before the answer starts.
    """

    def __init__(
        self,
        *,
        enabled: bool,
        no_color: bool = False,
        clock: Callable[[], float] = time.monotonic,
        console: Any = None,
    ) -> None:
        self.enabled = enabled
        self._no_color = no_color
        self._clock = clock
        self._console = console
        self._progress: Progress | None = None

    def hook(self, att: Attachment) -> ProgressHook | None:
        if not self.enabled:
            return None
        start = self._clock()
        task: TaskID | None = None

        def on_progress(done: int) -> None:
            nonlocal task
            if task is None:
                if att.size < MIN_BYTES and self._clock() - start < MIN_SECONDS:
                    return
                task = self._bars().add_task(f"uploading {att.name}", total=att.size)
            self._bars().update(task, completed=min(done, att.size))

        return on_progress

    def _bars(self) -> Progress:
        if self._progress is None:
            import sys

            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            console = self._console or Console(file=sys.stderr, no_color=self._no_color, highlight=False)
            self._progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self._progress.start()
        return self._progress

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __enter__(self) -> UploadProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
