"""A hostile server cannot drive the user's terminal through the installed `qwen`.

Every view of server text runs in a pseudo-terminal and the raw bytes written to it are
searched for the hostile payloads (clear screen, cursor moves, OSC 0/2/8/52, DSR, DCS, C1
controls, BEL, BS, DEL, bidi controls); qwen's own drawing uses none of them. In a pipe the
same text comes out byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from tests import hostile
from tests.e2e import QWEN, needs_qwen
from tests.fakeserver import FakeServerProcess, chat_stream_events, error_body, split_text
from tests.test_e2e import ANSI, env, qwen, run_in_pty

pytestmark = needs_qwen

MODEL = "qwen-max\x1b]0;model-title\x07\u202e"
THINKING = "Thinking \x1b]52;c;cm0gLXJmIH4=\x07 and \x1b[2J\x9b6n done.\n"


def stream(text: str = "", *, reasoning: str = "") -> dict[str, object]:
    return {
        "sse": chat_stream_events(
            split_text(text or hostile.answer(), 5), model=MODEL, reasoning_pieces=split_text(reasoning, 7)
        )
    }


def obeyed(raw: bytes) -> list[bytes]:
    return [p for p in hostile.PAYLOADS if p in raw]


def seen(raw: bytes) -> str:
    """The text on the screen, qwen's own colour and cursor codes taken out."""
    return ANSI.sub("", raw.decode("utf-8", "replace"))


def test_markdown_view_with_reasoning_and_footer(srv: FakeServerProcess) -> None:
    srv.enqueue(stream(reasoning=THINKING))
    raw = run_in_pty(srv, "complete", "hi", rows=30, cols=100)
    assert obeyed(raw) == []
    text = seen(raw)
    for form in hostile.SHOWN:
        assert form in text, form
    assert "Thinking ␛]52;c;cm0gLXJmIH4=␇ and ␛[2J\\x9b6n done." in text  # the dim reasoning
    assert "qwen-max␛]0;model-title␇\\u202e · " in text  # the footer's model, from the server


def test_no_color_view(srv: FakeServerProcess) -> None:
    srv.enqueue(stream())
    raw = run_in_pty(srv, "complete", "hi", "--no-color")
    assert obeyed(raw) == []
    assert b"\x1b" not in raw  # not even qwen's own colour
    text = raw.decode().replace("\r\n", "\n")
    assert "lone esc, bel, bs, del: [x␛y␇z␈w␡v]" in text and "cr overwrite: [safe text␍EVIL]" in text
    assert "The end. 中文 🙂" in text


def test_a_pipe_gets_the_answer_byte_for_byte(srv: FakeServerProcess) -> None:
    srv.enqueue(stream())
    p = qwen(srv, "complete", "hi")
    assert p.returncode == 0, p.stderr
    assert p.stdout == hostile.answer().encode()
    assert MODEL.encode() in p.stderr  # the footer into a pipe: as received
    srv.enqueue(stream())
    p = qwen(srv, "complete", "hi", "--json")
    assert json.loads(p.stdout)["content"] == hostile.answer()


def test_history_views(srv: FakeServerProcess) -> None:
    srv.enqueue(stream())
    assert qwen(srv, "complete", "Hostile please").returncode == 0
    conv_id = qwen(srv, "history").stdout.decode().split("\t")[0]
    piped = qwen(srv, "history", "show", conv_id).stdout.decode()
    assert hostile.answer() in piped and f"## {MODEL}" in piped  # data: unchanged
    for extra in ({}, {"NO_COLOR": "1"}):
        raw = run_in_pty(srv, "history", "show", conv_id, **extra)
        assert obeyed(raw) == [], extra
        assert "␛]0;pwned-title␇" in seen(raw) and "qwen-max␛]0;model-title␇\\u202e" in seen(raw)
    for args in (("history",), ("history", "search", "clipboard"), ("history", "export", conv_id)):
        raw = run_in_pty(srv, *args, cols=200)
        assert obeyed(raw) == [], args
    assert "␛]52;c;" in seen(run_in_pty(srv, "history", "search", "clipboard", cols=200))
    raw = run_in_pty(srv, "history", "export", conv_id, "--format", "json")
    assert obeyed(raw) == [] and "\\u001b]0;pwned-title\\u0007" in raw.decode()


