"""Every slash command of `qwen chat`: what it prints, what it changes in the next request body,
and what it leaves in the store."""

from __future__ import annotations

import json
from pathlib import Path

from tests import chatkit
from tests.chatkit import (
    ALT_ENTER,
    CTRL_D,
    ENTER,
    bodies,
    lines,
    only_conversation,
    sent_messages,
    store,
    typed,
)
from tests.fakeserver import FakeServer, chat_stream_events

srv = chatkit.srv  # fixture


def keys(*typed_lines: str) -> str:
    return "".join(t + ENTER for t in typed_lines) + CTRL_D


def test_help_lists_every_command(run_cli, srv: FakeServer) -> None:
    r = typed(run_cli, keys("/help"))
    assert r.code == 0 and srv.requests == []
    for name in ("/help", "/exit", "/new", "/model", "/system", "/think", "/search", "/attach", "/retry",
                 "/continue", "/undo", "/history", "/usage", "/save"):  # fmt: skip
        assert name in r.out, name


def test_unknown_command_is_not_sent(run_cli, srv: FakeServer) -> None:
    r = typed(run_cli, keys("/bogus", "/histroy"))
    assert srv.requests == [] and r.out == ""
    assert "qwen: error: unknown command /bogus\nhint: /help lists the commands" in r.err
    assert "did you mean /history?" in r.err


def test_new_starts_a_fresh_conversation(run_cli, srv: FakeServer) -> None:
    r = typed(run_cli, keys("a", "/new", "b"))
    assert r.code == 0 and "new conversation" in r.err
    assert sent_messages(srv) == [[("user", "a")], [("user", "b")]]
    with store() as s:
        assert [c.title for c in s.recent()] == ["b", "a"]


def test_model_switches_the_next_request(run_cli, srv: FakeServer) -> None:
    r = typed(run_cli, keys("a", "/model qwen-plus", "/model", "b", "/model my-local-model"))
    assert [b["model"] for b in bodies(srv)] == ["qwen-max", "qwen-plus"]
    assert "qwen-plus\n" in r.out
    assert "model: qwen-plus (131,072-token context)" in r.err
    assert "not in the catalogue: assuming a 32K window" in r.err
    conv_id, exs = only_conversation()
    assert [e.answer.model for e in exs if e.answer] == ["qwen-max", "qwen-plus"]
    with store() as s:
        assert s.get(conv_id).model == "qwen-plus"  # -c picks it up again


def test_system_is_set_shown_and_cleared(run_cli, srv: FakeServer) -> None:
    r = typed(run_cli, keys("/system", "/system answer in French", "/system", "a", "/system -", "b"))
    assert r.out.startswith("(no system prompt)\nanswer in French\n")
    assert sent_messages(srv)[0][0] == ("system", "answer in French")
    assert sent_messages(srv)[1][0] == ("user", "a")
    with store() as s:
        assert s.latest().system is None  # type: ignore[union-attr]


def test_system_change_is_stored(run_cli, srv: FakeServer) -> None:
    typed(run_cli, keys("a", "/system be terse"))
    with store() as s:
        assert s.latest().system == "be terse"  # type: ignore[union-attr]
    assert run_cli("chat", "-c", stdin=lines("b")).code == 0
    assert sent_messages(srv)[-1][0] == ("system", "be terse")


def test_think_and_search_toggle_the_body(run_cli, srv: FakeServer) -> None:
    r = typed(
        run_cli,
        keys("/think", "/think on", "/search on", "a", "/think off", "/search off", "b", "/think maybe"),
    )
    first, second = bodies(srv)
    assert (first["enable_thinking"], first["enable_search"]) == (True, True)
    assert second["enable_thinking"] is False and "enable_search" not in second
    assert r.out.startswith("thinking: the model's default\n")
    assert "qwen: error: /think takes on or off, not 'maybe'" in r.err
    assert "echo: a" in r.out and "Thinking about" not in r.out  # reasoning is not the answer


