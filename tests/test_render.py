"""The renderers, judged by the bytes they write.

Terminal output is replayed through a tiny terminal (`Screen`) that honours the cursor
movements rich's Live region uses and, like a real terminal, cannot move the cursor above the
top of the screen. What ends up in its scroll-back is what a user would see: every finished
block must be there exactly once, whatever the live region did in between and whenever its
timer fired.
"""

from __future__ import annotations

import io
import re
import threading

import pytest

from qwen_cli import render
from qwen_cli.render import BlockSplitter, MarkdownRenderer, PlainRenderer
from qwen_cli.types import CompletionTokensDetails, PromptTokensDetails, SearchSource, Usage

WIDTH, HEIGHT = 80, 24
ESC = "\x1b"
_CONTROL = re.compile(r"\x1b(?:\[([0-9;?]*)([A-Za-z])|\][^\x1b\x07]*(?:\x1b\\|\x07))|[\r\n]")


class Screen:
    """Scroll-back plus a ``height``-line screen; the cursor cannot leave the screen upwards."""

    def __init__(self, height: int = HEIGHT) -> None:
        self.height = height
        self.lines: list[str] = [""]
        self.row = self.col = 0

    def feed(self, data: str) -> Screen:
        pos = 0
        for m in _CONTROL.finditer(data):
            self._text(data[pos : m.start()])
            pos = m.end()
            token, args, cmd = m.group(0), m.group(1) or "", m.group(2)
            if token == "\r":
                self.col = 0
            elif token == "\n":
                self.row, self.col = self.row + 1, 0
                if self.row == len(self.lines):
                    self.lines.append("")
            elif cmd == "A":
                top = max(0, len(self.lines) - self.height)
                self.row = max(top, self.row - int(args or 1))
            elif cmd == "K":
                self.lines[self.row] = ""
            elif cmd not in ("m", "h", "l", None):
                raise AssertionError(f"unexpected control sequence {token!r}")
        self._text(data[pos:])
        return self

    def _text(self, text: str) -> None:
        if text:
            line = self.lines[self.row].ljust(self.col)
            self.lines[self.row] = line[: self.col] + text + line[self.col + len(text) :]
            self.col += len(text)

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines)


def terminal(*, show_reasoning: bool = True) -> tuple[MarkdownRenderer, io.StringIO, io.StringIO]:
    """A terminal renderer writing to StringIO, as make_renderer builds it for a TTY."""
    out, err = io.StringIO(), io.StringIO()
    r = render.make_renderer(
        out=out, err=err, terminal=True, color=True, show_reasoning=show_reasoning, width=WIDTH, height=HEIGHT
    )
    assert isinstance(r, MarkdownRenderer)
    return r, out, err


def feed_chars(r: render.Renderer, text: str, *, refresh_every: int = 41) -> None:
    """1-character deltas, drawing the live region now and then (besides its own timer)."""
    for n, ch in enumerate(text):
        r.content(ch)
        if isinstance(r, MarkdownRenderer) and n % refresh_every == 0:
            r.refresh()


def strip_ansi(s: str) -> str:
    return re.sub(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x1b\x07]*(\x1b\\|\x07))", "", s)


