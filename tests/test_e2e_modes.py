"""The installed `qwen` with -f, --code and --shell, against the fake server; --shell in tmux.

A shell-mode command runs only after the `e` key at a real terminal: any other key, and any
pipe, runs nothing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e import QWEN, needs_qwen
from tests.fakeserver import FakeServerProcess, chat_stream_events
from tests.test_e2e import env, qwen

pytestmark = needs_qwen
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def said(text: str) -> dict[str, object]:
    return {"sse": chat_stream_events([text[i : i + 5] for i in range(0, len(text), 5)])}


def history_db() -> Path:
    return Path(os.environ["QWEN_DATA_DIR"]) / "history.db"


def test_a_local_web_page_reaches_the_prompt_as_text(srv: FakeServerProcess) -> None:
    page = (
        "<html><head><title>Notes</title><script>evil()</script></head>"
        "<body><p>Alpha</p><p>Beta</p></body></html>"
    )
    srv.enqueue({"match": "/page.html", "body": page, "content_type": "text/html; charset=utf-8"})
    p = qwen(srv, "complete", "-f", f"{srv.url}/page.html", "-f", "-", "sum up", stdin=b"from stdin\n")
    assert p.returncode == 0, p.stderr
    body = srv.requests()[-1]["json"]
    assert body["messages"][-1]["content"] == (
        f'<fragment source="{srv.url}/page.html">\nNotes\n\nAlpha\n\nBeta\n</fragment>\n\n'
        '<fragment source="stdin">\nfrom stdin\n</fragment>\n\nsum up'
    )
    assert "evil" not in body["messages"][-1]["content"]
    db = sqlite3.connect(history_db())
    assert db.execute("SELECT source FROM message_fragments ORDER BY position").fetchall() == [
        (f"{srv.url}/page.html",),
        ("stdin",),
    ]
    db.close()


def test_a_page_that_fails_is_one_error(srv: FakeServerProcess) -> None:
    srv.enqueue({"match": "/gone", "status": 404, "body": "no"})
    p = qwen(srv, "complete", "-f", f"{srv.url}/gone", "q")
    err = p.stderr.decode()
    assert p.returncode != 0 and err.startswith("qwen: error: ") and "404" in err and "hint: " in err
    assert "Traceback" not in err
    assert not [r for r in srv.requests() if r["path"].endswith("/chat/completions")]


def test_code_to_a_file_is_only_code(srv: FakeServerProcess, tmp_path: Path) -> None:
    srv.enqueue(said('Sure!\n\n```bash\nfor f in *.png; do\n  echo "$f"\ndone\n```\n\nHope it helps.\n'))
    out = tmp_path / "loop.sh"
    with out.open("wb") as f:
        p = subprocess.run(
            [QWEN, "complete", "--code", "a bash loop over *.png"],
            stdout=f,
            stderr=subprocess.PIPE,
            env=env(srv),
            timeout=60,
        )
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == b'for f in *.png; do\n  echo "$f"\ndone\n'


class Pane:
    """One tmux server with one pane running ``cmd`` in bash."""

    def __init__(self, srv: FakeServerProcess, cmd: str, cols: int = 100, rows: int = 30) -> None:
        self.tmux = ["tmux", "-L", f"qwen-modes-{os.getpid()}", "-f", "/dev/null"]
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-x", str(cols), "-y", str(rows), "-s", "t",
             f"{cmd}; echo __EXIT__$?; sleep 60"],
            check=True,
            env=env(srv, TERM="xterm-256color", SHELL="/bin/bash"),
            timeout=20,
        )  # fmt: skip

    def text(self) -> str:
        r = subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-J", "-S", "-", "-t", "t"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return r.stdout

    def wait_for(self, needle: str, count: int = 1, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while (text := self.text()).count(needle) < count:
            assert time.monotonic() < deadline, text[-2000:]
            time.sleep(0.05)
        return text

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "t", *keys], check=True, timeout=20)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, timeout=20)


def choices() -> list[tuple[str, str, int | None]]:
    db = sqlite3.connect(history_db())
    try:
        return db.execute("SELECT choice, command, exit_code FROM shell_choices ORDER BY id").fetchall()
    finally:
        db.close()


@needs_tmux
def test_shell_runs_the_command_only_after_e(srv: FakeServerProcess, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = f"touch {marker} && echo made-it"
    srv.enqueue(said(f"```bash\n{command}\n```"))
    pane = Pane(srv, f"{QWEN} complete --shell {shlex.quote('make a marker')}")
    try:
        pane.wait_for("[E]xecute, [D]escribe, [R]evise, [C]opy, [A]bort?")
        time.sleep(0.3)
        assert not marker.exists()  # shown, waiting: nothing has run
        pane.keys("e")
        screen = pane.wait_for("__EXIT__")
    finally:
        pane.close()
    assert marker.exists()
    assert "made-it" in screen and "exit code 0" in screen and "__EXIT__0" in screen
    assert command in screen
    assert choices() == [("execute", command, 0)]
    body = srv.requests()[-1]["json"]
    assert "one shell command for bash on " in body["messages"][0]["content"]


@needs_tmux
@pytest.mark.parametrize("key", ["x", "Enter", "a", "C-d"])
def test_shell_other_keys_run_nothing(srv: FakeServerProcess, tmp_path: Path, key: str) -> None:
    marker = tmp_path / "ran"
    srv.enqueue(said(f"touch {marker}"))
    pane = Pane(srv, f"{QWEN} complete --shell 'make a marker'", cols=60, rows=20)
    try:
        pane.wait_for("[A]bort?")
        pane.keys(key)
        screen = pane.wait_for("__EXIT__")
    finally:
        pane.close()
    assert "aborted: nothing was run" in screen and "__EXIT__0" in screen
    assert not marker.exists()
    assert choices() == [("abort", f"touch {marker}", None)]


@needs_tmux
def test_shell_in_a_pipe_at_a_terminal_prints_and_runs_nothing(
    srv: FakeServerProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    srv.enqueue(said(f"touch {marker}"))
    pane = Pane(srv, f"{QWEN} complete --shell 'make a marker' | cat")
    try:
        pane.keys("e")  # typed ahead: nobody reads it
        screen = pane.wait_for("__EXIT__")
    finally:
        pane.close()
    assert f"touch {marker}" in screen and "[E]xecute" not in screen
    time.sleep(0.2)
    assert not marker.exists()


@needs_tmux
def test_describe_then_revise_then_execute(srv: FakeServerProcess, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    srv.enqueue(
        said(f"touch {first}"),
        said("It **creates** an empty file."),
        said(f"touch {second}"),
    )
    pane = Pane(srv, f"{QWEN} complete --shell 'make a marker'")
    try:
        pane.wait_for("[A]bort?")
        pane.keys("d")
        pane.wait_for("[A]bort?", count=2)
        assert "creates an empty file" in pane.text()
        pane.keys("r")
        pane.wait_for("what should change?")
        pane.keys("name it second", "Enter")
        pane.wait_for("[A]bort?", count=3)
        pane.keys("e")
        screen = pane.wait_for("__EXIT__")
    finally:
        pane.close()
    assert second.exists() and not first.exists()
    assert "exit code 0" in screen
    chats = [r["json"] for r in srv.requests() if r["path"].endswith("/chat/completions")]
    assert len(chats) == 3
    describe, revise = chats[1]["messages"], chats[2]["messages"]
    assert describe[0]["role"] == "user"  # no command-only system prompt while describing
    assert describe[-1]["content"].startswith("Describe what the command")
    assert revise[0]["role"] == "system" and "one shell command" in revise[0]["content"]
    assert revise[-1]["content"].startswith("Change the command: name it second.")
    assert [c[0] for c in choices()] == ["describe", "revise", "execute"]
