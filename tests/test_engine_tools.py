"""An answer that asks for tools, through the engine (no typer) and out again: ToolCall events,
the store row byte for byte, ``history show``, ``--json``, and ``/undo``/``/retry`` dropping a
turn's tool steps."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from qwen_cli import config
from qwen_cli.client import Qwen
from qwen_cli.engine import AnswerText, Event, Finish, Reply, Sampling, Session, ToolCall, UsageReport
from qwen_cli.store import NewMessage, Store
from qwen_cli.types import FunctionCall
from qwen_cli.types import ToolCall as WireToolCall
from tests.fakeserver import FakeServer, chat_completion

# The arguments as the model wrote them, cut where a stream might cut them: inside a key, inside
# a Chinese string, around spaces and a trailing newline. Nothing may be stripped or re-encoded.
WEATHER = ['{"ci', 'ty": "北', '京",  ', '"unit": "c"}', "\n"]
TIME = ["", '{ "tz" :', ' "Asia/Shanghai" }']
USAGE = {
    "prompt_tokens": 40,
    "completion_tokens": 12,
    "total_tokens": 52,
    "prompt_tokens_details": {"cached_tokens": 32},
    "completion_tokens_details": {"reasoning_tokens": 3},
}


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-tools",
        "model": "qwen-plus",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": None,
    }


def frag(index: int, args: str, call_id: str = "", name: str | None = None) -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    return {"index": index, "id": call_id, "type": "function", "function": fn}


def tool_stream() -> list[dict[str, Any]]:
    """Two calls, their fragments interleaved (the second call's first), then usage."""
    events = [chunk({"role": "assistant", "content": ""})]
    events.append(chunk({"tool_calls": [frag(1, TIME[0], "call_time", "get_time")]}))
    events.append(chunk({"tool_calls": [frag(0, WEATHER[0], "call_weather", "get_weather")]}))
    for i in range(1, max(len(WEATHER), len(TIME))):
        if i < len(TIME):
            events.append(chunk({"tool_calls": [frag(1, TIME[i])]}))
        if i < len(WEATHER):
            events.append(chunk({"tool_calls": [frag(0, WEATHER[i])]}))
    events.append(chunk({"content": ""}, "tool_calls"))
    last = chunk({})
    last["choices"], last["usage"] = [], USAGE
    events.append(last)
    return events


EXPECTED = [
    ("call_weather", "get_weather", "".join(WEATHER)),
    ("call_time", "get_time", "".join(TIME)),
]


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with FakeServer() as s:
        monkeypatch.setenv("QWEN_BASE_URL", s.base_url)
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-tools-0000")
        yield s


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open() as s:
        yield s


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, reply: Reply) -> Any:
        self.events.extend(reply)
        return reply.end()


def session(srv: FakeServer, store: Store | None, **kw: Any) -> Iterator[Session]:
    settings = config.resolve({"base_url": srv.base_url}, env={"DASHSCOPE_API_KEY": "sk-test-tools-0000"})
    with Qwen(settings.api_key, base_url=settings.base_url, max_retries=0) as client:
        yield Session(client=client, settings=settings, store=store, model="qwen-plus", **kw)


def raw_rows(store: Store, conv_id: str) -> list[sqlite3.Row]:
    """The rows as SQLite holds them, read past the store's own parsing."""
    db = sqlite3.connect(store.path)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(
            "SELECT role, content, tool_calls, finish_reason, cached_tokens, reasoning_tokens, dropped"
            " FROM messages WHERE conversation_id = ? ORDER BY seq",
            (conv_id,),
        ).fetchall()
    finally:
        db.close()


def test_a_streamed_tool_call_answer_gives_events_and_is_stored_byte_for_byte(
    srv: FakeServer, store: Store, run_cli: Any
) -> None:
    srv.enqueue({"sse": tool_stream()})
    shown = Recorder()
    for s in session(srv, store, display=shown):
        ans = s.send("weather in Beijing, and the time?")
    assert [(c.id, c.function.name, c.function.arguments) for c in ans.tool_calls] == EXPECTED
    assert ans.finish_reason == "tool_calls" and ans.content == "" and ans.state == "complete"

    calls = [e for e in shown.events if isinstance(e, ToolCall)]
    assert [(e.index, e.id, e.name, e.arguments) for e in calls] == [(i, *c) for i, c in enumerate(EXPECTED)]
    assert not [e for e in shown.events if isinstance(e, AnswerText)]
    kinds = [type(e) for e in shown.events]
    assert kinds == [ToolCall, ToolCall, UsageReport, Finish]  # the calls whole, once the answer ended

    conv = store.recent()[0]
    rows = raw_rows(store, conv.id)
    assert [r["role"] for r in rows] == ["user", "assistant"]
    stored = json.loads(rows[1]["tool_calls"])
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in stored] == EXPECTED
    assert rows[1]["finish_reason"] == "tool_calls"
    assert (rows[1]["cached_tokens"], rows[1]["reasoning_tokens"]) == (32, 3)  # the new usage fields
    ex = store.exchanges(conv.id)[0]
    assert ex.answer is not None and ex.answer.usage == USAGE

    res = run_cli("history", "show", conv.id)
    assert res.code == 0, res.err
    assert "**tool call** `get_weather` (id `call_weather`)" in res.out
    assert "**tool call** `get_time` (id `call_time`)" in res.out
    assert '{"city": "北京",  "unit": "c"}' in res.out and '{ "tz" : "Asia/Shanghai" }' in res.out


