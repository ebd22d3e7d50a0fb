"""`/help` (keys, wrapping), `/edit`, `/copy`, `/save` after `/system`, `/history`'s models and
plurals in `qwen chat`, and `qwen history --json`: what is printed, sent and written."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import threading
import time
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from tests import chatkit
from tests.chatkit import CTRL_D, ENTER, bodies, lines, only_conversation, sent_messages, typed
from tests.fakeserver import FakeServer, chat_stream_events

srv = chatkit.srv  # fixture


def keys(*typed_lines: str) -> str:
    return "".join(t + ENTER for t in typed_lines) + CTRL_D


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# --------------------------------------------------------------------------- /help


def test_help_lists_the_keys_and_wraps_under_its_column(run_cli, srv: FakeServer, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    r = typed(run_cli, keys("/help"))
    assert r.code == 0 and srv.requests == []
    out = r.out.splitlines()
    assert all(len(line) <= 60 and line == line.rstrip() for line in out), out
    for key in ("Enter", "Alt-Enter", "Ctrl-R", "Ctrl-C", "Ctrl-D", "Ctrl-X Ctrl-E"):
        assert any(line.startswith(key + " ") for line in out), key
    attach = next(i for i, line in enumerate(out) if line.startswith("/attach PATH"))
    column = out[attach].index("attach an image")
    assert out[attach + 1].startswith(" " * column) and out[attach + 1][column] != " "  # wrapped under it
    assert "/edit" in r.out and "/copy" in r.out


# --------------------------------------------------------------------------- /edit


def test_edit_puts_the_editor_text_back_at_the_prompt(
    run_cli, srv: FakeServer, tmp_path, monkeypatch
) -> None:
    editor = script(tmp_path / "ed", 'printf "\\nwritten in the editor\\n" >> "$1"')
    monkeypatch.setenv("VISUAL", str(editor))
    r = typed(run_cli, keys("/edit first line:", ""))  # Enter sends what the editor left at the prompt
    assert r.code == 0, r.err
    assert sent_messages(srv) == [[("user", "first line:\nwritten in the editor")]]


def test_ctrl_x_ctrl_e_edits_the_input_and_does_not_send_it(
    run_cli, srv: FakeServer, tmp_path, monkeypatch
) -> None:
    seen = tmp_path / "seen"
    editor = script(tmp_path / "ed", f'cp "$1" "{seen}"; printf "from the editor" > "$1"')
    monkeypatch.setenv("VISUAL", str(editor))
    with create_pipe_input() as inp, create_app_session(input=inp, output=DummyOutput()):
        inp.send_text("draft\x18\x05")  # Ctrl-X Ctrl-E

        def after_the_editor() -> None:  # keys typed once the editor is done, as a person would
            deadline = time.monotonic() + 10
            while not seen.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.3)
            inp.send_text(" and more" + ENTER + CTRL_D)

        typist = threading.Thread(target=after_the_editor)
        typist.start()
        r = run_cli("chat")
        typist.join()
    assert r.code == 0, r.err
    assert seen.read_text(encoding="utf-8") == "draft"  # the editor got the current input
    assert sent_messages(srv) == [[("user", "from the editor and more")]]  # back at the prompt, then sent


def test_edit_without_an_editor_or_a_terminal(run_cli, srv: FakeServer, monkeypatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    r = typed(run_cli, keys("/edit"))
    assert "qwen: error: no editor: neither $VISUAL nor $EDITOR is set\nhint: set one" in r.err
    r = run_cli("chat", stdin=lines("/edit"))
    assert r.code == 2 and "qwen: error: /edit needs a terminal\nhint: " in r.err and srv.requests == []


def test_editor_that_fails_changes_nothing(run_cli, srv: FakeServer, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EDITOR", str(script(tmp_path / "bad", "exit 3")))
    r = typed(run_cli, keys("/edit draft"))
    assert "qwen: error: the editor exited with code 3: the message was not changed" in r.err
    assert srv.requests == []


# --------------------------------------------------------------------------- /copy

CODE_ANSWER = "Use this:\n\n```python\nprint('a')\n```\n\nor this:\n\n```sh\necho b\n```\n"


def fake_clipboard(tmp_path: Path, monkeypatch) -> Path:
    got = tmp_path / "clipboard"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script(bin_dir / "xclip", f'cat > "{got}"')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return got


def test_copy_in_a_pipe_uses_a_clipboard_tool(run_cli, srv: FakeServer, tmp_path, monkeypatch) -> None:
    got = fake_clipboard(tmp_path, monkeypatch)
    srv.enqueue({"sse": chat_stream_events([CODE_ANSWER])}, {"sse": chat_stream_events([CODE_ANSWER])})
    r = run_cli("chat", stdin=lines("q", "/copy code"))
    assert r.code == 0, r.err
    assert got.read_text(encoding="utf-8") == "echo b"
    assert "copied its last code block (6 characters) with xclip" in r.err
    r = run_cli("chat", stdin=lines("q", "/copy"))
    assert got.read_text(encoding="utf-8") == CODE_ANSWER
    assert "\x1b]52" not in r.out + r.err  # never an escape sequence into a pipe


def test_copy_on_a_terminal_writes_osc52(run_cli, srv: FakeServer, tmp_path, monkeypatch) -> None:
    fake_clipboard(tmp_path, monkeypatch)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    r = typed(run_cli, keys("héllo", "/copy"))
    encoded = base64.b64encode("echo: héllo".encode()).decode()
    assert f"\x1b]52;c;{encoded}\x07" in r.err
    assert "copied the last answer (11 characters) through the terminal (OSC 52)" in r.err


def test_copy_inside_tmux_goes_through_its_buffer(run_cli, srv: FakeServer, tmp_path, monkeypatch) -> None:
    got = fake_clipboard(tmp_path, monkeypatch)
    script(tmp_path / "bin" / "tmux", f'echo "$@" > "{got}.args"; cat > "{got}"')
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    r = typed(run_cli, keys("hi", "/copy"))
    assert got.read_text(encoding="utf-8") == "echo: hi"
    assert Path(f"{got}.args").read_text(encoding="utf-8") == "load-buffer -w -\n"
    assert "copied the last answer (8 characters) with tmux" in r.err and "\x1b]52" not in r.err


def test_copy_says_when_it_cannot(run_cli, srv: FakeServer, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no clipboard tool
    r = run_cli("chat", stdin=lines("/copy"))
    assert r.code == 2 and "qwen: error: nothing to copy yet" in r.err
    r = run_cli("chat", stdin=lines("hi", "/copy code"))
    assert "qwen: error: the last answer has no code block" in r.err
    r = run_cli("chat", stdin=lines("hi", "/copy"))
    assert r.code == 2 and "qwen: error: cannot copy: no terminal to send OSC 52 to" in r.err
    assert "\nhint: install one of those tools, or /save FILE" in r.err


# --------------------------------------------------------------------------- the rest


def test_save_right_after_system_writes_the_new_prompt(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    md, js = tmp_path / "a.md", tmp_path / "a.json"
    r = run_cli("chat", "-s", "old", stdin=lines("hi", "/system new prompt", f"/save {md}", f"/save {js}"))
    assert r.code == 0, r.err
    assert "## System\n\nnew prompt\n" in md.read_text(encoding="utf-8")
    assert json.loads(js.read_text(encoding="utf-8"))["system"] == "new prompt"
    assert f"saved 1 turn to {md}" in r.err


def test_history_names_every_model_and_recap_counts_right(run_cli, srv: FakeServer) -> None:
    r = run_cli("chat", stdin=lines("a", "/model qwen-plus", "b", "/history"))
    conv_id, _ = only_conversation()
    assert f"conversation {conv_id}: 2 turns with qwen-max, qwen-plus\n" in r.err
    assert [b["model"] for b in bodies(srv)] == ["qwen-max", "qwen-plus"]
    r = run_cli("chat", "-c", stdin=lines("/history"))
    assert "2 turns · qwen-plus" in r.err
    for n in range(5):
        assert run_cli("complete", "-c", f"more {n}").code == 0
    r = run_cli("chat", "-c", stdin=lines())
    assert "  ... 2 earlier turns (/history shows them all)" in r.err
    assert run_cli("complete", "-c", "last").code == 0
    r = run_cli("chat", "-c", stdin=lines())
    assert "  ... 3 earlier turns" in r.err


def test_one_earlier_turn_is_singular(run_cli, srv: FakeServer) -> None:
    for n in range(6):
        assert run_cli("complete", *(["-c"] if n else []), f"m{n}").code == 0
    r = run_cli("chat", "-c", stdin=lines())
    assert "  ... 1 earlier turn (/history shows them all)" in r.err


LONG = "a first message that is much longer than the sixty characters a title keeps, with more words"


def test_history_in_a_pipe_and_as_json(run_cli, srv: FakeServer) -> None:
    assert run_cli("complete", LONG).code == 0
    assert run_cli("complete", "-c", "second about zebras").code == 0
    r = run_cli("history")
    assert r.code == 0 and r.out.split("\t")[3] == LONG  # not cut in a pipe
    r = run_cli("history", "--json")
    (conv,) = json.loads(r.out)
    assert conv["title"] == LONG and conv["turns"] == 2 and conv["model"] == "qwen-max"
    assert conv["created_at"][:4].isdigit() and "T" in conv["created_at"]
    r = run_cli("history", "show", conv["id"][:6], "--json")
    shown = json.loads(r.out)
    assert [m["content"] for m in shown["messages"]] == [LONG, f"echo: {LONG}", "second about zebras",
                                                          "echo: second about zebras"]  # fmt: skip
    r = run_cli("history", "search", "zebras", "--json")
    hits = json.loads(r.out)
    assert {h["content"] for h in hits} == {"second about zebras", "echo: second about zebras"}
    assert all(h["conversation"] == conv["id"] for h in hits)
    r = run_cli("history", "search", "nothing-like-this", "--json")
    assert r.code == 1 and json.loads(r.out) == []


@pytest.mark.parametrize("command", ["history", "show", "search"])
def test_history_json_is_valid_with_hostile_text(run_cli, srv: FakeServer, command: str) -> None:
    assert run_cli("complete", "evil \x1b]0;title\x07 text").code == 0
    conv = json.loads(run_cli("history", "--json").out)[0]
    args = {"history": [], "show": ["show", conv["id"]], "search": ["search", "evil"]}[command]
    r = run_cli("history", *args, "--json")
    assert "\x1b" not in r.out and json.loads(r.out)
