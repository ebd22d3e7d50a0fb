"""Tool calling in the Python API: functions described, calls run, and the loop's requests,
round by round, byte for byte (sync and async, parallel calls, a forcing tool_choice)."""

from __future__ import annotations

import asyncio
import enum
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Optional

import pytest

from qwen_cli.client import Qwen
from qwen_cli.errors import UsageError
from qwen_cli.tools import builtin, load, run
from qwen_cli.tools.describe import describe, parse_docstring
from tests.fakeserver import FakeServer, chat_completion
from tests.test_engine_tools import chunk

# --------------------------------------------------------------------------- describe


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


def weather(
    city: str, days: int = 1, unit: Unit = Unit.C, detail: Optional[Literal["short", "long"]] = None
) -> str:
    """Get the weather forecast for a city.

    Looks it up online.

    Args:
        city: The city's name,
            in English.
        days (int): How many days ahead.
        unit: Temperature unit.

    Returns:
        The forecast.
    """
    return f"{city}: sunny for {days} day(s)"


def test_a_function_becomes_a_tool_definition_with_required_inside_parameters() -> None:
    assert describe(weather) == {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Get the weather forecast for a city. Looks it up online.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city's name, in English."},
                    "days": {"type": "integer", "description": "How many days ahead."},
                    "unit": {
                        "type": "string",
                        "enum": ["celsius", "fahrenheit"],
                        "description": "Temperature unit.",
                    },
                    "detail": {"type": "string", "enum": ["short", "long"]},
                },
                "required": ["city"],
            },
        },
    }


def test_collections_numbers_and_sphinx_docstrings() -> None:
    def f(tags: list[str], scores: dict[str, float], ok: bool, x: float | None, anything: dict) -> None:  # type: ignore[type-arg]
        """Sum things.

        :param tags: labels to use
        :param x: a factor
        """

    params = describe(f)["function"]["parameters"]
    assert params["properties"] == {
        "tags": {"type": "array", "items": {"type": "string"}, "description": "labels to use"},
        "scores": {"type": "object", "additionalProperties": {"type": "number"}},
        "ok": {"type": "boolean"},
        "x": {"type": "number", "description": "a factor"},
        "anything": {"type": "object"},
    }
    assert params["required"] == ["tags", "scores", "ok", "x", "anything"]
    assert describe(f)["function"]["description"] == "Sum things."
    assert parse_docstring("") == ("", {})


class Thing: ...


def test_a_function_that_cannot_be_described_is_refused_by_name() -> None:
    def splat(*args: int) -> None: ...

    def odd(t: Thing) -> None: ...

    with pytest.raises(UsageError, match="function splat"):
        describe(splat)
    with pytest.raises(UsageError, match="parameter t of the function odd cannot be described"):
        describe(odd)


# --------------------------------------------------------------------------- run one call


def test_a_call_runs_with_parsed_arguments_and_non_strings_come_back_as_json() -> None:
    def add(a: int, b: int) -> dict[str, int]:
        return {"sum": a + b}

    assert run.call(add, "add", ' {"a": 2, "b": 3} ') == run.Outcome('{"sum": 5}', ok=True)
    assert run.call(weather, "weather", '{"city": "北京"}').content == "北京: sunny for 1 day(s)"


def test_bad_arguments_a_raising_tool_and_an_unknown_tool_become_text_for_the_model() -> None:
    def boom(x: int) -> int:
        raise ValueError("x must be positive")

    assert run.call(boom, "boom", '{"x": ').content.startswith("error: the arguments are not valid JSON")
    assert run.call(boom, "boom", "[1]").content.startswith("error: the arguments must be a JSON object")
    assert run.call(boom, "boom", '{"y": 1}').content.startswith("error: wrong arguments for boom")
    out = run.call(boom, "boom", '{"x": 1}')
    assert out == run.Outcome("error: the tool boom raised ValueError: x must be positive", ok=False)
    assert run.call(None, "nope", "{}").content == "error: there is no tool named 'nope'"


def test_a_slow_tool_is_abandoned_at_the_timeout() -> None:
    release, finished = threading.Event(), threading.Event()

    def slow() -> str:
        release.wait(30)
        finished.set()
        return "late"

    out = run.call(slow, "slow", "", timeout=0.2)
    still_running = not finished.is_set()
    release.set()
    assert still_running  # the call returned without waiting for the tool
    assert out == run.Outcome(
        "error: the tool slow did not finish within 0.2 seconds and was stopped", ok=False
    )


# --------------------------------------------------------------------------- built-ins and files


