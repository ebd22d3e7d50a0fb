"""Bad input is refused before anything is sent: one `qwen: error:` line, one hint, exit 2."""

from __future__ import annotations

import pytest

from tests import chatkit
from tests.chatkit import lines
from tests.fakeserver import FakeServer

srv = chatkit.srv  # fixture

HUGE = "1000000000000000000000000000000"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--max-tokens", HUGE], f"--max-tokens must be between 1 and 2147483647 (got {HUGE})"),
        (["--max-tokens", "0"], "--max-tokens must be between 1 and 2147483647 (got 0)"),
        (
            ["--seed", "1180591620717411303424"],
            "--seed must be between 0 and 2147483647 (got 1180591620717411303424)",
        ),
        (["--seed", "-1"], "--seed must be between 0 and 2147483647 (got -1)"),
        (["-m", ""], "--model must name a model (got an empty string)"),
        (["--model", "  "], "--model must name a model (got an empty string)"),
    ],
)
@pytest.mark.parametrize("command", ["complete", "chat"])
def test_out_of_range_options_are_refused(
    run_cli, srv: FakeServer, command: str, args: list[str], error: str
) -> None:
    prompt = ["hi"] if command == "complete" else []
    r = run_cli(command, *prompt, *args, stdin=lines("hi"))
    assert r.code == 2 and r.out == ""
    assert r.err.splitlines()[0] == f"qwen: error: {error}"
    assert r.err.splitlines()[1].startswith("hint: ") and len(r.err.splitlines()) == 2
    assert srv.requests == []


def test_limits_themselves_are_accepted(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "hi", "--max-tokens", "2147483647", "--seed", "0")
    assert r.code == 0, r.err
    r = run_cli("complete", "hi", "--max-tokens", "1", "--seed", "2147483647")
    assert r.code == 0, r.err
    sent = [(q["json"]["max_tokens"], q["json"]["seed"]) for q in srv.requests]
    assert sent == [(2147483647, 0), (1, 2147483647)]


def test_resume_with_an_empty_id_is_refused(run_cli, srv: FakeServer) -> None:
    r = run_cli("chat", "--resume", "", stdin=lines("hi"))
    assert r.code == 2 and r.out == ""
    assert r.err.splitlines() == [
        "qwen: error: --resume needs a conversation id (got an empty string)",
        "hint: run `qwen history` to list them; -c continues the most recent",
    ]
    assert srv.requests == []


def test_an_argument_that_is_not_utf8_is_refused(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "ab\udcff")  # what Python makes of the bytes ab\xff in argv
    assert r.code == 2 and r.out == ""
    assert r.err.splitlines()[0] == "qwen: error: argument 2 is not valid UTF-8: ab\\xff"
    assert "LANG" in r.err.splitlines()[1] and len(r.err.splitlines()) == 2
    assert srv.requests == []
