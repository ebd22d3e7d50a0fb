"""What a person sees in a real terminal (tmux): the scroll-back of a stream equals the one-shot
render of the same answer, with no trailing spaces, through slow streams and resizes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.e2e import QWEN, needs_qwen
from tests.fakeserver import FakeServerProcess, chat_stream_events, split_text
from tests.test_e2e import env

pytestmark = [needs_qwen, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

ANSWER = "\n".join(
    [
        "# Plan",
        "",
        "Some text before a table, long enough to wrap at sixty columns but not at a hundred.",
        "",
        "| model | context | price |",
        "|---|---:|:---:|",
        "| qwen-max | 32768 | 2.40 |",
        "| qwen-plus | 131072 | 0.80 |",
        "",
        "After the table.",
        "",
        "```python",
        "def f(x: int) -> int:",
        "    return x * 2",
        "```",
        "",
        "After the code.",
        "",
        *[
            f"- item {i}: a list item long enough to wrap when the window is narrow, {i}"
            for i in range(1, 13)
        ],
        "",
        "The end.",
    ]
)


class Term:
    """One tmux server with one pane running a command; its scroll-back, joined (-J)."""

    def __init__(self, srv: FakeServerProcess, cmd: str, cols: int, rows: int) -> None:
        self.tmux = ["tmux", "-L", f"qwen-screen-{os.getpid()}", "-f", "/dev/null"]
        sh = f"{cmd}; echo __EXIT__$?; sleep 60"
        start = ["start-server", ";", "set", "-g", "history-limit", "50000", ";", "new-session", "-d"]
        subprocess.run(
            [*self.tmux, *start, "-x", str(cols), "-y", str(rows), "-s", "t", sh],
            check=True,
            env=env(srv, TERM="xterm-256color"),
            timeout=20,
        )

    def run(self, *args: str) -> str:
        return subprocess.run([*self.tmux, *args], capture_output=True, text=True, timeout=20).stdout

    def text(self) -> str:
        return self.run("capture-pane", "-p", "-J", "-S", "-", "-t", "t")

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while needle not in (text := self.text()):
            assert time.monotonic() < deadline, text[-2000:]
            time.sleep(0.05)
        return text

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, timeout=20)


def answer_lines(text: str) -> list[str]:
    """The answer in a capture: from its first line to the line before the footer."""
    lines = text.split("__EXIT__")[0].rstrip("\n").split("\n")
    start = next(i for i, ln in enumerate(lines) if "Plan" in ln)
    end = max(i for i, ln in enumerate(lines) if "The end." in ln)
    return lines[start : end + 1]


def screen_of(
    srv: FakeServerProcess, *args: str, cols: int = 100, rows: int = 30, resize: bool = False
) -> str:
    term = Term(srv, " ".join([QWEN, *args]), cols, rows)
    try:
        if resize:
            term.wait_for("item 2:")
            term.run("resize-window", "-t", "t", "-x", "60")
            term.wait_for("item 6:")
            term.run("resize-window", "-t", "t", "-x", str(cols))
        return term.wait_for("__EXIT__")
    finally:
        term.close()


def one_shot(srv: FakeServerProcess, cols: int = 100, rows: int = 30) -> list[str]:
    srv.enqueue({"sse": chat_stream_events([ANSWER])})
    return answer_lines(screen_of(srv, "complete", "hi", "-q", cols=cols, rows=rows))


def slow(srv: FakeServerProcess, delay: float = 0.02, size: int = 6) -> None:
    srv.enqueue({"sse": chat_stream_events(split_text(ANSWER, size)), "delay": delay})


def test_a_slow_stream_leaves_the_one_shot_render_in_the_scroll_back(srv: FakeServerProcess) -> None:
    whole = one_shot(srv)
    assert whole[0].strip() == "Plan" and "qwen-plus" in "\n".join(whole)
    slow(srv, delay=0.01, size=3)  # many ticks: every block printed on its own
    assert answer_lines(screen_of(srv, "complete", "hi", "-q")) == whole


def test_resizing_during_a_stream_duplicates_nothing(srv: FakeServerProcess) -> None:
    whole = one_shot(srv)
    slow(srv, delay=0.03)
    got = answer_lines(screen_of(srv, "complete", "hi", "-q", resize=True))
    assert got == whole


@pytest.mark.parametrize(("cols", "rows"), [(100, 30), (60, 20)])
def test_a_message_taller_than_the_screen_stays_whole_in_the_scroll_back(
    srv: FakeServerProcess, cols: int, rows: int
) -> None:
    from tests.test_e2e_chat import Pane

    pane = Pane(env(srv), cols=cols, rows=rows)
    try:
        pane.wait_for("READY> ")
        pane.type(f"{QWEN} chat -m qwen-plus --think")
        pane.keys("Enter")
        pane.wait_for("qwen-plus +think>")
        message = "\n".join(f"pasted line {i:02d} with some words after it" for i in range(1, 46))
        for args in (["set-buffer", message], ["paste-buffer", "-p", "-t", "t"]):  # a bracketed paste
            subprocess.run([*pane.tmux, *args], check=True, timeout=20)
        pane.keys("Enter")
        screen = pane.wait_for("echo: pasted line 01")
        pane.wait_for("qwen-plus +think>", 2)
        pane.keys("C-d")
        screen = pane.wait_for("READY> ", 2)
    finally:
        pane.close()
    sent = screen[: screen.index("echo: pasted line 01")]
    assert "qwen-plus +think> pasted line 01 with some words after it" in sent
    for i in range(2, 46):
        assert sent.count(f"… pasted line {i:02d} with some words after it\n") == 1, i


@pytest.mark.parametrize("cols", [100, 60, 40])
def test_qwen_models_never_cuts_a_number(srv: FakeServerProcess, cols: int) -> None:
    from qwen_cli.catalog import CATALOG

    text = screen_of(srv, "models", "--offline", "--region", "intl", cols=cols, rows=20)
    table = text[text.index("model ") : text.index("__EXIT__")]
    assert "…" not in table
    for spec in CATALOG.values():
        row = next(ln for ln in table.splitlines() if ln.startswith(spec.id + " "))
        assert f" {spec.context:,}" in row, row  # whole, on the model's line
    assert max(len(ln) for ln in table.splitlines()) <= cols
    assert ("max out" in table) == (cols >= 60)  # (prices go first), then max out
    assert ("stream-only" in table) == (cols >= 60)  # capabilities wrap before they go


def test_history_show_is_paged_on_a_terminal_and_not_in_a_pipe(srv: FakeServerProcess, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_e2e import qwen, run_in_pty

    srv.enqueue({"sse": chat_stream_events([ANSWER])})
    assert qwen(srv, "complete", "show me").returncode == 0
    conv = qwen(srv, "history").stdout.decode().split("\t")[0]
    paged = tmp_path / "paged.txt"
    pager = f"sh -c 'echo PAGER-LESS=$LESS > {paged}; cat >> {paged}'"
    raw = run_in_pty(srv, "history", "show", conv, cols=100, PAGER=pager)
    assert b"qwen-plus" not in raw and b"Plan" not in raw  # it all went to the pager
    from tests.test_e2e import ANSI

    coloured = paged.read_text()
    shown = ANSI.sub("", coloured)
    assert shown.startswith("PAGER-LESS=FRX\n") and "\x1b[" in coloured  # rendered, in colour
    assert "qwen-plus   131072" in shown and "The end." in shown
    assert [ln for ln in shown.splitlines() if ln != ln.rstrip()] == []
    direct = ANSI.sub("", run_in_pty(srv, "history", "show", conv, cols=100, PAGER="cat").decode())
    assert "qwen-plus   131072" in direct and "The end." in direct
    piped = qwen(srv, "history", "show", conv, PAGER=pager)
    assert ANSWER in piped.stdout.decode()  # a pipe: the Markdown as stored, no pager
    assert paged.read_text() == coloured


@pytest.mark.parametrize("cols", [100, 60, 40])
def test_qwen_history_never_cuts_an_id_or_a_number(srv: FakeServerProcess, cols: int) -> None:
    from tests.test_e2e import qwen

    words = "a long first question that makes a title far wider than a narrow screen " * 2
    assert qwen(srv, "complete", words, "-m", "qwen-plus-2025-01-25-latest").returncode == 0
    conv_id, _, _, _, turns, tokens = qwen(srv, "history").stdout.decode().strip().split("\t")
    assert int(tokens) >= 10
    text = screen_of(srv, "history", cols=cols, rows=20)
    table = text[text.index("id ") : text.index("__EXIT__")].strip("\n").splitlines()
    assert max(len(ln) for ln in table) <= cols
    row = table[1]
    assert row.startswith(conv_id + "  ") and "…" in row  # the title gives way first
    assert row.split()[-1] == (tokens if "tokens" in table[0] else turns)
    assert ("model" in table[0]) == (cols == 100) and ("started" in table[0]) == (cols >= 60)
