"""The installed `qwen chat` / `qwen history` against the fake server in a subprocess: in a pipe,
killed mid-answer, several at once, and in a real terminal (tmux)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from qwen_cli.store import Store
from tests import samples
from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServerProcess, error_body

pytestmark = needs_qwen


def env(srv: FakeServerProcess, **extra: str) -> dict[str, str]:
    return clean_env(QWEN_BASE_URL=srv.base_url, DASHSCOPE_API_KEY="sk-e2e-not-a-real-key-0000", **extra)


def qwen(srv: FakeServerProcess, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([QWEN, *args], input=stdin, capture_output=True, env=env(srv), timeout=60)


def chat_bodies(srv: FakeServerProcess) -> list[list[tuple[str, str]]]:
    return [
        [(m["role"], m["content"]) for m in r["json"]["messages"]]
        for r in srv.requests()
        if r["path"].endswith("/chat/completions")
    ]


def test_pipe_chat_then_history(srv: FakeServerProcess) -> None:
    p = qwen(srv, "chat", stdin=b"hi\nand again\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"echo: hi\necho: and again\n"
    assert chat_bodies(srv)[1] == [("user", "hi"), ("assistant", "echo: hi"), ("user", "and again")]
    listed = qwen(srv, "history")
    conv_id, _, model, title, turns, _ = listed.stdout.decode().strip().split("\t")
    assert (model, title, turns) == ("qwen-max", "hi", "2")
    shown = qwen(srv, "history", "show", conv_id[:4]).stdout.decode()
    assert "## You\n\nand again\n\n## qwen-max\n\necho: and again\n" in shown


def test_a_killed_process_loses_only_the_streaming_answer(srv: FakeServerProcess) -> None:
    proc = subprocess.Popen(
        [QWEN, "chat", "-m", "fake-slow"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env(srv),
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"kept question\n")
    proc.stdin.flush()
    assert proc.stdout.read1(64)  # type: ignore[attr-defined]  # the answer is streaming
    proc.kill()
    proc.wait(10)
    proc.stdin.close()
    proc.stdout.close()
    with Store.open() as s:
        conv = s.latest()
        assert conv is not None
        [ex] = s.exchanges(conv.id)
    assert ex.user.content == "kept question" and ex.answer is None
    p = qwen(srv, "chat", "-c", stdin=b"are you there?\n")
    assert p.returncode == 0 and p.stdout == b"echo: are you there?\n"
    assert "kept question" in p.stderr.decode()  # the recap shows it
    assert chat_bodies(srv)[-1] == [("user", "are you there?")]  # an unanswered turn is not resent


def test_parallel_processes_lose_nothing(srv: FakeServerProcess) -> None:
    assert qwen(srv, "complete", "seed").returncode == 0
    with Store.open() as s:
        seed = s.latest()
        assert seed is not None
    procs = []
    for n in range(6):  # six new conversations and six turns added to one, all at once
        for args in (["complete", f"alone {n}"], ["chat", "--resume", seed.id]):
            procs.append(
                subprocess.Popen(
                    [QWEN, *args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    stdin=subprocess.PIPE,
                    env=env(srv),
                )
            )
            assert procs[-1].stdin is not None
            if args[0] == "chat":
                procs[-1].stdin.write(f"together {n}\n".encode())
            procs[-1].stdin.close()
    for p in procs:
        assert p.wait(60) == 0, p.stderr.read() if p.stderr else ""
        for f in (p.stdout, p.stderr):
            if f:
                f.close()
    with Store.open() as s:
        assert s.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        titles = sorted(c.title for c in s.recent(None))
        msgs = s.messages(seed.id)
    assert titles == sorted(["seed", *(f"alone {n}" for n in range(6))])
    assert [m.seq for m in msgs] == list(range(1, 15))
    users = [m.content for m in msgs if m.role == "user"]
    assert sorted(users) == sorted(["seed", *(f"together {n}" for n in range(6))])
    assert sum(m.role == "assistant" and m.status == "complete" for m in msgs) == 7


# --------------------------------------------------------------------------- a real terminal


class Pane:
    """A tmux pane running a shell: type into it, read what a person would see."""

    def __init__(self, e: dict[str, str], cols: int = 110, rows: int = 40) -> None:
        self.tmux = ["tmux", "-L", f"qwen-chat-e2e-{os.getpid()}", "-f", "/dev/null"]
        e = {**e, "TERM": "xterm-256color", "HISTFILE": "/dev/null"}
        subprocess.run(
            [
                *self.tmux,
                "new-session",
                "-d",
                "-x",
                str(cols),
                "-y",
                str(rows),
                "-s",
                "t",
                "bash --norc --noprofile",
            ],
            check=True,
            env=e,
            timeout=20,
        )

        self.type("PS1='READY''> '")  # a prompt to wait for, not found in the command itself
        self.keys("Enter")

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "t", *keys], check=True, timeout=20)

    def type(self, text: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "t", "-l", text], check=True, timeout=20)

    def screen(self, history: bool = True) -> str:
        args = ["capture-pane", "-p", "-J", "-t", "t"] + (["-S", "-"] if history else [])
        return subprocess.run([*self.tmux, *args], capture_output=True, text=True, timeout=20).stdout

    def wait_for(self, text: str, count: int = 1, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} x{count} never appeared:\n{screen[-3000:]}")
            time.sleep(0.05)

    def last_line(self) -> str:
        return [ln for ln in self.screen(history=False).splitlines() if ln.strip()][-1]

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, timeout=20)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_person_in_a_terminal(srv: FakeServerProcess) -> None:
    pane = Pane(env(srv))
    try:
        pane.wait_for("READY> ")
        pane.type(f"{QWEN} chat -m fake-slow")
        pane.keys("Enter")
        pane.wait_for("fake-slow>")
        pane.type("first question")
        pane.keys("Enter")
        pane.wait_for("echo: first question")
        pane.wait_for("fake-slow>", 2)
        pane.type("second")
        pane.keys("Escape", "Enter")  # a newline, not sent
        pane.type("line")
        pane.keys("Enter")
        pane.wait_for("echo: second")
        pane.wait_for("fake-slow>", 3)
        long = "please tell me a long long story " * 6
        pane.type(long)
        pane.keys("Enter")
        pane.wait_for("echo: please tell")
        pane.keys("C-c")  # stop the answer, keep the chat
        pane.wait_for("interrupted: the partial answer was kept")
        pane.wait_for("fake-slow>", 4)
        pane.type("after the interrupt")
        pane.keys("Enter")
        pane.wait_for("echo: after the interrupt")
        pane.wait_for("fake-slow>", 5)
        pane.keys("C-d")
        pane.wait_for("READY> ", 2)

        pane.type(f"{QWEN} chat -c")
        pane.keys("Enter")
        screen = pane.wait_for("continuing ")
        assert "first question" in screen and "4 turns" in screen
        pane.wait_for("fake-slow>", 6)
        pane.keys("Up")  # input history survives the process
        deadline = time.monotonic() + 10
        while "after the interrupt" not in pane.last_line() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pane.last_line().startswith("fake-slow> after the interrupt")
        pane.keys("C-c")  # clears the recalled line
        pane.type("/hist")
        pane.keys("Tab", "Enter")
        screen = pane.wait_for("4 turns with fake-slow")
        assert "(interrupted (Ctrl-C): partial answer)" in screen
        assert "you: second line" in screen and "you: after the interrupt" in screen
        pane.keys("C-d")
        screen = pane.wait_for("READY> ", 3)
        assert "Traceback" not in screen and "^C" not in screen
    finally:
        pane.close()
    bodies = chat_bodies(srv)
    assert bodies[1][-1] == ("user", "second\nline")
    after = bodies[3]
    assert after[-1] == ("user", "after the interrupt")
    assert after[-2][0] == "assistant" and after[-2][1].startswith("echo: please tell")
    assert len(after[-2][1]) < len("echo: " + long.strip())  # only the partial answer
    with Store.open() as s:
        conv = s.latest()
        assert conv is not None
        statuses = [e.answer.status for e in s.exchanges(conv.id) if e.answer]
    assert statuses == ["complete", "complete", "interrupted", "complete"]


# --------------------------------------------------------------------------- /attach


def test_attach_in_a_pipe(srv: FakeServerProcess, tmp_path: Path) -> None:
    png = tmp_path / "cat.png"
    png.write_bytes(samples.png(20, 20))
    p = qwen(srv, "chat", "-m", "qwen-vl-max", stdin=f"/attach {png}\nwhat is this?\nand now?\n".encode())
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"echo: what is this? [1 image(s)]\necho: and now?\n"
    assert f"attached {png} (PNG image".encode() in p.stderr
    with Store.open() as s:
        conv = s.latest()
        assert conv is not None
        [a] = s.attachments(conv.id)
    assert (a.path, a.via, a.url, a.width) == (str(png.resolve()), "inline", None, 20)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_attach_in_a_terminal(srv: FakeServerProcess, tmp_path: Path) -> None:
    png = tmp_path / "cat.png"
    png.write_bytes(samples.png(20, 20))
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\n- one\n", encoding="utf-8")
    srv.enqueue({"match": "/files", "status": 500, "json": error_body("upload broke", "internal_error")})
    pane = Pane(env(srv))
    try:
        pane.wait_for("READY> ")
        pane.type(f"{QWEN} chat -m qwen-vl-max --max-retries 0")
        pane.keys("Enter")
        pane.wait_for("qwen-vl-max>")
        pane.type(f"/attach {png}")
        pane.keys("Enter")
        pane.wait_for("to your next message")
        pane.type("what is this?")
        pane.keys("Enter")
        pane.wait_for("echo: what is this? [1 image(s)]")
        pane.wait_for("qwen-vl-max>", 3)
        pane.type(f"/attach {notes}")
        pane.keys("Enter")
        pane.wait_for("switch with /model qwen-long before sending")
        pane.type("/model qwen-long")
        pane.keys("Enter")
        pane.wait_for("qwen-long>")
        pane.type("summarize")
        pane.keys("Enter")  # the upload fails: nothing is sent, the message comes back
        pane.wait_for("your message is back at the prompt")
        deadline = time.monotonic() + 10
        while pane.last_line() != "qwen-long> summarize" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pane.last_line() == "qwen-long> summarize"
        pane.keys("Enter")
        pane.wait_for("echo: summarize [1 file(s)]")
        pane.wait_for("qwen-long>", 3)
        pane.keys("C-d")
        screen = pane.wait_for("READY> ", 2)
        assert "Traceback" not in screen
    finally:
        pane.close()
    with Store.open() as s:
        conv = s.latest()
        assert conv is not None
        exs = s.exchanges(conv.id)
    assert [e.user.content for e in exs] == ["what is this?", "summarize"]
    assert [[a.via for a in e.user.attachments] for e in exs] == [["inline"], ["file"]]
