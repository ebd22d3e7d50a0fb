"""The fake chat.qwen.ai refuses what the real one would, so passing tests mean something."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fake_qwenweb import FakeQwenWeb

GOOD = {
    "stream": True,
    "model": "qwen-max-latest",
    "incremental_output": True,
    "messages": [
        {
            "role": "user",
            "content": "hi",
            "chat_type": "t2t",
            "feature_config": {"thinking_enabled": False, "thinking_budget": None, "output_schema": None},
            "extra": {},
        }
    ],
}


@pytest.fixture
def srv() -> Iterator[FakeQwenWeb]:
    with FakeQwenWeb("tok-test", "sid=1", send_done=True) as server:
        yield server
    assert not server.errors


def post(
    srv: FakeQwenWeb, path: str, body: Any, auth: str = "Bearer tok-test", cookie: str = "sid=1"
) -> tuple[int, bytes]:
    req = urllib.request.Request(srv.url + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", auth)
    req.add_header("Cookie", cookie)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_answers_on_both_paths_and_ends_as_configured(srv: FakeQwenWeb) -> None:
    for path in ("/api/chat/completions", "/api/v2/chat/completions"):
        status, body = post(srv, path, GOOD)
        assert status == 200 and b'"status":"finished"' in body and body.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    "auth, cookie", [("Bearer Bearer tok-test", "sid=1"), ("tok-test", "sid=1"), ("Bearer tok-test", "sid=2")]
)
def test_refuses_bad_credentials(srv: FakeQwenWeb, auth: str, cookie: str) -> None:
    status, body = post(srv, "/api/chat/completions", GOOD, auth, cookie)
    assert status == 401 and json.loads(body)["data"]["code"] == "Unauthorized"


@pytest.mark.parametrize(
    "change",
    [
        {"incremental_output": False},
        {"messages": []},
        {"messages": [{**GOOD["messages"][0], "role": "tool"}]},
        {"messages": [{k: v for k, v in GOOD["messages"][0].items() if k != "chat_type"}]},
        {"messages": [{**GOOD["messages"][0], "content": [{"type": "image", "image": "None"}]}]},
    ],
)
def test_refuses_bodies_not_in_the_librarys_shape(srv: FakeQwenWeb, change: dict[str, Any]) -> None:
    status, body = post(srv, "/api/chat/completions", {**GOOD, **change})
    assert status == 400 and json.loads(body)["data"]["code"] == "Bad_Request"


def test_sts_validates_and_wraps_on_v2(srv: FakeQwenWeb) -> None:
    status, _ = post(
        srv, "/api/v1/files/getstsToken", {"filename": "a.png", "filesize": "3", "filetype": "image"}
    )
    assert status == 400
    status, body = post(
        srv, "/api/v2/files/getstsToken", {"filename": "a.png", "filesize": 3, "filetype": "image"}
    )
    answer = json.loads(body)
    assert status == 200 and answer["success"] is True and answer["data"]["bucketname"] == "qwen-webui-fake"