def test_read_file_stays_under_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "proj"
    work.mkdir()
    (work / "notes.txt").write_text("hello 你好", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("nope", encoding="utf-8")
    os.symlink(tmp_path / "secret.txt", work / "link.txt")
    (work / "big.txt").write_bytes(b"a" * (builtin.READ_MAX_BYTES + 10))
    monkeypatch.chdir(work)
    assert builtin.read_file("notes.txt") == "hello 你好"
    for escape in ("../secret.txt", str(tmp_path / "secret.txt"), "link.txt"):
        with pytest.raises(PermissionError):
            builtin.read_file(escape)
    big = builtin.read_file("big.txt")
    assert big.startswith("a" * builtin.READ_MAX_BYTES) and "[cut: only the first 200,000" in big
    assert run.call(builtin.read_file, "read_file", '{"path": "../secret.txt"}').content == (
        "error: the tool read_file raised PermissionError: ../secret.txt is outside the current directory"
    )


def test_now_is_an_iso_date_with_its_zone() -> None:
    from datetime import datetime

    assert datetime.fromisoformat(builtin.now()).tzinfo is not None


def test_a_functions_file_gives_its_public_functions_only(tmp_path: Path) -> None:
    f = tmp_path / "tools.py"
    f.write_text(
        "from os.path import join\n\ndef _helper():\n    pass\n\n"
        "def shout(text: str) -> str:\n    'Upper-case text.'\n    return text.upper()\n",
        encoding="utf-8",
    )
    assert list(load.load_file(str(f))) == ["shout"]
    assert list(load.select([str(f)], ["shout", "now"])) == ["shout", "now"]
    with pytest.raises(UsageError, match=r"no tool named 'shuot' \(did you mean shout\?\)") as info:
        load.select([str(f)], ["shuot"])
    assert "fetch, now, read_file, shout" in (info.value.hint or "")


def test_a_functions_file_that_does_not_import_says_where(tmp_path: Path) -> None:
    f = tmp_path / "bad.py"
    f.write_text("x = 1\nimport no_such_module_here\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"does not import \(line 2\): ModuleNotFoundError") as info:
        load.load_file(str(f))
    assert isinstance(info.value.__cause__, ModuleNotFoundError)  # --debug shows its traceback


# --------------------------------------------------------------------------- the loop


def call_chunk(index: int, args: str | None, call_id: str = "", name: str | None = None) -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    return chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function", "function": fn}]})


def pitfall_stream() -> list[dict[str, Any]]:
    """Two parallel calls with every recorded pitfall: later fragments ``id: ""``, ``function: {}``,
    ``arguments: null``, meaningful leading spaces, interleaved by index, finish before usage."""
    events = [chunk({"role": "assistant", "content": None})]
    events.append(call_chunk(0, "", "call_a", "weather"))
    events.append(call_chunk(1, None, "call_b", "weather"))
    events.append(call_chunk(0, '{"city":'))
    events.append(chunk({"tool_calls": [{"index": 1, "id": "", "type": "function", "function": {}}]}))
    events.append(call_chunk(1, ' {"city": "杭州", '))
    events.append(call_chunk(0, ' "北京"}'))
    events.append(call_chunk(1, None))
    events.append(call_chunk(1, '"days": 2}'))
    events.append(chunk({"content": ""}, "tool_calls"))
    last = chunk({})
    last["choices"], last["usage"] = [], {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    events.append(last)
    return events


def calls_body(*calls: tuple[str, str, str]) -> dict[str, Any]:
    body = chat_completion("", model="qwen-plus", finish_reason="tool_calls")
    body["choices"][0]["message"]["tool_calls"] = [
        {"index": i, "id": cid, "type": "function", "function": {"name": name, "arguments": args}}
        for i, (cid, name, args) in enumerate(calls)
    ]
    return body


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


def bodies(srv: FakeServer) -> list[dict[str, Any]]:
    return [r["json"] for r in srv.requests if r["path"].endswith("/chat/completions")]


EXPECTED_ROUND_2 = [
    {"role": "user", "content": "weather?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "北京"}'},
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "weather", "arguments": ' {"city": "杭州", "days": 2}'},
            },
        ],
    },
    {"role": "tool", "content": "北京: sunny for 1 day(s)", "tool_call_id": "call_a"},
    {"role": "tool", "content": "杭州: sunny for 2 day(s)", "tool_call_id": "call_b"},
]


