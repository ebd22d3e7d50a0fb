"""`qwen chat` through its real error boundary: the bodies sent each turn, what is printed,
and what the store holds afterwards, in line mode and at a (fake) terminal prompt."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from tests import chatkit
from tests.chatkit import (
    CTRL_D,
    ENTER,
    Interrupted,
    answer,
    bodies,
    interrupted,
    lines,
    only_conversation,
    sent_messages,
    store,
    typed,
)
from tests.fakeserver import FakeServer, chat_stream_events, error_spec

srv = chatkit.srv  # fixture

LOCAL = "http://local.test/v1"
URL = LOCAL + "/chat/completions"


def test_line_mode_multi_turn(run_cli, srv: FakeServer) -> None:
    r = run_cli("chat", stdin=lines("hi", "", "and again"))
    assert r.code == 0, r.err
    assert r.out == "echo: hi\necho: and again\n"
    assert sent_messages(srv) == [
        [("user", "hi")],
        [("user", "hi"), ("assistant", "echo: hi"), ("user", "and again")],
    ]
    assert all(b["stream"] is True and b["model"] == "qwen-max" for b in bodies(srv))
    conv_id, exs = only_conversation()
    assert [(e.user.content, e.answer and e.answer.content) for e in exs] == [
        ("hi", "echo: hi"),
        ("and again", "echo: and again"),
    ]
    a = exs[1].answer
    assert a is not None and a.status == "complete" and a.model == "qwen-max" and a.left_out == 0
    assert a.request_id and a.response_id == f"chatcmpl-{a.request_id}"  # the server's ids, kept
    assert a.usage and a.usage["prompt_tokens"] > 0 and a.elapsed is not None
    with store() as s:
        conv = s.get(conv_id)
    assert conv.source == "chat" and conv.title == "hi" and conv.turns == 2


def test_options_system_and_reasoning_never_resent(run_cli, srv: FakeServer) -> None:
    r = run_cli(
        "chat",
        "-s",
        "be brief",
        "-m",
        "qwen-plus",
        "-t",
        "0.3",
        "--think",
        "--search",
        stdin=lines("q1", "q2"),
    )
    assert r.code == 0, r.err
    first, second = bodies(srv)
    assert first["model"] == "qwen-plus" and first["temperature"] == 0.3
    assert first["enable_thinking"] is True and first["enable_search"] is True
    assert second["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "echo: q1"},  # the reasoning stayed home
        {"role": "user", "content": "q2"},
    ]
    _, exs = only_conversation()
    assert exs[0].answer and exs[0].answer.reasoning == "Thinking about: q1"
    assert exs[0].user.options == {"temperature": 0.3, "enable_thinking": True, "enable_search": True}
    with store() as s:
        assert s.latest().system == "be brief"  # type: ignore[union-attr]


def test_repl_multi_turn(run_cli, srv: FakeServer) -> None:
    r = typed(run_cli, "first" + ENTER + "second" + ENTER + CTRL_D)
    assert r.code == 0, r.err
    assert r.out == "echo: first\necho: second\n"
    assert sent_messages(srv)[1] == [("user", "first"), ("assistant", "echo: first"), ("user", "second")]
    assert "/help lists the commands" in r.err


@respx.mock
def test_ctrl_c_mid_answer_keeps_the_partial_and_the_repl(run_cli) -> None:
    stream = Interrupted("The first ", "half")
    route = respx.post(URL).mock(side_effect=[interrupted(stream), answer("fine")])
    r = typed(run_cli, "tell me" + ENTER + "go on" + ENTER + CTRL_D, "--base-url", LOCAL)
    assert r.code == 0 and "Traceback" not in r.err
    assert r.out == "The first half\nfine\n"
    assert "interrupted: the partial answer was kept" in r.err
    assert stream.closed  # the HTTP response was closed at once
    second = json.loads(route.calls[1].request.content)["messages"]
    assert second == [
        {"role": "user", "content": "tell me"},
        {"role": "assistant", "content": "The first half"},
        {"role": "user", "content": "go on"},
    ]
    _, exs = only_conversation()
    a = exs[0].answer
    assert a is not None and (a.status, a.content, a.request_id) == (
        "interrupted",
        "The first half",
        "rid-int",
    )
    assert exs[1].answer and exs[1].answer.status == "complete"


@respx.mock
def test_ctrl_c_in_line_mode_stops_with_130(run_cli) -> None:
    respx.post(URL).mock(return_value=interrupted(Interrupted("par")))
    r = run_cli("chat", "--base-url", LOCAL, stdin=lines("one", "two"))
    assert r.code == 130 and r.out == "par\n"
    _, exs = only_conversation()
    assert len(exs) == 1 and exs[0].answer and exs[0].answer.status == "interrupted"


@respx.mock
def test_ctrl_c_before_the_answer_begins(run_cli) -> None:
    calls = iter([None, answer("ok")])

    def connect(request: httpx.Request) -> httpx.Response:
        got = next(calls)
        if got is None:
            raise KeyboardInterrupt  # Ctrl-C while connecting
        return got

    respx.post(URL).mock(side_effect=connect)
    r = typed(run_cli, "a" + ENTER + "b" + ENTER + CTRL_D, "--base-url", LOCAL)
    assert r.code == 0 and "interrupted before the answer began" in r.err
    _, exs = only_conversation()
    assert exs[0].answer and (exs[0].answer.status, exs[0].answer.content) == ("interrupted", "")


def test_api_error_is_reported_and_the_chat_goes_on(run_cli, srv: FakeServer) -> None:
    srv.enqueue(error_spec(429, "You have exceeded your current request limit.", "limit_requests", repeat=3))
    r = typed(run_cli, "too fast" + ENTER + "again" + ENTER + CTRL_D)
    assert r.code == 0 and "Traceback" not in r.err
    assert "qwen: error: You have exceeded your current request limit. (gave up after 2 retries)" in r.err
    assert "hint: wait a minute" in r.err
    assert r.out == "echo: again\n"
    assert sent_messages(srv)[-1] == [("user", "again")]  # the failed turn is not resent
    _, exs = only_conversation()
    failed = exs[0].answer
    assert failed is not None and failed.status == "error" and "request limit" in (failed.error or "")


def test_api_error_in_line_mode_exits_with_its_code(run_cli, srv: FakeServer) -> None:
    srv.enqueue(error_spec(401, "Incorrect API key provided.", "invalid_api_key"))
    r = run_cli("chat", stdin=lines("hi", "never sent"))
    assert r.code == 3 and r.out == ""
    assert len(srv.requests) == 1


def test_broken_stream_keeps_the_partial(run_cli, srv: FakeServer) -> None:
    srv.enqueue({"sse": chat_stream_events(["Half ", "an answer"])[:3], "cut": True})
    r = typed(run_cli, "q" + ENTER + "more" + ENTER + CTRL_D)
    assert "broke off after 14 characters" in r.err and "/retry asks again" in r.err
    assert sent_messages(srv)[1] == [("user", "q"), ("assistant", "Half an answer"), ("user", "more")]
    _, exs = only_conversation()
    assert exs[0].answer and exs[0].answer.status == "error" and exs[0].answer.content == "Half an answer"


def test_continue_and_resume(run_cli, srv: FakeServer) -> None:
    assert run_cli("chat", "-s", "sys one", stdin=lines("in the first")).code == 0
    assert run_cli("chat", stdin=lines("in the second")).code == 0
    with store() as s:
        second, first = (c.id for c in s.recent())
    r = run_cli("chat", "-c", stdin=lines("more of the second"))
    assert r.code == 0
    assert f"({second} · 1 turn" in r.err and "in the second" in r.err
    assert sent_messages(srv)[-1] == [
        ("user", "in the second"),
        ("assistant", "echo: in the second"),
        ("user", "more of the second"),
    ]
    r = run_cli("chat", "--resume", first[:6], stdin=lines("back to the first"))
    assert r.code == 0 and f"continuing “in the first” ({first} · 1 turn" in r.err
    assert sent_messages(srv)[-1][0] == ("system", "sys one")  # the conversation's system prompt
    with store() as s:
        assert [e.user.content for e in s.exchanges(first)] == ["in the first", "back to the first"]
        assert s.get(second).turns == 2


def test_continue_needs_a_conversation_and_not_both(run_cli, srv: FakeServer) -> None:
    r = run_cli("chat", "-c", stdin=lines("x"))
    assert r.code == 2 and "no conversation to continue" in r.err and "hint:" in r.err
    r = run_cli("chat", "-c", "--resume", "abc", stdin=lines("x"))
    assert r.code == 2 and "not both" in r.err
    r = run_cli("chat", "--resume", "fff", stdin=lines("x"))
    assert r.code == 2 and "no conversation id starts with fff" in r.err
    assert srv.requests == []


def test_an_unusable_store_costs_chat_only_the_log(run_cli, srv: FakeServer, tmp_path, monkeypatch) -> None:
    """Issue 16 reversed the old rule (chat exited 1): chat now warns once and answers, like
    complete; only -c/--resume, which need the history, fail."""
    (tmp_path / "blocker").write_text("a file, not a directory")
    monkeypatch.setenv("QWEN_DATA_DIR", str(tmp_path / "blocker"))
    r = run_cli("chat", stdin=lines("x", "y"))
    assert r.code == 0 and r.out == "echo: x\necho: y\n"
    assert r.err.count("qwen: warning: this conversation is not kept in the history") == 1
    assert "QWEN_DATA_DIR" in r.err and "Traceback" not in r.err
    r = run_cli("chat", "-c", stdin=lines("x"))
    assert r.code == 1 and "qwen: error: cannot write the history database" in r.err and "hint:" in r.err


@respx.mock
def test_long_conversations_leave_out_the_oldest_turns(run_cli) -> None:
    big = ["x" * 40_000 + str(i) for i in range(3)]  # ~10,000 tokens each by estimate
    route = respx.post(URL).mock(return_value=answer("ok"))
    r = run_cli("chat", "--base-url", LOCAL, "-s", "sys", stdin=lines(*big))
    assert r.code == 0, r.err
    sent = [json.loads(c.request.content)["messages"] for c in route.calls]
    assert [m["content"][-1:] for m in sent[2] if m["role"] == "user"] == ["1", "2"]
    assert sent[2][0] == {"role": "system", "content": "sys"}
    assert r.err.count("note: 1 earlier turn left out to fit qwen-max's 32,768-token context window") == 1
    _, exs = only_conversation()
    assert [e.answer.left_out for e in exs if e.answer] == [0, 0, 1]


@respx.mock
def test_trimming_believes_the_servers_token_count(run_cli) -> None:
    # short by any estimate, but the server counted 24,570 prompt tokens (budget 24,576)
    route = respx.post(URL).mock(side_effect=[answer("ok", prompt_tokens=24_570), answer("ok")])
    r = run_cli("chat", "--base-url", LOCAL, stdin=lines("short", "also short"))
    assert r.code == 0 and "1 earlier turn left out" in r.err
    assert json.loads(route.calls[1].request.content)["messages"] == [
        {"role": "user", "content": "also short"}
    ]


def test_no_traceback_on_an_unexpected_failure(
    run_cli, srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("qwen_cli.cli.chat_session.ChatSession.undo", boom)
    r = typed(run_cli, "/undo" + ENTER + "hello" + ENTER + CTRL_D)
    assert r.code == 0 and "Traceback" not in r.err
    assert "qwen: error: unexpected RuntimeError: disk on fire" in r.err and r.out == "echo: hello\n"


def test_help_shows_keys_and_options(run_cli) -> None:
    r = run_cli("chat", "--help")
    assert r.code == 0
    for text in ("Alt-Enter", "Ctrl-R", "--continue", "--resume", "--system", "--temperature", "--base-url"):
        assert text in r.out, text


def test_a_url_error_is_not_a_traceback(run_cli) -> None:
    r = run_cli("chat", "--base-url", "http://127.0.0.1:9/v1", "--max-retries", "0", stdin=lines("hi"))
    assert r.code == 5 and "could not connect" in r.err and "Traceback" not in r.err


def test_resuming_recaps_the_last_turns(run_cli, srv: FakeServer) -> None:
    assert run_cli("chat", stdin=lines(*(f"turn {i}" for i in range(1, 8)))).code == 0
    r = run_cli("chat", "-c", stdin=b"")
    assert r.code == 0 and r.out == ""
    err = r.err.splitlines()
    conv_id, _ = only_conversation()
    assert err[0].startswith(f"continuing “turn 1” ({conv_id} · 7 turns · qwen-max · ")
    assert err[1] == "  ... 2 earlier turns (/history shows them all)"
    assert err[2] == "  3. you: turn 3" and err[3] == "     qwen-max: echo: turn 3"
    assert err[-2:] == ["  7. you: turn 7", "     qwen-max: echo: turn 7"]
