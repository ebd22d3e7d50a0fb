"""The installed `qwen` binary against a local server in a subprocess, over real sockets."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServerProcess, chat_stream_events, long_markdown

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\r")

pytestmark = needs_qwen


def env(srv: FakeServerProcess, **extra: str) -> dict[str, str]:
    return clean_env(QWEN_BASE_URL=srv.base_url, DASHSCOPE_API_KEY="sk-e2e-not-a-real-key-0000", **extra)


def qwen(
    srv: FakeServerProcess, *args: str, stdin: bytes = b"", **extra: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([QWEN, *args], input=stdin, capture_output=True, env=env(srv, **extra), timeout=60)


def test_streams_echo_over_real_sockets(srv: FakeServerProcess) -> None:
    p = qwen(srv, "complete", "hello there", "-m", "qwen-plus")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"echo: hello there\n"
    err = p.stderr.decode()
    assert "qwen-plus" in err and " in · " in err and " out · " in err and " total · " in err
    body = srv.requests()[-1]["json"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert srv.requests()[-1]["headers"]["authorization"] == "Bearer sk-e2e-not-a-real-key-0000"


def test_stdin_pipe(srv: FakeServerProcess) -> None:
    p = qwen(srv, "complete", "-", stdin="git diff 内容\n".encode())
    assert p.returncode == 0 and p.stdout.decode() == "echo: git diff 内容\n"


def test_utf8_character_split_across_writes(srv: FakeServerProcess) -> None:
    head = b'data: {"choices":[{"delta":{"content":"'
    ni = "你".encode()
    srv.enqueue(
        {
            "writes": [
                {"hex": (head + b"A" + ni[:1]).hex()},
                {"hex": (ni[1:] + "好"[:1].encode() + b'"}}]}\n\n').hex()},
                'data: {"choices":[{"delta":{"content":""},"finish_reason":"stop"}]}\n\n',
                "data: [DONE]\n\n",
            ],
            "delay": 0.05,
        }
    )
    p = qwen(srv, "complete", "hi")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode("utf-8") == "A你好\n"
    assert "usage not reported" in p.stderr.decode()


def test_stream_cut_mid_way_keeps_partial(srv: FakeServerProcess) -> None:
    srv.enqueue({"sse": chat_stream_events(["The ", "first ", "half"])[:3], "cut": True})
    p = qwen(srv, "complete", "hi")
    assert p.returncode == 6
    assert p.stdout == b"The first \n"
    err = p.stderr.decode()
    assert "qwen: error: the answer stream broke off after 10 characters" in err
    assert "Traceback" not in err


def test_rate_limit_retried_then_answered(srv: FakeServerProcess) -> None:
    srv.enqueue(
        {
            "status": 429,
            "json": {"error": {"message": "rate", "code": "limit_requests"}},
            "headers": {"Retry-After": "0"},
        }
    )
    p = qwen(srv, "complete", "again")
    assert p.returncode == 0 and p.stdout == b"echo: again\n"
    assert len(srv.requests()) == 2


def test_401_exit_code_and_masking(srv: FakeServerProcess) -> None:
    srv.enqueue(
        {
            "status": 401,
            "json": {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}},
        }
    )
    p = qwen(srv, "complete", "hi", "--debug")
    assert p.returncode == 3
    err = p.stderr.decode()
    assert "sk-...0000" in err and "sk-e2e-not-a-real-key-0000" not in err


def test_ctrl_c_stops_at_once_and_keeps_partial(srv: FakeServerProcess) -> None:
    proc = subprocess.Popen(
        [QWEN, "complete", "hi", "-m", "fake-slow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env(srv),
    )
    assert proc.stdout is not None
    first = proc.stdout.read1(64)  # type: ignore[attr-defined]
    assert first
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - t0 < 5  # at once; 5 s leaves room for a loaded machine
    assert proc.returncode == 130
    assert (first + out).decode().strip()
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()


def run_in_pty(
    srv: FakeServerProcess,
    *args: str,
    rows: int = 24,
    cols: int = 80,
    stdin: bytes | None = None,
    code: int = 0,
    **extra: str,
) -> bytes:
    """Raw bytes `qwen` writes to a pseudo-terminal (``stdin``: a pipe with these bytes instead)."""
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(
        [QWEN, *args],
        stdin=slave if stdin is None else subprocess.PIPE,
        stdout=slave,
        stderr=slave,
        env=env(srv, **{"TERM": "xterm-256color", **extra}),
        close_fds=True,
    )
    os.close(slave)
    if proc.stdin is not None:
        proc.stdin.write(stdin or b"")
        proc.stdin.close()
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(master)
    assert proc.returncode == code, b"".join(chunks)[-2000:]
    return b"".join(chunks)


def run_in_tmux(srv: FakeServerProcess, *args: str, rows: int = 24, cols: int = 80) -> str:
    """What a person sees: tmux's scroll-back plus screen after `qwen` ran in a real pane."""
    sock = f"qwen-e2e-{os.getpid()}"
    e = env(srv, TERM="xterm-256color")
    cmd = " ".join([QWEN, *args]) + "; echo __EXIT__$?; sleep 60"
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    subprocess.run(
        [
            *tmux,
            "start-server",
            ";",
            "set",
            "-g",
            "history-limit",
            "50000",
            ";",
            "new-session",
            "-d",
            "-x",
            str(cols),
            "-y",
            str(rows),
            "-s",
            "t",
            cmd,
        ],
        check=True,
        env=e,
        timeout=20,
    )
    try:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            text = subprocess.run(
                [*tmux, "capture-pane", "-p", "-J", "-S", "-", "-t", "t"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout
            if "__EXIT__" in text:
                break
            time.sleep(0.2)
        assert "__EXIT__0" in text, text[-2000:]
        return text
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=20)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_terminal_renders_long_answer_once(srv: FakeServerProcess) -> None:
    text = run_in_tmux(srv, "complete", "hi", "-m", "fake-long")
    # Every line of the 40-line code block (taller than the 24-line screen) is in the
    # scroll-back exactly once: not duplicated by redraws, not cut off.
    code = long_markdown().split("```python\n", 1)[1].split("```", 1)[0]
    lines = {ln.strip() for ln in code.splitlines() if len(ln.strip()) > 12}
    assert lines
    for line in lines:
        assert text.count(line) == 1, line
    paragraphs = [p for p in long_markdown().split("\n\n") if p.startswith("Paragraph")]
    for p in paragraphs:
        head = p.split(". ")[0] + "."
        assert text.count(head) == 1, head
    assert "2000 out" in text


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_ctrl_c_in_a_terminal_keeps_the_partial_line_once(srv: FakeServerProcess) -> None:
    sock = f"qwen-e2e-c-{os.getpid()}"
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    cmd = f"{QWEN} complete 'one two three four five six seven' -m fake-slow -q; echo __EXIT__$?; sleep 60"
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "100", "-y", "20", "-s", "t", cmd],
        check=True,
        env=env(srv, TERM="xterm-256color"),
        timeout=20,
    )
    try:

        def screen() -> str:
            return subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True, timeout=20
            ).stdout

        deadline = time.monotonic() + 20
        while "echo: one two" not in screen() and time.monotonic() < deadline:
            time.sleep(0.05)
        subprocess.run([*tmux, "send-keys", "-t", "t", "C-c"], check=True, timeout=20)
        while "__EXIT__" not in screen() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = screen()
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=20)
    assert "__EXIT__130" in text, text
    assert text.count("echo: one two") == 1, text
    assert "interrupted" in text and "^C" not in text


