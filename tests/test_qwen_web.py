"""The qwen-web provider through the client, against respx routes: what is sent, what is read."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx

from qwen_cli import errors as e
from qwen_cli.cli.hints import hint_for
from qwen_cli.client import Qwen
from qwen_cli.providers.qwen_web import USER_AGENT, WEB_MODELS, QwenWeb, clean_cookie, clean_token
from qwen_cli.sse import ServerSentEvent
from tests.fake_qwenweb import SOURCES, WAF_PAGE, answer_events, rate_limited, unauthorized, web_event
from tests.test_client import recorded_waits, sse, stream_response

BASE = "http://web.test"
URL = BASE + "/api/chat/completions"
TOKEN = "tok-test-0123456789abcdef"
COOKIE = "cna=abc; sca=def; token=tok-test-0123456789abcdef; acw_tc=xyz"
USER = [{"role": "user", "content": "你好"}]
MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def client(**kw: Any) -> Qwen:
    return Qwen(
        kw.pop("token", TOKEN), provider="qwen-web", cookie=kw.pop("cookie", COOKIE), base_url=BASE, **kw
    )


def stream_of(*events: Any, done: bool = False) -> httpx.Response:
    return stream_response(sse(*events, done=done))


def collect(mode: str, c: Qwen, messages: Any = USER, **kw: Any) -> tuple[list[Any], Any]:
    """Stream sync or async; return the chunks and the final completion."""
    if mode == "sync":
        with c.chat.create(messages, stream=True, **kw) as s:
            chunks = list(s)
        return chunks, s.completion()

    async def run() -> tuple[list[Any], Any]:
        s = await c.chat.acreate(messages, stream=True, **kw)
        async with s:
            chunks = [ch async for ch in s]
        return chunks, s.completion()

    return asyncio.run(run())


def create(mode: str, c: Qwen, messages: Any = USER, **kw: Any) -> Any:
    if mode == "sync":
        return c.chat.create(messages, **kw)
    return asyncio.run(c.chat.acreate(messages, **kw))


def body_of(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


# --------------------------------------------------------------------------- the request


@MODES
@respx.mock
def test_request_headers_and_body_as_the_library_sends(mode: str) -> None:
    route = respx.post(URL).mock(return_value=stream_of(*answer_events(["ok"])))
    history = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": "second"},
    ]
    collect(mode, client(token="Bearer " + TOKEN), history, model="qwen3-32b", temperature=0.3, max_tokens=99)
    req = route.calls.last.request
    assert req.headers["authorization"] == f"Bearer {TOKEN}"  # one Bearer, whatever the user pasted
    assert req.headers["cookie"] == COOKIE
    assert req.headers["user-agent"] == USER_AGENT and "Chrome/136" in USER_AGENT
    assert req.headers["origin"] == BASE and req.headers["content-type"] == "application/json"
    body = body_of(route)
    assert list(body) == ["stream", "model", "incremental_output", "messages", "temperature", "max_tokens"]
    assert body["stream"] is True and body["incremental_output"] is True and body["model"] == "qwen3-32b"
    assert (body["temperature"], body["max_tokens"]) == (0.3, 99)
    off = {"thinking_enabled": False, "thinking_budget": None, "output_schema": None}
    assert body["messages"] == [
        {"role": r, "content": c, "chat_type": "t2t", "feature_config": off, "extra": {}}
        for r, c in [
            ("system", "be brief"),
            ("user", "first"),
            ("assistant", "an answer"),
            ("user", "second"),
        ]
    ]


@respx.mock
def test_thinking_search_and_image_blocks_in_the_body() -> None:
    route = respx.post(URL).mock(return_value=stream_of(*answer_events(["ok"])))
    msg = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://cdn.test/a.png?key=k"}},
            ],
        },
        {"role": "tool", "content": "tool output"},
    ]
    collect("sync", client(), msg, enable_thinking=True, thinking_budget=512, enable_search=True)
    body = body_of(route)
    first = body["messages"][0]
    assert first["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "image": "https://cdn.test/a.png?key=k"},
    ]
    assert first["chat_type"] == "search"
    assert first["feature_config"] == {
        "thinking_enabled": True,
        "thinking_budget": 512,
        "output_schema": "phase",
    }
    assert body["messages"][1]["role"] == "function"
    assert "temperature" not in body and "max_tokens" not in body


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"top_p": 0.5}, "top_p"),
        ({"seed": 1}, "seed"),
        ({"stop": ["x"]}, "stop"),
        ({"json_mode": True}, "json_mode"),
        ({"tools": [{"type": "function"}]}, "tools"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
    ],
)
@respx.mock
def test_options_without_a_field_are_refused_before_sending(kw: dict[str, Any], name: str) -> None:
    route = respx.post(URL)
    with pytest.raises(e.UsageError, match=name) as info:
        create("sync", client(), **kw)
    assert info.value.exit_code == 2 and route.call_count == 0


@pytest.mark.parametrize("url", ["data:image/png;base64,AAAA", "file:///tmp/a.png"])
def test_images_must_be_urls(url: str) -> None:
    msg = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
    with pytest.raises(e.UsageError, match="by URL"):
        create("sync", client(), msg)


@pytest.mark.parametrize(
    "token, cookie, what", [("", COOKIE, "token"), (TOKEN, "", "cookie"), (TOKEN, "a=1\nb", "cookie")]
)
@respx.mock
def test_missing_credentials_fail_before_sending(token: str, cookie: str, what: str) -> None:
    route = respx.post(URL)
    with pytest.raises(e.AuthenticationError, match=what) as info:
        create("sync", client(token=token, cookie=cookie))
    assert info.value.exit_code == 3 and "qwen auth login --provider qwen-web" in (hint_for(info.value) or "")
    assert route.call_count == 0


def test_cleaning_pasted_values() -> None:
    assert clean_token("  Bearer  bearer abc ") == "abc"
    assert clean_cookie("Cookie: a=1; b=2\n") == "a=1; b=2"
    assert Qwen(provider="qwen-web").base_url == "https://chat.qwen.ai"


# --------------------------------------------------------------------------- the answer


@MODES
@respx.mock
def test_stream_splits_thinking_answer_and_sources(mode: str) -> None:
    events = answer_events(
        ["echo", ": 你", "好"], thinking=["Thinking ", "hard"], search=SOURCES, prompt_tokens=7
    )
    respx.post(URL).mock(return_value=stream_of(*events, "data: not json\n\n", ": keep-alive\n\n"))
    chunks, final = collect(mode, client())
    assert "".join(c.delta.content or "" for c in chunks) == "echo: 你好"
    assert "".join(c.delta.reasoning_content or "" for c in chunks) == "Thinking hard"
    assert final.content == "echo: 你好" and final.reasoning == "Thinking hard"
    assert final.finish_reason == "stop"
    assert (final.usage.prompt_tokens, final.usage.completion_tokens, final.usage.total_tokens) == (7, 5, 12)
    assert [s.url for s in final.sources] == ["https://example.com/qwen", "https://example.org/llm"]
    assert final.sources[0].date == "2025-01-01" and final.sources[0].hostname == "Example"


@MODES
@respx.mock
def test_whole_answer_is_the_stream_accumulated(mode: str) -> None:
    events = answer_events(["a", "b"], thinking=["t"], search=SOURCES)
    route = respx.post(URL).mock(return_value=stream_of(*events, done=True))
    final = create(mode, client())
    assert body_of(route)["stream"] is True  # the wire streams even for a whole answer
    assert (final.content, final.reasoning, final.finish_reason) == ("ab", "t", "stop")
    assert len(final.sources) == 2 and final.usage.total_tokens == 4


@MODES
@respx.mock
def test_a_json_chat_completion_is_accepted_too(mode: str) -> None:
    body = {
        "id": "c1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
    }
    respx.post(URL).mock(return_value=httpx.Response(200, json=body))
    final = create(mode, client())
    assert final.content == "hi" and final.usage.prompt_tokens == 3
    single = {"choices": {"message": {"role": "assistant", "content": "one"}}}  # the library's own shape
    respx.post(URL).mock(return_value=httpx.Response(200, json=single))
    assert create(mode, client()).content == "one"


@MODES
@respx.mock
def test_finished_ends_the_stream_without_reading_on(mode: str) -> None:
    after = json.dumps(unauthorized())  # would raise if it were read
    events = [*answer_events(["done"]), f"data: {after}\n\n"]
    respx.post(URL).mock(return_value=stream_of(*events))
    _, final = collect(mode, client())
    assert final.content == "done" and final.finish_reason == "stop"


@respx.mock
def test_tolerated_shapes() -> None:
    events = [
        {"response.created": {"chat_id": "c", "response_id": "r"}},  # v2 metadata [3P]
        {"choices": [{"delta": {"role": "assistant", "content": None}}]},  # null content, no usage key
        {"choices": [{"delta": {"role": "assistant"}}], "usage": None},
        {"choices": [{"delta": {"content": "x", "phase": "answer", "status": "typing"}}]},
        {
            "choices": [
                {
                    "delta": {
                        "content": "",
                        "phase": "thinking_summary",
                        "extra": {"summary_thought": {"content": ["a"]}},
                    }
                }
            ]
        },
        {
            "choices": [
                {
                    "delta": {
                        "content": "",
                        "phase": "thinking_summary",
                        "extra": {"summary_thought": {"content": ["a", "b"]}},
                    }
                }
            ]
        },
        {"choices": []},
        {"choices": [{"delta": {"content": "", "status": "finished"}}]},
    ]
    respx.post(URL).mock(return_value=stream_of(*events, done=True))
    _, final = collect("sync", client())
    assert final.content == "x" and final.reasoning == "a\nb" and final.usage is None


def test_parse_event_direct() -> None:
    p = QwenWeb(base_url=BASE, token=TOKEN, cookie=COOKIE)
    assert p.parse_event(ServerSentEvent("[DONE]")).done
    assert p.parse_event(ServerSentEvent("")).chunk is None
    assert p.parse_event(ServerSentEvent("{truncated")).chunk is None
    item = p.parse_event(
        ServerSentEvent(json.dumps(web_event("x", role="function", extra={"web_search_info": []})))
    )
    assert item.chunk is not None and item.chunk.delta.content is None  # function output is never answer text
    assert [m.id for m in p.catalog() or []] == list(WEB_MODELS) and len(WEB_MODELS) == 17


def test_models_come_from_the_catalogue_without_a_request() -> None:
    c = client()
    with respx.mock(assert_all_called=False) as mock:
        assert [m.id for m in c.models.list()] == list(WEB_MODELS)
        assert [m.id for m in asyncio.run(c.models.alist())] == list(WEB_MODELS)
        assert not mock.calls
    assert c.provider.catalog_note and "qwen-api" in c.provider.catalog_note


# --------------------------------------------------------------------------- errors


@MODES
@respx.mock
def test_error_envelope_with_200_is_an_error_not_an_empty_answer(mode: str) -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json=unauthorized()))
    with pytest.raises(e.AuthenticationError, match="Token has expired") as info:
        create(mode, client())
    assert info.value.exit_code == 3 and "qwen auth login --provider qwen-web" in (hint_for(info.value) or "")
    bad = {"success": False, "data": {"code": "Bad_Request", "details": "Internal error"}}
    respx.post(URL).mock(return_value=stream_of(bad))
    with pytest.raises(e.APIStatusError, match="Internal error") as info2:
        collect(mode, client())
    assert type(info2.value) is e.APIStatusError and info2.value.exit_code == 1


@MODES
@respx.mock
def test_envelope_as_an_sse_line_keeps_what_came_before(mode: str) -> None:
    events = [*answer_events(["part"])[:-1], rate_limited(None)]
    respx.post(URL).mock(return_value=stream_of(*events))
    if mode == "sync":
        s = client().chat.create(USER, stream=True)
        with pytest.raises(e.RateLimitError) as info:
            list(s)
        assert s.completion().content == "part"
    else:
        with pytest.raises(e.RateLimitError) as info:
            collect(mode, client())
    assert info.value.exit_code == 4


@MODES
@respx.mock
def test_401_and_403(mode: str) -> None:
    respx.post(URL).mock(return_value=httpx.Response(401, json=unauthorized()))
    with pytest.raises(e.AuthenticationError) as info:
        create(mode, client())
    assert info.value.status_code == 401 and info.value.code == "Unauthorized"
    assert "qwen auth login --provider qwen-web" in (hint_for(info.value) or "")
    respx.post(URL).mock(return_value=httpx.Response(403, text="forbidden"))
    with pytest.raises(e.PermissionDeniedError) as info2:
        create(mode, client())
    assert info2.value.exit_code == 3 and "qwen-web" in (hint_for(info2.value) or "")


@MODES
@respx.mock
def test_429_is_retried_honouring_retry_after(mode: str) -> None:
    slept, waits = recorded_waits()
    limited = httpx.Response(429, json=rate_limited(None), headers={"Retry-After": "2"})
    route = respx.post(URL).mock(side_effect=[limited, stream_of(*answer_events(["ok"]))])
    assert create(mode, client(**waits)).content == "ok"
    assert route.call_count == 2 and slept == [2.0]


@MODES
@respx.mock
def test_a_long_wait_is_not_waited_for(mode: str) -> None:
    slept, waits = recorded_waits()
    route = respx.post(URL).mock(return_value=httpx.Response(429, json=rate_limited(5)))
    with pytest.raises(e.RateLimitError) as info:
        create(mode, client(**waits))
    assert route.call_count == 1 and slept == []
    err = info.value
    assert err.retry_after == 5 * 3600 and "try again in 5 hours" in err.message and err.exit_code == 4
    assert "5 hours" in (hint_for(err) or "")
    respx.post(URL).mock(return_value=httpx.Response(429, text="busy", headers={"Retry-After": "120"}))
    with pytest.raises(e.RateLimitError, match="try again in 2 minutes"):
        create(mode, client(**waits))
    assert slept == []


@MODES
@respx.mock
def test_waf_and_other_pages(mode: str) -> None:
    respx.post(URL).mock(
        return_value=httpx.Response(200, text=WAF_PAGE, headers={"content-type": "text/html"})
    )
    with pytest.raises(e.PermissionDeniedError, match="browser check") as info:
        create(mode, client())
    assert info.value.exit_code == 3 and "https://chat.qwen.ai" in (hint_for(info.value) or "")
    respx.post(URL).mock(
        return_value=httpx.Response(405, text=WAF_PAGE, headers={"content-type": "text/html"})
    )
    with pytest.raises(e.PermissionDeniedError, match="browser check"):
        create(mode, client())
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    respx.post(URL).mock(return_value=httpx.Response(502, text=page, headers={"content-type": "text/html"}))
    with pytest.raises(e.ServerError) as info2:
        create(mode, client(max_retries=0))
    assert (
        info2.value.message
        == "HTTP 502: the server answered with a web page (502 Bad Gateway), not the chat API"
    )
    assert info2.value.exit_code == 6
    respx.post(URL).mock(return_value=stream_response(b'data: {"ret":["FAIL_SYS_USER_VALIDATE::x"]}\n\n'))
    with pytest.raises(e.PermissionDeniedError):
        collect(mode, client())


@MODES
@respx.mock
def test_json_without_choices_is_a_clear_error(mode: str) -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json={"status": "ok"}))
    with pytest.raises(e.APIStatusError, match="without `choices`") as info:
        create(mode, client())
    assert info.value.exit_code == 1 and not isinstance(info.value, KeyError)
    respx.post(URL).mock(return_value=stream_of({"unexpected": 1}))
    with pytest.raises(e.APIStatusError, match="without `choices`"):
        collect(mode, client())


@MODES
@respx.mock
def test_a_stream_that_breaks_off_keeps_the_partial(mode: str) -> None:
    class Cut(httpx.SyncByteStream, httpx.AsyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield sse(*answer_events(["The ", "first"])[:2], done=False)
            raise httpx.RemoteProtocolError("peer closed connection")

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            for part in self:
                yield part

    headers = {"content-type": "text/event-stream"}
    respx.post(URL).mock(return_value=httpx.Response(200, headers=headers, stream=Cut()))
    with pytest.raises(e.StreamInterruptedError) as info:
        create(mode, client())
    assert info.value.partial == "The first" and info.value.exit_code == 6
    respx.post(URL).mock(return_value=stream_of(web_event("")))  # ended cleanly with nothing in it
    with pytest.raises(e.StreamInterruptedError, match="closed before the answer was complete"):
        create(mode, client())


@MODES
@respx.mock
def test_a_clean_end_without_finished_status_is_complete(mode: str) -> None:
    # The v1 terminator is unknown: a body that ends cleanly after some answer is the answer.
    respx.post(URL).mock(return_value=stream_of(*answer_events(["all", " of it"])[:-1]))
    final = create(mode, client())
    assert final.content == "all of it" and final.finish_reason is None
