"""An answer cut by the token limit or stopped by a content filter says so, everywhere it is shown,
and `/continue` asks the model to go on: stdout, stderr, request bodies and the store."""

from __future__ import annotations

import json
import subprocess

from qwen_cli.engine.session import CONTINUE_TEXT
from tests import chatkit
from tests.chatkit import CTRL_D, ENTER, bodies, only_conversation, sent_messages, store, typed
from tests.e2e import QWEN, needs_qwen
from tests.fakeserver import FakeServer, FakeServerProcess, chat_stream_events
from tests.test_e2e import env

srv = chatkit.srv  # fixture

QUESTION = "one two three four five"


def keys(*typed_lines: str) -> str:
    return "".join(t + ENTER for t in typed_lines) + CTRL_D


def test_a_cut_answer_says_so_and_how_to_get_more(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "--max-tokens", "3", QUESTION)
    assert r.code == 0, r.err
    assert r.out == "echo: one tw\n"  # the answer itself, untouched
    assert bodies(srv)[0]["max_tokens"] == 3
    err = r.err.splitlines()
    footer = next(line for line in err if line.startswith("qwen-max · "))
    assert "cut at --max-tokens 3" in footer
    assert "note: the answer was cut at --max-tokens 3" in err
    assert "hint: raise --max-tokens, or qwen chat -c then /continue" in err
    _, exs = only_conversation()
    assert exs[0].answer is not None and exs[0].answer.finish_reason == "length"
    assert exs[0].answer.status == "complete"


def test_a_whole_answer_is_cut_alike_and_json_carries_the_reason(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "--max-tokens", "3", "--no-stream", "--json", QUESTION)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert (data["content"], data["finish_reason"]) == ("echo: one tw", "length")
    assert "note: the answer was cut at --max-tokens 3" in r.err


def test_cut_at_the_model_limit_and_by_the_content_filter(run_cli, srv: FakeServer) -> None:
    srv.enqueue(
        {"sse": chat_stream_events(["long ", "answer"], finish_reason="length")},
        {"sse": chat_stream_events(["half ", "said"], finish_reason="content_filter")},
    )
    r = run_cli("complete", "hi")
    assert r.out == "long answer\n" and r.code == 0
    assert "note: the answer was cut at the model's output limit" in r.err
    assert "hint: qwen chat -c then /continue asks the model to go on" in r.err
    r = run_cli("complete", "hi")
    assert r.out == "half said\n" and r.code == 0
    assert "· stopped by the content filter ·" in r.err
    assert (
        "note: the answer was stopped by the content filter\nhint: rephrasing the question may help" in r.err
    )


def test_a_complete_answer_has_no_note(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "--max-tokens", "100", QUESTION)
    assert r.out == f"echo: {QUESTION}\n"
    assert "note:" not in r.err and "hint:" not in r.err and "cut" not in r.err


def test_history_shows_where_an_answer_was_cut(run_cli, srv: FakeServer) -> None:
    run_cli("complete", "--max-tokens", "3", QUESTION)
    conv, _ = only_conversation()
    shown = run_cli("history", "show", conv)
    assert "*(cut at --max-tokens 3)*" in shown.out
    r = typed(run_cli, keys("/history"), "-c")
    assert "qwen-max: echo: one tw (cut at --max-tokens 3)" in r.err  # /history: stderr in a pipe


def test_continue_asks_the_model_to_go_on_as_a_normal_turn(run_cli, srv: FakeServer) -> None:
    srv.enqueue(
        {"sse": chat_stream_events(["The first ", "half"], finish_reason="length")},
        {"sse": chat_stream_events([" and the rest."])},
    )
    r = typed(run_cli, keys(QUESTION, "/continue", "thanks"))
    assert r.code == 0, r.err
    assert r.out == "The first half\n and the rest.\necho: thanks\n"
    assert "hint: /continue asks the model to go on\n" in r.err
    first, second, third = sent_messages(srv)
    assert first == [("user", QUESTION)]
    assert second == [("user", QUESTION), ("assistant", "The first half"), ("user", CONTINUE_TEXT)]
    assert third[-3:] == [("user", CONTINUE_TEXT), ("assistant", " and the rest."), ("user", "thanks")]
    _, exs = only_conversation()
    assert [(e.user.content, e.answer.finish_reason if e.answer else None) for e in exs] == [
        (QUESTION, "length"),
        (CONTINUE_TEXT, "stop"),
        ("thanks", "stop"),
    ]


def test_continue_needs_an_answer_with_text(run_cli, srv: FakeServer) -> None:
    r = typed(run_cli, keys("/continue", "/continue more please"))
    assert "qwen: error: there is no answer to continue yet\nhint: send a message first" in r.err
    assert "qwen: error: /continue takes no text" in r.err
    assert srv.requests == []
    srv.enqueue({"status": 500, "json": {"error": {"message": "boom", "code": "internal_error"}}})
    r = typed(run_cli, keys("hi", "/continue"), "--max-retries", "0")
    assert (
        "qwen: error: the last answer has no text to continue from\nhint: /retry asks for it again" in r.err
    )
    assert len(bodies(srv)) == 1
    with store() as s:
        assert s.latest() is not None


def test_continue_in_line_mode(run_cli, srv: FakeServer) -> None:
    r = run_cli("chat", "--max-tokens", "3", stdin=chatkit.lines(QUESTION, "/continue"))
    assert r.code == 0, r.err
    assert r.out == "echo: one tw\necho: Contin\n"
    assert sent_messages(srv)[1][-1] == ("user", CONTINUE_TEXT)


def test_footer_words() -> None:
    from qwen_cli import render
    from qwen_cli.types import Usage

    closed = render.format_footer(model="m", usage=None, elapsed=1.24, output_closed=True)
    assert closed == "m · qwen stopped reading (output closed) · 1.24s"
    assert render.format_footer(model="m", usage=None, elapsed=1.24) == (
        "m · usage not reported by the server · 1.24s"
    )
    cut = render.format_footer(
        model="m", usage=Usage(prompt_tokens=5, completion_tokens=3, total_tokens=8), elapsed=0.1,
        ending="cut at --max-tokens 3",
    )  # fmt: skip
    assert cut == "m · cut at --max-tokens 3 · 5 in · 3 out · 8 total · 0.10s"


@needs_qwen
def test_head_1_footer_says_qwen_stopped_reading(tmp_path) -> None:
    with FakeServerProcess() as server:
        p = subprocess.run(
            f"{QWEN} complete -m fake-long hi | head -1",
            shell=True,
            capture_output=True,
            env=env(server),
            timeout=60,
        )
    assert p.returncode == 0 and p.stdout == b"# A long answer from the fake server\n"
    err = p.stderr.decode()
    assert "fake-long · qwen stopped reading (output closed) · " in err
    assert "usage not reported" not in err and "Traceback" not in err
