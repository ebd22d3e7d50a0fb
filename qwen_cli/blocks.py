"""Cutting a growing Markdown answer into finished top-level blocks, sans I/O.

``BlockSplitter.feed()`` looks only at new complete lines, so splitting costs
the same per delta however long the answer grows.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_ITEM = re.compile(r" {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")


def _fence_opens(line: str) -> tuple[str, int] | None:
    m = _FENCE.match(line)
    if m is None or (m.group(1)[0] == "`" and "`" in m.group(2)):
        return None
    return m.group(1)[0], len(m.group(1))


class BlockSplitter:
    """Cuts a growing Markdown text into finished top-level blocks, one new line at a time.

    A block ends at a blank line outside a fenced code block, at the closing fence (same
    character, at least as long) and around an ATX heading. A list goes on over blank lines
    while the next line is an item or indented, so it is printed whole and keeps its numbers.
    Cutting late is harmless (a block is parsed as one document); cutting inside one is not.
    """

    def __init__(self) -> None:
        self.version = 0  # bumped by every change
        self._lines: list[str] = []  # complete lines of the unfinished block
        self._pending: list[str] = []  # pieces of the incomplete last line
        self._in_list = False
        self._blanks = 0  # blank lines held back inside a list
        self._fence: tuple[str, int] | None = None
        self._fence_in_list = False

    def feed(self, text: str) -> list[str]:
        """Add a delta; return the blocks it finished (usually none)."""
        self.version += 1
        if "\n" not in text:
            self._pending.append(text)
            return []
        done: list[str] = []
        first, *rest = text.split("\n")
        self._pending.append(first)
        lines = ["".join(self._pending), *rest[:-1]]
        self._pending = [rest[-1]] if rest[-1] else []
        for line in lines:
            self._line(line, done)
        return done

    def flush(self) -> list[str]:
        """End of the answer: everything left becomes final blocks."""
        self.version += 1
        done: list[str] = []
        if self._pending:
            line, self._pending = "".join(self._pending), []
            self._line(line, done)
        self._emit(done)
        self._fence = None
        return done

    def tail(self, max_lines: int | None = None) -> str:
        """The unfinished text; an open code block cut to its fence and last ``max_lines``."""
        lines = self._lines
        if max_lines and self._fence and not self._fence_in_list and len(lines) > max_lines + 1:
            lines = [lines[0], *lines[-max_lines:]]
        pending = "".join(self._pending)
        return "\n".join(lines) + "\n" + pending if lines else pending

    def _emit(self, done: list[str]) -> None:
        if self._lines:
            done.append("\n".join(self._lines))
            self._lines = []
        self._in_list, self._blanks = False, 0

    def _keep(self, line: str) -> None:
        self._lines.extend([""] * self._blanks)
        self._blanks = 0
        self._lines.append(line)

    def _line(self, line: str, done: list[str]) -> None:
        if self._fence is not None:
            self._lines.append(line)
            stripped = line.strip()
            char, size = self._fence
            if len(stripped) >= size and stripped == char * len(stripped):
                self._fence = None
                if not self._fence_in_list:
                    self._emit(done)
        elif not line.strip():
            if self._in_list:
                self._blanks += 1
            else:
                self._emit(done)
        elif self._in_list and line[0] in " \t":  # an item's continuation, maybe a code block
            self._fence, self._fence_in_list = _fence_opens(line.lstrip()), True
            self._keep(line)
        elif self._in_list and not (
            _fence_opens(line) or _HEADING.match(line) or (self._blanks and not _ITEM.match(line))
        ):
            self._keep(line)  # the next item, or a lazy continuation line
        elif fence := _fence_opens(line):
            self._emit(done)
            self._fence, self._fence_in_list = fence, False
            self._lines.append(line)
        elif _HEADING.match(line):
            self._emit(done)
            self._lines.append(line)
            self._emit(done)
        else:
            if self._in_list:  # a paragraph after the list
                self._emit(done)
            self._in_list = self._in_list or _ITEM.match(line) is not None
            self._lines.append(line)
