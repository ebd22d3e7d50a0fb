"""What `qwen batch run` shows on stderr: a rich bar on a terminal, plain lines otherwise, the summary."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwen_cli.batch.local import Counts

PLAIN_EVERY = 5.0  # seconds between plain progress lines


def _eta(c: Counts) -> str:
    sent = c.finished
    left = c.to_send - sent
    if sent == 0 or left <= 0:
        return "-"
    secs = c.elapsed / sent * left
    return f"{secs / 60:.0f}m" if secs >= 120 else f"{secs:.0f}s"


def _cost(c: Counts) -> str:
    if not c.currency:
        return ""
    return f" · ~{c.currency}{c.cost:.4f}" if c.cost < 1 else f" · ~{c.currency}{c.cost:.2f}"


def status_line(c: Counts) -> str:
    rate = c.finished / c.elapsed if c.elapsed > 0 else 0.0
    tokens = c.prompt_tokens + c.completion_tokens
    return (
        f"{c.finished}/{c.to_send} · {c.failed} failed · {rate:.1f}/s · {tokens:,} tokens"
        f"{_cost(c)}{_limited(c)} · ETA {_eta(c)}"
    )


def _limited(c: Counts) -> str:
    """The 429s so far, and the wait they impose now: a paused run must not look hung."""
    if not c.rate_limited:
        return ""
    wait = c.paused_until - time.monotonic()
    return f" · 429 ×{c.rate_limited}" + (f", waiting {wait:.0f}s" if wait >= 0.5 else "")


class BatchProgress:
    """``update(counts)`` after each request; ``close()`` at the end. Cheap to call often."""

    def __init__(self, *, terminal: bool, no_color: bool = False) -> None:
        self.terminal = terminal
        self._last = time.monotonic()
        self._progress: Any = None
        self._task: Any = None
        self._no_color = no_color
        self._counts: Counts | None = None

    def start(self, c: Counts) -> None:
        self._counts = c
        if not self.terminal or c.to_send == 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        console = Console(file=sys.stderr, no_color=self._no_color, highlight=False)
        self._progress = Progress(
            TextColumn("batch"),
            BarColumn(bar_width=None),
            TextColumn("{task.fields[status]}", markup=False),
            console=console,
            transient=True,
            refresh_per_second=4,
            expand=True,
        )
        self._task = self._progress.add_task("batch", total=c.to_send, status=status_line(c))
        self._progress.start()

    def update(self, c: Counts) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=c.finished, status=status_line(c))
            return
        now = time.monotonic()
        if now - self._last >= PLAIN_EVERY:
            self._last = now
            sys.stderr.write(f"qwen: batch: {status_line(c)}\n")
            sys.stderr.flush()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def summary(c: Counts, output: str, *, interrupted: bool = False) -> str:
    """The lines of the end summary (stderr)."""
    head = "interrupted" if interrupted else "done"
    tokens = f"{c.prompt_tokens:,} in + {c.completion_tokens:,} out tokens"
    lines = [
        f"qwen: batch {head}: {c.done} answered, {c.failed} failed, {c.cached} from cache, "
        f"{c.skipped} answered before (of {c.total})",
        f"qwen: {tokens}{_cost(c)} · {c.elapsed:.1f}s"
        + (f" · {c.rate_limited} rate-limited, retried" if c.rate_limited else ""),
        f"qwen: results in {output}",
    ]
    if interrupted:
        lines.append("qwen: run the same command again to send only what has no answer yet")
    elif c.failed:
        lines.append("qwen: --retry-failed sends the failed ones again")
    return "\n".join(lines) + "\n"
