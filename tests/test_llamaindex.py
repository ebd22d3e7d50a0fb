"""``QwenLlamaIndex`` against the fake server: every method sync and async, the bodies sent,
the answers' extras, streamed tool calls, errors, metadata and the settings it starts from."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
)

from qwen_cli import catalog, credentials
from qwen_cli.config import config_dir
from qwen_cli.errors import (
    AuthenticationError,
    InvalidRequestError,
    RateLimitError,
    StreamInterruptedError,
    UsageError,
)
from qwen_cli.llamaindex import QwenLlamaIndex
from tests.fakeserver import (
    FakeServer,
    chat_completion,
    chat_stream_events,
    error_spec,
    stream_error_event,
)

KEY = "sk-llamaindex-test-0000"
MODES = ["sync", "async"]
USAGE = {
    "prompt_tokens": 40,
    "completion_tokens": 12,
    "total_tokens": 52,
    "prompt_tokens_details": {"cached_tokens": 32},
    "completion_tokens_details": {"reasoning_tokens": 3},
}


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """A fake server the settings point at, as for a user who set them once."""
    with FakeServer() as s:
        monkeypatch.setenv("QWEN_BASE_URL", s.base_url)
        monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
        monkeypatch.setenv("QWEN_MAX_RETRIES", "0")
        yield s


@pytest.fixture
def new() -> Iterator[Any]:
    """Makes adapters, and closes their connections after the test."""
    made: list[QwenLlamaIndex] = []

    def make(**kw: Any) -> QwenLlamaIndex:
        made.append(QwenLlamaIndex(**kw))
        return made[-1]

    yield make
    for llm in made:
        llm.close()


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


# Each method of the adapter, sync or async, called the same way.


def chat(llm: QwenLlamaIndex, mode: str, messages: list[ChatMessage], **kw: Any) -> ChatResponse:
    if mode == "sync":
        return llm.chat(messages, **kw)
    return asyncio.run(llm.achat(messages, **kw))


def stream_chat(
    llm: QwenLlamaIndex,
    mode: str,
    messages: list[ChatMessage],
    got: list[ChatResponse] | None = None,
    **kw: Any,
) -> list[ChatResponse]:
    """Every streamed response, collected into ``got`` as it arrives (kept when it raises)."""
    got = [] if got is None else got
    if mode == "sync":
        got.extend(llm.stream_chat(messages, **kw))
        return got

    async def run() -> None:
        async for r in await llm.astream_chat(messages, **kw):
            got.append(r)

    asyncio.run(run())
    return got


def complete(llm: QwenLlamaIndex, mode: str, prompt: str, **kw: Any) -> CompletionResponse:
    if mode == "sync":
        return llm.complete(prompt, **kw)
    return asyncio.run(llm.acomplete(prompt, **kw))


def stream_complete(llm: QwenLlamaIndex, mode: str, prompt: str, **kw: Any) -> list[CompletionResponse]:
    if mode == "sync":
        return list(llm.stream_complete(prompt, **kw))

    async def run() -> list[CompletionResponse]:
        return [r async for r in await llm.astream_complete(prompt, **kw)]

    return asyncio.run(run())


# --------------------------------------------------------------------------- plain answers


@pytest.mark.parametrize("mode", MODES)
def test_chat_sends_the_conversation_and_options_and_returns_the_answer_with_its_extras(
    srv: FakeServer, mode: str, new: Any
) -> None:
    srv.enqueue(
        {
            "json": chat_completion("Paris.", model="qwen-plus", reasoning="The capital.", usage=USAGE),
            "headers": {"x-request-id": "req-chat-1"},
        }
    )
    llm = new(model="qwen-plus", temperature=0.3, max_tokens=100, thinking=True)
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="Answer briefly."),
        ChatMessage(role=MessageRole.USER, content="Capital of France?"),
    ]
    r = chat(llm, mode, messages, top_k=20, seed=7)

    body = srv.requests[0]["json"]
    assert srv.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "qwen-plus"
    assert body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert (body["temperature"], body["max_tokens"], body["seed"], body["top_k"]) == (0.3, 100, 7, 20)
    assert body["enable_thinking"] is True
    assert "tools" not in body

    assert r.message.role == MessageRole.ASSISTANT and r.message.content == "Paris."
    kw = r.additional_kwargs
    assert kw["reasoning"] == "The capital."
    assert kw["request_id"] == "req-chat-1" and kw["finish_reason"] == "stop" and kw["model"] == "qwen-plus"
    assert (kw["prompt_tokens"], kw["completion_tokens"], kw["total_tokens"]) == (40, 12, 52)
    assert (kw["cached_tokens"], kw["reasoning_tokens"]) == (32, 3)
    assert kw["usage"]["prompt_tokens_details"] == {"cached_tokens": 32}
    assert r.raw["choices"][0]["message"]["content"] == "Paris." and r.raw["request_id"] == "req-chat-1"


@pytest.mark.parametrize("mode", MODES)
def test_complete_sends_the_prompt_as_one_user_message(srv: FakeServer, mode: str, new: Any) -> None:
    llm = new()
    r = complete(llm, mode, "hello there")
    assert r.text == "echo: hello there"
    body = srv.requests[0]["json"]
    assert body["messages"] == [{"role": "user", "content": "hello there"}] and body["stream"] is False
    assert r.additional_kwargs["usage"]["total_tokens"] > 0


def test_acreate_is_the_seed_name_of_acomplete(srv: FakeServer, new: Any) -> None:
    r = asyncio.run(new().acreate("from the seed"))
    assert isinstance(r, CompletionResponse) and r.text == "echo: from the seed"
    assert len(srv.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_stream_chat_yields_deltas_then_the_whole_answer_with_usage_and_thinking(
    srv: FakeServer, mode: str, new: Any
) -> None:
    llm = new(model="qwen-plus", thinking=True)
    got = stream_chat(llm, mode, user("stream me"))

    body = srv.requests[0]["json"]
    assert body["stream"] is True and body["enable_thinking"] is True
    text = "echo: stream me"
    assert "".join(r.delta or "" for r in got) == text
    assert sum(1 for r in got if r.delta) > 1  # it did arrive in pieces
    assert [r.message.content for r in got if r.delta][-1] == text
    thinking = "".join(r.additional_kwargs.get("thinking_delta") or "" for r in got)
    assert thinking == "Thinking about: stream me"
    last = got[-1]
    assert last.message.content == text and last.additional_kwargs["reasoning"] == thinking
    assert last.additional_kwargs["finish_reason"] == "stop"
    assert last.additional_kwargs["total_tokens"] == last.additional_kwargs["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("mode", MODES)
def test_stream_complete_grows_the_text(srv: FakeServer, mode: str, new: Any) -> None:
    got = stream_complete(new(), mode, "one two three")
    texts = [r.text for r in got if r.delta]
    assert texts == sorted(texts, key=len) and len(texts) > 1
    assert got[-1].text == "echo: one two three" == "".join(r.delta or "" for r in got)
    assert srv.requests[0]["json"]["messages"] == [{"role": "user", "content": "one two three"}]


def test_a_stream_only_model_is_streamed_for_chat_and_comes_back_whole(srv: FakeServer, new: Any) -> None:
    spec = catalog.lookup("qwq-plus")
    assert spec.stream_only
    r = new(model="qwq-plus").chat(user("think hard"))
    assert srv.requests[0]["json"]["stream"] is True
    assert r.message.content == "echo: think hard"


def test_images_go_as_image_parts_and_unsendable_blocks_are_refused(srv: FakeServer, new: Any) -> None:
    llm = new(model="qwen-vl-max")
    msg = ChatMessage(
        role=MessageRole.USER,
        blocks=[TextBlock(text="what is this?"), ImageBlock(url="https://example.com/cat.png")],
    )
    llm.chat([msg])
    assert srv.requests[0]["json"]["messages"][0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    from llama_index.core.base.llms.types import AudioBlock

    audio = [ChatMessage(role=MessageRole.USER, blocks=[AudioBlock(audio=b"RIFF", format="wav")])]
    for mode in MODES:  # refused as itself, through LlamaIndex's callback trace, before sending
        with pytest.raises(UsageError, match="audio block"):
            chat(llm, mode, audio)
        with pytest.raises(UsageError, match="audio block"):
            stream_chat(llm, mode, audio)
    assert len(srv.requests) == 1


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("mode", MODES)
def test_errors_raise_our_errors_never_an_empty_answer(srv: FakeServer, mode: str, new: Any) -> None:
    llm = new()
    srv.enqueue(error_spec(401, "Incorrect API key provided.", "invalid_api_key"))
    with pytest.raises(AuthenticationError):
        chat(llm, mode, user("hi"))
    srv.enqueue(error_spec(429, "Requests rate limit exceeded", "limit_requests"))
    with pytest.raises(RateLimitError):
        stream_chat(llm, mode, user("hi"))
    srv.enqueue(error_spec(400, "bad", "invalid_parameter_error"))
    with pytest.raises(InvalidRequestError):
        stream_complete(llm, mode, "hi")


@pytest.mark.parametrize("mode", MODES)
def test_a_broken_stream_raises_after_yielding_what_arrived(srv: FakeServer, mode: str, new: Any) -> None:
    srv.enqueue({"sse": chat_stream_events(["Hel", "lo, ", "wor"])[:4], "cut": True})
    got: list[ChatResponse] = []
    with pytest.raises(StreamInterruptedError) as err:
        stream_chat(new(), mode, user("hi"), got)
    assert "".join(r.delta or "" for r in got) == "Hello, wor"
    assert err.value.partial == "Hello, wor"


@pytest.mark.parametrize("mode", MODES)
def test_an_error_event_in_a_stream_raises_after_the_text_before_it(
    srv: FakeServer, mode: str, new: Any
) -> None:
    events: list[Any] = [*chat_stream_events(["Part", "ial"])[:3], stream_error_event()]
    srv.enqueue({"sse": events, "done": False})
    got: list[ChatResponse] = []
    with pytest.raises(InvalidRequestError):
        stream_chat(new(), mode, user("hi"), got)
    assert "".join(r.delta or "" for r in got) == "Partial"


# --------------------------------------------------------------------------- metadata and settings


def test_metadata_of_a_known_model_comes_from_the_catalogue(new: Any) -> None:
    llm = new(api_key=KEY, model="qwen-plus")
    spec = catalog.lookup("qwen-plus")
    m = llm.metadata
    assert m.model_name == "qwen-plus" and m.is_chat_model and m.is_function_calling_model
    assert (m.context_window, m.num_output) == (spec.context, spec.max_output)
    assert m.context_window >= 128_000  # not the stale 8K of other integrations
    assert new(api_key=KEY, model="qwen-plus", max_tokens=300).metadata.num_output == 300
    assert not new(api_key=KEY, model="qwen-mt-plus").metadata.is_function_calling_model


def test_metadata_of_an_unknown_model_has_the_safe_defaults(new: Any) -> None:
    m = new(api_key=KEY, model="my-finetune").metadata
    spec = catalog.lookup("my-finetune")
    assert not spec.known
    assert (m.model_name, m.context_window, m.num_output) == ("my-finetune", 32_768, spec.max_output)
    assert m.is_function_calling_model


def test_a_logged_in_user_needs_no_arguments(monkeypatch: pytest.MonkeyPatch, new: Any) -> None:
    with FakeServer() as s:
        credentials.update(
            config_dir(), "dashscope", {"api_key": KEY, "region": "intl", "base_url": s.base_url}
        )
        monkeypatch.setenv("QWEN_MODEL", "qwen-turbo")
        llm = new()
        assert llm.complete("hi").text == "echo: hi"
        assert s.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"
        assert s.requests[0]["json"]["model"] == "qwen-turbo" == llm.model
        assert KEY not in repr(llm) and KEY not in json.dumps(llm.to_dict(), default=str)


def test_the_seed_auth_token_and_cookie_pick_chat_qwen_ai(new: Any) -> None:
    llm = new(auth_token="tok-1234567890", cookie="a=b; c=d", model="qwen-max-latest")
    assert llm.provider == "qwen-web" and llm.model == "qwen-max-latest"
    assert llm.client.api_key == "tok-1234567890"
    assert "tok-1234567890" not in repr(llm)


def test_constructor_arguments_win_over_the_settings(srv: FakeServer, new: Any) -> None:
    with FakeServer() as other:
        llm = new(api_key="sk-other-key-000000", base_url=other.base_url, model="qwen-max")
        llm.complete("x")
        assert other.requests[0]["headers"]["authorization"] == "Bearer sk-other-key-000000"
        assert srv.requests == []


# --------------------------------------------------------------------------- the CLI never loads it

_EVERY_COMMAND = """
import json, sys
import qwen_cli
from qwen_cli.cli import main
from qwen_cli.cli.app import COMMANDS
codes = [main(["--help"]), main(["complete", "hi"]), main(["models"])]
codes += [main([name, "--help"]) for name in COMMANDS]
loaded = sorted(m for m in sys.modules if m.startswith("llama_index"))
sys.stderr.write("LOADED " + json.dumps([codes, loaded]) + "\\n")
"""


def test_import_qwen_cli_and_every_command_load_nothing_of_llama_index(srv: FakeServer) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "QWEN_BASE_URL": srv.base_url, "DASHSCOPE_API_KEY": KEY}
    p = subprocess.run(
        [sys.executable, "-c", _EVERY_COMMAND], capture_output=True, text=True, env=env, timeout=120
    )
    line = next(x for x in p.stderr.splitlines() if x.startswith("LOADED "))
    codes, loaded = json.loads(line.removeprefix("LOADED "))
    assert codes == [0] * len(codes) and len(codes) > 5
    assert "echo: hi" in p.stdout  # the commands did run, against the fake server
    assert loaded == []
    # the installed program: what `qwen --help` imports, as Python reports it
    p = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "qwen_cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0 and "qwen_cli.cli" in p.stderr
    assert "llama_index" not in p.stderr
    # while the package itself is there to load
    p = subprocess.run(
        [sys.executable, "-c", "import sys, qwen_cli.llamaindex; print('llama_index.core' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.stdout.strip() == "True"


@pytest.mark.parametrize("mode", MODES)
def test_web_search_sources_come_in_additional_kwargs(srv: FakeServer, mode: str, new: Any) -> None:
    from tests.fakeserver import SEARCH_RESULTS

    llm = new(provider="dashscope-native", base_url=srv.base_url, additional_kwargs={"enable_search": True})
    whole = chat(llm, mode, user("news?"))
    streamed = stream_chat(llm, mode, user("news?"))[-1]
    urls = [s["url"] for s in SEARCH_RESULTS]
    for r in (whole, streamed):
        assert r.message.content == "echo: news? [ref_1]"
        assert [s["url"] for s in r.additional_kwargs["sources"]] == urls
        assert r.additional_kwargs["sources"][0]["index"] == 1
    assert all(q["json"]["parameters"]["enable_search"] is True for q in srv.requests)