@pytest.fixture(autouse=True)
def plain_term(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")  # rich draws no live region on TERM=dumb
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------------------ splitter


def split(text: str) -> list[str]:
    s = BlockSplitter()
    blocks = [b for ch in text for b in s.feed(ch)]
    return blocks + s.flush()


def test_splitter_paragraphs_headings_and_fences() -> None:
    text = "# Title\nfirst para\nstill first\n\nsecond\n\n```py\na\n\nb\n```\nafter\n"
    assert split(text) == ["# Title", "first para\nstill first", "second", "```py\na\n\nb\n```", "after"]


def test_splitter_fence_needs_same_char_and_length() -> None:
    text = "````md\n```\n~~~\n````\n"
    assert split(text) == ["````md\n```\n~~~\n````"]


def test_splitter_keeps_lists_over_blank_lines() -> None:
    text = "1. one\n\n2. two\n   more\n\n   indented para\n\n3. three\n\nafter\n"
    assert split(text) == ["1. one\n\n2. two\n   more\n\n   indented para\n\n3. three", "after"]


def test_splitter_list_with_nested_fence_and_paragraph_intro() -> None:
    text = "Steps:\n1. run\n   ```sh\n   make\n\n   ```\n2. done\n```\nx\n```\n"
    assert split(text) == ["Steps:\n1. run\n   ```sh\n   make\n\n   ```\n2. done", "```\nx\n```"]


def test_splitter_only_looks_at_new_lines() -> None:
    s = BlockSplitter()
    assert s.feed("para one") == []
    assert s.tail() == "para one"
    assert s.feed(" goes on\n") == []
    assert s.feed("\nnext") == ["para one goes on"]
    assert s.tail() == "next"
    assert s.flush() == ["next"]
    assert s.tail() == ""


# --------------------------------------------------------------------------------- plain


def test_plain_writes_exactly_the_deltas() -> None:
    out, err = io.StringIO(), io.StringIO()
    r = render.make_renderer(out=out, err=err, terminal=False, color=False)
    assert isinstance(r, PlainRenderer)
    deltas = ["# Ti", "tle\n\n**bo", "ld** [bold]x[/bold] 中文😀", "\n```py\nx = 1\n```"]
    r.reasoning("secret thoughts")
    for d in deltas:
        r.content(d)
    assert out.getvalue() == "".join(deltas)
    r.finish()
    r.finish()
    assert out.getvalue() == "".join(deltas) + "\n"
    assert ESC not in out.getvalue() + err.getvalue()
    assert "secret" not in out.getvalue() + err.getvalue()


def test_plain_adds_no_newline_when_answer_has_one_or_is_empty() -> None:
    out, err = io.StringIO(), io.StringIO()
    r = PlainRenderer(out=out, err=err)
    r.finish()
    r.content("done\n")
    r.finish()
    assert out.getvalue() == "done\n"


def test_plain_sources_go_to_err() -> None:
    out, err = io.StringIO(), io.StringIO()
    r = PlainRenderer(out=out, err=err)
    r.content("answer")
    r.sources([SearchSource(title="Qwen", url="https://qwen.ai"), SearchSource(url="https://x.org")])
    r.finish()
    assert out.getvalue() == "answer\n"
    assert err.getvalue() == "[1] Qwen - https://qwen.ai\n[2] https://x.org\n"


# ------------------------------------------------------------------------------ terminal

ANSWER = (
    "# Plan\n\nFirst paragraph with **bold** and `code`, long enough to wrap once on an "
    "eighty column terminal, which it does.\n\n"
    "1. alpha step\n\n2. beta step\n\n3. gamma step\n\n"
    "Second paragraph: 中文内容没问题 and emoji 😀🎉 stay whole.\n\n"
    "```python\n" + "".join(f"value_{i:03d} = {i} * 2\n" for i in range(200)) + "```\n\n"
    "| name | size |\n|------|------|\n| a | 1 |\n\n"
    "> quoted line\n\nLast words."
)


def test_terminal_each_block_once_in_scrollback() -> None:
    r, out, err = terminal()
    feed_chars(r, ANSWER)
    r.finish()
    screen = Screen().feed(out.getvalue()).text
    for needle in (
        "Plan",
        "First paragraph with bold and code",
        "alpha step",
        "beta step",
        "gamma step",
        "Second paragraph: 中文内容没问题 and emoji 😀🎉 stay whole.",
        "quoted line",
        "Last words.",
    ):
        assert screen.count(needle) == 1, needle
    for i in range(200):  # 200 lines: far taller than the 24-line screen
        assert screen.count(f"value_{i:03d} = {i} * 2") == 1, i
    assert re.search(r"name\s+size", screen)
    assert screen.index("Plan") < screen.index("alpha") < screen.index("value_199") < screen.index("Last")
    assert err.getvalue() == ""


def test_fast_timer_thread_changes_nothing() -> None:
    out = io.StringIO()
    console = render._console(out, terminal=True, color=True, width=WIDTH, height=HEIGHT)
    r = MarkdownRenderer(console, console, refresh_per_second=1000)  # races the feeding thread
    for ch in ANSWER:
        r.content(ch)
    r.finish()
    assert not [t for t in threading.enumerate() if t.name == "qwen-render"]  # the timer is gone
    text = Screen().feed(out.getvalue()).text
    assert all(text.count(f"value_{i:03d} = {i} * 2") == 1 for i in range(200))
    assert text.count("Last words.") == text.count("gamma step") == 1


def test_crlf_line_ends() -> None:
    assert split("para\r\n\r\n```\r\ncode\r\n```\r\nnext") == ["para\r", "```\r\ncode\r\n```\r", "next"]


def test_terminal_blocks_are_printed_once_each() -> None:
    r, out, _ = terminal()
    for ch in ANSWER:
        r.content(ch)
    r.refresh()
    assert r.blocks_printed == 7  # heading, paragraph, list, paragraph, code, table, quote
    r.finish()
    r.finish()  # idempotent
    assert r.blocks_printed == 0  # reset for the next answer
    text = Screen().feed(out.getvalue()).text
    assert text.count("1 alpha step") == text.count("2 beta step") == text.count("3 gamma step") == 1


def test_content_never_draws_the_timer_does() -> None:
    out = io.StringIO()
    console = render._console(out, terminal=True, color=True, width=WIDTH, height=HEIGHT)
    r = MarkdownRenderer(console, console, refresh_per_second=0.001)  # the timer never fires here
    for ch in "# Title\n\npara one\n\npara two":
        r.content(ch)
    assert out.getvalue() == "\x1b[?25l"  # Live hid the cursor; nothing drawn per delta
    r.refresh()
    r.refresh()  # nothing changed: nothing drawn
    drawn = out.getvalue()
    assert strip_ansi(drawn).count("para one") == 1 and r.blocks_printed == 2
    r.finish()
    assert Screen().feed(out.getvalue()).text.count("para two") == 1


def test_terminal_live_region_never_taller_than_screen() -> None:
    r, out, _ = terminal()
    code = "```\n" + "".join(f"line {i}\n" for i in range(100))
    feed_chars(r, code, refresh_every=50)
    # Each redraw first walks up over the previous frame: one "up, erase line" per line - 1.
    ups = [len(run) // len("\x1b[1A\x1b[2K") for run in re.findall(r"(?:\x1b\[1A\x1b\[2K)+", out.getvalue())]
    # the frame grew to a quarter of the screen (its height - 1, before it drew so little) and no further
    assert max(ups) == (HEIGHT // 4 + 1) - 2
    r.finish()
    screen = Screen().feed(out.getvalue()).text
    assert all(screen.count(f"line {i}\n") == 1 for i in range(100))


def test_ordered_list_numbering_survives_blank_lines() -> None:
    r, out, _ = terminal()
    feed_chars(r, "Intro.\n\n1. one\n\n2. two\n\n\n3. three\n\nTail.\n")
    r.finish()
    lines = Screen().feed(out.getvalue()).text.splitlines()
    numbered = [line.strip() for line in lines if re.match(r"\s*\d+ ", line)]
    assert numbered == ["1 one", "2 two", "3 three"]


def test_markup_is_never_interpreted() -> None:
    r, out, _ = terminal()
    feed_chars(r, "Use [bold]x[/bold] and [red]y[/] and :smile: literally.\n")
    r.finish()
    assert "Use [bold]x[/bold] and [red]y[/] and :smile: literally." in Screen().feed(out.getvalue()).text


def test_finish_after_partial_content_keeps_it() -> None:
    r, out, _ = terminal()
    partial = "A paragraph that was cut off in the mid"
    try:
        for n, ch in enumerate(partial + "dle of a word"):
            if n == len(partial):
                raise KeyboardInterrupt
            r.content(ch)
    except KeyboardInterrupt:
        pass
    finally:
        r.finish()
    screen = Screen().feed(out.getvalue())
    assert screen.text.count(partial) == 1
    assert screen.col == 0  # the cursor is left on a fresh line
    assert out.getvalue().rsplit("\x1b[?25", 1)[1].startswith("h")  # the cursor is visible again


def test_unclosed_code_block_is_kept_on_finish() -> None:
    r, out, _ = terminal()
    feed_chars(r, "```python\nprint('hi')\nx = [1]")
    r.finish()
    text = Screen().feed(out.getvalue()).text
    assert text.count("print('hi')") == 1 and text.count("x = [1]") == 1


def test_reasoning_dim_on_err_never_in_out() -> None:
    r, out, err = terminal()
    for piece in ["Let me ", "think [bold]", "about it."]:
        r.reasoning(piece)
    feed_chars(r, "The answer.")
    r.reasoning("late thought")
    r.finish()
    assert strip_ansi(err.getvalue()) == "Let me think [bold]about it.\n\n"
    assert "\x1b[2m" in err.getvalue()
    assert "think" not in strip_ansi(out.getvalue())
    assert "late" not in err.getvalue() + out.getvalue()
    assert Screen().feed(out.getvalue()).text.strip() == "The answer."


def test_reasoning_without_answer_ends_its_line() -> None:
    r, out, err = terminal()
    r.reasoning("only thinking")
    r.finish()
    assert strip_ansi(err.getvalue()) == "only thinking\n"
    assert out.getvalue() == ""


def test_hidden_reasoning() -> None:
    r, _, err = terminal(show_reasoning=False)
    r.reasoning("hidden")
    r.content("shown\n")
    r.finish()
    assert err.getvalue() == ""


def test_sources_listed_under_the_answer() -> None:
    r, out, _ = terminal()
    r.content("Answer.\n")
    r.sources([SearchSource(title="Qwen [docs]", hostname="qwen.ai", url="https://qwen.ai/x")])
    r.finish()
    text = Screen().feed(out.getvalue()).text
    assert text.index("Answer.") < text.index("[1] Qwen [docs] — qwen.ai https://qwen.ai/x")


def test_sources_go_to_stderr_when_it_is_the_terminal() -> None:
    out, err = io.StringIO(), _TTY()
    r = render.make_renderer(out=out, err=err, terminal=True, color=True, width=WIDTH, height=HEIGHT)
    r.content("Answer.\n")
    r.sources([SearchSource(title="Qwen [docs]", hostname="qwen.ai", url="https://qwen.ai/x")])
    assert err.getvalue() == ""
    r.finish()
    assert Screen().feed(out.getvalue()).text.strip() == "Answer."  # stdout: the answer alone
    assert "[1] Qwen [docs] — qwen.ai https://qwen.ai/x" in Screen().feed(err.getvalue()).text
    assert "\x1b]8;" in err.getvalue()  # linked (OSC 8)


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_sources_numbered_by_their_ref_index_with_site_names() -> None:
    err = _TTY()
    r = render.make_renderer(
        out=io.StringIO(), err=err, terminal=True, color=True, width=WIDTH, height=HEIGHT
    )
    r.content("See [ref_2].\n")
    r.sources(
        [
            SearchSource(index=2, title="通义千问", site="阿里云", url="https://www.aliyun.com/x"),
            SearchSource(index=5, title="Evil\x1b[31m", url="javascript:alert(1)"),
        ]
    )
    r.finish()
    text = Screen().feed(err.getvalue()).text
    assert "[2] 通义千问 — 阿里云 https://www.aliyun.com/x" in text
    assert "[5] Evil" in text and "\x1b[31m" not in err.getvalue()  # through safetext
    links = {t for t in re.findall(r"\x1b]8;[^;]*;([^\x1b]*)", err.getvalue()) if t}
    assert links == {"https://www.aliyun.com/x"}  # only a plain web address is ever linked


def test_plain_sources_on_stderr_with_index_and_site() -> None:
    out, err = io.StringIO(), io.StringIO()
    r = render.PlainRenderer(out=out, err=err)
    r.content("x [ref_1]")
    r.sources([SearchSource(index=1, title="Qwen3", site="Qwen Blog", url="https://q.example/3")])
    r.finish()
    assert out.getvalue() == "x [ref_1]\n"
    assert err.getvalue() == "[1] Qwen3 (Qwen Blog) - https://q.example/3\n"


def test_renderer_can_be_reused_after_finish() -> None:
    r, out, _ = terminal()
    feed_chars(r, "first answer\n\nsecond para")
    r.finish()
    feed_chars(r, "another answer")
    r.finish()
    text = Screen().feed(out.getvalue()).text
    assert [text.count(s) for s in ("first answer", "second para", "another answer")] == [1, 1, 1]


def test_render_markdown_whole_answer() -> None:
    out = io.StringIO()
    render.render_markdown("# T\n\n[bold]x[/bold] *em*", out=out, terminal=True, color=True)
    text = strip_ansi(out.getvalue())
    assert "[bold]x[/bold] em" in text and "*" not in text
    out = io.StringIO()
    render.render_markdown("# T\n\n*em*", out=out, terminal=False, color=False)
    assert out.getvalue() == "# T\n\n*em*\n"


# -------------------------------------------------------------------------------- footer


def usage(reasoning: int | None = None, cached: int | None = None) -> Usage:
    return Usage(
        prompt_tokens=22,
        completion_tokens=17,
        total_tokens=39,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached) if cached is not None else None,
        completion_tokens_details=(
            CompletionTokensDetails(reasoning_tokens=reasoning) if reasoning is not None else None
        ),
    )


def test_footer_with_usage() -> None:
    line = render.format_footer(model="qwen-max", usage=usage(), elapsed=1.24)
    assert line == "qwen-max · 22 in · 17 out · 39 total · 1.24s · 13.7 tok/s"


def test_footer_with_reasoning_cached_first_token_and_cost() -> None:
    line = render.format_footer(
        model="qwen-max", usage=usage(5, 3), elapsed=1.24, first_token_at=0.24, cost="~¥0.0031"
    )
    expected = "qwen-max · 22 in · 17 out · 39 total · reasoning 5 · cached 3 · 1.24s · 17.0 tok/s"
    assert line == expected + " · ~¥0.0031"


def test_footer_without_usage_invents_nothing() -> None:
    line = render.format_footer(model="qwen-max", usage=None, elapsed=1.24, first_token_at=0.2)
    assert line == "qwen-max · usage not reported by the server · 1.24s"
    line = render.format_footer(model="m", usage=Usage(), elapsed=0.0)
    assert line == "m · 0 in · 0 out · 0 total · 0.00s"


def test_print_footer_and_notice() -> None:
    err = io.StringIO()
    render.print_footer("qwen-max · 1.00s", err=err, color=False)
    render.print_notice("[red]careful[/red]", err=err, color=False)
    assert err.getvalue() == "qwen-max · 1.00s\n[red]careful[/red]\n"
    err = io.StringIO()
    render.print_footer("qwen-max · 1.00s", err=err, color=True)
    render.print_notice("[red]careful[/red]", err=err, color=True)
    assert "\x1b[2m" in err.getvalue()
    assert strip_ansi(err.getvalue()) == "qwen-max · 1.00s\n[red]careful[/red]\n"


def test_footer_leaves_out_speed_of_an_instant_answer() -> None:
    from qwen_cli.types import Usage

    line = render.format_footer(
        model="m", usage=Usage(prompt_tokens=1, completion_tokens=9, total_tokens=10), elapsed=0.04
    )
    assert line == "m · 1 in · 9 out · 10 total · 0.04s"


# ------------------------------------------------------------------------------ the scroll-back


def one_shot(text: str, width: int = WIDTH) -> str:
    out = io.StringIO()
    console = render._console(out, terminal=True, color=True, width=width, height=HEIGHT)
    console.print(render._Lines(render._render(console, text, "monokai")), crop=False)
    return out.getvalue()


WITH_RULES = "Intro.\n\n---\n\n- a\n- b\n\n***\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n---\n\nEnd.\n"


SHORT = ANSWER.replace("".join(f"value_{i:03d} = {i} * 2\n" for i in range(4, 200)), "")


@pytest.mark.parametrize(
    ("text", "every"),
    [(ANSWER, 41), (ANSWER, 10**9), (SHORT, 1), (SHORT, 7), (WITH_RULES, 1), (WITH_RULES, 5)],
)
def test_a_stream_leaves_the_one_shot_render_in_the_scroll_back(text: str, every: int) -> None:
    """Blank lines after tables, code blocks and rules included, however the ticks fell."""
    r, out, _ = terminal()
    feed_chars(r, text, refresh_every=every)
    r.finish()
    assert Screen().feed(out.getvalue()).text.strip("\n") == Screen().feed(one_shot(text)).text.strip("\n")


def test_no_line_is_padded_with_spaces() -> None:
    r, out, _ = terminal()
    feed_chars(r, SHORT, refresh_every=3)
    r.finish()
    for raw in (out.getvalue(), one_shot(ANSWER)):
        lines = strip_ansi(raw).replace("\r", "\n").split("\n")
        assert lines and [ln for ln in lines if ln != ln.rstrip()] == []
    assert len(strip_ansi(one_shot(ANSWER))) < 1.2 * len(ANSWER)  # the padding was most of it


def test_markdown_pages_add_up_to_the_one_shot_render() -> None:
    text = "\n\n".join([SHORT, WITH_RULES] * 3)
    pages = list(render.markdown_pages(text, width=WIDTH, color=True, blocks=2))
    assert len(pages) > 10
    assert Screen().feed("".join(pages)).text.strip("\n") == Screen().feed(one_shot(text)).text.strip("\n")


# ------------------------------------------------------------------------------ fitting lines

LONG_FOOTER = "qwen-plus · 1234 in · 567 out · 1801 total · cached 1024 · 3.21s · 45.6 tok/s · ¥0.0012"


def test_a_footer_that_fits_stays_one_line() -> None:
    assert render.fit_line(LONG_FOOTER, 100, drop=render.FOOTER_EXTRAS) == [LONG_FOOTER]


def test_a_narrow_footer_drops_the_total_and_speed_then_wraps_between_parts() -> None:
    assert render.fit_line(LONG_FOOTER, 80, drop=render.FOOTER_EXTRAS) == [
        "qwen-plus · 1234 in · 567 out · cached 1024 · 3.21s · ¥0.0012"
    ]
    lines = render.fit_line(LONG_FOOTER, 40, drop=render.FOOTER_EXTRAS)
    assert lines == ["qwen-plus · 1234 in · 567 out", "cached 1024 · 3.21s · ¥0.0012"]
    assert all(len(x) <= 40 for x in lines)


def test_print_footer_fits_a_terminal_and_keeps_a_pipe_one_line() -> None:
    err = io.StringIO()
    render.print_footer(LONG_FOOTER, err=err, color=False, width=60)
    assert err.getvalue() == "qwen-plus · 1234 in · 567 out · cached 1024 · 3.21s\n¥0.0012\n"
    err = io.StringIO()
    render.print_footer(LONG_FOOTER, err=err, color=False)  # not a terminal: no width
    assert err.getvalue() == LONG_FOOTER + "\n"


def test_the_resume_header_fits_60_and_100_columns() -> None:
    from qwen_cli.cli.chat import resume_header

    details = "a1b2c3d4 · 12 turns · qwen-plus · 2026-11-30 16:40"
    title = "Explain server-sent events in one paragraph please"
    (wide,) = resume_header(title, details, 100)
    assert wide == f"continuing “Explain server-sent events in…” ({details})"
    (mid,) = resume_header(title, details, 80)
    assert len(mid) <= 80 and mid.startswith("continuing “Explain serv") and mid.endswith(f"({details})")
    narrow = resume_header(title, details, 60)
    assert narrow[0].startswith("continuing “Explain server-sent events") and len(narrow[0]) <= 60
    assert narrow[1:] == ["  a1b2c3d4 · 12 turns · qwen-plus · 2026-11-30 16:40"]
    assert all(len(x) <= 60 for x in narrow)
    assert resume_header(title, details, None) == [wide]  # a pipe: as it always was


def test_wrap_lines_breaks_between_words_under_a_label() -> None:
    text = "tokens    ~2,090 in, at most ~76,800 out (assumed 256 a request: set --max-tokens)\nshort"
    assert render.wrap_lines(text, 40, 10) == (
        "tokens    ~2,090 in, at most ~76,800 out\n"
        "          (assumed 256 a request: set\n"
        "          --max-tokens)\n"
        "short"
    )
    assert render.wrap_lines(text, None, 10) == text  # a pipe: one line per item
