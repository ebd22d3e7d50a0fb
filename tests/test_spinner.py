"""The sign of life while an answer has shown nothing: drawn on a terminal's stderr, erased without
a trace before the answer, never in a pipe. Judged by the bytes written and, on a real terminal
(a pty, tmux), by what is left on the screen and in the scroll-back."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from typing import Any

import pytest

from qwen_cli.cli.spinner import ERASE, FRAMES, Spinner
from tests.e2e import QWEN, needs_qwen
from tests.fakeserver import FakeServerProcess, chat_stream_events, split_text
from tests.test_e2e import env, run_in_pty
from tests.test_render import Screen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def wait_until(test: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_draws_the_elapsed_time_then_erases_itself() -> None:
    clock, err = Clock(), io.StringIO()
    spin = Spinner(err, delay=0.0, interval=0.01, clock=clock).start()
    clock.now += 2.5
    wait_until(lambda: spin.frames_drawn >= 2)
    spin.stop()
    raw = err.getvalue()
    assert raw.startswith("\r" + FRAMES[0] + " waiting ") and "waiting 2.5s\x1b[K" in raw
    assert raw.endswith(ERASE)
    assert Screen().feed(raw).text == ""  # nothing left on the line
    n = len(raw)
    time.sleep(0.05)
    assert len(err.getvalue()) == n and not spin.running  # stopped for good


def test_an_answer_that_comes_at_once_never_sees_it() -> None:
    err = io.StringIO()
    spin = Spinner(err, delay=30.0).start()
    spin.stop()
    assert err.getvalue() == ""


def test_a_notice_while_waiting_leaves_no_residue() -> None:
    err = io.StringIO()
    spin = Spinner(err, delay=0.0, interval=0.01).start()
    wait_until(lambda: spin.frames_drawn >= 1)
    with spin.paused():
        err.write("note: 3 earlier turns left out\n")
    wait_until(lambda: spin.frames_drawn >= 3)
    spin.stop()
    screen = Screen().feed(err.getvalue())
    assert screen.text == "note: 3 earlier turns left out\n"


def test_the_line_fits_the_terminal_and_never_wraps(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    spin = Spinner(err, delay=0.0, interval=10.0, label="waiting for a very slow server")
    monkeypatch.setattr(spin, "_columns", lambda: 12)
    spin.start()
    wait_until(lambda: spin.frames_drawn >= 1)
    spin.stop()
    drawn = err.getvalue().split("\r")[1]
    assert drawn == f"{FRAMES[0]} waiting f\x1b[K"  # 11 columns of text


# --------------------------------------------------------------------------- the installed qwen


def slow(text: str = "**Hello** after a wait", *, reasoning: str = "", wait: float = 1.5) -> dict[str, Any]:
    return {
        "delay_before": wait,
        "sse": chat_stream_events(split_text(text, 6), reasoning_pieces=split_text(reasoning, 8)),
    }


@needs_qwen
def test_a_terminal_shows_it_while_waiting_and_keeps_no_trace(srv: FakeServerProcess) -> None:
    srv.enqueue(slow())
    raw = run_in_pty(srv, "complete", "hi", rows=24, cols=80).decode()
    assert f"{FRAMES[0]} waiting 0." in raw  # drawn while the server said nothing
    spinner_end = raw.rindex(ERASE)
    assert spinner_end < raw.index("Hello")  # erased before the answer began
    screen = Screen().feed(raw.replace("\r\n", "\n")).text
    assert "waiting" not in screen and not any(f in screen for f in FRAMES)
    assert screen.splitlines()[0].strip() == "Hello after a wait"


@needs_qwen
def test_visible_thinking_ends_the_wait(srv: FakeServerProcess) -> None:
    srv.enqueue(slow(reasoning="Let me think about it.\n"))
    raw = run_in_pty(srv, "complete", "hi").decode()
    assert "waiting" in raw and raw.rindex(ERASE) < raw.index("Let me")  # never drawn again
    screen = Screen().feed(raw.replace("\r\n", "\n")).text
    assert "waiting" not in screen and "Let me think about it." in screen


@needs_qwen
def test_nothing_in_a_pipe_or_in_plain_mode(srv: FakeServerProcess) -> None:
    srv.enqueue(slow(wait=1.0))
    p = subprocess.run([QWEN, "complete", "hi"], capture_output=True, env=env(srv), timeout=60)
    assert p.returncode == 0 and p.stdout == b"**Hello** after a wait\n"
    assert b"waiting" not in p.stderr and b"\x1b" not in p.stderr
    srv.enqueue(slow(wait=1.0))
    raw = run_in_pty(srv, "complete", "hi", "--no-color")
    assert b"waiting" not in raw and b"\x1b" not in raw


@needs_qwen
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tmux_scrollback_has_no_spinner_residue(srv: FakeServerProcess) -> None:
    from tests.test_e2e_auth import Pane

    srv.enqueue(slow(wait=3.0))
    pane = Pane(f"{QWEN} complete hi", env(srv))
    try:
        seen = pane.wait_for(" waiting ")
        final = pane.wait_for("__EXIT__")
    finally:
        pane.close()
    assert any(f + " waiting " in seen for f in FRAMES)
    assert "__EXIT__0" in final
    assert "waiting" not in final and not any(f in final for f in FRAMES)
    assert final.splitlines()[0].strip() == "Hello after a wait"  # the first line of the pane
