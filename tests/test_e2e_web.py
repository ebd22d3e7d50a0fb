"""The installed `qwen` with --provider qwen-web against the fake chat.qwen.ai in a subprocess."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_cli.cli.web_login import login_web
from tests.e2e import QWEN, needs_qwen
from tests.fake_qwenweb import FakeQwenWebProcess
from tests.test_e2e import ANSI, run_in_pty

TOKEN = "tok-test-e2e-0123456789abcdef"
COOKIE = "cna=e2e-cookie-value; token=tok-test-e2e-0123456789abcdef"

pytestmark = needs_qwen


@pytest.fixture(scope="module")
def server() -> Iterator[FakeQwenWebProcess]:
    with FakeQwenWebProcess("--token", TOKEN, "--cookie", COOKIE) as srv:
        yield srv


@pytest.fixture
def srv(server: FakeQwenWebProcess) -> FakeQwenWebProcess:
    server.reset()
    return server


def qwen(srv: FakeQwenWebProcess, *args: str, **extra: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_", "DASHSCOPE_"))}
    env.update(
        {k: os.environ[k] for k in ("QWEN_CONFIG_DIR", "QWEN_DATA_DIR", "QWEN_CACHE_DIR")},
        QWEN_AUTH_TOKEN=TOKEN,
        QWEN_COOKIE=COOKIE,
    )
    env.update(extra)
    env = {k: v for k, v in env.items() if v}
    cmd = [QWEN, "complete", "--provider", "qwen-web", "--base-url", srv.base_url, *args]
    return subprocess.run(cmd, capture_output=True, env=env, timeout=60, stdin=subprocess.DEVNULL)


def test_streams_over_real_sockets(srv: FakeQwenWebProcess) -> None:
    p = qwen(srv, "hello there", "-m", "qwen3-32b")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"echo: hello there\n"
    assert "qwen3-32b" in p.stderr.decode() and " out " in p.stderr.decode()
    req = srv.requests()[-1]
    assert req["headers"]["authorization"] == f"Bearer {TOKEN}" and req["headers"]["cookie"] == COOKIE
    assert req["json"]["messages"][0]["chat_type"] == "t2t" and req["json"]["incremental_output"] is True


def test_thinking_and_sources_in_a_pipe(srv: FakeQwenWebProcess) -> None:
    p = qwen(srv, "--think", "--search", "是什么")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == "echo: 是什么\n"
    err = p.stderr.decode()
    assert "Thinking about" not in err
    assert "[1] Qwen - Example - https://example.com/qwen" in err and "[2] What is an LLM?" in err


def test_no_stream(srv: FakeQwenWebProcess) -> None:
    p = qwen(srv, "--no-stream", "whole")
    assert p.returncode == 0 and p.stdout == b"echo: whole\n"


@pytest.mark.parametrize(
    "model, code, text, out",
    [
        ("fake-limit", 4, "try again in 5 hours", b""),
        ("fake-waf", 3, "asked for a browser check", b""),
        ("fake-auth200", 3, "Token has expired", b""),
        ("fake-nochoices", 1, "without `choices`", b""),
        ("fake-cut", 6, "the answer stream broke off after 14 characters", b"The first half\n"),
    ],
)
def test_errors_and_exit_codes(srv: FakeQwenWebProcess, model: str, code: int, text: str, out: bytes) -> None:
    p = qwen(srv, "-m", model, "hi")
    err = p.stderr.decode()
    assert p.returncode == code, err
    assert p.stdout == out and text in err and "\nhint: " in err and "Traceback" not in err


def test_missing_cookie_fails_before_sending(srv: FakeQwenWebProcess) -> None:
    p = qwen(srv, "hi", QWEN_COOKIE="")
    assert p.returncode == 3
    assert p.stderr.decode().startswith("qwen: error: no chat.qwen.ai cookie\nhint: ")
    assert srv.requests() == []


def test_rate_limit_retried_then_answered(srv: FakeQwenWebProcess) -> None:
    limited = {"success": False, "data": {"code": "RateLimited", "details": "slow down"}}
    srv.enqueue({"status": 429, "json": limited, "headers": {"Retry-After": "0"}})
    p = qwen(srv, "again")
    assert p.returncode == 0 and p.stdout == b"echo: again\n" and len(srv.requests()) == 2


def test_debug_masks_token_and_cookie(srv: FakeQwenWebProcess) -> None:
    p = qwen(srv, "--debug", "-m", "fake-auth200", "hi")
    err = p.stderr.decode()
    assert p.returncode == 3
    assert TOKEN not in err and "e2e-cookie-value" not in err and "Bearer ...cdef" in err


def test_terminal_shows_thinking_apart(srv: FakeQwenWebProcess) -> None:
    # The provider comes from the credentials file written by the login helper.
    login_web(Path(os.environ["QWEN_CONFIG_DIR"]), token=TOKEN, cookie=COOKIE)
    raw = run_in_pty(srv, "complete", "--think", "-q", "hi")  # type: ignore[arg-type]
    text = ANSI.sub("", raw.decode())
    assert "Thinking about: hi" in text and "echo: hi" in text
    assert text.index("Thinking about: hi") < text.index("echo: hi")
    assert b"\x1b[2mThin\x1b[0m\x1b[2mking" in raw  # dim, not the answer's style
    assert b"\x1b[2mecho" not in raw
