"""The installed `qwen` killed by SIGTERM or SIGHUP mid-answer (in a pipe, at the REPL, in a
terminal that hangs up) keeps the partial answer like Ctrl-C does and exits 128 + signal; and a
damaged history or a bad argument through the real binary."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from qwen_cli.store import Store, default_path
from tests.e2e import QWEN, needs_qwen
from tests.fakeserver import FakeServerProcess
from tests.test_e2e_chat import Pane, env

pytestmark = needs_qwen
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

LONG = " ".join(str(n) for n in range(1, 80))  # fake-slow: 0.05 s a piece, ~4 s in all


def last_answer(conv_id: str | None = None) -> tuple[str, str, str]:
    """(role, status, content) of the newest message of the latest (or given) conversation."""
    with Store.open() as s:
        conv = s.latest() if conv_id is None else s.get(conv_id)
        assert conv is not None
        m = s.messages(conv.id)[-1]
    return m.role, m.status, m.content


@pytest.mark.parametrize("provider", ["dashscope", "dashscope-native"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP] * 3, ids=lambda s: signal.Signals(s).name)
def test_a_signal_mid_answer_keeps_the_partial(srv: FakeServerProcess, sig: int, provider: str) -> None:
    proc = subprocess.Popen(
        [QWEN, "complete", LONG, "-m", "fake-slow", "--provider", provider],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env(srv),
    )
    assert proc.stdout is not None
    first = proc.stdout.read1(20)  # type: ignore[attr-defined]
    assert first.startswith(b"echo")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + sig, err
    shown = (first + out).decode().rstrip("\n")
    assert "interrupted: the partial answer was kept" in err.decode() and b"Traceback" not in err
    role, status, content = last_answer()
    assert (role, status) == ("assistant", "interrupted")
    assert content == shown and 0 < len(content) < len("echo: " + LONG)


def test_chat_in_a_pipe_keeps_the_partial_on_sigterm(srv: FakeServerProcess) -> None:
    proc = subprocess.Popen(
        [QWEN, "chat", "-m", "fake-slow"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(srv),
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"{LONG}\nnever sent\n".encode())
    proc.stdin.flush()
    first = proc.stdout.read1(20)  # type: ignore[attr-defined]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    assert b"Traceback" not in err
    role, status, content = last_answer()
    assert (role, status) == ("assistant", "interrupted") and content == (first + out).decode().rstrip("\n")
    assert [r["json"]["messages"][-1]["content"] for r in srv.requests()] == [LONG]


# --------------------------------------------------------------------------- a real terminal


def qwen_pid(pane: Pane) -> int:
    """The `qwen` running in the pane's shell."""
    shell = subprocess.run(
        [*pane.tmux, "display", "-p", "-t", "t", "#{pane_pid}"], capture_output=True, text=True, timeout=20
    ).stdout.strip()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split()
        if found:
            return int(found[0])
        time.sleep(0.05)
    raise AssertionError("no qwen in the pane")


def start_chat(srv: FakeServerProcess) -> Pane:
    pane = Pane(env(srv))
    pane.wait_for("READY> ")
    pane.type(f"{QWEN} chat -m fake-slow; echo __EXIT__$?")
    pane.keys("Enter")
    pane.wait_for("fake-slow>")
    return pane


@needs_tmux
def test_sigterm_at_the_prompt_leaves_cleanly(srv: FakeServerProcess) -> None:
    pane = start_chat(srv)
    try:
        os.kill(qwen_pid(pane), signal.SIGTERM)
        screen = pane.wait_for("__EXIT__143")
    finally:
        pane.close()
    assert "Traceback" not in screen


@needs_tmux
def test_sighup_mid_answer_at_the_repl_keeps_the_partial_and_leaves(srv: FakeServerProcess) -> None:
    pane = start_chat(srv)
    try:
        pane.type(LONG)
        pane.keys("Enter")
        pane.wait_for("echo: 1 2 3")
        os.kill(qwen_pid(pane), signal.SIGHUP)
        screen = pane.wait_for("__EXIT__129")
    finally:
        pane.close()
    assert "interrupted: the partial answer was kept" in screen and "Traceback" not in screen
    role, status, content = last_answer()
    assert (role, status) == ("assistant", "interrupted") and content.startswith("echo: 1 2 3")
    assert len(content) < len("echo: " + LONG)


@needs_tmux
@pytest.mark.parametrize("command", ["complete", "chat"])
def test_a_terminal_that_hangs_up_mid_answer_keeps_the_partial(srv: FakeServerProcess, command: str) -> None:
    """Closing the terminal: SIGHUP, and every later write or terminal setting fails with EIO."""
    pane = Pane(env(srv))
    err = default_path().parent / "stderr.txt"
    err.parent.mkdir(parents=True, exist_ok=True)
    try:
        pane.wait_for("READY> ")
        if command == "complete":
            pane.type(f"{QWEN} complete -m fake-slow '{LONG}' 2>{err}")
            pane.keys("Enter")
        else:
            pane.type(f"{QWEN} chat -m fake-slow 2>{err}")
            pane.keys("Enter")
            pane.wait_for("fake-slow>")
            pane.type(LONG)
            pane.keys("Enter")
        pane.wait_for("echo: 1 2 3")
        pid = qwen_pid(pane)
    finally:
        pane.close()  # the terminal goes away
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "qwen outlived its terminal"
    text = err.read_text()
    assert "Traceback" not in text and "interrupted: the partial answer was kept" in text, text
    role, status, content = last_answer()
    assert (role, status) == ("assistant", "interrupted") and content.startswith("echo: 1 2 3")


# --------------------------------------------------------------------------- the store, bad input


def test_installed_qwen_with_a_damaged_history(srv: FakeServerProcess) -> None:
    path = default_path()
    with Store(path) as s:
        s.create()
    with open(path, "r+b") as f:
        f.write(b"\0" * 100)
    p = subprocess.run([QWEN, "complete", "hi"], capture_output=True, env=env(srv), timeout=60)
    assert p.returncode == 0 and p.stdout == b"echo: hi\n"
    assert p.stderr.decode().count("qwen: warning: this exchange is not kept in the history") == 1
    for args in (["history"], ["history", "search", "hi"]):
        p = subprocess.run([QWEN, *args], capture_output=True, env=env(srv), timeout=60)
        err = p.stderr.decode()
        assert p.returncode == 1 and f"qwen: error: the history database {path} is damaged" in err
        assert "hint: `qwen history doctor --repair`" in err and "Traceback" not in err
    p = subprocess.run([QWEN, "history", "doctor", "--repair"], capture_output=True, env=env(srv), timeout=60)
    assert p.returncode == 0 and b"repaired" in p.stdout


def test_an_argument_that_is_not_utf8_is_refused_before_sending(srv: FakeServerProcess) -> None:
    p = subprocess.run([QWEN.encode(), b"complete", b"ab\xff"], capture_output=True, env=env(srv), timeout=60)
    assert p.returncode == 2 and p.stdout == b""
    err = p.stderr.decode()
    assert err.splitlines()[0] == "qwen: error: argument 2 is not valid UTF-8: ab\\xff"
    assert err.splitlines()[1].startswith("hint: ") and len(err.splitlines()) == 2
    assert srv.requests() == []