def test_retry_replaces_the_last_answer(run_cli, srv: FakeServer) -> None:
    srv.enqueue({"sse": chat_stream_events(["first try"])}, {"sse": chat_stream_events(["second try"])})
    r = typed(run_cli, keys("q", "/retry", "next"))
    assert r.out == "first try\nsecond try\necho: next\n"
    one, two, three = sent_messages(srv)
    assert one == two == [("user", "q")]
    assert three == [("user", "q"), ("assistant", "second try"), ("user", "next")]
    _, exs = only_conversation()
    assert [e.answer.content for e in exs if e.answer] == ["second try", "echo: next"]
    with store() as s:
        assert s.db.execute("SELECT content FROM messages WHERE dropped").fetchall()[0][0] == "first try"


def test_undo_drops_the_last_exchange(run_cli, srv: FakeServer) -> None:
    r = typed(run_cli, keys("a", "b", "/undo", "c", "/undo", "/undo", "/undo"))
    assert sent_messages(srv)[2] == [("user", "a"), ("assistant", "echo: a"), ("user", "c")]
    assert "dropped: b (1 turn left)" in r.err
    assert "qwen: error: nothing to undo" in r.err
    with store() as s:
        assert s.latest().turns == 0  # type: ignore[union-attr]


def test_retry_and_undo_need_a_turn(run_cli, srv: FakeServer) -> None:
    r = typed(run_cli, keys("/retry"))
    assert "qwen: error: nothing to retry yet" in r.err and srv.requests == []


def test_history_and_usage(run_cli, srv: FakeServer) -> None:
    r = typed(run_cli, keys("/history", "hello there", "second" + ALT_ENTER + "line", "/history", "/usage"))
    assert r.out == "echo: hello there\necho: second\nline\n"  # stdout is not a terminal: answers only
    out = [ln for ln in r.err.splitlines() if not ln.startswith(("qwen-max ·", "qwen chat with"))]
    assert out[0] == "(no turns yet)"
    conv_id, exs = only_conversation()
    i = out.index(f"conversation {conv_id}: 2 turns with qwen-max")
    assert out[i + 1 : i + 5] == [
        "  1. you: hello there",
        "     qwen-max: echo: hello there",
        "  2. you: second line",
        "     qwen-max: echo: second line",
    ]
    p = sum(e.answer.prompt_tokens or 0 for e in exs if e.answer)
    c = sum(e.answer.completion_tokens or 0 for e in exs if e.answer)
    assert out[-1] == f"2 turns · {p} in · {c} out · {p + c} total"


def test_save_markdown_and_json(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    md, js = tmp_path / "chat.md", tmp_path / "chat.json"
    r = typed(run_cli, keys("/save nothing.md", "hi *there*", f"/save {md}", f"/save {js}"), "-s", "sys")
    assert "nothing to save yet" in r.err and f"saved 1 turn to {md}" in r.err
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# hi *there*\n") and "## System\n\nsys\n" in text
    assert "## You\n\nhi *there*\n\n## qwen-max\n\necho: hi *there*\n" in text
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["system"] == "sys" and [m["content"] for m in data["messages"]] == [
        "hi *there*",
        "echo: hi *there*",
    ]
    assert data["messages"][1]["status"] == "complete" and data["messages"][1]["usage"]["total_tokens"] > 0


def test_commands_in_line_mode(run_cli, srv: FakeServer) -> None:
    r = run_cli("chat", stdin=lines("/model qwen-plus", "hi", "/usage", "//usage is a word"))
    assert r.code == 0
    assert [b["model"] for b in bodies(srv)] == ["qwen-plus", "qwen-plus"]
    assert sent_messages(srv)[1][-1] == ("user", "/usage is a word")
    assert r.out == "echo: hi\necho: /usage is a word\n"  # /usage goes to stderr, not amid the answers
    assert r.err.splitlines()[2].startswith("1 turn · ")
