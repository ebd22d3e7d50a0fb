"""A sign of life while an answer has shown nothing yet: a spinner with the elapsed time.

One line on stderr (a terminal: the caller decides), drawn by a timer thread after a short
grace period, so an answer that starts at once never flickers. It goes before anything else is
written: ``stop()`` erases it (carriage return, erase to the end of the line), leaving the cursor
where the spinner began and nothing of it in the scroll-back; ``paused()`` erases it while a
notice is written, and the next tick draws it again below.

Only qwen's own words and numbers are drawn here: no server text.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

__all__ = ["ERASE", "FRAMES", "Spinner"]

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ERASE = "\r\x1b[K"  # back to the line's start and erase it: the line is left empty


class Spinner:
    """``start()`` once, ``stop()`` once (idempotent, safe on any path out); ``label`` may change."""

    def __init__(
        self,
        stream: TextIO,
        *,
        label: str = "waiting",
        delay: float = 0.25,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self._stream, self._delay, self._interval, self._clock = stream, delay, interval, clock
        self._lock = threading.Lock()  # one writer at a time: the ticker, stop(), paused()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = False  # a spinner line is on the screen now
        self._t0 = clock()
        self.frames_drawn = 0

    def start(self) -> Spinner:
        self._t0 = self._clock()
        self._thread = threading.Thread(target=self._run, name="qwen-spinner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Erase the spinner for good; returns once nothing more will be drawn."""
        self._stopped.set()
        with self._lock:
            self._erase()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=1.0)

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopped.is_set()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Write something else on stderr: the spinner is erased first and not drawn meanwhile."""
        with self._lock:
            self._erase()
            yield

    def line(self) -> str:
        """The text of the next frame."""
        secs = max(0.0, self._clock() - self._t0)
        return f"{FRAMES[self.frames_drawn % len(FRAMES)]} {self.label} {secs:.1f}s"

    def _run(self) -> None:
        if self._stopped.wait(self._delay):
            return
        while True:
            try:
                self._draw()
            except (OSError, ValueError):  # the terminal went away: stay quiet
                return
            if self._stopped.wait(self._interval):
                return

    def _draw(self) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            text = self.line()[: max(1, self._columns() - 1)]  # one line: never wraps, so erasable
            self._stream.write("\r" + text + "\x1b[K")
            self._stream.flush()
            self._shown = True
            self.frames_drawn += 1

    def _erase(self) -> None:
        if self._shown:
            self._shown = False
            with contextlib.suppress(OSError, ValueError):
                self._stream.write(ERASE)
                self._stream.flush()

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self._stream.fileno()).columns or 80
        except (OSError, ValueError, AttributeError):
            return 80