def test_a_tool_call_only_answer_is_not_resent_as_an_empty_turn(srv: FakeServer, store: Store) -> None:
    srv.enqueue({"sse": tool_stream()})
    for s in session(srv, store):
        s.send("first")
        s.send("second")  # the echo answers
    second = [r["json"]["messages"] for r in srv.requests if r["path"].endswith("/chat/completions")][1]
    assert second == [{"role": "user", "content": "second"}]


def test_a_whole_answer_with_tool_calls_gives_the_same_events(srv: FakeServer, store: Store) -> None:
    body = chat_completion("", model="qwen-plus", finish_reason="tool_calls")
    body["choices"][0]["message"]["tool_calls"] = [
        {"id": "call_w", "type": "function", "function": {"name": "get_weather", "arguments": ' {"a":1} '}}
    ]
    srv.enqueue({"json": body})
    shown = Recorder()
    for s in session(srv, store, display=shown, sampling=Sampling(no_stream=True)):
        ans = s.send("hi")
    assert srv.requests[-1]["json"]["stream"] is False
    assert [e for e in shown.events if isinstance(e, ToolCall)] == [
        ToolCall(0, "call_w", "get_weather", ' {"a":1} ')
    ]
    row = store.exchanges(store.recent()[0].id)[0].answer
    assert row is not None and row.tool_calls == ans.tool_calls
    assert row.tool_calls[0].function.arguments == ' {"a":1} '


def test_chat_history_names_the_tool_calls_of_an_answer_without_text(srv: FakeServer, run_cli: Any) -> None:
    from tests.chatkit import lines

    srv.enqueue({"sse": tool_stream()})
    res = run_cli("chat", "--model", "qwen-plus", stdin=lines("weather?", "/history"))
    assert res.code == 0, res.err
    assert "qwen-plus: [tool call get_weather] [tool call get_time]" in res.err  # /history: stdout not a tty


def test_complete_shows_tool_calls_on_stderr_and_in_json(srv: FakeServer, run_cli: Any) -> None:
    srv.enqueue({"sse": tool_stream()}, {"sse": tool_stream()})
    res = run_cli("complete", "weather?", "--model", "qwen-plus")
    assert res.code == 0, res.err
    assert res.out == ""  # nothing to run yet: stdout has no answer text
    assert 'tool call: get_weather({"city": "北京",  "unit": "c"})\n' in res.err
    assert 'tool call: get_time({ "tz" : "Asia/Shanghai" })' in res.err
    assert (
        res.err.index("tool call: get_weather") < res.err.index("tool call: get_time") < res.err.index("in ·")
    )

    res = run_cli("complete", "weather?", "--model", "qwen-plus", "--json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert [
        (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in data["tool_calls"]
    ] == EXPECTED
    assert data["finish_reason"] == "tool_calls" and data["content"] == ""
    assert "tool call:" not in res.err  # --json: the calls are in the JSON, not drawn


def _turn_with_steps(store: Store) -> str:
    """A stored turn of four messages: the question, a tool call, its result, the answer."""
    conv = store.create(model="qwen-plus", system=None, source="chat", options={})
    call = WireToolCall(id="call_1", function=FunctionCall(name="f", arguments="{}"))
    store.add(conv.id, NewMessage("user", "q"))
    store.add(conv.id, NewMessage("assistant", "", tool_calls=[call], finish_reason="tool_calls"))
    store.add(conv.id, NewMessage("tool", "42", tool_call_id="call_1"))
    store.add(conv.id, NewMessage("assistant", "the answer is 42"))
    return conv.id


def test_undo_drops_every_message_of_the_turn(srv: FakeServer, store: Store) -> None:
    conv_id = _turn_with_steps(store)
    for s in session(srv, store, conversation=store.get(conv_id)):
        ex = s.undo()
        assert len(ex.steps) == 2
    assert store.messages(conv_id) == []
    assert [r["dropped"] for r in raw_rows(store, conv_id)] == [1, 1, 1, 1]  # kept on disk


def test_retry_drops_the_old_answer_and_its_tool_steps(srv: FakeServer, store: Store) -> None:
    conv_id = _turn_with_steps(store)
    for s in session(srv, store, conversation=store.get(conv_id)):
        s.retry()
    assert [(m.role, m.content) for m in store.messages(conv_id)] == [("user", "q"), ("assistant", "echo: q")]
    (ex,) = store.exchanges(conv_id)
    assert ex.steps == []
