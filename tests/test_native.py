"""DashScope's native protocol (``--provider dashscope-native``) and web search with sources:
the bodies sent, the frames read, the errors mapped, and what `qwen complete --search` shows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from qwen_cli import config, credentials
from qwen_cli.cli.options import search_argv
from qwen_cli.errors import ContentFilterError, RateLimitError
from qwen_cli.providers import get_provider
from qwen_cli.providers.dashscope_native import DashScopeNative, native_body, native_root
from qwen_cli.sse import SSEDecoder
from qwen_cli.types import ChatParams, ChatRequest, ImagePart, ImageURL, Message, TextPart
from tests.chatkit import lines, only_conversation
from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import (
    SEARCH_RESULTS,
    FakeServer,
    native_error_body,
    native_error_frame,
    native_stream_events,
)

KEY = "sk-native-test-0000000000000000"
CN = "https://dashscope.aliyuncs.com/compatible-mode/v1"
TEXT = "/api/v1/services/aigc/text-generation/generation"


def native(base_url: str = CN) -> DashScopeNative:
    p = get_provider("dashscope-native", base_url=base_url, api_key=KEY)
    assert isinstance(p, DashScopeNative)
    return p


# --------------------------------------------------------------------------- requests


def test_the_native_url_hangs_off_the_regions_host() -> None:
    assert (
        native().chat_request(ChatRequest(model="m", messages=[])).url
        == "https://dashscope.aliyuncs.com" + TEXT
    )
    assert native_root("https://dashscope-intl.aliyuncs.com/api/v1/") == "https://dashscope-intl.aliyuncs.com"
    assert native_root("http://gateway.local/qwen") == "http://gateway.local/qwen"  # taken as the root
    assert native().models_request().url == CN + "/models"  # the list is the compatible API's


def test_every_option_goes_inside_parameters_by_its_name() -> None:
    params = ChatParams(
        temperature=0.3, top_p=0.9, max_tokens=50, seed=7, stop=["\n\n"],
        enable_thinking=True, thinking_budget=500,
        json_mode=True,
    )  # fmt: skip
    req = ChatRequest(model="qwen-plus", messages=[Message(role="user", content="hi")], params=params)
    spec = native().chat_request(req)
    assert spec.json == {
        "model": "qwen-plus",
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "parameters": {
            "result_format": "message",
            "incremental_output": True,
            "temperature": 0.3,
            "top_p": 0.9,
            "max_tokens": 50,
            "seed": 7,
            "stop": ["\n\n"],
            "enable_thinking": True,
            "thinking_budget": 500,
            "response_format": {"type": "json_object"},
        },
    }
    assert spec.headers["X-DashScope-SSE"] == "enable" and spec.headers["Accept"] == "text/event-stream"
    assert spec.headers["Authorization"] == f"Bearer {KEY}"
    whole = native().chat_request(req.model_copy(update={"stream": False}))
    assert "X-DashScope-SSE" not in whole.headers and whole.json["parameters"]["incremental_output"] is True


def test_an_option_added_to_chatparams_lands_in_parameters_with_no_code_here() -> None:
    """Every ChatParams field, present or future (translation_options, ...), by its own name."""
    special = {"json_mode", "search_options", "extra"}  # extra: `-o` fields, merged as they are
    names = [n for n in ChatParams.model_fields if n not in special]
    params = ChatParams.model_construct(**{n: f"value of {n}" for n in names})
    body = native_body(ChatRequest.model_construct(model="m", messages=[], params=params, stream=True))
    assert {n: body["parameters"][n] for n in names} == {n: f"value of {n}" for n in names}


def test_a_schema_wins_over_json_mode_inside_parameters() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    params = ChatParams(json_mode=True, response_format=fmt, tools=[{"type": "function"}], tool_choice="auto")
    body = native_body(ChatRequest(model="m", messages=[], params=params))
    assert body["parameters"]["response_format"] == fmt
    assert body["parameters"]["tools"] == [{"type": "function"}]
    assert body["parameters"]["tool_choice"] == "auto"


def test_o_fields_go_inside_parameters_and_win() -> None:
    params = ChatParams(temperature=0.3, extra={"top_k": 20, "temperature": 0.5})
    body = native_body(ChatRequest(model="m", messages=[], params=params))
    assert body["parameters"]["top_k"] == 20 and body["parameters"]["temperature"] == 0.5
    assert "extra" not in body["parameters"] and "top_k" not in body


def test_search_asks_for_sources_and_citations() -> None:
    opts = {"forced_search": True, "search_strategy": "max", "freshness": 7, "assigned_site_list": ["a.org"]}
    params = ChatParams(enable_search=True, search_options=opts)
    body = native().chat_request(ChatRequest(model="m", messages=[], params=params)).json
    assert body["parameters"]["enable_search"] is True
    assert body["parameters"]["search_options"] == {
        "enable_source": True,
        "enable_citation": True,
        "citation_format": "[ref_<number>]",
        **opts,
    }
    agent = ChatParams(enable_search=True, search_options={"search_strategy": "agent"})
    body = native().chat_request(ChatRequest(model="qwen3-max", messages=[], params=agent)).json
    assert body["parameters"]["search_options"] == {"enable_source": True, "search_strategy": "agent"}


def test_an_image_goes_to_the_multimodal_endpoint_as_native_items() -> None:
    content: list[TextPart | ImagePart] = [
        TextPart(text="what is this?"),
        ImagePart(image_url=ImageURL(url="oss://dir/cat.png")),
    ]
    req = ChatRequest(
        model="qwen-vl-max",
        messages=[Message(role="system", content="be brief"), Message(role="user", content=content)],
        headers={"X-DashScope-OssResourceResolve": "enable"},
    )
    spec = native().chat_request(req)
    assert spec.url.endswith("/api/v1/services/aigc/multimodal-generation/generation")
    assert spec.json["input"]["messages"] == [
        {"role": "system", "content": [{"text": "be brief"}]},
        {"role": "user", "content": [{"text": "what is this?"}, {"image": "oss://dir/cat.png"}]},
    ]
    assert spec.headers["X-DashScope-OssResourceResolve"] == "enable"


# --------------------------------------------------------------------------- answers


def events_of(frames: list[str]) -> Iterator[Any]:
    """The frames through the SSE decoder one byte at a time, then parsed by the provider."""
    dec, p = SSEDecoder(), native()
    raw = "".join(frames).encode()
    for i in range(len(raw)):
        for ev in dec.feed(raw[i : i + 1]):
            yield p.parse_event(ev)
    for ev in dec.flush():
        yield p.parse_event(ev)


def test_frames_become_chunks_with_usage_and_sources() -> None:
    frames = native_stream_events(
        ["你好", " [ref_1]"], reasoning_pieces=["想"], search_results=SEARCH_RESULTS, prompt_tokens=12
    )
    chunks = [item.chunk for item in events_of(frames) if item.chunk is not None]
    assert [c.delta.reasoning_content for c in chunks][:1] == ["想"]
    assert "".join(c.delta.content or "" for c in chunks) == "你好 [ref_1]"
    assert [c.choices[0].finish_reason for c in chunks] == [
        None,
        None,
        None,
        "stop",
    ]  # "null" is not a reason
    sources = chunks[0].sources
    assert [(s.index, s.title, s.site, s.hostname) for s in sources] == [
        (1, "Qwen3 released", "Qwen Blog", "qwenlm.github.io"),
        (2, "通义千问 - 阿里云", "阿里云", "www.aliyun.com"),
    ]
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 3, 15)
    assert usage.reasoning_tokens == 1 and usage.cached_tokens == 0
    assert (usage.model_extra or {})["plugins"]["search"]["count"] == 1


def test_an_error_frame_raises_the_mapped_error() -> None:
    frames = [
        *native_stream_events(["part"], finish=False),
        native_error_frame("Output data may contain x", "DataInspectionFailed", n=2),
    ]
    items = events_of(frames)
    assert next(items).chunk is not None
    with pytest.raises(ContentFilterError, match="Output data"):
        next(items)
    throttled = native_error_frame("Requests rate limit exceeded", "Throttling.RateQuota", status=429)
    with pytest.raises(RateLimitError):
        list(events_of([throttled]))


def test_a_whole_answer() -> None:
    body = {
        "output": {
            "choices": [
                {
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": [{"text": "I am Qwen"}]},
                }
            ],
            "search_info": {"search_results": SEARCH_RESULTS[:1]},
        },
        "usage": {"total_tokens": 92, "output_tokens": 66, "input_tokens": 26},
        "request_id": "rid-1",
    }
    c = native().parse_completion(body)
    assert c.choices[0].message.content == "I am Qwen" and c.finish_reason == "stop"
    assert c.usage is not None and (c.usage.prompt_tokens, c.usage.completion_tokens) == (26, 66)
    assert c.request_id == "rid-1" and [s.url for s in c.sources] == [SEARCH_RESULTS[0]["url"]]


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """A fake that stands for the Beijing region (QWEN_BASE_URL_CN): priced, keyed, DashScope."""
    with FakeServer(api_key=KEY) as s:
        monkeypatch.setenv("QWEN_BASE_URL_CN", s.base_url)
        monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
        yield s


def test_search_force_goes_native_and_lists_the_sources(run_cli, fake: FakeServer) -> None:
    r = run_cli(
        "complete", "--search", "force", "--search-strategy", "max", "--search-freshness", "7",
        "--search-site", "qwenlm.github.io", "--search-site", "www.aliyun.com", "what is new in qwen?",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.out == "echo: what is new in qwen? [ref_1]\n"  # markers kept, nothing else on stdout
    err = r.err.splitlines()
    assert err[:2] == [
        "[1] Qwen3 released (Qwen Blog) - https://qwenlm.github.io/blog/qwen3/",
        "[2] 通义千问 - 阿里云 (阿里云) - https://www.aliyun.com/product/tongyi",
    ]
    assert "search ~¥0.0030" in err[2]  # the fee of one search, from the catalogue
    [req] = fake.requests
    assert req["path"] == TEXT and req["headers"]["x-dashscope-sse"] == "enable"
    params = req["json"]["parameters"]
    assert params["search_options"] == {
        "enable_source": True,
        "enable_citation": True,
        "citation_format": "[ref_<number>]",
        "forced_search": True,
        "search_strategy": "max",
        "freshness": 7,
        "assigned_site_list": ["qwenlm.github.io", "www.aliyun.com"],
    }
    assert params["enable_search"] is True and params["result_format"] == "message"


def test_json_carries_the_sources_and_history_keeps_the_answer(run_cli, fake: FakeServer) -> None:
    r = run_cli("complete", "--json", "--search", "hi")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got["content"] == "echo: hi [ref_1]"
    assert got["sources"][0] == {
        "index": 1,
        "title": "Qwen3 released",
        "url": "https://qwenlm.github.io/blog/qwen3/",
        "site": "Qwen Blog",
        "hostname": "qwenlm.github.io",
    }
    assert got["usage"]["prompt_tokens"] > 0 and got["usage"]["completion_tokens"] > 0
    assert "[1] Qwen3 released" not in r.err  # --json: the object says it all


def test_plain_search_elsewhere_sends_enable_search_and_says_sources_need_dashscope(
    run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeServer() as s:
        monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
        r = run_cli("complete", "--search", "hi", "--base-url", s.base_url)
        assert r.code == 0, r.err
        assert r.out == "echo: hi\n"
        assert r.err.count("sources need DashScope") == 1
        [req] = s.requests
        assert req["path"].endswith("/chat/completions") and req["json"]["enable_search"] is True
        assert "search_options" not in req["json"]


def test_the_native_provider_chosen_by_name_answers_and_is_stored(run_cli, fake: FakeServer) -> None:
    r = run_cli("complete", "--provider", "dashscope-native", "--think", "hello")
    assert r.code == 0, r.err
    assert r.out == "echo: hello\n" and "reasoning " in r.err  # usage with reasoning tokens
    assert fake.requests[0]["json"]["parameters"]["enable_thinking"] is True
    _, [ex] = only_conversation()
    assert ex.answer is not None and ex.answer.content == "echo: hello" and ex.answer.status == "complete"
    assert ex.answer.usage is not None and ex.answer.usage["prompt_tokens"] > 0  # usage stored by our names


def test_sources_are_kept_in_history_show_export_and_save(run_cli, fake: FakeServer, tmp_path) -> None:
    assert run_cli("complete", "--search", "who made qwen?").code == 0
    conv_id, [ex] = only_conversation()
    assert ex.answer is not None and [s["index"] for s in ex.answer.sources or []] == [1, 2]
    shown = run_cli("history", "show", conv_id)
    assert shown.code == 0
    assert "echo: who made qwen? [ref_1]" in shown.out
    assert "[1] [Qwen3 released](https://qwenlm.github.io/blog/qwen3/) — Qwen Blog" in shown.out
    exported = json.loads(run_cli("history", "export", conv_id, "--format", "json").out)
    assert exported["messages"][-1]["sources"][1]["url"] == "https://www.aliyun.com/product/tongyi"
    assert "sources" not in exported["messages"][0]  # the question has none
    saved = tmp_path / "chat.md"
    r = run_cli("chat", "-c", "--search", stdin=lines(f"/save {saved}"))
    assert r.code == 0, r.err
    assert "[2] [通义千问 - 阿里云](https://www.aliyun.com/product/tongyi) — 阿里云" in saved.read_text()


@pytest.mark.parametrize(
    ("status", "body", "code", "text"),
    [
        (401, native_error_body("Invalid API-key provided.", "InvalidApiKey"), 3, "Invalid API-key"),
        (
            429,
            native_error_body("Requests rate limit exceeded", "Throttling.RateQuota"),
            4,
            "gave up after 1 retry",
        ),
        (
            400,
            native_error_body("Range of input length should be [1, 6000]", "InvalidParameter"),
            1,
            "larger context",
        ),
        (
            400,
            native_error_body("Input data may contain inappropriate content.", "DataInspectionFailed"),
            1,
            "inspection",
        ),
        (500, native_error_body("An internal error has occured", "InternalError"), 6, "try again"),
    ],
)
def test_native_error_bodies_map_onto_the_same_exit_codes(
    run_cli, fake: FakeServer, status, body, code, text
) -> None:
    fake.enqueue({"status": status, "json": body, "repeat": 5})
    r = run_cli("complete", "--provider", "dashscope-native", "--max-retries", "1", "hi")
    assert r.code == code, r.err
    assert text in r.err and r.out == ""
    assert len(fake.requests) == (2 if status in (429, 500) else 1)  # retried like the compatible one


def test_a_mid_stream_error_keeps_the_partial(run_cli, fake: FakeServer) -> None:
    frames = [
        *native_stream_events(["partial "], finish=False),
        native_error_frame("Output data may contain inappropriate content.", "DataInspectionFailed", n=2),
    ]
    fake.enqueue({"sse": frames, "done": False})
    r = run_cli("complete", "--provider", "dashscope-native", "hi")
    assert r.code == 1 and r.out.startswith("partial ")
    assert "inappropriate" in r.err


def test_a_stream_cut_before_its_finish_is_interrupted(run_cli, fake: FakeServer) -> None:
    fake.enqueue({"sse": native_stream_events(["par", "tial"], finish=False), "done": False})
    r = run_cli("complete", "--provider", "dashscope-native", "hi")
    assert r.code == 6 and r.out == "partial\n" and "partial answer above was kept" in r.err


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--search-strategy", "fast"], "unknown --search-strategy 'fast'"),
        (["--search-site", "https://example.com/docs"], "--search-site takes a host name"),
        (["--search-freshness", "0"], "--search-freshness must be"),
    ],
)
def test_bad_search_options_send_nothing(run_cli, fake: FakeServer, args: list[str], text: str) -> None:
    r = run_cli("complete", *args, "hi")
    assert r.code == 2 and r.out == ""
    lines = r.err.splitlines()
    assert lines[0].startswith("qwen: error: ") and text in lines[0] and lines[1].startswith("hint: ")
    assert fake.requests == []


def test_search_force_is_read_as_one_option() -> None:
    assert search_argv(["complete", "--search", "force", "q"]) == [
        "complete",
        "--search",
        "--search-force",
        "q",
    ]
    assert search_argv(["complete", "--search=force", "q"]) == ["complete", "--search", "--search-force", "q"]
    assert search_argv(["complete", "--search", "what is force?"]) == [
        "complete",
        "--search",
        "what is force?",
    ]
    assert search_argv(["complete", "--", "--search", "force"]) == ["complete", "--", "--search", "force"]


def test_both_protocols_share_dashscopes_credentials(isolated_env) -> None:
    credentials.update(isolated_env / "config", "dashscope", {"api_key": KEY, "region": "intl"})
    s = config.resolve({"provider": "dashscope-native"})
    assert s.api_key == KEY and s.region == "intl" and s.dashscope_region == "intl"
    assert s.base_url == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1" and s.key_required
    searched, with_sources = config.for_sources(config.resolve({"provider": "dashscope"}))
    assert (searched.provider, with_sources) == ("dashscope-native", True)


@pytest.mark.parametrize("stream", [True, False])
def test_sync_and_async_clients_read_the_same_native_answer(stream: bool) -> None:
    import asyncio

    from qwen_cli import Qwen

    messages = [{"role": "user", "content": "hi"}]
    with FakeServer(api_key=KEY) as s, Qwen(KEY, base_url=s.base_url, provider="dashscope-native") as client:

        def sync() -> Any:
            if not stream:
                return client.chat.create(messages, enable_search=True).result
            with client.chat.create(messages, stream=True, enable_search=True) as st:
                for _ in st:
                    pass
                return st.result

        async def run_async() -> Any:
            if not stream:
                return (await client.chat.acreate(messages, enable_search=True)).result
            st = await client.chat.acreate(messages, stream=True, enable_search=True)
            async with st:
                async for _ in st:
                    pass
            return st.result

        for result in (sync(), asyncio.run(run_async())):
            assert result.content == "echo: hi [ref_1]" and result.state == "complete"
            assert [x.index for x in result.sources] == [1, 2] and result.usage.completion_tokens > 0
        assert [r["path"] for r in s.requests] == [TEXT, TEXT]


@needs_qwen
def test_installed_qwen_search_force_in_a_pipe(server) -> None:  # type: ignore[no-untyped-def]
    """The real binary, a real socket, stdout a pipe: the answer alone on stdout, the sources
    and the footer on stderr, the native body on the wire."""
    import subprocess

    server.reset()
    env = clean_env(QWEN_BASE_URL_CN=server.base_url, DASHSCOPE_API_KEY=KEY)
    p = subprocess.run(
        [QWEN, "complete", "--search", "force", "--search-strategy", "turbo", "最新的 Qwen 是什么?"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == "echo: 最新的 Qwen 是什么? [ref_1]\n"
    err = p.stderr.decode().splitlines()
    assert err[0] == "[1] Qwen3 released (Qwen Blog) - https://qwenlm.github.io/blog/qwen3/"
    assert err[1].startswith("[2] 通义千问") and "search ~¥0.0030" in err[2]
    [req] = server.requests()
    assert req["path"] == TEXT and req["json"]["parameters"]["search_options"]["forced_search"] is True
