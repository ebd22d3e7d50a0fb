"""Structured output in `qwen chat` (`--schema`, `/schema FILE|INLINE`, `/schema -`) and in
`qwen upload --ask` (an extract from an image): bodies sent, stdout, the store."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from qwen_cli import catalog, schema
from tests import chatkit
from tests import samples as S
from tests.chatkit import CTRL_D, ENTER, bodies, lines, only_conversation, sent_messages, typed
from tests.conftest import FAKE_KEY
from tests.fakeserver import FakeServer, chat_stream_events
from tests.test_client import USAGE, chunk, sse, stream_response

srv = chatkit.srv  # fixture

NAME_AGE = schema.parse("name, age int").schema


def says(*pieces: str) -> dict[str, Any]:
    return {"sse": chat_stream_events(list(pieces))}


def test_slash_schema_sets_and_drops_it(run_cli, srv: FakeServer) -> None:
    srv.enqueue(says('{"name": "Ann", "age": 3}'))
    r = run_cli("chat", stdin=lines("/schema name, age int", "Ann is 3", "/schema -", "hi"))
    assert r.code == 0, r.err
    assert r.out == '{"name":"Ann","age":3}\necho: hi\n'  # free text again after /schema -
    assert "answers must now match the schema (name, age)" in r.err
    assert "schema dropped" in r.err
    first, second = bodies(srv)
    assert first["response_format"] == {"type": "json_object"}
    assert first["messages"][0]["role"] == "system" and "JSON Schema" in first["messages"][0]["content"]
    assert "response_format" not in second
    # the schema's instruction went with its turn only; the JSON answer stays in the context
    assert sent_messages(srv)[1] == [
        ("user", "Ann is 3"),
        ("assistant", '{"name": "Ann", "age": 3}'),
        ("user", "hi"),
    ]
    _, (structured, plain) = only_conversation()
    assert structured.answer is not None and structured.answer.options["schema"] == NAME_AGE
    assert plain.answer is not None and "schema" not in plain.answer.options


def test_schema_at_start_from_a_file_and_shown(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    f = tmp_path / "person.json"
    f.write_text(json.dumps(NAME_AGE), encoding="utf-8")
    srv.enqueue(says('{"name": "A", "age": "x"}'), says('{"name": "A", "age": 1}'))
    r = run_cli("chat", "--schema", str(f), stdin=lines("/schema", "who?"))
    assert r.code == 0, r.err
    assert r.out == '{"name":"A","age":1}\n'  # /schema's answer goes to stderr in a pipe
    assert schema.dumps(NAME_AGE, pretty=True) + "\n" in r.err
    assert len(bodies(srv)) == 2 and bodies(srv)[1]["messages"][-1]["content"].startswith(
        "Your answer does not match"
    )


def test_slash_schema_bad_input(run_cli, srv: FakeServer) -> None:
    r = run_cli("chat", stdin=lines("/schema {not json", "hi"))  # a script stops at its mistake
    assert r.code == 2 and r.out == "" and srv.requests == []
    assert r.err.startswith("qwen: error: the inline schema is not valid JSON") and "\nhint: " in r.err
    r = typed(run_cli, "/schema {not json" + ENTER + "hi" + ENTER + CTRL_D)  # at a prompt: goes on
    assert r.code == 0, r.err
    assert "qwen: error: the inline schema is not valid JSON" in r.err
    assert "response_format" not in bodies(srv)[0]


def test_chat_bad_schema_option_exit_2(run_cli, srv: FakeServer) -> None:
    r = run_cli("chat", "--schema", "x list[set]", stdin=lines("hi"))
    assert r.code == 2 and r.err.startswith("qwen: error: unknown type 'list[set]'")
    assert srv.requests == []


# --------------------------------------------------------------------------- qwen upload --ask

CHAT = "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions"


def answer(*pieces: str) -> httpx.Response:
    return stream_response(sse(*[chunk(p) for p in pieces], chunk("", finish="stop"), USAGE))


@respx.mock
def test_upload_ask_extracts_from_an_image(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    png = S.png(20, 20)
    S.write(Path.cwd(), "receipt.png", png)
    route = respx.post(CHAT).mock(
        side_effect=[answer('{"total": "12"}'), answer('```json\n{"total": 12.5}\n```')]
    )
    r = run_cli("upload", "receipt.png", "--ask", "the total?", "--schema", "total float")
    assert r.code == 0, r.err
    assert r.out == '{"total":12.5}\n'
    first = json.loads(route.calls[0].request.content)
    second = json.loads(route.calls[1].request.content)
    assert first["model"] == second["model"] == "qwen-vl-max"
    assert first["response_format"] == {"type": "json_object"}
    instruction = schema.system_text(schema.parse("total float"), catalog.lookup("qwen-vl-max"))
    image = {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()},
    }
    asked = {"role": "user", "content": [image, {"type": "text", "text": "the total?"}]}
    assert first["messages"] == [{"role": "system", "content": instruction}, asked]
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2] == {"role": "assistant", "content": '{"total": "12"}'}
    assert second["messages"][3]["role"] == "user"
    assert "- $.total: '12' is not of type 'number'" in second["messages"][3]["content"]


@respx.mock
def test_upload_schema_needs_ask_and_invalid_twice_exits_1(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    S.write(Path.cwd(), "r.png", S.png(20, 20))
    r = run_cli("upload", "r.png", "--schema", "total float")
    assert r.code == 2 and "--schema shapes an answer: it needs --ask" in r.err
    respx.post(CHAT).mock(side_effect=[answer("no"), answer("still no")])
    r = run_cli("upload", "r.png", "--ask", "total?", "--schema", "total float")
    assert r.code == 1 and r.out == ""
    assert "qwen: error: the answer does not match the schema, even after one correction: $:" in r.err
    assert "still no" in r.err and "hint: the raw answer is above;" in r.err
