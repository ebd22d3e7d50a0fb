"""Turns of several messages (tool calls, tool results, the answer) in the store, in old databases,
and in `qwen history show`, `qwen history export` and `/save`."""

from __future__ import annotations

import json
from pathlib import Path

from qwen_cli.errors import StreamInterruptedError
from qwen_cli.store import MIGRATIONS, NewMessage, Store
from qwen_cli.types import AnswerResult, FunctionCall, ToolCall, Usage
from tests import chatkit
from tests.chatkit import lines
from tests.fakeserver import FakeServer
from tests.test_store import v3_add

srv = chatkit.srv  # fixture

ARGS_A = '{"city": "杭州",\n  "unit":  "c"} '  # spaces and newlines kept as the model wrote them
ARGS_B = "{}"
USAGE = {
    "prompt_tokens": 3019,
    "completion_tokens": 101,
    "total_tokens": 3120,
    "prompt_tokens_details": {"cached_tokens": 2048, "cache_creation_input_tokens": 512},
    "completion_tokens_details": {"reasoning_tokens": 40},
}


def calling() -> AnswerResult:
    """An answer that asks for two tools."""
    return AnswerResult(
        content="Let me check.",
        reasoning="need the weather",
        model="qwen-plus",
        finish_reason="tool_calls",
        usage=Usage.model_validate(USAGE),
        id="chatcmpl-1",
        request_id="rid-1",
        elapsed=1.23456,
        first_token_at=0.5,
        tool_calls=[
            ToolCall(id="call_a", function=FunctionCall(name="weather", arguments=ARGS_A)),
            ToolCall(id="call_b", function=FunctionCall(name="clock", arguments=ARGS_B)),
        ],
    )


def write_tool_turn(s: Store, conv_id: str, *, final: bool = True) -> None:
    s.add(conv_id, NewMessage("user", "weather in 杭州?"))
    s.add(conv_id, NewMessage.of_result(calling(), error=None, options={"think": True}, left_out=0))
    s.add(conv_id, NewMessage("tool", "sunny, 25°C", tool_call_id="call_a"))
    s.add(conv_id, NewMessage("tool", "``` 12:00 ```", tool_call_id="call_b"))
    if final:
        done = AnswerResult(content="晴，25°C。", model="qwen-plus", finish_reason="stop", elapsed=0.2)
        s.add(conv_id, NewMessage.of_result(done, error=None))