def test_chat_history_and_resume_recap(srv: FakeServerProcess) -> None:
    srv.enqueue(stream("Short \x1b]0;chat-title\x07 answer \x1b[2J\u202e\n"))
    assert qwen(srv, "complete", "a question").returncode == 0
    raw = run_in_pty(srv, "chat", "-c", stdin=b"/history\n")
    assert obeyed(raw) == []
    text = seen(raw)
    assert text.count("Short ␛]0;chat-title␇ answer ␛[2J\\u202e") == 2  # the recap, then /history
    assert "qwen-max␛]0;model-title␇\\u202e:" in text


def test_error_message_from_the_server(srv: FakeServerProcess) -> None:
    message = "bad request \x1b]0;err-title\x07\x1b[2J\x1bP$q m\x1b\\ \u202e"
    srv.enqueue({"status": 401, "json": error_body(message, "invalid_api_key")})
    raw = run_in_pty(srv, "complete", "hi", code=3)
    assert obeyed(raw) == []
    assert "qwen: error: bad request ␛]0;err-title␇␛[2J␛P$q m␛\\ \\u202e" in seen(raw)
    assert "hint: " in seen(raw)
    srv.enqueue({"status": 401, "json": error_body(message, "invalid_api_key")})
    p = qwen(srv, "complete", "hi")
    assert p.returncode == 3 and message.encode() in p.stderr  # a log file keeps it as it came


def test_model_names_in_qwen_models(srv: FakeServerProcess) -> None:
    ids = ["qwen-plus", "evil\x1b]0;models-title\x07\x1b[2J\u202e"]
    listing = {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}
    srv.enqueue({"match": "/models", "json": listing})
    raw = run_in_pty(srv, "models", "--refresh", cols=120)
    assert obeyed(raw) == []
    assert "evil␛]0;models-title␇␛[2J\\u202e" in seen(raw)
    srv.enqueue({"match": "/models", "json": listing})
    p = qwen(srv, "models", "--refresh")
    assert ids[1].encode() in p.stdout  # a pipe: as received


def test_file_names_in_upload_list(srv: FakeServerProcess) -> None:
    name = "report\x1b]0;file-title\x07\x1b[2J\u202efdp.exe"
    item = {"id": "file-fe-1", "object": "file", "bytes": 3, "filename": name, "purpose": "file-extract"}
    item.update(status="processed", created_at=1735689600)
    listing = {"object": "list", "data": [item]}
    srv.enqueue({"match": "/files", "json": listing})
    raw = run_in_pty(srv, "upload", "--list", cols=160)
    assert obeyed(raw) == []
    assert "report␛]0;file-title␇␛[2J\\u202efdp.exe" in seen(raw)
    srv.enqueue({"match": "/files", "json": listing})
    assert name.encode() in qwen(srv, "upload", "--list").stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_person_keeps_their_screen_and_title(srv: FakeServerProcess) -> None:
    """In a real terminal (tmux, 100x30) the screen is not cleared and the title not changed."""
    srv.enqueue(stream("Before.\n\n\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]2;pwned\x1b\\After.\n"))
    tmux = ["tmux", "-L", f"qwen-e2e-t-{os.getpid()}", "-f", "/dev/null"]
    cmd = f"{QWEN} complete hi; echo __EXIT__$?; sleep 60"
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "100", "-y", "30", "-s", "t", cmd],
        check=True,
        env=env(srv, TERM="xterm-256color"),
        timeout=20,
    )
    try:

        def tmux_out(*args: str) -> str:
            return subprocess.run([*tmux, *args], capture_output=True, text=True, timeout=20).stdout

        deadline = time.monotonic() + 30
        while "__EXIT__" not in (screen := tmux_out("capture-pane", "-p", "-t", "t")):
            assert time.monotonic() < deadline, screen
            time.sleep(0.1)
        title = tmux_out("display-message", "-p", "-t", "t", "#{pane_title}")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=20)
    assert "__EXIT__0" in screen
    assert "Before." in screen and "After." in screen  # the visible screen was not cleared
    assert "␛[2J␛[H␛]0;pwned␇␛]2;pwned␛" in screen
    assert "pwned" not in title and "model-title" not in title
    assert "qwen-max␛]0;model-title␇" in screen
