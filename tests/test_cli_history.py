"""`qwen history`: list, show, search, export, rm; data on stdout, tab-separated in a pipe."""

from __future__ import annotations

import json
import sys

import pytest

from qwen_cli.cli import main
from tests import chatkit
from tests.chatkit import lines, store
from tests.conftest import _Stdin
from tests.fakeserver import FakeServer

srv = chatkit.srv  # fixture


@pytest.fixture
def two(run_cli, srv: FakeServer) -> tuple[str, str]:
    """Two conversations: (older, newer) ids."""
    assert run_cli("chat", "-s", "sys", stdin=lines("What is the context window?", "and 通义千问?")).code == 0
    assert run_cli("complete", "-m", "qwen-plus", "tell me a joke").code == 0
    with store() as s:
        newer, older = (c.id for c in s.recent())
    return older, newer


def test_list_in_a_pipe(run_cli, two: tuple[str, str]) -> None:
    older, newer = two
    r = run_cli("history")
    assert r.code == 0 and r.err == ""
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert [row[0] for row in rows] == [newer, older]
    assert [row[2:5] for row in rows] == [
        ["qwen-plus", "tell me a joke", "1"],
        ["qwen-max", "What is the context window?", "2"],
    ]
    assert all(len(row) == 6 and int(row[5]) > 0 and len(row[1]) == 16 for row in rows)
    assert run_cli("history", "-n", "1").out.count("\n") == 1


def test_list_on_a_terminal_is_a_table(run_cli, two, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    r = run_cli("history")
    head = r.out.splitlines()[0].split()
    assert head == ["id", "started", "model", "title", "turns", "tokens"]
    assert "\t" not in r.out and len(r.out.splitlines()) == 3  # one line a conversation
    assert "What is the" in r.out.splitlines()[2] and r.out.splitlines()[2].rstrip().endswith("38")


def test_list_when_empty(run_cli) -> None:
    r = run_cli("history")
    assert r.code == 0 and r.out == ""


def test_show_prints_the_conversation(run_cli, two: tuple[str, str]) -> None:
    older, _ = two
    r = run_cli("history", "show", older[:5])
    assert r.code == 0
    assert r.out.startswith("# What is the context window?\n")
    assert (
        "## System\n\nsys\n" in r.out
        and "## You\n\nand 通义千问?\n\n## qwen-max\n\necho: and 通义千问?\n" in r.out
    )


def test_search(run_cli, two: tuple[str, str]) -> None:
    older, newer = two
    r = run_cli("history", "search", "context", "window")
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert [(row[0], row[2]) for row in rows] == [(older, "assistant"), (older, "user")]
    assert rows[1][3] == "What is the context window?"
    assert run_cli("history", "search", "通义").out.count(older) == 2
    assert run_cli("history", "search", "joke").out.split("\t")[0] == newer
    r = run_cli("history", "search", "nothing like this")
    assert r.code == 1 and r.out == "" and "nothing found" in r.err


def test_export_markdown_and_json(run_cli, two: tuple[str, str], tmp_path) -> None:
    older, _ = two
    md = run_cli("history", "export", older)
    assert md.code == 0 and md.out == run_cli("history", "show", older).out
    r = run_cli("history", "export", older, "--format", "json")
    data = json.loads(r.out)
    assert data["id"] == older and data["system"] == "sys" and data["source"] == "chat"
    assert [m["role"] for m in data["messages"]] == ["user", "assistant", "user", "assistant"]
    assert data["messages"][1]["usage"]["total_tokens"] > 0 and data["messages"][1]["request_id"]
    out = tmp_path / "x.json"
    assert run_cli("history", "export", older, "-f", "json", "-o", str(out)).out == ""
    assert json.loads(out.read_text(encoding="utf-8")) == data
    bad = run_cli("history", "export", older, "--format", "pdf")
    assert bad.code == 2 and "unknown format 'pdf'" in bad.err


def test_ids_by_prefix_and_errors(run_cli, two: tuple[str, str], monkeypatch) -> None:
    r = run_cli("history", "show", "zz")
    assert r.code == 2 and "not a conversation id" in r.err and "hint:" in r.err
    r = run_cli("history", "show", "")
    assert r.code == 2


def test_rm_with_yes(run_cli, two: tuple[str, str]) -> None:
    older, newer = two
    r = run_cli("history", "rm", older[:6], "--yes")
    assert r.code == 0 and f"deleted {older}" in r.err
    with store() as s:
        assert [c.id for c in s.recent()] == [newer]
        assert s.search("context") == []


def test_rm_refuses_without_a_terminal(run_cli, two: tuple[str, str]) -> None:
    r = run_cli("history", "rm", two[0], stdin=b"y\n")
    assert r.code == 2 and "--yes" in r.err
    with store() as s:
        assert len(s.recent()) == 2


@pytest.mark.parametrize(("answer", "gone"), [(b"y\n", True), (b"n\n", False), (b"\n", False)])
def test_rm_asks_on_a_terminal(two: tuple[str, str], monkeypatch, capsys, answer: bytes, gone: bool) -> None:
    older, _ = two
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", _Stdin(answer, tty=True))
    code = main(["history", "rm", older])
    err = capsys.readouterr().err
    assert "What is the context window?" in err and "Delete this conversation? [y/N]" in err
    assert code == (0 if gone else 1)
    with store() as s:
        assert (older not in [c.id for c in s.recent()]) is gone