def test_the_sync_loop_answers_parallel_streamed_calls_and_sends_each_round_exactly(fake: FakeServer) -> None:
    fake.enqueue({"sse": pitfall_stream()}, {"json": chat_completion("Sunny in both.", model="qwen-plus")})
    with Qwen("sk-test", base_url=fake.base_url, max_retries=0) as client:
        # the first round streams, as a CLI would: the assembler puts the calls together
        with client.chat.create([{"role": "user", "content": "weather?"}], stream=True, tools=[weather]) as s:
            s.until_done()
        calls = s.result.tool_calls
        assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
            ("call_a", "weather", '{"city": "北京"}'),
            ("call_b", "weather", ' {"city": "杭州", "days": 2}'),
        ]
        fake.reset()
        fake.enqueue(
            {
                "json": calls_body(
                    ("call_a", "weather", '{"city": "北京"}'),
                    ("call_b", "weather", calls[1].function.arguments),
                )
            },
            {"json": chat_completion("Sunny in both.", model="qwen-plus")},
        )
        out = client.chat.run(
            [{"role": "user", "content": "weather?"}],
            model="qwen-plus",
            tools=[weather],
            tool_choice={"type": "function", "function": {"name": "weather"}},
            parallel_tool_calls=True,
        )
    assert out.content == "Sunny in both." and out.rounds == 1
    first, second = bodies(fake)
    assert first["tools"] == [describe(weather)] and first["parallel_tool_calls"] is True
    assert first["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert first["messages"] == [{"role": "user", "content": "weather?"}]
    assert second["messages"] == EXPECTED_ROUND_2
    assert "tool_choice" not in second  # a forcing choice would make the model call again
    assert second["tools"] == first["tools"]
    assert [m.role for m in out.messages] == ["user", "assistant", "tool", "tool", "assistant"]


def test_the_async_loop_runs_the_calls_of_a_round_concurrently(fake: FakeServer) -> None:
    order: list[str] = []

    async def slow_weather(city: str, days: int = 1) -> str:
        """Weather, slowly."""
        order.append(f"start {city}")
        await asyncio.sleep(0.1)
        order.append(f"end {city}")
        return f"{city}: sunny for {days} day(s)"

    fake.enqueue(
        {
            "json": calls_body(
                ("call_a", "slow_weather", '{"city": "北京"}'),
                ("call_b", "slow_weather", '{"city": "杭州", "days": 2}'),
            )
        },
        {"json": chat_completion("Sunny.", model="qwen-plus")},
    )

    async def go() -> Any:
        async with Qwen("sk-test", base_url=fake.base_url, max_retries=0) as client:
            return await client.chat.arun([{"role": "user", "content": "weather?"}], tools=[slow_weather])

    out = asyncio.run(go())
    assert out.content == "Sunny."
    assert order[:2] == ["start 北京", "start 杭州"]  # both calls at once, not one after the other
    msgs = bodies(fake)[1]["messages"]
    assert msgs[2:] == [
        {"role": "tool", "content": "北京: sunny for 1 day(s)", "tool_call_id": "call_a"},
        {"role": "tool", "content": "杭州: sunny for 2 day(s)", "tool_call_id": "call_b"},
    ]


def test_the_loop_sends_errors_back_and_stops_calling_after_max_rounds(fake: FakeServer) -> None:
    def boom(x: int) -> int:
        """Fails."""
        raise RuntimeError("disk on fire")

    fake.enqueue(
        {"json": calls_body(("c1", "boom", '{"x": 1}'))},
        {"json": calls_body(("c2", "boom", "not json"))},
        {"json": chat_completion("I could not do it.", model="qwen-plus")},
    )
    with Qwen("sk-test", base_url=fake.base_url, max_retries=0) as client:
        out = client.chat.run([{"role": "user", "content": "go"}], tools=[boom], max_rounds=2)
    assert out.content == "I could not do it." and out.rounds == 2
    b = bodies(fake)
    assert b[1]["messages"][-1] == {
        "role": "tool",
        "content": "error: the tool boom raised RuntimeError: disk on fire",
        "tool_call_id": "c1",
    }
    assert b[2]["messages"][-1]["content"].startswith("error: the arguments are not valid JSON")
    assert "tool_choice" not in b[0] and "tool_choice" not in b[1]
    assert b[2]["tool_choice"] == "none"  # the rounds are used up: the model must answer


def test_create_takes_functions_and_dicts_alike(fake: FakeServer) -> None:
    raw = {
        "type": "function",
        "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}},
    }
    with Qwen("sk-test", base_url=fake.base_url, max_retries=0) as client:
        client.chat.create([{"role": "user", "content": "hi"}], tools=[raw, weather])
    assert bodies(fake)[0]["tools"] == [raw, describe(weather)]


def test_fetch_reads_only_http_urls_and_reports_failures_as_text(fake: FakeServer) -> None:
    out = run.call(builtin.fetch, "fetch", '{"url": "file:///etc/passwd"}')
    assert out.content == "error: the tool fetch raised UsageError: not an http(s) URL: 'file:///etc/passwd'"
    out = run.call(builtin.fetch, "fetch", json.dumps({"url": fake.base_url + "/models"}))
    assert out.content.startswith("error: the tool fetch raised") and "401" in out.content
    assert "authorization" not in {k.lower() for k in fake.requests[-1]["headers"]}  # no key is sent
