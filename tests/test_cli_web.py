"""`qwen complete --provider qwen-web` through the real error boundary, against the fake site."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_cli import config, credentials
from qwen_cli.cli.web_login import hidden_input, login_web
from qwen_cli.errors import UsageError
from tests.fake_qwenweb import FakeQwenWeb

TOKEN = "tok-test-cli-0123456789abcdef"
COOKIE = "cna=cli-cookie-value; token=tok-test-cli-0123456789abcdef"


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeQwenWeb]:
    from qwen_cli.client import Qwen

    monkeypatch.setattr(Qwen, "sleep", staticmethod(lambda s: None))  # every client the CLI makes
    with FakeQwenWeb(TOKEN, COOKIE) as server:
        yield server
    assert not server.errors


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("QWEN_COOKIE", COOKIE)


def web(srv: FakeQwenWeb, *args: str) -> tuple[str, ...]:
    return ("complete", "--provider", "qwen-web", "--base-url", srv.base_url, *args)


def one_error(err: str) -> tuple[str, str]:
    lines = [x for x in err.splitlines() if x.startswith(("qwen: error:", "hint:"))]
    assert len(lines) == 2 and "Traceback" not in err, err
    return lines[0], lines[1]


def test_pipe_gets_exactly_the_answer(run_cli, srv, creds) -> None:
    r = run_cli(*web(srv, "hello world", "-s", "be brief"))
    assert r.code == 0, r.err
    assert r.out == "echo: hello world\n"
    assert "qwen-max-latest" in r.err and " in " in r.err and " out " in r.err
    req = srv.requests[-1]
    assert req["path"] == "/api/chat/completions"
    assert req["headers"]["authorization"] == f"Bearer {TOKEN}" and req["headers"]["cookie"] == COOKIE
    assert req["json"]["model"] == "qwen-max-latest" and req["json"]["stream"] is True
    assert [m["role"] for m in req["json"]["messages"]] == ["system", "user"]


def test_thinking_and_sources_stay_off_stdout(run_cli, srv, creds) -> None:
    r = run_cli(*web(srv, "--think", "--search", "what is qwen?"))
    assert r.code == 0, r.err
    assert r.out == "echo: what is qwen?\n"  # no thinking, no sources in a pipe
    assert (
        "[1] Qwen - Example - https://example.com/qwen\n[2] What is an LLM? - https://example.org/llm\n"
        in r.err
    )
    last = srv.requests[-1]["json"]["messages"][-1]
    assert last["chat_type"] == "search" and last["feature_config"]["thinking_enabled"] is True


def test_no_stream_and_json(run_cli, srv, creds) -> None:
    r = run_cli(*web(srv, "--no-stream", "--think", "hi"))
    assert r.code == 0 and r.out == "echo: hi\n"
    assert srv.requests[-1]["json"]["stream"] is True
    r = run_cli(*web(srv, "--json", "--think", "--search", "hi"))
    out = json.loads(r.out)
    assert out["content"] == "echo: hi" and out["reasoning"] == "Thinking about: hi"
    assert [s["url"] for s in out["sources"]] == ["https://example.com/qwen", "https://example.org/llm"]
    assert out["usage"]["total_tokens"] > 0


def test_provider_from_the_environment(run_cli, srv, creds, monkeypatch) -> None:
    monkeypatch.setenv("QWEN_PROVIDER", "qwen-web")
    monkeypatch.setenv("QWEN_BASE_URL", srv.base_url)
    r = run_cli("complete", "-m", "qwen3-32b", "env")
    assert r.code == 0 and r.out == "echo: env\n" and srv.requests[-1]["json"]["model"] == "qwen3-32b"


def test_provider_saved_by_login(run_cli, srv, isolated_env) -> None:
    login_web(isolated_env / "config", token="Bearer " + TOKEN, cookie=COOKIE)
    r = run_cli("complete", "--base-url", srv.base_url, "saved")
    assert r.code == 0, r.err
    assert r.out == "echo: saved\n" and srv.requests[-1]["headers"]["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("missing", ["QWEN_AUTH_TOKEN", "QWEN_COOKIE"])
def test_missing_credentials_say_so_before_sending(run_cli, srv, creds, monkeypatch, missing) -> None:
    monkeypatch.delenv(missing)
    r = run_cli(*web(srv, "hi"))
    assert r.code == 3 and r.out == ""
    error, hint = one_error(r.err)
    assert error == f"qwen: error: no chat.qwen.ai {'token' if missing == 'QWEN_AUTH_TOKEN' else 'cookie'}"
    assert "qwen auth login --provider qwen-web" in hint and not srv.requests


@pytest.mark.parametrize(
    "model, code, error, hint",
    [
        ("fake-limit", 4, "upper limit for today's usage. (try again in 5 hours", "in 5 hours"),
        ("fake-429", 4, "(gave up after 2 retries)", "try again"),
        ("fake-auth200", 3, "Token has expired, please log in again.", "qwen auth login --provider qwen-web"),
        ("fake-waf", 3, "asked for a browser check", "pass the check"),
        ("fake-nochoices", 1, 'without `choices`: {"unexpected": "shape"}', "protocol"),
    ],
)
def test_errors_exit_codes(run_cli, srv, creds, model, code, error, hint) -> None:
    r = run_cli(*web(srv, "-m", model, "hi"))
    assert r.code == code and r.out == ""
    line, hint_line = one_error(r.err)
    assert error in line and hint in hint_line


def test_refused_credentials(run_cli, srv, creds, monkeypatch) -> None:
    monkeypatch.setenv("QWEN_COOKIE", "cna=stale-cookie")
    r = run_cli(*web(srv, "hi"))
    assert r.code == 3
    line, hint = one_error(r.err)
    assert "Token has expired" in line and "qwen auth login --provider qwen-web" in hint


@pytest.mark.parametrize("flag", [(), ("--no-stream",)])
def test_cut_stream_keeps_the_partial(run_cli, srv, creds, flag) -> None:
    r = run_cli(*web(srv, "-m", "fake-cut", *flag, "hi"))
    assert r.code == 6 and r.out == "The first half\n"
    line, _ = one_error(r.err)
    assert "the answer stream broke off after 14 characters" in line


def test_429_then_answer(run_cli, srv, creds) -> None:
    srv.enqueue(
        {
            "status": 429,
            "json": {"success": False, "data": {"code": "RateLimited"}},
            "headers": {"Retry-After": "0"},
        }
    )
    r = run_cli(*web(srv, "again"))
    assert r.code == 0 and r.out == "echo: again\n" and len(srv.requests) == 2


def test_option_without_a_field_is_refused(run_cli, srv, creds) -> None:
    r = run_cli(*web(srv, "--seed", "1", "hi"))
    assert r.code == 2 and not srv.requests
    assert one_error(r.err)[0] == "qwen: error: chat.qwen.ai has no setting for seed"


def test_debug_masks_token_and_cookie(run_cli, srv, creds) -> None:
    r = run_cli(*web(srv, "--debug", "-m", "fake-auth200", "hi"))
    assert r.code == 3
    assert TOKEN not in r.err and COOKIE not in r.err and "cli-cookie-value" not in r.err
    assert "Bearer ...cdef" in r.err and f"<{len(COOKIE)} characters, masked>" in r.err


def test_errors_never_show_the_token_or_cookie(run_cli, srv, creds) -> None:
    echoed = {
        "success": False,
        "data": {"code": "Unauthorized", "details": f"bad token {TOKEN} for {COOKIE}"},
    }
    srv.enqueue({"status": 401, "json": echoed})
    r = run_cli(*web(srv, "hi"))
    line, _ = one_error(r.err)
    assert (
        r.code == 3 and TOKEN not in r.err and "cli-cookie-value" not in r.err and "bad token ...cdef" in line
    )


def test_a_cookie_containing_the_token_is_masked_whole() -> None:
    from qwen_cli.redact import scrub

    assert "cli-cookie-value" not in scrub(f"cookie {COOKIE}", [TOKEN, COOKIE])


# --------------------------------------------------------------------------- settings and login


def test_settings_for_qwen_web(isolated_env, monkeypatch) -> None:
    s = config.resolve({"provider": "qwen-web"})
    assert (s.base_url, s.model, s.api_key, s.cookie) == (
        "https://chat.qwen.ai",
        "qwen-max-latest",
        None,
        None,
    )
    monkeypatch.setenv("QWEN_WEB_OSS_ENDPOINT", "http://127.0.0.1:9/oss")
    s = config.resolve({"provider": "qwen-web", "model": "qwq-32b"})
    assert s.model == "qwq-32b" and s.oss_endpoint == "http://127.0.0.1:9/oss"
    assert config.resolve().provider == "dashscope"


def test_login_stores_hidden_values_and_becomes_default(isolated_env, capsys) -> None:
    cdir = isolated_env / "config"
    credentials.save(cdir, {"dashscope": {"api_key": "sk-test-x", "default": True}})
    asked: list[str] = []

    def ask(label: str) -> str:
        asked.append(label)
        return "  Bearer " + TOKEN + "\n" if "token" in label else "Cookie: " + COOKIE

    path = login_web(cdir, ask=ask)
    assert len(asked) == 2 and all("hidden" in a for a in asked)
    data = json.loads(path.read_text())
    assert data["qwen-web"] == {"token": TOKEN, "cookie": COOKIE, "default": True}
    assert data["dashscope"] == {"api_key": "sk-test-x"}
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    err = capsys.readouterr().err
    assert TOKEN not in err and COOKIE not in err and "...cdef" in err
    s = config.resolve()
    assert (s.provider, s.api_key, s.cookie, s.source("provider")) == (
        "qwen-web",
        TOKEN,
        COOKIE,
        "credentials file",
    )
    assert config.resolve({"provider": "dashscope"}).api_key == "sk-test-x"


@pytest.mark.parametrize(
    "token, cookie, text",
    [
        ("", COOKIE, "no token"),
        ("a b", COOKIE, "spaces"),
        (TOKEN, "", "no cookie"),
        (TOKEN, "no-equals", "cookie"),
    ],
)
def test_login_refuses_bad_values(isolated_env, token, cookie, text) -> None:
    with pytest.raises(UsageError, match=text):
        login_web(isolated_env / "config", token=token, cookie=cookie)
    assert not credentials.path_in(isolated_env / "config").exists()


def test_hidden_input_reads_a_line_from_a_pipe(monkeypatch, capsys) -> None:
    class Pipe(io.StringIO):
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr("sys.stdin", Pipe("secret-value\nnext\n"))
    assert hidden_input("token: ") == "secret-value"
    assert "secret-value" not in capsys.readouterr().err


def test_login_file_is_only_written_once_values_are_good(isolated_env) -> None:
    cdir = isolated_env / "config"
    path = login_web(cdir, token=TOKEN, cookie=COOKIE, make_default=False)
    assert json.loads(Path(path).read_text())["qwen-web"] == {"token": TOKEN, "cookie": COOKIE}
    assert config.resolve().provider == "dashscope"
