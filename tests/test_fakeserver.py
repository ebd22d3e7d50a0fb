"""The fake DashScope server itself: wire shapes, scripting, robustness, subprocess mode."""

from __future__ import annotations

import base64
import gzip
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakeserver import (
    MODEL_IDS,
    FakeServer,
    FakeServerProcess,
    chat_completion,
    chat_stream_events,
    error_body,
    error_spec,
    gzip_bomb,
    long_markdown,
    long_pieces,
    parse_multipart,
    stream_error_event,
    wait_for_port,
)

AUTH = {"Authorization": "Bearer sk-anything"}
FAKESERVER = Path(__file__).with_name("fakeserver.py")


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10, headers=AUTH) as c:
        yield c


def sse_data(raw: bytes) -> list[str]:
    """The ``data:`` payloads of an SSE body, parsed by hand (LF or CRLF)."""
    text = raw.decode("utf-8").replace("\r\n", "\n")
    return [
        line[len("data: ") :]
        for block in text.split("\n\n")
        for line in block.split("\n")
        if line.startswith("data: ")
    ]


def chat(client: httpx.Client, base: str, text: str = "hello", **body: Any) -> httpx.Response:
    payload = {"model": "qwen-max", "messages": [{"role": "user", "content": text}], **body}
    return client.post(f"{base}/chat/completions", json=payload)


# --- default echo -----------------------------------------------------------------------------


