"""Helpers for the chat tests: a fake server per test, the REPL fed through a pipe, the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from qwen_cli.store import Exchange, Store
from tests import samples
from tests.fakeserver import FakeServer

ENTER, ALT_ENTER, CTRL_D = "\r", "\x1b\r", "\x04"
PNG = samples.png(20, 20)


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with FakeServer() as s:
        monkeypatch.setenv("QWEN_BASE_URL", s.base_url)
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-chat-0000")
        yield s


def typed(run_cli: Any, keys: str, *args: str) -> Any:
    """``qwen chat ARGS`` on a (fake) terminal, with ``keys`` typed at its prompt."""
    with create_pipe_input() as inp, create_app_session(input=inp, output=DummyOutput()):
        inp.send_text(keys)
        return run_cli("chat", *args)


def lines(*messages: str) -> bytes:
    return "".join(m + "\n" for m in messages).encode()


def bodies(srv: FakeServer) -> list[dict[str, Any]]:
    """The chat requests' bodies, in either protocol (native: ``/generation``)."""
    return [r["json"] for r in srv.requests if r["path"].endswith(("/chat/completions", "/generation"))]


def sent_messages(srv: FakeServer) -> list[list[tuple[str, Any]]]:
    """Per request: (role, content) of every message sent (native: ``input.messages``)."""
    return [[(m["role"], m["content"]) for m in b.get("input", b)["messages"]] for b in bodies(srv)]


def store() -> Store:
    return Store.open()


def only_conversation() -> tuple[str, list[Exchange]]:
    with store() as s:
        convs = s.recent()
        assert len(convs) == 1, convs
        return convs[0].id, s.exchanges(convs[0].id)


def sse(*events: Any, done: bool = True) -> bytes:
    parts = [f"data: {json.dumps(e)}\n\n" for e in events]
    return ("".join(parts) + ("data: [DONE]\n\n" if done else "")).encode()


def chunk(content: str = "", finish: str | None = None, model: str = "qwen-max") -> dict[str, Any]:
    return {
        "id": "chatcmpl-x",
        "model": model,
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }


def usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-x",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def answer(text: str, prompt_tokens: int | None = None) -> httpx.Response:
    events = [chunk(text), chunk("", "stop")]
    if prompt_tokens is not None:
        events.append(usage(prompt_tokens, 2))
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(*events))


class Interrupted(httpx.SyncByteStream):
    """A streamed answer during which the user presses Ctrl-C after ``pieces``."""

    def __init__(self, *pieces: str, native: bool = False) -> None:
        self.pieces = pieces
        self.closed = False
        self.native = native  # frames of DashScope's native protocol

    def __iter__(self) -> Iterator[bytes]:
        from tests.fakeserver import native_stream_events

        for p in self.pieces:
            yield (
                native_stream_events([p], finish=False)[0].encode()
                if self.native
                else sse(chunk(p), done=False)
            )
        raise KeyboardInterrupt

    def close(self) -> None:
        self.closed = True


def interrupted(stream: Interrupted) -> httpx.Response:
    return httpx.Response(
        200, headers={"content-type": "text/event-stream", "x-request-id": "rid-int"}, stream=stream
    )


def write_png(path: Path) -> Path:
    path.write_bytes(PNG)
    return path
