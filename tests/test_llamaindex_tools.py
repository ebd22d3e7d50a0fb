"""``QwenLlamaIndex`` calling tools against the fake server: streamed calls put together from
awkward fragments, parallel calls allowed or not, ``predict_and_call`` and a ``FunctionAgent``
loop of two tool rounds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, TextBlock
from llama_index.core.tools import FunctionTool

from qwen_cli.llamaindex import QwenLlamaIndex
from tests.fakeserver import FakeServer, chat_completion, chat_stream_events

KEY = "sk-llamaindex-tools-0000"
MODES = ["sync", "async"]

# Argument text cut where a stream cuts it: leading spaces, inside a key, inside a Chinese
# string, a trailing newline. The assembled text must be these pieces joined, byte for byte.
WEATHER = [' {"ci', 'ty": "北', '京",  ', '"unit": "c"}', "\n"]
TIME = ["", '{ "tz" :', ' "Asia/Shanghai" }']


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with FakeServer() as s:
        monkeypatch.setenv("QWEN_BASE_URL", s.base_url)
        monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
        monkeypatch.setenv("QWEN_MAX_RETRIES", "0")
        yield s


@pytest.fixture
def llm(srv: FakeServer) -> Iterator[QwenLlamaIndex]:
    made = QwenLlamaIndex(model="qwen-plus")
    yield made
    made.close()


def get_weather(city: str, unit: str = "c") -> str:
    """The weather in a city."""
    return f"sunny in {city}, 25{unit}"


def get_time(tz: str) -> str:
    """The time in a time zone."""
    return f"noon in {tz}"


TOOLS = [FunctionTool.from_defaults(fn=get_weather), FunctionTool.from_defaults(fn=get_time)]


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-tools",
        "model": "qwen-plus",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": None,
    }


def first(index: int, call_id: str, name: str, args: str) -> dict[str, Any]:
    return {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def later(index: int, args: str | None) -> dict[str, Any]:
    """A later fragment, as servers send them: ``id: ""``, no type, no name."""
    return {"index": index, "id": "", "function": {"arguments": args}}


def tool_stream() -> list[dict[str, Any]]:
    """Two calls, interleaved (the second's first fragment first), with ``function: {}`` and
    ``arguments: null`` fragments among them, then the finish and the usage."""
    events = [chunk({"role": "assistant", "content": ""})]
    events.append(chunk({"tool_calls": [first(1, "call_time", "get_time", TIME[0])]}))
    events.append(chunk({"tool_calls": [first(0, "call_weather", "get_weather", WEATHER[0])]}))
    events.append(chunk({"tool_calls": [{"index": 0, "id": "", "function": {}}]}))
    events.append(chunk({"tool_calls": [later(1, None)]}))
    for i in range(1, len(WEATHER)):
        if i < len(TIME):
            events.append(chunk({"tool_calls": [later(1, TIME[i])]}))
        events.append(chunk({"tool_calls": [later(0, WEATHER[i])]}))
    events.append(chunk({"content": ""}, "tool_calls"))
    last = chunk({})
    last["choices"], last["usage"] = [], {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}
    events.append(last)
    return events


def call_message(*calls: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}, "index": k}
            for k, (i, n, a) in enumerate(calls)
        ],
    }


def whole_calls(*calls: tuple[str, str, str]) -> dict[str, Any]:
    body = chat_completion("", model="qwen-plus", finish_reason="tool_calls")
    body["choices"][0]["message"] = call_message(*calls)
    return body


def stream_with_tools(llm: QwenLlamaIndex, mode: str, **kw: Any) -> list[ChatResponse]:
    if mode == "sync":
        return list(llm.stream_chat_with_tools(TOOLS, **kw))

    async def run() -> list[ChatResponse]:
        return [r async for r in await llm.astream_chat_with_tools(TOOLS, **kw)]

    return asyncio.run(run())


def chat_with_tools(llm: QwenLlamaIndex, mode: str, **kw: Any) -> ChatResponse:
    if mode == "sync":
        return llm.chat_with_tools(TOOLS, **kw)
    return asyncio.run(llm.achat_with_tools(TOOLS, **kw))


@pytest.mark.parametrize("mode", MODES)
def test_streamed_parallel_calls_are_assembled_byte_for_byte(
    srv: FakeServer, llm: QwenLlamaIndex, mode: str
) -> None:
    srv.enqueue({"sse": tool_stream()})
    got = stream_with_tools(
        llm, mode, user_msg="weather in Beijing, and the time?", allow_parallel_tool_calls=True
    )

    body = srv.requests[0]["json"]
    assert body["stream"] is True and body["parallel_tool_calls"] is True and "tool_choice" not in body
    weather = body["tools"][0]
    assert weather["type"] == "function" and weather["function"]["name"] == "get_weather"
    params = weather["function"]["parameters"]
    assert params["required"] == ["city"] and "required" not in weather["function"]  # inside, not beside
    assert set(params["properties"]) == {"city", "unit"}
    assert body["messages"] == [{"role": "user", "content": "weather in Beijing, and the time?"}]

    final = got[-1]
    calls = final.message.additional_kwargs["tool_calls"]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("call_weather", "get_weather", "".join(WEATHER)),
        ("call_time", "get_time", "".join(TIME)),
    ]
    selections = llm.get_tool_calls_from_response(final)
    assert [(s.tool_id, s.tool_name, s.tool_kwargs) for s in selections] == [
        ("call_weather", "get_weather", {"city": "北京", "unit": "c"}),
        ("call_time", "get_time", {"tz": "Asia/Shanghai"}),
    ]
    assert final.additional_kwargs["finish_reason"] == "tool_calls"
    assert final.additional_kwargs["total_tokens"] == 50
    # while the arguments are still arriving, the calls are there with what parsed so far
    midway = [r for r in got if r.message.additional_kwargs.get("tool_calls")][1]
    assert [s.tool_name for s in llm.get_tool_calls_from_response(midway)] == ["get_weather", "get_time"]


@pytest.mark.parametrize("mode", MODES)
def test_without_parallel_calls_one_call_is_asked_for_and_kept(
    srv: FakeServer, llm: QwenLlamaIndex, mode: str
) -> None:
    srv.enqueue({"json": whole_calls(("c1", "get_weather", '{"city": "Paris"}'), ("c2", "get_time", "{}"))})
    r = chat_with_tools(llm, mode, user_msg="weather?")
    body = srv.requests[0]["json"]
    assert body["parallel_tool_calls"] is False and body["stream"] is False
    assert [s.tool_id for s in llm.get_tool_calls_from_response(r)] == ["c1"]


def test_a_required_call_and_a_named_tool_choice_are_sent_as_the_function(
    srv: FakeServer, llm: QwenLlamaIndex
) -> None:
    srv.enqueue({"json": whole_calls(("c1", "get_time", '{"tz": "UTC"}')), "repeat": 3})
    llm.chat_with_tools(TOOLS[1:], user_msg="time?", tool_required=True)
    llm.chat_with_tools(TOOLS, user_msg="time?", tool_choice="get_time")
    llm.chat_with_tools(TOOLS, user_msg="time?", tool_required=True)
    sent = [r["json"]["tool_choice"] for r in srv.requests]
    assert sent == [{"type": "function", "function": {"name": "get_time"}}] * 2 + ["required"]


def test_no_tool_call_is_an_error_only_when_one_was_expected(srv: FakeServer, llm: QwenLlamaIndex) -> None:
    r = llm.chat_with_tools(TOOLS, user_msg="just talk")
    assert r.message.content == "echo: just talk"
    assert llm.get_tool_calls_from_response(r, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="at least one tool call"):
        llm.get_tool_calls_from_response(r)


@pytest.mark.parametrize("mode", MODES)
def test_predict_and_call_runs_the_tool_the_model_chose(
    srv: FakeServer, llm: QwenLlamaIndex, mode: str
) -> None:
    srv.enqueue({"json": whole_calls(("c1", "get_weather", '{"city": "Oslo", "unit": "f"}'))})
    if mode == "sync":
        out = llm.predict_and_call(TOOLS, user_msg="weather in Oslo?")
    else:
        out = asyncio.run(llm.apredict_and_call(TOOLS, user_msg="weather in Oslo?"))
    assert out.response == "sunny in Oslo, 25f"
    assert out.sources[0].tool_name == "get_weather" and out.sources[0].raw_input["kwargs"] == {
        "city": "Oslo",
        "unit": "f",
    }


def test_a_tool_round_goes_back_as_the_assistant_calls_then_the_tool_results(
    srv: FakeServer, llm: QwenLlamaIndex
) -> None:
    """Both shapes of a call on a LlamaIndex message: ours (``additional_kwargs``) and a
    ``ToolCallBlock`` (other LLMs' messages in the same memory)."""
    from llama_index.core.base.llms.types import ToolCallBlock

    history = [
        ChatMessage(role=MessageRole.USER, content="weather and time?"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            content="",
            additional_kwargs={
                "tool_calls": json.loads(
                    json.dumps(call_message(("a1", "get_weather", ' {"city":"x"}'))["tool_calls"])
                )
            },
        ),
        ChatMessage(role=MessageRole.TOOL, content="sunny", additional_kwargs={"tool_call_id": "a1"}),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[
                TextBlock(text=""),
                ToolCallBlock(tool_call_id="b1", tool_name="get_time", tool_kwargs={"tz": "UTC"}),
            ],
        ),
        ChatMessage(role=MessageRole.TOOL, content="noon", additional_kwargs={"tool_call_id": "b1"}),
    ]
    llm.chat(history)
    sent = srv.requests[0]["json"]["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "a1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ' {"city":"x"}'},
            }
        ],
    }
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_call_id": "a1"}
    assert sent[3]["tool_calls"] == [
        {"id": "b1", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'}}
    ]
    assert sent[4] == {"role": "tool", "content": "noon", "tool_call_id": "b1"}


# LlamaIndex's workflows look at every attribute of the agent, pydantic's deprecated ones too
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning")
@pytest.mark.parametrize("streaming", [True, False])
def test_a_function_agent_runs_two_tool_rounds_then_answers(
    srv: FakeServer, llm: QwenLlamaIndex, streaming: bool
) -> None:
    from llama_index.core.agent.workflow import FunctionAgent

    ran: list[tuple[str, dict[str, Any]]] = []

    def weather(city: str) -> str:
        """The weather in a city."""
        ran.append(("weather", {"city": city}))
        return f"rain in {city}"

    def clock(tz: str) -> str:
        """The time in a time zone."""
        ran.append(("clock", {"tz": tz}))
        return f"9am in {tz}"

    def round_of(call_id: str, name: str, args: str) -> dict[str, Any]:
        if not streaming:
            return {"json": whole_calls((call_id, name, args))}
        head, tail = args[:5], args[5:]
        events = [chunk({"role": "assistant", "content": ""})]
        events.append(chunk({"tool_calls": [first(0, call_id, name, head)]}))
        events.append(chunk({"tool_calls": [later(0, tail)]}))
        events.append(chunk({"content": ""}, "tool_calls"))
        return {"sse": events}

    final = "Rain in Hangzhou; it is 9am."
    srv.enqueue(
        round_of("r1", "weather", '{"city": "Hangzhou"}'),
        round_of("r2", "clock", '{"tz": "Asia/Shanghai"}'),
        {"sse": chat_stream_events(["Rain in Hangzhou; ", "it is 9am."], model="qwen-plus")}
        if streaming
        else {"json": chat_completion(final, model="qwen-plus")},
    )
    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(fn=weather), FunctionTool.from_defaults(fn=clock)],
        llm=llm,
        streaming=streaming,
        system_prompt="Use the tools.",
    )

    async def run() -> Any:
        return await agent.run(user_msg="Weather in Hangzhou, and the time there?")

    result = asyncio.run(run())
    assert str(result.response.content) == final
    assert ran == [("weather", {"city": "Hangzhou"}), ("clock", {"tz": "Asia/Shanghai"})]

    bodies = [r["json"] for r in srv.requests]
    assert len(bodies) == 3 and all(b["stream"] is streaming for b in bodies)
    assert all({t["function"]["name"] for t in b["tools"]} == {"weather", "clock"} for b in bodies)
    third = bodies[2]["messages"]
    assert third[0] == {"role": "system", "content": "Use the tools."}
    assert third[1] == {"role": "user", "content": "Weather in Hangzhou, and the time there?"}
    assert third[2]["tool_calls"][0]["function"] == {"name": "weather", "arguments": '{"city": "Hangzhou"}'}
    assert third[3] == {"role": "tool", "content": "rain in Hangzhou", "tool_call_id": "r1"}
    assert third[4]["tool_calls"][0]["id"] == "r2"
    assert third[5] == {"role": "tool", "content": "9am in Asia/Shanghai", "tool_call_id": "r2"}
    assert bodies[1]["messages"] == third[:4]
