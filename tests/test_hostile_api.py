"""The Python API against the hostile scenarios: whole answers where the trouble can be skipped,
otherwise a QwenAPIError subclass (never pydantic's ValidationError, RecursionError or
UnicodeEncodeError) that keeps what arrived."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from qwen_cli import Qwen
from qwen_cli import errors as e
from tests.fakeserver import FakeServer
from tests.hostile_server import GREETING, SCENARIOS, TAIL, TOLERATED

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def srv(server: FakeServer) -> FakeServer:
    server.reset()
    return server


def client(srv: FakeServer, **kw: Any) -> Qwen:
    return Qwen(api_key="sk-test", base_url=srv.base_url, max_retries=0, **kw)


def answer(mode: str, c: Qwen, *, stream: bool) -> str:
    """The answer's text, streamed or not, sync or async; errors propagate."""
    if mode == "sync":
        with c:
            if stream:
                with c.chat.create(USER, stream=True) as s:
                    return s.until_done().content
            return c.chat.create(USER).content

    async def run() -> str:
        async with c:
            if stream:
                async with await c.chat.acreate(USER, stream=True) as s:
                    return (await s.until_done()).content
            return (await c.chat.acreate(USER)).content

    return asyncio.run(run())


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
@pytest.mark.parametrize("name", sorted(TOLERATED))
def test_tolerated_scenarios_give_the_whole_answer(srv: FakeServer, name: str, mode: str) -> None:
    srv.enqueue(*SCENARIOS[name])
    text = answer(mode, client(srv), stream=True)
    assert text.startswith(GREETING) and text.endswith(TAIL)
    text.encode("utf-8")  # printable and storable: no lone surrogate left


@MODES
@pytest.mark.parametrize(
    ("name", "stream", "cls", "says"),
    [
        ("not_json_body", False, e.BadResponseError, "not a JSON object"),
        ("not_json_body", True, e.BadResponseError, "not a JSON object"),
        ("deep_json_body", False, e.BadResponseError, "not a JSON object"),
        ("deep_json_body", True, e.BadResponseError, "not a JSON object"),
        ("html_200", False, e.BadResponseError, "captive portal"),
        ("html_200", True, e.BadResponseError, "captive portal"),
        ("error_message_list", False, e.InvalidRequestError, "a; 1"),
        ("bomb_body", False, e.BadResponseError, "decompressed to more than 32 MiB"),
        ("bomb_error", False, e.ServerError, "an error body larger than 1 MiB"),
    ],
)
def test_unreadable_answers_raise_api_errors(
    srv: FakeServer, name: str, stream: bool, cls: type[e.QwenAPIError], says: str, mode: str
) -> None:
    srv.enqueue(*SCENARIOS[name])
    with pytest.raises(cls) as info:
        answer(mode, client(srv), stream=stream)
    assert says in info.value.message


@MODES
@pytest.mark.parametrize("name", ["bomb_stream", "endless_line", "keepalive_forever"])
def test_endless_streams_raise_and_keep_the_partial_answer(srv: FakeServer, name: str, mode: str) -> None:
    srv.enqueue(*SCENARIOS[name])
    with pytest.raises(e.StreamInterruptedError) as info:
        answer(mode, client(srv, timeout=1.5), stream=True)
    assert info.value.partial == GREETING


@MODES
@pytest.mark.parametrize("name", ["models_created_float", "models_created_missing"])
def test_model_lists_of_other_servers(srv: FakeServer, name: str, mode: str) -> None:
    srv.enqueue(*SCENARIOS[name])

    async def alist() -> list[Any]:
        async with client(srv) as c:
            return await c.models.alist()

    if mode == "sync":
        with client(srv) as c:
            models = c.models.list()
    else:
        models = asyncio.run(alist())
    assert len(models) == 1 and models[0].id


def test_a_gzip_answer_within_the_caps_is_read(srv: FakeServer) -> None:
    from tests.fakeserver import chat_completion, chat_stream_events

    srv.enqueue(
        {"json": chat_completion("squeezed 压缩"), "gzip": True},
        {"sse": chat_stream_events(["squeezed ", "压缩"]), "gzip": True},
    )
    with client(srv) as c:
        assert c.chat.create(USER).content == "squeezed 压缩"
        with c.chat.create(USER, stream=True) as s:
            assert s.until_done().content == "squeezed 压缩"
    assert srv.requests[0]["headers"]["accept-encoding"] == "gzip, deflate"
