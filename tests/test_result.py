"""One result type from socket to store: tool calls assembled from fragments, usage, state, timing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx

from qwen_cli import structs
from qwen_cli.errors import StreamInterruptedError
from qwen_cli.providers.dashscope import DashScope
from qwen_cli.streaming import StreamCore
from qwen_cli.types import AnswerResult, ChatCompletion, Message, SearchSource, ToolCall, Usage
from tests.test_client import BASE, URL, USER, client, sse, stream_response

MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def frag(
    index: int | None = 0,
    id: str | None = None,
    name: str | None = None,
    args: Any = None,
    *,
    function: Any = "build",
    type: str | None = "function",
) -> dict[str, Any]:
    """One ``tool_calls`` entry of a stream delta; ``None`` fields are left out."""
    f: dict[str, Any] = {}
    if index is not None:
        f["index"] = index
    if id is not None:
        f["id"] = id
    if type is not None:
        f["type"] = type
    if function == "build":
        fn: dict[str, Any] = {}
        if name is not None:
            fn["name"] = name
        if args is not None:
            fn["arguments"] = args
        f["function"] = fn
    else:
        f["function"] = function
    return f


def tool_chunk(*frags: dict[str, Any], finish: str | None = None, **delta: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"content": None, **delta}
    if frags:
        d["tool_calls"] = list(frags)
    return {
        "id": "chatcmpl-t",
        "model": "qwen-plus",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": d, "finish_reason": finish, "logprobs": None}],
        "usage": None,
    }


def assemble(*chunks: dict[str, Any], step: int = 1) -> AnswerResult:
    """Feed the SSE bytes of ``chunks`` to the core ``step`` bytes at a time."""
    core = StreamCore(DashScope(base_url=BASE, api_key="k"), "req-1", model="qwen-plus")
    data = sse(*chunks)
    for i in range(0, len(data), step):
        list(core.feed(data[i : i + step]))
    list(core.end())
    return core.acc


def calls(r: AnswerResult) -> list[tuple[str, str, str, str]]:
    return [(c.id, c.type, c.function.name, c.function.arguments) for c in r.tool_calls]


# --------------------------------------------------------------------------- assembly


def test_split_arguments_are_joined_byte_for_byte_across_any_read_boundary() -> None:
    pieces = ['{"location":', ' "杭州市"', ",\n  ", '"unit" :\t"c"', "}\n"]
    chunks = [
        tool_chunk(frag(0, "call_8f08", "get_current_weather", pieces[0])),
        *(tool_chunk(frag(0, "", None, p)) for p in pieces[1:]),
        tool_chunk(finish="tool_calls"),
    ]
    for step in (1, 3, 10_000):  # 1-byte reads split the CJK characters too
        r = assemble(*chunks, step=step)
        assert calls(r) == [("call_8f08", "function", "get_current_weather", "".join(pieces))]
        assert r.finish_reason == "tool_calls" and r.content == "" and r.state == "complete"


def test_leading_and_trailing_whitespace_in_arguments_is_kept() -> None:
    r = assemble(
        tool_chunk(frag(0, "c1", "f", "  ")),
        tool_chunk(frag(0, "", "", ' {"a": "x  y"} ')),
        tool_chunk(frag(0, "", None, "\n\n")),
        tool_chunk(finish="tool_calls"),
    )
    assert r.tool_calls[0].function.arguments == '   {"a": "x  y"} \n\n'


def test_interleaved_parallel_calls_are_keyed_by_index_not_id() -> None:
    r = assemble(
        tool_chunk(frag(1, "call_b", "weather", '{"city":')),
        tool_chunk(frag(0, "call_a", "time", "")),
        tool_chunk(frag(1, "", None, ' "北京"}')),
        tool_chunk(frag(0, "", None, '{"tz": "UTC"')),
        tool_chunk(frag(0, "", None, "}")),
        tool_chunk(finish="tool_calls"),
    )
    assert calls(r) == [
        ("call_a", "function", "time", '{"tz": "UTC"}'),
        ("call_b", "function", "weather", '{"city": "北京"}'),
    ]


def test_id_and_name_come_from_the_first_non_empty_value() -> None:
    r = assemble(
        tool_chunk(frag(0, "", "", "")),  # empty strings first
        tool_chunk(frag(0, "call_x", "lookup", "{")),
        tool_chunk(frag(0, "call_other", "", "}")),  # a later id and an empty name change nothing
        tool_chunk(frag(0, "", "renamed", "")),
        tool_chunk(finish="tool_calls"),
    )
    assert calls(r) == [("call_x", "function", "lookup", "{}")]


def test_odd_fragments_are_tolerated() -> None:
    """``function: {}`` and null arguments (recorded from qwen-max), the Omni pattern (name first,
    arguments later), arguments sent as an object, and no type."""
    r = assemble(
        tool_chunk(frag(0, "call_deb0", "get_current_time", "")),
        tool_chunk(frag(0, "", None, "{}")),
        tool_chunk(frag(0, "", function={})),
        tool_chunk(frag(0, "", function=None)),
        tool_chunk(frag(1, "call_o", "omni", None, type=None)),
        tool_chunk(frag(1, "", None, ' {"location": "杭州市"}')),
        tool_chunk(frag(2, "call_obj", "obj", {"k": [1, 2]})),
        tool_chunk(finish="tool_calls"),
    )
    assert calls(r) == [
        ("call_deb0", "function", "get_current_time", "{}"),
        ("call_o", "function", "omni", ' {"location": "杭州市"}'),
        ("call_obj", "function", "obj", '{"k": [1, 2]}'),
    ]


def test_fragments_without_an_index() -> None:
    r = assemble(
        tool_chunk(frag(None, "call_1", "a", '{"x"')),  # no index at all: the first call
        tool_chunk(frag(None, None, None, ": 1}")),  # then: the call last added to
        tool_chunk(frag(None, "call_2", "b", "{")),  # a new id: a new call
        tool_chunk(frag(None, "", None, "}")),
        tool_chunk(frag(None, "call_1", None, " ")),  # naming a known id: that call
        tool_chunk(finish="tool_calls"),
    )
    assert calls(r) == [("call_1", "function", "a", '{"x": 1} '), ("call_2", "function", "b", "{}")]


def test_reasoning_and_content_come_before_the_calls() -> None:
    r = assemble(
        tool_chunk(reasoning_content="think "),
        tool_chunk(reasoning_content="more"),
        tool_chunk(content="Let me check."),
        tool_chunk(frag(0, "c", "f", "{}")),
        tool_chunk(finish="tool_calls"),
    )
    assert (r.reasoning, r.content, calls(r)) == (
        "think more",
        "Let me check.",
        [("c", "function", "f", "{}")],
    )


# --------------------------------------------------------------------------- through the client


TOOL_STREAM = sse(
    tool_chunk(reasoning_content="hmm"),
    tool_chunk(frag(0, "call_a", "weather", '{"city": ')),
    tool_chunk(frag(1, "call_b", "time", "{")),
    tool_chunk(frag(0, "", None, '"杭州"}\n')),
    tool_chunk(frag(1, "", None, "}")),
    tool_chunk(finish="tool_calls"),
    {
        "id": "chatcmpl-t",
        "choices": [],
        "usage": {
            "prompt_tokens": 3019,
            "completion_tokens": 101,
            "total_tokens": 3120,
            "prompt_tokens_details": {"cached_tokens": 2048, "cache_creation_input_tokens": 512},
            "completion_tokens_details": {"reasoning_tokens": 40},
        },
    },
)


@MODES
@respx.mock
def test_a_streamed_answer_ends_as_one_result_that_can_be_sent_back(mode: str) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            stream_response(TOOL_STREAM, **{"X-Request-ID": "rid-7"}),
            httpx.Response(200, json={"choices": [{"message": {"content": "晴"}, "finish_reason": "stop"}]}),
        ]
    )
    c = client()

    def first() -> tuple[AnswerResult, ChatCompletion]:
        with c.chat.create(USER, model="qwen-plus", stream=True) as s:
            for _ in s:
                pass
            return s.result, s.completion()

    async def afirst() -> tuple[AnswerResult, ChatCompletion]:
        s = await c.chat.acreate(USER, model="qwen-plus", stream=True)
        async with s:
            async for _ in s:
                pass
        return s.result, s.completion()

    r, completion = first() if mode == "sync" else asyncio.run(afirst())
    assert completion.result is r  # one object, not a copy
    assert completion.choices[0].message.tool_calls and completion.finish_reason == "tool_calls"
    assert calls(r) == [
        ("call_a", "function", "weather", '{"city": "杭州"}\n'),
        ("call_b", "function", "time", "{}"),
    ]
    assert (r.reasoning, r.request_id, r.model, r.id, r.state) == (
        "hmm",
        "rid-7",
        "qwen-plus",
        "chatcmpl-t",
        "complete",
    )
    assert isinstance(r.usage, Usage)
    assert (r.usage.cached_tokens, r.usage.cache_creation_tokens, r.usage.reasoning_tokens) == (2048, 512, 40)
    assert r.first_token_at is not None and r.elapsed >= r.first_token_at >= 0

    follow_up = [
        *USER,
        r.message(),
        *(
            Message(role="tool", content=f"result of {t.function.name}", tool_call_id=t.id)
            for t in r.tool_calls
        ),
    ]
    answer = c.chat.create(follow_up, model="qwen-plus")
    assert answer.content == "晴" and answer.result.content == "晴"
    sent = json.loads(route.calls[1].request.content)["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "杭州"}\n'},
            },
            {"id": "call_b", "type": "function", "function": {"name": "time", "arguments": "{}"}},
        ],
    }
    assert sent[2:] == [
        {"role": "tool", "content": "result of weather", "tool_call_id": "call_a"},
        {"role": "tool", "content": "result of time", "tool_call_id": "call_b"},
    ]


WHOLE = {
    "id": "chatcmpl-w",
    "model": "qwen-plus",
    "choices": [
        {
            "message": {
                "content": "",
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_c2d8",
                        "function": {"name": "get_current_weather", "arguments": '{"location": "北京市"} '},
                        "index": 0,
                        "type": "function",
                    },
                    {
                        "id": "call_dc7f",
                        "function": {"name": "get_time", "arguments": "{}"},
                        "type": "function",
                    },
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": {"cache_creation": {"ephemeral_5m_input_tokens": 1605}, "cached_tokens": 0},
    },
}


@MODES
@respx.mock
def test_a_whole_response_maps_to_the_same_result(mode: str) -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json=WHOLE, headers={"x-request-id": "rid-w"}))
    c = client()
    got = c.chat.create(USER) if mode == "sync" else asyncio.run(c.chat.acreate(USER))
    r = got.result
    assert got.result is r and got.tool_calls is r.tool_calls
    assert calls(r) == [
        ("call_c2d8", "function", "get_current_weather", '{"location": "北京市"} '),
        ("call_dc7f", "function", "get_time", "{}"),
    ]
    assert (r.finish_reason, r.request_id, r.state, r.done) == ("tool_calls", "rid-w", "complete", True)
    assert r.usage is not None and (r.usage.cache_creation_tokens, r.usage.cached_tokens) == (1605, 0)
    assert r.elapsed > 0 and r.first_token_at is None


@respx.mock
def test_a_whole_response_to_a_stream_request_keeps_its_tool_calls() -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json=WHOLE))
    with client().chat.create(USER, stream=True) as s:
        chunks = list(s)
    assert [t.function.name for t in chunks[0].delta.tool_calls or []] == ["get_current_weather", "get_time"]
    assert calls(s.result)[0][3] == '{"location": "北京市"} '


@MODES
@respx.mock
def test_a_broken_stream_leaves_an_error_result_with_what_arrived(mode: str) -> None:
    body = sse(tool_chunk(content="part"), tool_chunk(frag(0, "c", "f", '{"a"')), done=False)
    respx.post(URL).mock(return_value=stream_response(body))
    c = client()

    def run() -> AnswerResult:
        s = c.chat.create(USER, stream=True)
        with pytest.raises(StreamInterruptedError) as info:
            for _ in s:
                pass
        assert s.result.error is info.value
        return s.result

    async def arun() -> AnswerResult:
        s = await c.chat.acreate(USER, stream=True)
        with pytest.raises(StreamInterruptedError) as info:
            async for _ in s:
                pass
        assert s.result.error is info.value
        return s.result

    r = run() if mode == "sync" else asyncio.run(arun())
    assert (r.state, r.content, calls(r)) == ("error", "part", [("c", "function", "f", '{"a"')])


# --------------------------------------------------------------------------- the type itself


def test_usage_reads_every_place_the_counts_come_in() -> None:
    top = Usage.model_validate({"prompt_tokens": 9, "cached_tokens": 4})  # VL models: top level
    assert (top.cached_tokens, top.cache_creation_tokens, top.reasoning_tokens) == (4, None, None)
    both = Usage.model_validate(
        {
            "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_input_tokens": 1605},
            "cached_tokens": 7,
        }
    )
    assert (both.cached_tokens, both.cache_creation_tokens) == (0, 1605)
    by_kind = Usage.model_validate({"prompt_tokens_details": {"cache_creation": {"a": 2, "b": 3, "c": "x"}}})
    assert by_kind.cache_creation_tokens == 5
    assert (
        Usage.model_validate({"prompt_tokens_details": {"cache_creation": {}}}).cache_creation_tokens is None
    )


def test_timing_comes_from_the_clock_given() -> None:
    ticks = iter([10.0, 10.5, 11.0, 12.0, 13.0])
    core = StreamCore(DashScope(base_url=BASE, api_key="k"), started=9.0, clock=lambda: next(ticks))
    list(core.feed(sse(tool_chunk(), tool_chunk(content="a"), tool_chunk(content="b"), done=False)))
    # empty delta at 10.0 (elapsed only); first text at 10.5 (first token, then elapsed 11.0); next 12.0
    assert (core.acc.first_token_at, core.acc.elapsed) == (1.5, 3.0)


def test_state_follows_how_the_answer_ended() -> None:
    assert AnswerResult().state == "complete"
    assert AnswerResult(interrupted=True).state == "interrupted"
    assert AnswerResult(output_closed=True, error=StreamInterruptedError("x")).state == "interrupted"
    assert AnswerResult(error=StreamInterruptedError("x")).state == "error"


def test_tool_fields_must_fit_the_role() -> None:
    with pytest.raises(ValueError, match="only an assistant"):
        Message(role="user", content="x", tool_calls=[ToolCall(id="a")])
    with pytest.raises(ValueError, match="only a tool message"):
        Message(role="assistant", content="x", tool_call_id="a")


ANSWER_FIELDS = {  # the CLI's answer record before this type: what its users read
    "content", "reasoning", "model", "finish_reason", "usage", "id", "request_id", "elapsed",
    "first_token_at", "interrupted", "output_closed", "error", "sources",
}  # fmt: skip


def test_it_can_stand_in_for_the_cli_answer() -> None:
    """The fields and the ``--json`` shape of the CLI's answer record, plus tool calls."""
    assert set(structs.field_names(AnswerResult)) >= ANSWER_FIELDS
    r = AnswerResult(
        content="hi",
        reasoning="r",
        model="m",
        finish_reason="stop",
        usage=Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3),
        id="i",
        request_id="q",
        sources=[SearchSource(url="https://a.example", title="A")],
    )
    assert r.as_json() == {
        "id": "i",
        "model": "m",
        "content": "hi",
        "reasoning": "r",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        "request_id": "q",
        "sources": [{"url": "https://a.example", "title": "A"}],
    }
    assert AnswerResult().as_json()["reasoning"] is None and "sources" not in AnswerResult().as_json()
    r.tool_calls.append(ToolCall(id="t"))
    assert r.as_json()["tool_calls"] == [
        {"id": "t", "type": "function", "function": {"name": "", "arguments": ""}}
    ]
