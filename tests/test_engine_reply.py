"""One request's answer as events, then one result: streamed, whole, stopped early."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from qwen_cli.client import Qwen
from qwen_cli.engine import AnswerText, Finish, ReasoningText, Reply, Sources, UsageReport, drain
from qwen_cli.errors import AuthenticationError
from tests.chatkit import Interrupted, interrupted, sse

URL = "http://local.test/v1/chat/completions"


@pytest.fixture
def client() -> Iterator[Qwen]:
    with Qwen("sk-engine-test-0000", base_url="http://local.test/v1", max_retries=0) as c:
        yield c


def streamed(*events: dict[str, object]) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(*events))


@respx.mock
def test_a_stream_becomes_events_in_order_and_one_result(client: Qwen) -> None:
    src = {"title": "Qwen", "url": "https://qwen.ai/"}
    respx.post(URL).mock(
        return_value=streamed(
            {"id": "c1", "model": "qwen-plus", "choices": [{"delta": {"reasoning_content": "think "}}]},
            {"id": "c1", "choices": [{"delta": {"content": "你"}}]},
            {
                "id": "c1",
                "choices": [{"delta": {"content": "好"}, "finish_reason": "stop"}],
                "sources": [src],
            },
            {
                "id": "c1",
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            },
        )
    )
    reply = Reply(
        client, client.chat.request([{"role": "user", "content": "hi"}], model="qwen-plus", stream=True)
    )
    events = list(reply)
    ans = reply.end()
    assert events[:3] == [ReasoningText("think "), AnswerText("你"), AnswerText("好")]
    assert isinstance(events[3], Sources) and [s.url for s in events[3].items] == ["https://qwen.ai/"]
    assert isinstance(events[4], UsageReport) and events[4].usage.total_tokens == 7
    assert events[5:] == [Finish("stop")]
    assert (ans.content, ans.reasoning, ans.model, ans.finish_reason, ans.id) == (
        "你好",
        "think ",
        "qwen-plus",
        "stop",
        "c1",
    )
    assert (
        [x.model_dump(exclude_none=True) for x in ans.sources] == [src]
        and ans.state == "complete"
        and ans.first_token_at is not None
    )


@respx.mock
def test_a_whole_answer_gives_the_same_events(client: Qwen) -> None:
    body = {
        "id": "c2",
        "model": "qwen-max",
        "choices": [{"message": {"content": "whole", "reasoning_content": "r"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    respx.post(URL).mock(return_value=httpx.Response(200, json=body))
    reply = Reply(client, client.chat.request([{"role": "user", "content": "hi"}], stream=False))
    events = list(reply)
    assert events[:2] == [ReasoningText("r"), AnswerText("whole")]
    assert isinstance(events[2], UsageReport) and events[3] == Finish("stop")
    assert reply.end().content == "whole"


@respx.mock
def test_ctrl_c_while_reading_ends_the_answer_and_closes_the_stream(client: Qwen) -> None:
    stream = Interrupted("par", "tial")
    respx.post(URL).mock(return_value=interrupted(stream))
    reply = Reply(client, client.chat.request([{"role": "user", "content": "hi"}], stream=True))
    ans = drain(reply)
    assert ans.interrupted and ans.content == "partial" and ans.request_id == "rid-int" and stream.closed
    assert ans.state == "interrupted"


@respx.mock
def test_stopping_early_closes_the_stream_and_keeps_what_arrived(client: Qwen) -> None:
    stream = Interrupted("one ", "two ", "three")
    respx.post(URL).mock(return_value=interrupted(stream))
    reply = Reply(client, client.chat.request([{"role": "user", "content": "hi"}], stream=True))
    for e in reply:
        if e == AnswerText("two "):
            break
    ans = reply.end(output_closed=True)
    assert stream.closed and ans.content == "one two " and ans.state == "interrupted"


@respx.mock
def test_an_error_before_the_first_byte_propagates_and_nothing_opened(client: Qwen) -> None:
    respx.post(URL).mock(return_value=httpx.Response(401, json={"error": {"message": "bad key"}}))
    reply = Reply(client, client.chat.request([{"role": "user", "content": "hi"}], stream=True))
    with pytest.raises(AuthenticationError):
        drain(reply)
    assert not reply.opened