def test_terminal_output_has_colour(srv: FakeServerProcess) -> None:
    raw = run_in_pty(srv, "complete", "**bold** and `code`", "-q")
    assert b"\x1b[" in raw and b"echo:" in raw


def test_no_color_in_terminal_is_plain(srv: FakeServerProcess) -> None:
    raw = run_in_pty(srv, "complete", "**hi**", "--no-color", "-q")
    assert b"\x1b" not in raw and b"echo: **hi**" in raw


def test_reader_going_away_ends_quietly_and_keeps_the_partial(srv: FakeServerProcess) -> None:
    """`qwen complete ... | head -c 8`: exit 0 at once, no traceback, the partial answer stored."""
    proc = subprocess.Popen(
        [QWEN, "complete", "one two three four five six seven eight nine ten", "-m", "fake-slow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env(srv),
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read1(8)  # type: ignore[attr-defined]
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.wait(timeout=10)
    assert first.startswith(b"echo")
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err and "error" not in err
    from qwen_cli.store import Store

    with Store.open() as st:
        conv = st.latest()
        assert conv is not None
        answer = st.messages(conv.id)[-1]
    assert answer.role == "assistant" and answer.status == "interrupted"
    assert answer.content.startswith("echo") and len(answer.content) < len(
        "echo: one two three four five six"
    )


@needs_qwen
def test_qwen_cli_is_the_same_program() -> None:
    """Qwen Code installs a `qwen` too; `qwen-cli` is ours whichever comes first on PATH."""
    from pathlib import Path

    ours = str(Path(QWEN).with_name("qwen-cli"))
    p = subprocess.run([ours, "--version"], capture_output=True, env=clean_env())
    assert p.returncode == 0
    assert p.stdout.decode().startswith("qwen ") and "qwen-cli" in p.stdout.decode()
