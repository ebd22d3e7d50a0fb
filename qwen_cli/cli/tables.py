"""Rows on stdout: an aligned table fitted to a terminal's width, tab-separated lines elsewhere."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int] = (),
    wide: int = -1,
    drop: Sequence[int] = (),
    color: bool = True,
) -> None:
    """Rows on stdout: a table on a terminal, tab-separated lines elsewhere.

    On a terminal each row is one line: the ``wide`` column gives way with an ellipsis, and when
    the screen is still too narrow the ``drop`` columns go, in order; nothing else is cut.
    """
    if not sys.stdout.isatty():
        for row in rows:
            sys.stdout.write("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row) + "\n")
        sys.stdout.flush()
        return
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from qwen_cli import render
    from qwen_cli.safetext import visible

    plain = not color or "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"
    console = Console(highlight=False, color_system=None if plain else "auto", emoji=False)
    rows = [[visible(cell) for cell in row] for row in rows]  # stored text never drives the terminal
    widths = [max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    least = list(widths)
    if 0 <= wide < len(headers):
        least[wide] = min(widths[wide], max(cell_len(headers[wide]), 12))
    kept = render.fit_columns(least, console.width, list(drop))
    if wide in kept:
        room = console.width - sum(widths[i] for i in kept if i != wide) - 2 * (len(kept) - 1)
        widths[wide] = max(min(widths[wide], room), least[wide])
    table = Table(box=None, header_style="bold", pad_edge=False)
    for i in kept:
        table.add_column(headers[i], justify="right" if i in right else "left", no_wrap=True, width=widths[i])
    for row in rows:
        texts = [Text(row[i]) for i in kept]  # nor is it read as markup
        for text, i in zip(texts, kept, strict=True):
            if i == wide:
                text.truncate(widths[i], overflow="ellipsis")
        table.add_row(*texts)
    render.print_unpadded(console, table)
