"""`-f PATH|URL|-`: what reaches the prompt, in which order, and how the history keeps it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import respx

from qwen_cli import fragments
from qwen_cli.store.fragments import Fragment
from tests.test_cli_complete import CN, answer, key, sent  # noqa: F401  (key: a fixture)


def db_path(home: Path) -> Path:
    return home / "data" / "history.db"


def test_compose_labels_each_fragment_before_the_question() -> None:
    text = fragments.compose("why?", [Fragment("a.txt", "alpha\n"), Fragment("https://x.test/p", "page")])
    assert text == (
        '<fragment source="a.txt">\nalpha\n</fragment>\n\n'
        '<fragment source="https://x.test/p">\npage\n</fragment>\n\nwhy?'
    )
    assert fragments.compose("q", []) == "q"
    assert fragments.label('we"ird\nname&') == "we&quot;ird name&amp;"


def test_longest_first_ties_in_the_order_given_and_a_repeat_once() -> None:
    a, b, c = Fragment("a", "xx"), Fragment("b", "yyyy"), Fragment("c", "zz")
    assert [f.source for f in fragments.ordered([a, b, c, a])] == ["b", "a", "c"]


@respx.mock
def test_files_reach_the_prompt_labelled_longest_first(run_cli, key, tmp_path) -> None:  # noqa: F811
    (tmp_path / "small.txt").write_text("small\n")
    (tmp_path / "big.md").write_text("# Big\n\n" + "line\n" * 50)
    route = respx.post(CN).mock(return_value=answer("ok"))
    r = run_cli(
        "complete", "-f", str(tmp_path / "small.txt"), "-f", str(tmp_path / "big.md"), "compare", "-s", "sys"
    )
    assert (r.code, r.out) == (0, "ok\n"), r.err
    msgs = sent(route)["messages"]
    assert msgs[0] == {"role": "system", "content": "sys"}
    assert msgs[1]["content"] == (
        f'<fragment source="{tmp_path / "big.md"}">\n# Big\n\n' + "line\n" * 49 + "line\n</fragment>\n\n"
        f'<fragment source="{tmp_path / "small.txt"}">\nsmall\n</fragment>\n\ncompare'
    )


@respx.mock
def test_stdin_as_a_fragment_is_not_also_the_prompt(run_cli, key) -> None:  # noqa: F811
    route = respx.post(CN).mock(return_value=answer("ok"))
    r = run_cli("complete", "-f", "-", "what is this?", stdin=b"piped text\n")
    assert r.code == 0, r.err
    assert sent(route)["messages"] == [
        {"role": "user", "content": '<fragment source="stdin">\npiped text\n</fragment>\n\nwhat is this?'}
    ]


@respx.mock
def test_fragments_alone_are_a_prompt(run_cli, key) -> None:  # noqa: F811
    route = respx.post(CN).mock(return_value=answer("ok"))
    r = run_cli("complete", "-f", "-", stdin=b"Translate: bonjour")
    assert r.code == 0, r.err
    assert (
        sent(route)["messages"][-1]["content"] == '<fragment source="stdin">\nTranslate: bonjour\n</fragment>'
    )


@pytest.mark.parametrize(
    ("setup", "args", "message", "hint"),
    [
        (None, ["-f", "nope.txt", "q"], "-f nope.txt: no such file", "check the path"),
        ("dir", ["-f", "d", "q"], "-f d: is a directory", "one -f per file"),
        ("bin", ["-f", "x.bin", "q"], "-f x.bin: not a text file", "-a FILE"),
        ("latin1", ["-f", "l.txt", "q"], "-f l.txt: not UTF-8 text", "iconv"),
        ("big", ["-f", "big.txt", "q"], "-f big.txt: the file is 1,000,001 bytes, more", "the part that"),
        ("fifo", ["-f", "fifo", "q"], "-f fifo: the file is over 1,000,000 bytes, more", "the part that"),
        ("stdin", ["-f", "-", "q"], "-f -: stdin holds more than the 1,000,000 bytes", "the part that"),
        (None, ["-f", "-", "-f", "-", "q"], "-f - was given twice", "give -f - once"),
        (None, ["-f", "-", "-"], "-f - and the prompt - both read stdin", "as an argument"),
        (None, ["-f", "ftp://x/y", "q"], "-f ftp://x/y: no such file", "check the path"),
        (None, ["-f", "http://", "q"], "not an http(s) URL: 'http://'", "http://"),
    ],
)
@respx.mock
def test_bad_fragments_are_one_error_and_a_hint(run_cli, key, setup, args, message, hint) -> None:  # noqa: F811
    route = respx.post(CN).mock(return_value=answer("never"))
    if setup == "dir":
        Path("d").mkdir()
    elif setup == "bin":
        Path("x.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    elif setup == "latin1":
        Path("l.txt").write_bytes("caf\xe9".encode("latin-1"))
    elif setup == "big":
        Path("big.txt").write_bytes(b"a" * (fragments.MAX_BYTES + 1))
    if setup == "fifo":  # a pipe has no size: read up to the limit, then refused
        import os
        import threading

        os.mkfifo("fifo")

        def feed() -> None:
            with open("fifo", "wb") as w:
                try:
                    w.write(b"b" * (fragments.MAX_BYTES + 10))
                except BrokenPipeError:
                    pass

        threading.Thread(target=feed, daemon=True).start()
    r = run_cli("complete", *args, stdin=b"x" * (fragments.MAX_BYTES + 1) if setup == "stdin" else b"in")
    assert r.code == 2, r.err
    lines = r.err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("qwen: error: ") and message in lines[0], r.err
    assert lines[1].startswith("hint: ") and hint in lines[1]
    assert not route.called and "Traceback" not in r.err


@respx.mock
def test_the_same_file_in_30_turns_is_stored_once_and_resent_rebuilt(run_cli, key, isolated_env) -> None:  # noqa: F811
    text = "".join(f"line {i:06d} of a long shared file\n" for i in range(6000))  # ~200 KB
    Path("shared.txt").write_text(text)
    assert len(text.encode()) > 190_000
    route = respx.post(CN).mock(side_effect=lambda req: answer("noted"))
    for turn in range(30):
        cont = ["-c"] if turn else []
        r = run_cli(
            "complete",
            *cont,
            "-m",
            "qwen-plus",
            "--no-cache-control",
            "-f",
            "shared.txt",
            f"question {turn}",
            "-q",
        )
        assert r.code == 0, r.err
    # the second request resends turn 1 with its fragment, built again from the store
    second = json.loads(route.calls[1].request.content)["messages"]
    block = f'<fragment source="shared.txt">\n{text.rstrip()}\n</fragment>\n\n'
    assert second[0] == {"role": "user", "content": block + "question 0"}
    assert second[1] == {"role": "assistant", "content": "noted"}
    assert second[2] == {"role": "user", "content": block + "question 1"}
    db = sqlite3.connect(db_path(isolated_env))
    assert db.execute("SELECT count(*), sum(size) FROM fragments").fetchone() == (1, len(text.encode()))
    assert db.execute("SELECT count(*) FROM message_fragments").fetchone() == (30,)
    # the user messages hold the question, not the file: stored once, the database stays small
    assert db.execute("SELECT max(length(content)) FROM messages WHERE role = 'user'").fetchone()[0] < 20
    db.close()
    assert db_path(isolated_env).stat().st_size < 2 * len(text.encode())

    listing = json.loads(run_cli("history", "--json").out)
    conv = listing[0]["id"]
    md = run_cli("history", "show", conv)
    assert md.code == 0 and md.out.count("fragment: shared.txt (") == 30
    assert f"fragment: shared.txt ({len(text.encode()):,} bytes)" in md.out
    data = json.loads(run_cli("history", "show", conv, "--json").out)
    users = [m for m in data["messages"] if m["role"] == "user"]
    assert users[0]["fragments"] == [
        {"source": "shared.txt", "size": len(text.encode()), "sha256": Fragment("", text).sha256}
    ]

    # deleting the conversation deletes the text its messages kept
    assert run_cli("history", "rm", conv, "--yes").code == 0
    db = sqlite3.connect(db_path(isolated_env))
    assert db.execute("SELECT count(*) FROM fragments").fetchone() == (0,)
    db.close()


@respx.mock
def test_two_conversations_share_one_text(run_cli, key, isolated_env) -> None:  # noqa: F811
    Path("f.txt").write_text("shared\n")
    respx.post(CN).mock(side_effect=lambda req: answer("ok"))
    for q in ("one", "two"):
        assert run_cli("complete", "-f", "f.txt", q, "-q").code == 0
    db = sqlite3.connect(db_path(isolated_env))
    rows: list[Any] = db.execute("SELECT source FROM message_fragments").fetchall()
    assert rows == [("f.txt",), ("f.txt",)]
    assert db.execute("SELECT count(*) FROM fragments").fetchone() == (1,)
    db.close()


@respx.mock
def test_no_log_stores_nothing(run_cli, key, isolated_env) -> None:  # noqa: F811
    Path("f.txt").write_text("secret-ish\n")
    route = respx.post(CN).mock(return_value=answer("ok"))
    assert run_cli("complete", "--no-log", "-f", "f.txt", "q", "-q").code == 0
    assert "secret-ish" in sent(route)["messages"][0]["content"]
    path = db_path(isolated_env)
    if path.exists():
        db = sqlite3.connect(path)
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert "fragments" not in names
        db.close()


@respx.mock
def test_chat_sends_fragments_with_the_first_message_only(run_cli, key) -> None:  # noqa: F811
    Path("f.txt").write_text("context\n")
    route = respx.post(CN).mock(side_effect=lambda req: answer("ok"))
    r = run_cli("chat", "-f", "f.txt", "--no-cache-control", stdin=b"hello\nagain\n")
    assert r.code == 0, r.err
    assert "fragment f.txt (8 bytes) goes with your first message" in r.err
    block = '<fragment source="f.txt">\ncontext\n</fragment>\n\n'
    first = json.loads(route.calls[0].request.content)["messages"]
    second = json.loads(route.calls[1].request.content)["messages"]
    assert first == [{"role": "user", "content": block + "hello"}]
    assert [m["content"] for m in second] == [block + "hello", "ok", "again"]


@respx.mock
def test_chat_refuses_stdin_as_a_fragment(run_cli, key) -> None:  # noqa: F811
    route = respx.post(CN).mock(return_value=answer("never"))
    r = run_cli("chat", "-f", "-", stdin=b"hello\n")
    assert r.code == 2 and "-f - cannot read stdin here" in r.err and "hint: " in r.err
    assert not route.called
