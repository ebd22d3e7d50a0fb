"""Showing answers: the only module that draws with rich.

* `PlainRenderer` (pipes, files, no colour): the deltas exactly as received, flushed; nothing
  else ever reaches ``out``. On a terminal (``--no-color``) control characters are made visible.
* `MarkdownRenderer` (terminals): `BlockSplitter` cuts the growing answer into finished
  top-level Markdown blocks, looking only at new complete lines. ``content()`` only feeds it;
  a timer thread, at most ten times a second and only when something changed, prints the
  blocks finished since its last tick once into the scroll-back (never redrawn) and redraws
  the unfinished tail in a `rich.live.Live` region cropped to the screen.

Text from a server never drives the terminal: whatever this module draws there goes through
`qwen_cli.safetext` (in Markdown, before parsing and again after, since entities such as
``&#x202E;`` become characters). Pipes and files get the text unchanged.

rich is imported inside the functions that draw, so importing this module is cheap. Nothing
here reads the environment: callers pass the flags.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, TextIO

from qwen_cli.blocks import BlockSplitter
from qwen_cli.safetext import is_safe, is_terminal, shown, visible

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live
    from rich.segment import Segment

    from qwen_cli.types import SearchSource, Usage

    Lines = list[list[Segment]]


class Renderer(Protocol):
    @property
    def shows_reasoning(self) -> bool: ...  # thinking is drawn (else dropped)
    def reasoning(self, text: str) -> None: ...
    def content(self, text: str) -> None: ...
    def sources(self, items: list[SearchSource]) -> None: ...
    def finish(self) -> None: ...


class PlainRenderer:
    """Raw text for pipes and files: the deltas exactly as received, nothing else on ``out``.

    On a terminal (``--no-color``) the deltas have their control characters made visible.
    """

    shows_reasoning = False

    def __init__(self, *, out: TextIO, err: TextIO) -> None:
        self._out, self._err = out, err
        self._safe = is_terminal(out)
        self._last = ""
        self._sources: list[SearchSource] = []

    def reasoning(self, text: str) -> None:
        """Thinking is not part of the answer: dropped in plain mode."""

    def content(self, text: str) -> None:
        if text:
            self._out.write(visible(text) if self._safe else text)
            self._out.flush()
            self._last = text

    def sources(self, items: list[SearchSource]) -> None:
        self._sources.extend(items)

    def finish(self) -> None:
        if self._last and not self._last.endswith("\n"):
            self._out.write("\n")
            self._out.flush()
        self._last = ""
        for n, src in enumerate(self._sources, 1):
            number, title = source_parts(n, src)
            line = f"[{number}] {title}" + (f" ({src.site})" if src.site and src.site != title else "")
            line += f" - {src.url}\n" if src.url and src.url != title else "\n"
            self._err.write(shown(line, self._err))
        if self._sources:
            self._err.flush()
            self._sources = []


class _Lines:
    """Rendered lines printed as they are; given a function, the lines it returns."""

    def __init__(self, lines: Lines | Callable[[ConsoleOptions], Lines]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.segment import Segment

        new_line = Segment.line()
        for line in self.lines(options) if callable(self.lines) else self.lines:
            yield from line
            yield new_line


def _is_blank(line: list[Segment]) -> bool:
    return not any(s.text.strip() for s in line if not s.control)


def _rstrip(line: list[Segment]) -> list[Segment]:
    """``line`` without trailing spaces: rich pads every line to the full width, and padding
    makes a terminal that reflows on resize (tmux, most of them) double every line."""
    end = len(line)
    while end and not line[end - 1].control and not line[end - 1].text.rstrip():
        end -= 1
    if end and not line[end - 1].control:
        last = line[end - 1]
        text = last.text.rstrip()
        if text != last.text or end < len(line):
            from rich.segment import Segment

            return [*line[: end - 1], Segment(text, last.style)]
    return line if end == len(line) else line[:end]


_RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")


def _ends_with_rule(blocks: list[str]) -> bool:
    """Is the last block a thematic break (a rule)? rich spaces what follows one differently."""
    return bool(blocks) and _RULE.fullmatch(blocks[-1].strip("\n")) is not None


class _Part:
    """A rendered piece of an answer: its lines without blank lines at either end, the blank
    lines a one-shot render puts between what came before and it (``gap``) and after it
    (``trail``, owed to the next piece). So the scroll-back of a stream printed piece by piece
    equals the one-shot render of the whole answer."""

    __slots__ = ("gap", "lines", "trail")

    def __init__(self, gap: int, lines: Lines, trail: int) -> None:
        self.gap, self.lines, self.trail = gap, lines, trail


def _render_part(
    console: Console, text: str, code_theme: str, *, after: str | None = None, rule: bool = False
) -> _Part:
    """``text`` as Markdown, rendered to lines without trailing spaces.

    ``after``: a stand-in for what precedes ``text`` in the answer ("x", or "---" after a rule),
    rendered first to measure the gap rich leaves before ``text`` in a whole document. ``rule``:
    ``text`` ends with a rule, after which rich's own trailing blank line is not a gap.

    Control characters are made visible before parsing (so the layout counts them) and, where
    the parser made new ones from entities (``&#x202E;``), again in the rendered lines.
    """
    from rich.markdown import Markdown

    source = visible(text) if after is None else f"{after}\n\n{visible(text)}"
    lines = console.render_lines(Markdown(source, code_theme=code_theme), pad=False)
    start, end = 0, len(lines)
    while start < end and _is_blank(lines[start]):
        start += 1
    if after is not None and start < end:
        start += 1  # the stand-in's one line
    first = start
    while start < end and _is_blank(lines[start]):
        start += 1
    while end > start and _is_blank(lines[end - 1]):
        end -= 1
    body = [_visible_line(_rstrip(line)) for line in lines[start:end]]
    trail = max(0, len(lines) - end - (1 if rule else 0))
    return _Part(start - first if after is not None else 0, body, trail)


def _render(console: Console, text: str, code_theme: str) -> Lines:
    """``text`` as Markdown, rendered to lines, without blank lines around it."""
    return _render_part(console, text, code_theme).lines


def _visible_line(line: list[Segment]) -> list[Segment]:
    if all(s.control or is_safe(s.text) for s in line):
        return line
    from rich.segment import Segment

    return [s if s.control else Segment(visible(s.text), s.style) for s in line]


class MarkdownRenderer:
    """Live Markdown on a terminal: finished blocks printed once, only the tail redrawn.

    Safe against its own timer thread; every other call belongs to one thread.
    """

    def __init__(
        self,
        out: Console,
        err: Console,
        *,
        show_reasoning: bool = True,
        code_theme: str = "monokai",
        refresh_per_second: float = 10.0,
    ) -> None:
        self._out, self._err = out, err
        self._show_reasoning, self._code_theme = show_reasoning, code_theme
        self._interval = 1.0 / refresh_per_second
        self._lock = threading.RLock()  # guards the splitter and every write to ``out``
        self._dim = ("", "")
        self._err_safe = is_terminal(err.file)  # reasoning in a file stays as it came
        self._reset()

    def _reset(self) -> None:
        self._splitter = BlockSplitter()
        self._done: list[str] = []  # finished blocks not printed yet
        self._live: Live | None = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._drawn = -1  # the splitter version on screen
        self._tail_key: tuple[int, ...] = ()
        self._tail_cache: Lines = []
        self._after_rule = False  # the last printed block is a rule
        self._owed = 0  # blank lines rich put after the last printed block, not printed yet
        self._width = 0  # the screen width the live region was last drawn at
        self._shown: list[int] = []  # the cell length of each line of the live region on screen
        self._reasoning_open, self._reasoning_ended_line = False, True
        self._sources: list[SearchSource] = []
        self.blocks_printed = 0

    @property
    def shows_reasoning(self) -> bool:
        return self._show_reasoning

    def reasoning(self, text: str) -> None:
        if not text or not self._show_reasoning or self._live is not None:
            return  # once the answer began, thinking would tear the live region: dropped
        if self._err_safe:
            text = visible(text)
        if text:
            if not self._reasoning_open:
                self._dim = self._style_codes("dim")
            self._err.file.write(self._dim[0] + text + self._dim[1])
            self._err.file.flush()
            self._reasoning_open, self._reasoning_ended_line = True, text.endswith("\n")

    def content(self, text: str) -> None:
        if text:
            with self._lock:
                if self._live is None:
                    self._start()
                self._done += self._splitter.feed(text)

    def sources(self, items: list[SearchSource]) -> None:
        self._sources.extend(items)

    def finish(self) -> None:
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(timeout=2.0)
        with self._lock:
            try:
                self._end_reasoning()
                if self._live is not None:
                    try:
                        self._remeasure()
                        self._done += self._splitter.flush()
                        self._print_done()
                    finally:
                        self._live.stop()
                if self._sources:
                    self._print_sources()
            finally:
                self._reset()

    def refresh(self) -> None:
        """Print the blocks finished since the last call and redraw the tail, if anything changed.

        The timer thread calls this; ``content()`` itself never draws.
        """
        with self._lock:
            if self._live is not None and (self._remeasure() or self._drawn != self._splitter.version):
                self._drawn = self._splitter.version
                if not self._print_done():  # printing redraws the tail after the blocks
                    self._live.refresh()

    def _remeasure(self) -> bool:
        """True if the screen's width changed since the live region was drawn (SIGWINCH).

        The terminal has reflowed the region (tmux and most terminals do; no line carries
        trailing spaces, so a line of L cells now takes ceil(L / width) rows): the next redraw
        must move up over all those rows, or the old region stays on screen as a duplicate.
        """
        width = self._out.size.width
        if width == self._width or self._live is None:
            return False
        render = self._live._live_render
        if self._width and render._shape is not None:
            rows = sum(max(1, -(-n // width)) for n in self._shown) or 1
            render._shape = (width, rows)
        self._width = width
        return True

    def _start(self) -> None:
        from rich.live import Live

        self._end_reasoning(blank=True)
        self._live = Live(
            _Lines(self._tail_lines),
            console=self._out,
            auto_refresh=False,  # our timer redraws, and only when something changed
            transient=True,  # at the end the tail is printed as blocks, then the region goes
            redirect_stdout=False,
            redirect_stderr=False,
            vertical_overflow="visible",  # _tail_lines crops to the screen itself
        )
        self._live.start()
        self._ticker = threading.Thread(target=self._tick, name="qwen-render", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
            except Exception:  # the main thread meets the same failure in finish()
                return

    def _end_reasoning(self, *, blank: bool = False) -> None:
        if self._reasoning_open:
            self._reasoning_open = False
            if ending := ("" if self._reasoning_ended_line else "\n") + ("\n" if blank else ""):
                self._err.file.write(ending)
                self._err.file.flush()

    def _print_done(self) -> bool:
        """Print the finished blocks above the live region, as one document; False if none."""
        done, self._done = self._done, []
        if not done:
            return False
        part = self._part("\n\n".join(done), rule=_ends_with_rule(done))
        if not part.lines:
            return False
        lines = self._gap(part) + part.lines
        self.blocks_printed += len(done)
        self._owed, self._after_rule = part.trail, _ends_with_rule(done)
        self._out.print(_Lines(lines), crop=False)  # Live's hook clears the region first
        return True

    def _part(self, text: str, *, rule: bool = False) -> _Part:
        after = ("---" if self._after_rule else "x") if self.blocks_printed else None
        return _render_part(self._out, text, self._code_theme, after=after, rule=rule)

    def _gap(self, part: _Part) -> Lines:
        """The blank lines between what is printed and ``part``, as in a one-shot render."""
        return [[] for _ in range(self._owed + part.gap)] if self.blocks_printed else []

    def _tail_lines(self, options: ConsoleOptions) -> Lines:
        """The tail rendered (at most once per change), cropped to its last lines: a quarter of the
        screen (every line is drawn again at each change; the whole block is printed when done)."""
        from rich.segment import Segment

        height = max(2, min(options.size.height, options.size.height // 4 + 1))
        key = (self._splitter.version, options.max_width, height, self.blocks_printed)
        if key != self._tail_key:
            text = self._splitter.tail(max_lines=height)
            part = self._part(text) if text.strip() else None
            lines = self._gap(part) + part.lines if part is not None and part.lines else []
            self._tail_cache, self._tail_key = lines[-max(1, height - 1) :], key
            self._shown = [Segment.get_line_length(line) for line in self._tail_cache]
            self._width = options.max_width
        return self._tail_cache

    def _print_sources(self) -> None:
        """The sources, numbered as the answer's ``[ref_N]`` markers, on stderr when it is the
        terminal (else under the answer on stdout, the terminal: never into a log file); linked
        where the terminal can (OSC 8, and only to a plain web address)."""
        from rich.style import Style
        from rich.text import Text

        console = self._err if self._err_safe else self._out
        if console is self._err or self.blocks_printed:
            console.line()
        for n, src in enumerate(self._sources, 1):
            number, title = source_parts(n, src)
            site = src.site or src.hostname
            line = Text(f"[{number}] ", style="dim")
            line.append(visible(title), style="dim bold")
            if site and src.title and site != title:
                line.append(f" — {visible(site)}", style="dim")
            if src.url:
                link = src.url if is_safe(src.url) and src.url.startswith(("https://", "http://")) else None
                line.append(f" {visible(src.url)}", style=Style(dim=True, link=link))
            console.print(line, soft_wrap=True)

    def _style_codes(self, style: str) -> tuple[str, str]:
        """The escape codes that open and close ``style`` on the err console."""
        from rich.text import Text

        with self._err.capture() as capture:
            self._err.print(Text("\0", style=style), end="")
        before, _, after = capture.get().partition("\0")
        return before, after


def source_parts(n: int, s: SearchSource) -> tuple[int, str]:
    """A source's number (its ``[ref_N]`` index, else its place) and title."""
    return (s.index if s.index is not None else n), (s.title or s.site or s.hostname or s.url or "(untitled)")


def _console(
    file: TextIO, *, terminal: bool, color: bool, width: int | None = None, height: int | None = None
) -> Console:
    from rich.console import Console

    return Console(
        file=file,
        force_terminal=terminal,
        color_system="auto" if color else None,
        no_color=not color,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
        width=width,
        height=height,
    )


def make_renderer(
    *,
    out: TextIO,
    err: TextIO,
    terminal: bool,
    color: bool,
    show_reasoning: bool = True,
    code_theme: str = "monokai",
    width: int | None = None,
    height: int | None = None,
) -> Renderer:
    """Live Markdown when ``out`` is a terminal, raw text otherwise. Width/height: for tests."""
    if not terminal:
        return PlainRenderer(out=out, err=err)
    return MarkdownRenderer(
        _console(out, terminal=True, color=color, width=width, height=height),
        _console(err, terminal=True, color=color, width=width, height=height),
        show_reasoning=show_reasoning,
        code_theme=code_theme,
    )


def render_markdown(text: str, *, out: TextIO, terminal: bool, color: bool) -> None:
    """A whole answer at once: Markdown on a terminal, the raw text otherwise."""
    if terminal and text.strip():
        console = _console(out, terminal=True, color=color)
        console.print(_Lines(_render(console, text, "monokai")), crop=False)
    elif text and not terminal:
        text = shown(text, out)  # plain (NO_COLOR) on a terminal: still never obeyed
        out.write(text if text.endswith("\n") else text + "\n")
        out.flush()


def markdown_pages(text: str, *, width: int, color: bool, blocks: int = 30) -> Iterator[str]:
    """``text`` rendered for a terminal (as `render_markdown` draws it) a few ``blocks`` at a
    time, so a pager shows the first screen of a long conversation at once."""
    import io

    buf = io.StringIO()
    console = _console(buf, terminal=True, color=color, width=width)
    splitter = BlockSplitter()
    done = splitter.feed(text) + splitter.flush()
    owed, rule, started = 0, False, False
    for at in range(0, len(done), blocks):
        group = done[at : at + blocks]
        after = ("---" if rule else "x") if started else None
        part = _render_part(console, "\n\n".join(group), "monokai", after=after, rule=_ends_with_rule(group))
        if not part.lines:
            continue
        gap: Lines = [[] for _ in range(owed + part.gap)] if started else []
        console.print(_Lines(gap + part.lines), crop=False)
        owed, rule, started = part.trail, _ends_with_rule(group), True
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def print_unpadded(console: Console, renderable: object) -> None:
    """Print ``renderable`` (a rich Table) without the spaces rich pads each line with."""
    lines = console.render_lines(renderable, pad=False)  # type: ignore[arg-type]
    console.print(_Lines([_rstrip(line) for line in lines]), crop=False)


def fit_columns(widths: list[int], room: int, drop_order: list[int], *, gap: int = 2) -> list[int]:
    """The columns of a table to keep so that it fits in ``room`` cells: each column at least
    ``widths[i]`` wide (numbers and ids are never cut), ``gap`` cells between columns, the
    columns in ``drop_order`` left out first to last until it fits."""
    kept = list(range(len(widths)))
    for i in drop_order:
        if sum(widths[k] for k in kept) + gap * (len(kept) - 1) <= room:
            break
        kept.remove(i)
    return kept


def format_footer(
    *,
    model: str,
    usage: Usage | None,
    elapsed: float,
    first_token_at: float | None = None,
    cost: str | None = None,
    ending: str | None = None,
    output_closed: bool = False,
) -> str:
    """One plain line: model, token counts, time, speed, cost; only numbers the server gave.

    ``ending``: how a cut answer ended (``types.cut_note``); ``output_closed``: qwen stopped
    reading because stdout's reader went away, so a missing usage is not the server's doing.
    """
    parts = [model]
    if output_closed:
        parts.append("qwen stopped reading (output closed)")
    if ending is not None:
        parts.append(ending)
    if usage is None:
        if not output_closed:
            parts.append("usage not reported by the server")
    else:
        parts += [f"{usage.prompt_tokens} in", f"{usage.completion_tokens} out"]
        parts.append(f"{usage.total_tokens} total")
        if usage.reasoning_tokens is not None:
            parts.append(f"reasoning {usage.reasoning_tokens}")
        if usage.cached_tokens:  # "cached 0" says nothing
            parts.append(f"cached {usage.cached_tokens}")
        if usage.cache_creation_tokens:
            parts.append(f"cache write {usage.cache_creation_tokens}")
    parts.append(f"{elapsed:.2f}s")
    if usage is not None and usage.completion_tokens > 0:
        # Speed over the answer's streaming time when known, else over the whole request.
        span = elapsed - first_token_at if first_token_at is not None else elapsed
        if span < 0.25:  # an answer that arrived at once says nothing of generation speed
            span = elapsed
        if span >= 0.25:
            parts.append(f"{usage.completion_tokens / span:.1f} tok/s")
    if cost is not None:
        parts.append(cost)
    return " · ".join(parts)


# The styles of one-line notices, as SGR codes: a notice needs no rich (``qwen chat`` prints its
# banner before the first prompt, and importing rich for it was a sixth of the start-up).
_SGR = {"dim": "2", "bold": "1", "dim bold": "2;1", "yellow": "33", "red": "31", "green": "32"}


def _print_line(text: str, *, err: TextIO, color: bool, style: str) -> None:
    text = shown(text, err)  # model names, titles, server messages: never obeyed
    if color and style in _SGR:
        err.write(f"\x1b[{_SGR[style]}m{text}\x1b[0m\n")
        err.flush()
    elif color:
        from rich.text import Text

        _console(err, terminal=True, color=True).print(Text(text, style=style), soft_wrap=True)
    else:
        err.write(text + "\n")
        err.flush()


SEP = " · "
# Footer parts a narrow terminal can do without (the total is in + out; the speed is out / time).
FOOTER_EXTRAS = (" total", " tok/s")


def fit_line(line: str, width: int, *, drop: tuple[str, ...] = ()) -> list[str]:
    """``line`` (parts joined by `` · ``) in lines of at most ``width`` cells: as it is when it
    fits; else without the parts that end with one of ``drop``; else wrapped between parts,
    never inside one (a part wider than the screen gets a line of its own)."""
    from rich.cells import cell_len

    if cell_len(line) <= width:
        return [line]
    parts = [p for p in line.split(SEP) if not p.endswith(drop)] or line.split(SEP)
    lines: list[str] = []
    for part in parts:
        if lines and cell_len(lines[-1] + SEP + part) <= width:
            lines[-1] += SEP + part
        else:
            lines.append(part)
    return lines


def wrap_lines(text: str, width: int | None, indent: int) -> str:
    """``text`` with each line longer than ``width`` wrapped between words, its continuation
    lines indented by ``indent`` spaces (under a label column); unchanged when ``width`` is None
    (not a terminal: one line per item, for programs)."""
    if width is None:
        return text
    import textwrap

    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        out += textwrap.wrap(
            line, width, subsequent_indent=" " * indent, break_on_hyphens=False, drop_whitespace=True
        ) or [line]
    return "\n".join(out)


def terminal_width(stream: TextIO) -> int | None:
    """The width of the terminal ``stream`` writes to; None when it is not a terminal."""
    if not is_terminal(stream):
        return None
    import os
    import shutil

    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (OSError, ValueError, AttributeError):
        return shutil.get_terminal_size().columns or None


def print_footer(line: str, *, err: TextIO, color: bool, width: int | None = None) -> None:
    """The footer on stderr: dim on a colour terminal, plain otherwise. On a terminal (or given
    ``width``) it is fitted to the width (:func:`fit_line`); in a pipe it stays one line."""
    width = width or terminal_width(err)
    for part in fit_line(line, width, drop=FOOTER_EXTRAS) if width else [line]:
        _print_line(part, err=err, color=color, style="dim")


def print_notice(text: str, *, err: TextIO, color: bool, style: str = "yellow") -> None:
    """A one-line warning on stderr; ``text`` is never read as markup."""
    _print_line(text, err=err, color=color, style=style)


def print_code(code: str, *, out: TextIO, lexer: str, color: bool) -> None:
    """Code for the eye (``--code``, ``--shell`` on a terminal): highlighted when ``color``, its
    control characters made visible either way; ``lexer`` is a Pygments name (unknown: plain)."""
    code = visible(code.rstrip("\n"))
    if not color:
        out.write(code + "\n")
        out.flush()
        return
    from rich.syntax import Syntax

    syntax = Syntax(code, lexer or "text", theme="monokai", background_color="default", word_wrap=True)
    _console(out, terminal=True, color=True).print(syntax)


def print_json(text: str, *, out: TextIO, color: bool) -> None:
    """A JSON document (as ``json.dumps`` wrote it) on a terminal, highlighted; whatever it
    holds is escaped first, so it stays the same data and never drives the terminal."""
    from rich.highlighter import JSONHighlighter
    from rich.text import Text

    from qwen_cli.safetext import visible_json

    doc = Text(visible_json(text))
    if color:
        JSONHighlighter().highlight(doc)
    _console(out, terminal=True, color=color).print(doc, crop=False, soft_wrap=True)
