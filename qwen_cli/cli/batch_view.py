"""How ``qwen batch`` shows batches: one batch's block, the table of many, ``wait``'s progress.

Ids and the server's text never drive the terminal (``safetext``); ids are never cut: a table
too wide for the terminal drops whole columns (the name first, then the time, the failures).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from qwen_cli.safetext import visible

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from qwen_cli.batch.jobs import Job
    from qwen_cli.batch.remote import BatchInfo


def when(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def label(b: BatchInfo, job: Job | None) -> str:
    """What a batch is about: its local input file (and part), else its name on the server."""
    if job is not None:
        from pathlib import Path

        part = f" ({job.part}/{job.parts})" if job.parts > 1 else ""
        return Path(job.input).name + part
    return b.name or "-"


def done(b: BatchInfo) -> str:
    c = b.counts
    return f"{c.completed + c.failed}/{c.total}" if c.total else "-"


def block(b: BatchInfo, job: Job | None) -> str:
    """One batch, ``key: value`` a line."""
    c = b.counts
    rows = [
        ("id", b.id),
        ("status", b.status),
        ("requests", f"{c.total} total, {c.completed} completed, {c.failed} failed" if c.total else "-"),
        ("created", when(b.created_at)),
        ("window", b.completion_window or "-"),
        ("input", job.input if job is not None else (b.input_file_id or "-")),
        ("model", job.model if job is not None else "-"),
        ("output file", b.output_file_id or "-"),
        ("error file", b.error_file_id or "-"),
    ]
    if b.name:
        rows.append(("name", b.name))
    rows += [("error", e) for e in b.errors]
    return "".join(f"{k + ':':<13}{v}\n" for k, v in rows)


def table(items: list[BatchInfo], jobs: dict[str, Job], *, out: TextIO, width: int, bold: bool) -> None:
    """The batches as a table on a terminal (columns kept to ``width``), tab-separated elsewhere."""
    header = ("id", "status", "done", "failed", "created", "input or name")
    rows = [
        (b.id, b.status, done(b), str(b.counts.failed), when(b.created_at), label(b, jobs.get(b.id)))
        for b in items
    ]
    from qwen_cli.safetext import is_terminal

    if not is_terminal(out):
        out.write("".join("\t".join(r) + "\n" for r in rows))
        return
    from qwen_cli.render import fit_columns

    cells = [tuple(visible(c) for c in r) for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    least = [*widths[:-1], min(widths[-1], 12)]  # the name may be cut to fit, nothing else
    kept = fit_columns(least, width, [5, 4, 3])
    room = width - sum(widths[i] + 2 for i in kept[:-1])
    for n, r in enumerate(cells):
        parts = []
        for i in kept:
            text = r[i]
            if i == 5 and len(text) > max(room, 1):
                text = text[: max(room - 1, 0)] + "…"
            parts.append(
                text.rjust(widths[i]) if i in (2, 3) else text.ljust(widths[i]) if i != kept[-1] else text
            )
        line = "  ".join(parts).rstrip()
        out.write((f"\x1b[1m{line}\x1b[0m" if n == 0 and bold else line) + "\n")


class WaitView:
    """``wait``'s progress on stderr: a rich bar on a terminal, a plain line per change elsewhere."""

    def __init__(self, *, live: bool, color: bool, err: TextIO | None = None) -> None:
        self.live = live
        self.color = color
        self.err = err or sys.stderr
        self._last = ""
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def update(self, b: BatchInfo) -> None:
        c = b.counts
        text = f"{b.id}: {b.status}, {done(b)} done" + (f", {c.failed} failed" if c.failed else "")
        if not self.live:
            if text != self._last:
                self.err.write(visible(text) + "\n")
                self.err.flush()
            self._last = text
            return
        progress = self._bars()
        desc = visible(f"{b.status} {b.id}")
        if self._task is None:
            self._task = progress.add_task(desc, total=c.total or None)
        progress.update(self._task, description=desc, total=c.total or None, completed=c.completed + c.failed)

    def _bars(self) -> Progress:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            console = Console(file=self.err, no_color=not self.color, highlight=False)
            self._progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(bar_width=None),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                expand=False,
            )
            self._progress.start()
        return self._progress

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