def test_a_turn_of_several_messages_round_trips(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as s:
        conv = s.create(model="qwen-plus")
        write_tool_turn(s, conv.id)
        msgs = s.messages(conv.id)
        [ex] = s.exchanges(conv.id)
        row = s.db.execute(
            "SELECT prompt_tokens, cached_tokens, cache_creation_tokens, reasoning_tokens, tool_calls"
            " FROM messages WHERE seq = 2"
        ).fetchone()
        assert s.get(conv.id).turns == 1 and s.get(conv.id).tokens == 3120
    assert [(m.role, m.content) for m in msgs] == [
        ("user", "weather in 杭州?"),
        ("assistant", "Let me check."),
        ("tool", "sunny, 25°C"),
        ("tool", "``` 12:00 ```"),
        ("assistant", "晴，25°C。"),
    ]
    call = msgs[1]
    assert call.tool_calls == calling().tool_calls and call.tool_calls[0].function.arguments == ARGS_A
    assert (call.status, call.finish_reason, call.request_id, call.response_id) == (
        "complete",
        "tool_calls",
        "rid-1",
        "chatcmpl-1",
    )
    assert (call.elapsed, call.first_token, call.reasoning, call.options) == (
        1.235,
        0.5,
        "need the weather",
        {"think": True},
    )
    assert call.usage == USAGE and call.usage_model == Usage.model_validate(USAGE)
    assert (
        tuple(row)[:4] == (3019, 2048, 512, 40) and ARGS_A in json.loads(row[4])[0]["function"]["arguments"]
    )
    assert [m.tool_call_id for m in msgs] == [None, None, "call_a", "call_b", None]
    assert ex.user is not None and ex.answer is not None and ex.answer.content == "晴，25°C。"
    assert [m.seq for m in ex.steps] == [2, 3, 4] and [m.seq for m in ex.messages()] == [1, 2, 3, 4, 5]


def test_a_tool_loop_cut_short_has_steps_but_no_answer(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as s:
        conv = s.create()
        write_tool_turn(s, conv.id, final=False)
        s.add(conv.id, NewMessage("user", "never mind"))
        cut = AnswerResult(content="Sure", model="m", error=StreamInterruptedError("broke off"))
        s.add(conv.id, NewMessage.of_result(cut, error="broke off"))
        first, second = s.exchanges(conv.id)
    assert first.answer is None and [m.role for m in first.steps] == ["assistant", "tool", "tool"]
    assert second.answer is not None and (second.answer.status, second.answer.error) == ("error", "broke off")


def test_an_old_database_migrates_in_place(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    old_usage = {"prompt_tokens": 9, "total_tokens": 12, "prompt_tokens_details": {"cached_tokens": 4}}
    with Store(path, migrations=MIGRATIONS[:3]) as old:  # as the previous qwen left it
        assert old.version == 3
        conv = old.create(model="qwen-max")
        v3_add(old, conv.id, "user", "an old question")
        v3_add(old, conv.id, "assistant", "an old answer", usage=json.dumps(old_usage))
        v3_add(old, conv.id, "assistant", "bad usage", usage="not json")
    with Store(path) as new:
        assert new.version == len(MIGRATIONS) == 4
        cols = new.db.execute("SELECT cached_tokens, reasoning_tokens FROM messages ORDER BY seq").fetchall()
        assert [tuple(c) for c in cols] == [(None, None), (4, None), (None, None)]  # filled in from usage
        before = new.messages(conv.id)
        assert [(m.content, m.tool_calls, m.tool_call_id) for m in before] == [
            ("an old question", None, None),
            ("an old answer", None, None),
            ("bad usage", None, None),
        ]
        assert before[1].usage == old_usage
        write_tool_turn(new, conv.id)  # the old conversation goes on with tool turns
        exs = new.exchanges(conv.id)
    assert [e.answer.content if e.answer else None for e in exs] == ["bad usage", "晴，25°C。"]
    assert exs[0].steps[0].content == "an old answer"
    assert exs[1].steps[0].tool_calls == calling().tool_calls


def stored_tool_conversation() -> str:
    with Store.open() as s:
        conv = s.create(model="qwen-plus", system="be brief")
        write_tool_turn(s, conv.id)
        return conv.id


MARKDOWN_TURN = f"""## You

weather in 杭州?

## qwen-plus

Let me check.

**tool call** `weather` (id `call_a`)

```json
{ARGS_A}
```

**tool call** `clock` (id `call_b`)

```json
{{}}
```

## Tool result: weather (id `call_a`)

```
sunny, 25°C
```

## Tool result: clock (id `call_b`)

````
``` 12:00 ```
````

## qwen-plus

晴，25°C。
"""


def test_history_show_and_export_show_the_calls_and_results(run_cli, tmp_path: Path) -> None:
    conv_id = stored_tool_conversation()
    shown = run_cli("history", "show", conv_id[:6])
    assert shown.code == 0 and shown.err == ""
    assert shown.out.endswith("## System\n\nbe brief\n\n" + MARKDOWN_TURN)

    md = run_cli("history", "export", conv_id)
    assert md.code == 0 and md.out == shown.out

    js = run_cli("history", "export", conv_id, "--format", "json")
    data = json.loads(js.out)
    msgs = data["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "tool", "assistant"]
    assert msgs[1]["tool_calls"] == [
        {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": ARGS_A}},
        {"id": "call_b", "type": "function", "function": {"name": "clock", "arguments": ARGS_B}},
    ]
    assert (msgs[1]["usage"], msgs[1]["finish_reason"]) == (USAGE, "tool_calls")
    assert [m.get("tool_call_id") for m in msgs] == [None, None, "call_a", "call_b", None]
    assert msgs[3]["content"] == "``` 12:00 ```" and "tool_calls" not in msgs[4]

    out = tmp_path / "t.json"
    assert run_cli("history", "export", conv_id, "-f", "json", "-o", str(out)).code == 0
    assert json.loads(out.read_text(encoding="utf-8")) == data


def test_save_in_chat_writes_the_calls_and_results(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    conv_id = stored_tool_conversation()
    md, js = tmp_path / "c.md", tmp_path / "c.json"
    r = run_cli("chat", "--resume", conv_id, stdin=lines(f"/save {md}", f"/save {js}"))
    assert r.code == 0, r.err
    assert f"saved 1 turn to {md}" in r.err
    assert md.read_text(encoding="utf-8").endswith(MARKDOWN_TURN)
    data = json.loads(js.read_text(encoding="utf-8"))
    assert [m["role"] for m in data["messages"]] == ["user", "assistant", "tool", "tool", "assistant"]
    assert data["messages"][1]["tool_calls"][0]["function"]["arguments"] == ARGS_A
    assert not [r for r in srv.requests if r["path"].endswith("/chat/completions")]  # nothing was sent