def test_echo_stream_shape_with_usage(srv: FakeServer, client: httpx.Client) -> None:
    resp = chat(client, srv.base_url, "你好, world", stream=True, stream_options={"include_usage": True})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["transfer-encoding"] == "chunked"
    data = sse_data(resp.content)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    rid = resp.headers["x-request-id"]
    assert {c["id"] for c in chunks} == {f"chatcmpl-{rid}"}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    first, *content, finish, usage = chunks
    assert first["choices"][0]["delta"] == {"content": "", "role": "assistant"}
    assert all(c["usage"] is None for c in [first, *content, finish])
    assert "".join(c["choices"][0]["delta"]["content"] for c in content) == "echo: 你好, world"
    assert all(len(c["choices"][0]["delta"]["content"]) <= 4 for c in content)
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["choices"][0]["delta"] == {"content": ""}
    assert usage["choices"] == []
    u = usage["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert u["completion_tokens"] == len(content)
    assert b'data: {"choices":' in resp.content  # compact JSON, space after the colon
    assert "你好".encode() in resp.content  # raw UTF-8, not \\u escapes


def test_echo_stream_usage_only_when_asked(srv: FakeServer, client: httpx.Client) -> None:
    for extra in ({}, {"stream_options": {"include_usage": False}}):
        data = sse_data(chat(client, srv.base_url, "hi", stream=True, **extra).content)
        chunks = [json.loads(d) for d in data[:-1]]
        assert all(c["choices"] for c in chunks)
        assert all(c["usage"] is None for c in chunks)
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_echo_stream_thinking(srv: FakeServer, client: httpx.Client) -> None:
    resp = chat(client, srv.base_url, "why", stream=True, enable_thinking=True)
    chunks = [json.loads(d) for d in sse_data(resp.content)[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"content": None, "role": "assistant", "reasoning_content": ""}
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    answer = "".join(d.get("content") or "" for d in deltas)
    assert reasoning == "Thinking about: why"
    assert answer == "echo: why"
    first_content = next(i for i, d in enumerate(deltas) if d["content"])
    assert all(d["reasoning_content"] is None for d in deltas[first_content:])


def test_echo_non_stream_with_parts_and_images(srv: FakeServer, client: httpx.Client) -> None:
    content = [
        {"type": "image_url", "image_url": {"url": "https://example.invalid/a.png"}},
        {"type": "text", "text": "describe"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    resp = client.post(
        f"{srv.base_url}/chat/completions",
        json={
            "model": "qwen-vl-max",
            "messages": [
                {"role": "user", "content": "old"},
                {"role": "assistant", "content": "echo: old"},
                {"role": "user", "content": content},
            ],
        },
    )
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["id"] == f"chatcmpl-{resp.headers['x-request-id']}"
    assert body["model"] == "qwen-vl-max"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "echo: describe [2 image(s)]",
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_echo_non_stream_thinking(srv: FakeServer, client: httpx.Client) -> None:
    message = chat(client, srv.base_url, "x", enable_thinking=True).json()["choices"][0]["message"]
    assert message["reasoning_content"] == "Thinking about: x"
    assert message["content"] == "echo: x"


def test_fake_long_streams_2000_deltas(srv: FakeServer, client: httpx.Client) -> None:
    resp = chat(client, srv.base_url, model="fake-long", stream=True)
    chunks = [json.loads(d) for d in sse_data(resp.content)[:-1]]
    content = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert len(content) == 2000
    assert all(content)
    text = "".join(content)
    assert text == long_markdown() == "".join(long_pieces())
    code = text.split("```python\n", 1)[1].split("\n```", 1)[0]
    assert len(code.split("\n")) == 40
    assert "\n- Item 1" in text
    assert "| model | context | price |" in text


def test_fake_slow_paces_deltas(srv: FakeServer, client: httpx.Client) -> None:
    start = time.monotonic()
    resp = chat(client, srv.base_url, "abcdefgh", model="fake-slow", stream=True)
    assert time.monotonic() - start >= 0.05 * 4
    assert len(sse_data(resp.content)) == 7  # role, 4 deltas ("echo: abcdefgh"), finish, DONE


def test_models(srv: FakeServer, client: httpx.Client) -> None:
    body = client.get(f"{srv.base_url}/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == list(MODEL_IDS)
    assert "qwen-max" in MODEL_IDS and "qwen3-235b-a22b" in MODEL_IDS
    assert set(body["data"][0]) == {"id", "object", "created", "owned_by"}
    assert client.get(f"{srv.base_url}/models/qwen-plus").json()["id"] == "qwen-plus"
    missing = client.get(f"{srv.base_url}/models/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"


def test_unknown_path_is_404_compatible_error(srv: FakeServer, client: httpx.Client) -> None:
    for url in (f"{srv.base_url}/nope", f"{srv.url}/elsewhere"):
        resp = client.get(url)
        assert resp.status_code == 404
        err = resp.json()
        assert set(err) == {"error", "request_id"}
        assert set(err["error"]) == {"message", "type", "param", "code"}


# --- auth -------------------------------------------------------------------------------------


def test_401_without_key(srv: FakeServer) -> None:
    with httpx.Client(trust_env=False) as bare:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}):
            resp = bare.get(f"{srv.base_url}/models", headers=headers)
            assert resp.status_code == 401
            body = resp.json()
            assert body["error"]["code"] == "invalid_api_key"
            assert body["error"]["type"] == "invalid_request_error"
            assert body["error"]["message"].startswith("Incorrect API key provided.")
            assert body["request_id"] == resp.headers["x-request-id"]
        native = bare.get(f"{srv.url}/api/v1/uploads", params={"action": "getPolicy"})
        assert native.status_code == 401
        assert native.json()["code"] == "InvalidApiKey"


def test_api_key_option_accepts_only_that_key() -> None:
    with FakeServer(api_key="sk-test") as server, httpx.Client(trust_env=False) as c:
        url = f"{server.base_url}/models"
        assert c.get(url, headers={"Authorization": "Bearer sk-test"}).status_code == 200
        assert c.get(url, headers={"Authorization": "Bearer sk-other"}).status_code == 401


# --- scripting --------------------------------------------------------------------------------


def test_enqueue_match_repeat_order(srv: FakeServer, client: httpx.Client) -> None:
    srv.enqueue(
        {"match": "/models", "json": {"n": "models"}},
        {"json": {"n": 1}, "repeat": 2},
        {"json": {"n": 2}},
    )
    assert srv.pending() == 3
    assert client.get(f"{srv.base_url}/files").json() == {"n": 1}
    assert client.get(f"{srv.base_url}/models").json() == {"n": "models"}
    assert client.get(f"{srv.base_url}/models").json() == {"n": 1}
    assert client.get(f"{srv.base_url}/models").json() == {"n": 2}
    assert srv.pending() == 0
    assert client.get(f"{srv.base_url}/models").json()["object"] == "list"  # default again


def test_spec_status_headers_and_raw_body(srv: FakeServer, client: httpx.Client) -> None:
    srv.enqueue(
        error_spec(429, "Requests rate limit exceeded", "limit_requests", headers={"Retry-After": 2}),
        {"status": 502, "body": "<html>Bad Gateway</html>", "content_type": "text/html"},
        {"status": 204},
    )
    r1 = chat(client, srv.base_url)
    assert r1.status_code == 429
    assert r1.headers["retry-after"] == "2"
    assert r1.json()["error"] == {
        "message": "Requests rate limit exceeded",
        "type": "limit_requests",
        "param": None,
        "code": "limit_requests",
    }
    r2 = chat(client, srv.base_url)
    assert (r2.status_code, r2.headers["content-type"], r2.text) == (
        502,
        "text/html",
        "<html>Bad Gateway</html>",
    )
    assert chat(client, srv.base_url).status_code == 204


def test_sse_spec_verbatim_strings_and_done(srv: FakeServer, client: httpx.Client) -> None:
    events = chat_stream_events(["a", "b"], include_usage=False, id="chatcmpl-x")
    srv.enqueue(
        {"sse": [": keep-alive\n\n", *events, "data: junk\r\n\r\n"]},
        {"sse": [stream_error_event()], "done": False},
    )
    raw = chat(client, srv.base_url, stream=True).content
    assert raw.startswith(b": keep-alive\n\ndata: {")
    assert raw.endswith(b"data: junk\r\n\r\ndata: [DONE]\n\n")
    raw2 = chat(client, srv.base_url, stream=True).content
    assert b"[DONE]" not in raw2
    assert json.loads(sse_data(raw2)[0])["error"]["code"] == "data_inspection_failed"


def test_writes_split_utf8_arrive_as_separate_reads(srv: FakeServer, client: httpx.Client) -> None:
    ni = "你".encode()
    assert len(ni) == 3
    srv.enqueue(
        {
            "writes": [
                'data: {"t":"',
                {"hex": ni[:1].hex()},
                {"b64": base64.b64encode(ni[1:]).decode()},
                '"}\n\n',
            ],
            "delay": 0.1,
        }
    )
    with client.stream("POST", f"{srv.base_url}/chat/completions", json={}) as resp:
        reads = list(resp.iter_raw())
    assert b"".join(reads) == b'data: {"t":"\xe4\xbd\xa0"}\n\n'
    assert reads[1] == b"\xe4"  # a read that ends in the middle of a character
    with pytest.raises(UnicodeDecodeError):
        reads[1].decode("utf-8")
    assert len(reads) == 4


def test_cut_raises_remote_protocol_error(srv: FakeServer, client: httpx.Client) -> None:
    srv.enqueue({"sse": chat_stream_events(["par", "tial"]), "cut": True})
    got: list[bytes] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", f"{srv.base_url}/chat/completions", json={}) as resp,
    ):
        for chunk in resp.iter_raw():
            got.append(chunk)
    assert b"tial" in b"".join(got)
    assert b"[DONE]" not in b"".join(got)
    assert chat(client, srv.base_url).status_code == 200  # server is fine afterwards


def test_cut_json_body_rst_and_close_delimited(srv: FakeServer, client: httpx.Client) -> None:
    srv.enqueue(
        {"json": chat_completion("x" * 100), "cut": True},
        {"writes": ["a"], "cut": "rst"},
        {"writes": ["data: x\n\n"], "chunked": False},
    )
    with pytest.raises(httpx.RemoteProtocolError):
        chat(client, srv.base_url)
    with pytest.raises(httpx.ReadError):
        chat(client, srv.base_url, stream=True)
    resp = chat(client, srv.base_url, stream=True)
    assert "transfer-encoding" not in resp.headers
    assert resp.headers["connection"] == "close"
    assert resp.content == b"data: x\n\n"


def test_delay_before_makes_client_time_out(srv: FakeServer) -> None:
    srv.enqueue({"json": {}, "delay_before": 1.0})
    with (
        httpx.Client(trust_env=False, headers=AUTH, timeout=0.2) as c,
        pytest.raises(httpx.ReadTimeout),
    ):
        chat(c, srv.base_url)


def test_gzip_bomb_inflates_to_exactly_its_size() -> None:
    data = gzip_bomb((3 << 20) + 5, head="data: ", fill="xy")
    assert len(data) < 10_000
    assert gzip.decompress(data) == b"data: " + (b"xy" * (2 << 20))[: (3 << 20) - 1]


def test_gzip_forever_and_bomb_specs(srv: FakeServer, client: httpx.Client) -> None:
    srv.enqueue(
        {"json": {"a": 1}, "gzip": True},
        {"sse": [{"b": 2}], "gzip": True},
        {"writes": ["data: "], "forever": "z" * 1000},
        {"bomb": {"size": 1 << 20, "head": "{"}, "status": 500},
    )
    r = client.get(srv.base_url + "/x")
    assert (r.headers["content-encoding"], r.json()) == ("gzip", {"a": 1})
    r = client.get(srv.base_url + "/x")
    assert r.headers["content-encoding"] == "gzip" and sse_data(r.content) == ['{"b":2}', "[DONE]"]
    with client.stream("GET", srv.base_url + "/x") as r:
        got = b""
        for piece in r.iter_bytes():
            got += piece
            if len(got) > 100_000:
                break
    assert got.startswith(b"data: zzz") and set(got[6:]) == {ord("z")}
    with client.stream("GET", srv.base_url + "/x") as r:
        raw = b"".join(r.iter_raw())
    assert r.status_code == 500 and r.headers["content-encoding"] == "gzip" and len(raw) < 5000
    assert len(gzip.decompress(raw)) == 1 << 20


def test_control_rejects_bad_spec(srv: FakeServer, client: httpx.Client) -> None:
    with pytest.raises(ValueError, match="unknown spec field"):
        srv.enqueue({"jsno": {}})
    resp = client.post(f"{srv.url}/_control/enqueue", json=[{"statuss": 200}])
    assert resp.status_code == 400
    assert srv.pending() == 0


# --- request log ------------------------------------------------------------------------------


def test_request_log_contents(srv: FakeServer, client: httpx.Client) -> None:
    client.post(
        f"{srv.base_url}/chat/completions?x=1",
        json={"model": "qwen-max", "messages": [{"role": "user", "content": "logged"}]},
        headers={"X-DashScope-OssResourceResolve": "enable"},
    )
    client.post(f"{srv.url}/raw", content=b"\xffnot json")
    client.get(f"{srv.url}/_control/requests")  # control requests are not logged
    log = srv.wait_for_requests(2)
    assert len(log) == 2
    first, second = log
    assert first["method"] == "POST"
    assert first["path"] == "/compatible-mode/v1/chat/completions"
    assert first["query"] == {"x": "1"}
    assert first["headers"]["authorization"] == "Bearer sk-anything"
    assert first["headers"]["x-dashscope-ossresourceresolve"] == "enable"
    assert first["json"]["messages"][0]["content"] == "logged"
    assert first["body_text"] is None
    assert first["body_size"] == int(first["headers"]["content-length"])
    assert second["json"] is None
    assert second["body_text"] == "\ufffdnot json"
    assert second["body_size"] == 9
    assert client.get(f"{srv.url}/_control/requests").json() == log
    client.post(f"{srv.url}/_control/reset")
    assert srv.requests == []


def test_temporary_upload_policy_and_oss_form(srv: FakeServer, client: httpx.Client) -> None:
    policy = client.get(
        f"{srv.url}/api/v1/uploads", params={"action": "getPolicy", "model": "qwen-vl-max"}
    ).json()
    data = policy["data"]
    assert policy["request_id"]
    assert data["upload_host"] == f"{srv.url}/oss"
    assert data["upload_dir"] == "dashscope-instant/abc/2026-11-22/xyz"
    fields = {
        "OSSAccessKeyId": data["oss_access_key_id"],
        "Signature": data["signature"],
        "policy": data["policy"],
        "key": f"{data['upload_dir']}/cat.png",
        "x-oss-object-acl": data["x_oss_object_acl"],
        "x-oss-forbid-overwrite": data["x_oss_forbid_overwrite"],
        "success_action_status": "200",
        "x-oss-content-type": "image/png",
    }
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40 + b"\r\n--\r\n"
    with httpx.Client(trust_env=False) as no_auth:  # OSS gets no Bearer key
        resp = no_auth.post(data["upload_host"], data=fields, files={"file": ("cat.png", png, "image/png")})
    assert (resp.status_code, resp.content) == (200, b"")
    entry = srv.requests[-1]
    assert entry["path"] == "/oss"
    assert "authorization" not in entry["headers"]
    assert entry["form"] == {
        **fields,
        "file": {"filename": "cat.png", "size": len(png), "content_type": "image/png"},
    }
    assert "OSSAccessKeyId" in entry["body_text"]


def test_parse_multipart_keeps_binary_exact() -> None:
    payload = bytes(range(256)) * 3 + b"\r\n\r\n--boundary-ish\n\r"
    req = httpx.Request("POST", "http://x/", data={"purpose": "batch"}, files={"file": ("a.bin", payload)})
    parts = parse_multipart(req.headers["content-type"], req.read())
    by_name = {p["name"]: p for p in parts}
    assert by_name["file"]["data"] == payload
    assert by_name["file"]["filename"] == "a.bin"
    assert by_name["purpose"]["data"] == b"batch"
    assert by_name["purpose"]["filename"] is None


# --- files ------------------------------------------------------------------------------------


def test_files_crud(srv: FakeServer, client: httpx.Client) -> None:
    content = "第一行\nline two\n".encode()
    up = client.post(
        f"{srv.base_url}/files",
        data={"purpose": "file-extract"},
        files={"file": ("notes.txt", content, "text/plain")},
    )
    assert up.status_code == 200
    meta = up.json()
    assert meta["id"].startswith("file-fe-")
    assert meta["object"] == "file"
    assert meta["bytes"] == len(content)
    assert meta["filename"] == "notes.txt"
    assert meta["purpose"] == "file-extract"
    assert meta["status"] == "processed"
    assert isinstance(meta["created_at"], int)
    assert srv.requests[-1]["form"]["purpose"] == "file-extract"
    assert srv.requests[-1]["form"]["file"]["size"] == len(content)

    listing = client.get(f"{srv.base_url}/files").json()
    assert listing == {"object": "list", "data": [meta]}
    assert client.get(f"{srv.base_url}/files/{meta['id']}").json() == meta
    assert client.get(f"{srv.base_url}/files/{meta['id']}/content").content == content
    deleted = client.delete(f"{srv.base_url}/files/{meta['id']}")
    assert deleted.json() == {"id": meta["id"], "object": "file", "deleted": True}
    assert client.get(f"{srv.base_url}/files").json()["data"] == []
    for resp in (
        client.get(f"{srv.base_url}/files/{meta['id']}"),
        client.delete(f"{srv.base_url}/files/file-fe-unknown"),
    ):
        assert resp.status_code == 404
        assert "error" in resp.json()
    bad = client.post(f"{srv.base_url}/files", files={"file": ("a.txt", b"x")})
    assert bad.status_code == 400


# --- builders ---------------------------------------------------------------------------------


def test_builders() -> None:
    events = chat_stream_events(["Hi"], reasoning_pieces=["hm"], id="chatcmpl-1", model="qwq-plus")
    assert [e["id"] for e in events] == ["chatcmpl-1"] * len(events)
    assert events[-1]["choices"] == []
    assert events[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 1}
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    no_usage = chat_stream_events(["a"], include_usage=False)
    assert all(e["choices"] for e in no_usage)
    custom = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert chat_stream_events(["a"], usage=custom)[-1]["usage"] == custom
    body = chat_completion("hello", model="qwen-plus", reasoning="r")
    assert body["choices"][0]["message"]["reasoning_content"] == "r"
    assert body["id"].startswith("chatcmpl-")
    err = error_body("nope", "invalid_api_key", request_id="rid")
    assert err == {
        "error": {
            "message": "nope",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        },
        "request_id": "rid",
    }
    assert error_body("m", "Arrearage")["error"]["type"] == "Arrearage"


# --- robustness -------------------------------------------------------------------------------


def test_client_disconnect_mid_stream_is_quiet(
    srv: FakeServer, client: httpx.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    body = {
        "model": "fake-slow",
        "stream": True,
        "messages": [{"role": "user", "content": "x" * 200}],
    }
    for _ in range(3):
        with client.stream("POST", f"{srv.base_url}/chat/completions", json=body) as resp:
            next(resp.iter_raw())
    time.sleep(0.3)  # let the server hit the broken pipe
    assert chat(client, srv.base_url).json()["choices"][0]["message"]["content"] == "echo: hello"
    out, err = capfd.readouterr()
    assert "Traceback" not in err + out
    assert srv.errors == []


def test_concurrent_requests(srv: FakeServer) -> None:
    # A wide margin, so a loaded machine cannot fail it: serialised, 8 x 1 s would take 8 s.
    srv.enqueue({"json": {"ok": True}, "delay_before": 1.0, "repeat": 8})
    results: list[int] = []

    def one() -> None:
        with httpx.Client(trust_env=False, headers=AUTH) as c:
            results.append(c.get(f"{srv.base_url}/models").status_code)

    start = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8
    assert time.monotonic() - start < 6


def test_stop_interrupts_delays_and_open_connections() -> None:
    server = FakeServer().start()
    server.enqueue({"json": {}, "delay_before": 30})
    errors: list[BaseException] = []

    def call() -> None:
        with httpx.Client(trust_env=False, headers=AUTH) as c:
            try:
                c.get(f"{server.base_url}/models")
            except httpx.HTTPError as exc:
                errors.append(exc)

    t = threading.Thread(target=call)
    t.start()
    server.wait_for_requests(1)
    start = time.monotonic()
    server.stop()
    t.join(5)
    assert not t.is_alive()
    assert time.monotonic() - start < 5


# --- subprocess -------------------------------------------------------------------------------


def test_subprocess_prints_port_and_serves() -> None:
    with FakeServerProcess("--api-key", "sk-test") as proc_srv:
        assert proc_srv.port > 0
        with httpx.Client(trust_env=False, headers={"Authorization": "Bearer sk-test"}) as c:
            resp = chat(c, proc_srv.base_url, "sub", stream=True)
            assert (
                "".join(json.loads(d)["choices"][0]["delta"]["content"] for d in sse_data(resp.content)[1:-2])
                == "echo: sub"
            )
            proc_srv.enqueue({"match": "/models", "status": 503, "json": error_body("busy", "x")})
            assert c.get(f"{proc_srv.base_url}/models").status_code == 503
            assert (
                c.get(f"{proc_srv.base_url}/models", headers={"Authorization": "Bearer no"}).status_code
                == 401
            )
        log = proc_srv.requests()
        assert [r["path"] for r in log] == ["/compatible-mode/v1/chat/completions"] + [
            "/compatible-mode/v1/models"
        ] * 2
        proc_srv.reset()
        assert proc_srv.requests() == []
        assert proc_srv.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_subprocess_first_line_and_clean_exit(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(FAKESERVER), "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        port = wait_for_port(proc)
        with httpx.Client(trust_env=False) as c:
            assert c.get(f"http://127.0.0.1:{port}/compatible-mode/v1/models").status_code == 401
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert out == b""  # nothing after the PORT line (already consumed)
    assert err == b""
