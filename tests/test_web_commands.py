"""The qwen-web provider through every command: auth login/status, models, upload, complete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_qwenweb import FakeQwenWeb
from tests.samples import png

TOKEN = "tok-test-commands-0123456789"
COOKIE = "sid=commands-test-cookie; token=tok-test-commands-0123456789"


@pytest.fixture
def srv() -> Iterator[FakeQwenWeb]:
    with FakeQwenWeb(TOKEN, COOKIE) as server:
        server.start()
        yield server


@pytest.fixture
def logged_in(srv: FakeQwenWeb, run_cli, monkeypatch: pytest.MonkeyPatch) -> FakeQwenWeb:
    monkeypatch.setenv("QWEN_WEB_OSS_ENDPOINT", srv.oss_endpoint)
    r = run_cli(
        "auth",
        "login",
        "--provider",
        "qwen-web",
        "--base-url",
        srv.base_url,
        "--with-key-stdin",
        stdin=f"{TOKEN}\n{COOKIE}\n".encode(),
    )
    assert r.code == 0, r.err
    assert "not checked" in r.err and TOKEN not in r.err + r.out and COOKIE not in r.err + r.out
    return srv


def test_login_makes_qwen_web_the_default_and_status_says_so(
    logged_in: FakeQwenWeb, run_cli, isolated_env: Path
) -> None:
    stored = json.loads((isolated_env / "config" / "credentials.json").read_text())
    assert stored["qwen-web"]["default"] is True and stored["qwen-web"]["base_url"] == logged_in.base_url
    r = run_cli("auth", "status")
    assert r.code == 0
    assert "provider  qwen-web" in r.out and logged_in.base_url in r.out
    assert "check     not possible" in r.out
    assert TOKEN not in r.out + r.err and COOKIE not in r.out + r.err


def test_complete_uses_the_stored_provider(logged_in: FakeQwenWeb, run_cli) -> None:
    r = run_cli("complete", "hello web")
    assert r.code == 0 and r.out == "echo: hello web\n"
    req = logged_in.requests[-1]
    assert req["path"] == "/api/chat/completions"
    assert req["headers"]["authorization"] == f"Bearer {TOKEN}" and req["headers"]["cookie"] == COOKIE


def test_dashscope_login_takes_the_default_back(logged_in: FakeQwenWeb, run_cli) -> None:
    r = run_cli("auth", "login", "--with-key-stdin", stdin=b"only-one-line\n")
    assert r.code == 2 and "--provider qwen-web --with-key-stdin" in r.err  # a bare login follows the default
    r = run_cli(
        "auth",
        "login",
        "--provider",
        "dashscope",
        "--with-key-stdin",
        "--no-verify",
        stdin=b"sk-test-dashscope-key-0000\n",
    )
    assert r.code == 0, r.err
    assert "provider  dashscope" in run_cli("auth", "status", "--offline").out


def test_models_lists_the_catalogue_and_says_nothing_was_fetched(logged_in: FakeQwenWeb, run_cli) -> None:
    before = len(logged_in.requests)
    r = run_cli("models")
    assert r.code == 0 and "qwen-max-latest" in r.out
    assert "qwen-web catalogue" in r.err and "not an answer from the server" in r.err
    assert len(logged_in.requests) == before


def test_upload_image_with_a_question(logged_in: FakeQwenWeb, run_cli, tmp_path: Path) -> None:
    img = tmp_path / "cat.png"
    img.write_bytes(png(20, 20))
    r = run_cli("upload", str(img), "--ask", "ini gambar apa?")
    assert r.code == 0, r.err
    assert r.out == "echo: ini gambar apa? [1 image(s)]\n"
    sts = [q for q in logged_in.requests if q["path"].endswith("/getstsToken")]
    assert sts and sts[-1]["json"] == {
        "filename": "cat.png",
        "filesize": len(png(20, 20)),
        "filetype": "image",
    }
    assert len(logged_in.objects) == 1  # the signed PUT reached storage
    chat = logged_in.requests[-1]["json"]
    blocks = chat["messages"][-1]["content"]
    assert blocks[0] == {"type": "text", "text": "ini gambar apa?"}
    assert blocks[1]["type"] == "image" and "cat.png" in blocks[1]["image"]


def test_upload_only_prints_urls_and_refuses_documents(
    logged_in: FakeQwenWeb, run_cli, tmp_path: Path
) -> None:
    img = tmp_path / "a.png"
    img.write_bytes(png(12, 12))
    r = run_cli("upload", str(img))
    assert r.code == 0 and r.out.startswith(logged_in.oss_endpoint) and r.out.count("\n") == 1
    doc = tmp_path / "notes.md"
    doc.write_text("hello", encoding="utf-8")
    n = len(logged_in.requests)
    r = run_cli("upload", str(doc), "--ask", "summarize")
    assert r.code == 2 and "takes images only" in r.err and len(logged_in.requests) == n
    r = run_cli("upload", "--list")
    assert r.code == 2 and "dashscope provider" in r.err
