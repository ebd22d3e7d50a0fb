"""The client against respx routes: bodies sent, chunks read, errors mapped, retries made."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
import respx

from qwen_cli import errors as e
from qwen_cli.client import Qwen
from qwen_cli.errors import QwenAPIError
from tests.conftest import FAKE_KEY

BASE = "http://fake.test/compatible-mode/v1"
URL = BASE + "/chat/completions"
USER = [{"role": "user", "content": "你好"}]


def sse(*events: Any, done: bool = True) -> bytes:
    parts = [
        f"data: {json.dumps(ev, ensure_ascii=False)}\n\n" if not isinstance(ev, str) else ev for ev in events
    ]
    if done:
        parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


def chunk(
    content: str | None = None, reasoning: str | None = None, finish: str | None = None
) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-1",
        "model": "qwen-max",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": None,
    }


USAGE = {
    "id": "chatcmpl-1",
    "choices": [],
    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
}


def stream_response(body: bytes, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "text/event-stream", **headers}, content=body)


def client(**kw: Any) -> Qwen:
    return Qwen(FAKE_KEY, base_url=BASE, **kw)


def recorded_waits() -> tuple[list[float], dict[str, Any]]:
    """Waits that record each delay instead of sleeping: the delays, and the ``Qwen`` arguments."""
    slept: list[float] = []

    async def asleep(d: float) -> None:
        slept.append(d)

    return slept, {"sleep": slept.append, "asleep": asleep}


def collect(mode: str, c: Qwen, **kw: Any) -> tuple[list[str], Any]:
    """Stream a chat answer sync or async; return the content pieces and the final completion."""
    if mode == "sync":
        pieces: list[str] = []
        with c.chat.create(USER, stream=True, **kw) as s:
            for ch in s:
                if ch.delta.content:
                    pieces.append(ch.delta.content)
            return pieces, s.completion()

    async def run() -> tuple[list[str], Any]:
        pieces: list[str] = []
        s = await c.chat.acreate(USER, stream=True, **kw)
        async with s:
            async for ch in s:
                if ch.delta.content:
                    pieces.append(ch.delta.content)
        return pieces, s.completion()

    return asyncio.run(run())


def create(mode: str, c: Qwen, **kw: Any) -> Any:
    if mode == "sync":
        return c.chat.create(USER, **kw)
    return asyncio.run(c.chat.acreate(USER, **kw))


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
@respx.mock
def test_stream_body_and_answer(mode: str) -> None:
    route = respx.post(URL).mock(
        return_value=stream_response(
            sse(chunk(""), chunk("你"), chunk("好"), chunk("", finish="stop"), USAGE),
            **{"x-request-id": "rid-1"},
        )
    )
    pieces, final = collect(
        mode,
        client(),
        model="qwen-plus",
        temperature=0.3,
        stop=["\n\n"],
        enable_thinking=False,
        enable_search=True,
        json_mode=True,
        seed=7,
        max_tokens=99,
        top_p=0.5,
    )
    assert pieces == ["你", "好"]
    assert final.content == "你好" and final.finish_reason == "stop" and final.request_id == "rid-1"
    assert final.usage.total_tokens == 8
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert sent.headers["accept"] == "text/event-stream"
    assert json.loads(sent.content) == {
        "model": "qwen-plus",
        "messages": USER,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.3,
        "top_p": 0.5,
        "max_tokens": 99,
        "seed": 7,
        "stop": ["\n\n"],
        "enable_thinking": False,
        "enable_search": True,
        "response_format": {"type": "json_object"},
    }


TOOLS = [{"type": "function", "function": {"name": "now", "description": "the time", "parameters": {}}}]
SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "x", "strict": True, "schema": {"type": "object"}},
}


@MODES
@respx.mock
def test_tools_and_response_format_go_at_the_top_level(mode: str) -> None:
    route = respx.post(URL).mock(return_value=stream_response(sse(chunk("{}"), chunk("", finish="stop"))))
    collect(
        mode,
        client(),
        model="qwen-plus",
        tools=TOOLS,
        tool_choice="auto",
        parallel_tool_calls=True,
        json_mode=True,  # the schema wins over plain JSON mode
        response_format=SCHEMA_FORMAT,
    )
    body = json.loads(route.calls.last.request.content)
    assert body["tools"] == TOOLS and body["tool_choice"] == "auto" and body["parallel_tool_calls"] is True
    assert body["response_format"] == SCHEMA_FORMAT


@MODES
@respx.mock
def test_reasoning_is_kept_apart(mode: str) -> None:
    respx.post(URL).mock(
        return_value=stream_response(
            sse(
                chunk(reasoning="想"),
                chunk(reasoning="一想"),
                chunk("答"),
                chunk("", finish="stop"),
            )
        )
    )
    pieces, final = collect(mode, client())
    assert pieces == ["答"]
    assert final.reasoning == "想一想" and final.content == "答"


@MODES
@respx.mock
def test_cumulative_server_is_reduced(mode: str) -> None:
    respx.post(URL).mock(
        return_value=stream_response(sse(chunk("Hel"), chunk("Hello"), chunk("Hello!", finish="stop")))
    )
    pieces, final = collect(mode, client())
    assert pieces == ["Hel", "lo", "!"] and final.content == "Hello!"


@MODES
@respx.mock
def test_error_event_mid_stream_keeps_partial(mode: str) -> None:
    err = {
        "error": {
            "message": "Output data may contain inappropriate content.",
            "type": "data_inspection_failed",
            "code": "data_inspection_failed",
        }
    }
    respx.post(URL).mock(return_value=stream_response(sse(chunk("part"), err, done=False)))
    c = client()
    if mode == "sync":
        s = c.chat.create(USER, stream=True)
        got: list[str] = []
        with pytest.raises(e.ContentFilterError):
            for ch in s:
                got.append(ch.delta.content or "")
        assert "".join(got) == "part" and s.accumulated.content == "part"
    else:

        async def run() -> None:
            s = await c.chat.acreate(USER, stream=True)
            with pytest.raises(e.ContentFilterError):
                async for _ in s:
                    pass
            assert s.accumulated.content == "part"

        asyncio.run(run())


@MODES
@respx.mock
def test_stream_without_end_is_interrupted(mode: str) -> None:
    respx.post(URL).mock(return_value=stream_response(sse(chunk("half an ans"), done=False)))
    with pytest.raises(e.StreamInterruptedError) as info:
        collect(mode, client())
    assert info.value.partial == "half an ans" and info.value.exit_code == 6


@MODES
@respx.mock
def test_transport_error_mid_stream_is_interrupted(mode: str) -> None:
    class Broken(httpx.SyncByteStream, httpx.AsyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield sse(chunk("abc"), done=False)
            raise httpx.RemoteProtocolError("peer closed connection")

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            yield sse(chunk("abc"), done=False)
            raise httpx.RemoteProtocolError("peer closed connection")

    route = respx.post(URL).mock(
        return_value=httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Broken())
    )
    with pytest.raises(e.StreamInterruptedError) as info:
        collect(mode, client(max_retries=3))
    assert info.value.partial == "abc"
    assert route.call_count == 1  # a stream that delivered text is never retried


@MODES
@respx.mock
def test_non_stream_and_completion_api(mode: str) -> None:
    body = {
        "id": "chatcmpl-9",
        "model": "qwen-max",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hi there! 😊",
                    "reasoning_content": "",
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 2,
            "completion_tokens": 4,
            "total_tokens": 6,
            "prompt_tokens_details": {"cached_tokens": 1},
        },
        "unknown_field": {"kept": True},
    }
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=body))
    got = create(mode, client())
    assert got.content == "Hi there! 😊" and got.usage.cached_tokens == 1
    assert json.loads(route.calls.last.request.content)["stream"] is False
    assert "stream_options" not in json.loads(route.calls.last.request.content)
    c = client()
    if mode == "sync":
        comp = c.completion.create(prompt="hi", system="be brief")
    else:
        comp = asyncio.run(c.completion.acreate(prompt="hi", system="be brief"))
    assert comp.choices[0].text == "Hi there! 😊"
    assert json.loads(route.calls.last.request.content)["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]


@MODES
@respx.mock
def test_server_ignoring_stream_flag_still_streams(mode: str) -> None:
    body = {
        "choices": [{"message": {"content": "whole"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    respx.post(URL).mock(return_value=httpx.Response(200, json=body))
    pieces, final = collect(mode, client())
    assert pieces == ["whole"] and final.usage.total_tokens == 2


ERRORS = [
    (
        401,
        {
            "error": {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            },
            "request_id": "r-401",
        },
        e.AuthenticationError,
        3,
    ),
    (
        404,
        {
            "error": {
                "message": "The model `qwen-nope` does not exist or you do not have access to it.",
                "code": "model_not_found",
            }
        },
        e.NotFoundError,
        1,
    ),
    (
        400,
        {
            "error": {
                "code": "invalid_parameter_error",
                "message": "<400> InternalError.Algo.InvalidParameter: "
                "Range of input length should be [1, 30720]",
                "type": "invalid_request_error",
            }
        },
        e.ContextLengthError,
        1,
    ),
    (
        400,
        {
            "error": {
                "code": "data_inspection_failed",
                "message": "Input data may contain inappropriate content.",
                "type": "data_inspection_failed",
            }
        },
        e.ContentFilterError,
        1,
    ),
    (
        400,
        {
            "error": {
                "message": "Access denied, please make sure your account is in good standing.",
                "type": "Arrearage",
                "code": "Arrearage",
            }
        },
        e.PermissionDeniedError,
        3,
    ),
    (
        403,
        {
            "error": {
                "message": "The free quota has been exhausted.",
                "code": "AllocationQuota.FreeTierOnly",
            }
        },
        e.PermissionDeniedError,
        3,
    ),
    (
        401,
        {"code": "InvalidApiKey", "message": "Invalid API-key provided.", "request_id": "01415ff3"},
        e.AuthenticationError,
        3,
    ),
]


@MODES
@pytest.mark.parametrize(("status", "body", "cls", "exit_code"), ERRORS)
@respx.mock
def test_error_mapping(mode: str, status: int, body: dict[str, Any], cls: type, exit_code: int) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(cls) as info:
        create(mode, client())
    err = info.value
    assert err.status_code == status and err.exit_code == exit_code
    assert err.message and "HTTP" not in err.message
    assert route.call_count == 1  # 4xx are not retried
    if "request_id" in body:
        assert err.request_id == body["request_id"]


@MODES
@respx.mock
def test_html_error_page(mode: str) -> None:
    respx.post(URL).mock(return_value=httpx.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(e.ServerError) as info:
        create(mode, client(max_retries=0))
    assert "Bad Gateway" in info.value.message and info.value.exit_code == 6


@MODES
@respx.mock
def test_retries_5xx_then_succeeds(mode: str) -> None:
    ok = stream_response(sse(chunk("ok", finish="stop")))
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(503, json={"error": {"message": "busy"}}),
            httpx.ConnectError("refused"),
            ok,
        ]
    )
    pieces, _ = collect(mode, client(max_retries=2, retry_base_delay=0))
    assert pieces == ["ok"] and route.call_count == 3


@MODES
@respx.mock
def test_rate_limit_honours_retry_after_then_gives_up(mode: str) -> None:
    slept, waits = recorded_waits()
    body = {
        "error": {
            "message": "You have exceeded your current request limit.",
            "type": "limit_requests",
            "code": "limit_requests",
        }
    }
    route = respx.post(URL).mock(return_value=httpx.Response(429, json=body, headers={"Retry-After": "3"}))
    with pytest.raises(e.RateLimitError) as info:
        create(mode, client(max_retries=2, **waits))
    assert route.call_count == 3 and slept == [3.0, 3.0]
    assert info.value.exit_code == 4 and "gave up after 2 retries" in info.value.message


@MODES
@respx.mock
def test_giving_up_raises_a_new_error_caused_by_the_last_one(mode: str) -> None:
    _, waits = recorded_waits()
    body = {"error": {"message": "slow down", "code": "limit_requests"}, "request_id": "rid-9"}
    respx.post(URL).mock(return_value=httpx.Response(429, json=body, headers={"Retry-After": "2"}))
    with pytest.raises(e.RateLimitError) as info:
        create(mode, client(max_retries=1, **waits))
    last = info.value.__cause__
    assert isinstance(last, e.RateLimitError) and last.message == "slow down"  # left as it was raised
    assert info.value.message == "slow down (gave up after 1 retry)"
    got = (info.value.status_code, info.value.code, info.value.request_id, info.value.retry_after)
    assert got == (429, "limit_requests", "rid-9", 2.0) and info.value.body == last.body


@MODES
@respx.mock
def test_rate_limit_without_retry_after_backs_off(mode: str) -> None:
    slept, waits = recorded_waits()
    respx.post(URL).mock(return_value=httpx.Response(429, json={"error": {"message": "slow down"}}))
    with pytest.raises(e.RateLimitError):
        create(mode, client(max_retries=3, retry_base_delay=0.5, jitter=lambda d: d, **waits))
    assert slept == [0.5, 1.0, 2.0]


@MODES
@respx.mock
def test_timeout_and_connection_errors(mode: str) -> None:
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(e.APITimeoutError) as info:
        create(mode, client(max_retries=0, timeout=7))
    assert info.value.exit_code == 5 and "7s" in info.value.message
    respx.post(URL).mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(e.APIConnectionError) as info2:
        create(mode, client(max_retries=0))
    assert "Connection refused" in info2.value.message


@MODES
@respx.mock
def test_waiting_for_a_free_connection_is_not_called_a_read_timeout(mode: str) -> None:
    respx.post(URL).mock(side_effect=httpx.PoolTimeout("no connection"))
    with pytest.raises(e.APITimeoutError) as info:
        create(mode, client(max_retries=0, timeout=9))
    assert info.value.message == (
        f"no free connection to {URL} within 9s: 256 requests of this client were still in flight"
    )
    assert info.value.exit_code == 5


def test_missing_key_for_dashscope_fails_before_sending() -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()
        with pytest.raises(e.AuthenticationError) as info:
            Qwen(None, region="intl").chat.create(USER)
        assert not route.called
    assert "qwen auth login" in (info.value.hint or "")


@respx.mock
def test_local_server_needs_no_key() -> None:
    route = respx.post("http://localhost:8000/v1/chat/completions").mock(
        return_value=httpx.Response(200, json={"choices": [{"message": {"content": "hi"}}]})
    )
    assert Qwen(None, base_url="http://localhost:8000/v1").chat.create(USER).content == "hi"
    assert "authorization" not in route.calls.last.request.headers


@respx.mock
def test_debug_log_masks_the_key(caplog: pytest.LogCaptureFixture) -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json={"choices": [{"message": {"content": "x"}}]}))
    with caplog.at_level(logging.DEBUG, logger="qwen_cli"):
        client().chat.create(USER)
    text = caplog.text
    assert "Bearer sk-...abcd" in text
    assert '< body {"choices"' in text  # the response is logged too
    assert FAKE_KEY not in text


@respx.mock
def test_models_list() -> None:
    respx.get(BASE + "/models").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "data": [{"id": "qwen-max", "object": "model"}, {"id": "qwen-plus"}],
            },
        )
    )
    assert [m.id for m in client().models.list()] == ["qwen-max", "qwen-plus"]
    assert [m.id for m in asyncio.run(client().models.alist())] == ["qwen-max", "qwen-plus"]


def test_every_error_is_a_qwen_api_error() -> None:
    for cls in (
        e.UsageError,
        e.APITimeoutError,
        e.ContextLengthError,
        e.PermissionDeniedError,
        e.StreamInterruptedError,
    ):
        assert issubclass(cls, QwenAPIError)


def test_body_log_masks_secret_fields() -> None:
    from qwen_cli.redact import scrub_body

    body = (
        '{"access_key_id":"STS.abc","access_key_secret":"s3cr3t-value-123",'
        '"security_token":"CAIS-long-token-value","file_url":"https://x/y","Signature":"c2lnbmF0dXJlLXZhbHVl"}'
    )
    out = scrub_body(body)
    for secret in ("s3cr3t-value-123", "CAIS-long-token-value", "c2lnbmF0dXJlLXZhbHVl"):
        assert secret not in out
    assert '"file_url":"https://x/y"' in out
