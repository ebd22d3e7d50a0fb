"""The installed `qwen`: a stored key reaches only the hosts the user chose (the server's log says so)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServerProcess

pytestmark = needs_qwen
STORED = "sk-test-stored-key-00000000abcd"
DOTENV_KEY = "sk-test-dotenv-key-1111111efgh"


def qwen(cwd: Path, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QWEN, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(**extra),
        timeout=60,
    )


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """`qwen auth login --with-key-stdin --no-verify` done; returns a fresh project directory."""
    r = qwen(tmp_path, "auth", "login", "--with-key-stdin", "--no-verify", stdin=STORED + "\n")
    assert r.returncode == 0, r.stderr
    project = tmp_path / "cloned-repo"
    project.mkdir()
    return project


def bearers(srv: FakeServerProcess) -> list[str]:
    return [r["headers"].get("authorization", "") for r in srv.requests()]


@pytest.mark.parametrize("var", ["QWEN_BASE_URL", "QWEN_BASE_URL_CN"])
def test_a_dotenv_base_url_never_receives_the_stored_key(
    srv: FakeServerProcess, stored: Path, var: str
) -> None:
    (stored / ".env").write_text(f"{var}={srv.base_url}\n", encoding="utf-8")
    r = qwen(stored, "complete", "hi")
    assert r.returncode == 2
    assert srv.requests() == []  # the server received nothing at all
    assert r.stdout == ""
    host = f"127.0.0.1:{srv.port}"
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith(f"qwen: error: {stored / '.env'} sets the base URL to {host}, which would")
    assert lines[1].startswith("hint: ") and f'allowed_hosts = ["{host}"]' in lines[1]
    assert STORED not in r.stderr and STORED[:-4] not in r.stderr
    # `qwen chat` goes through the same resolve: nothing sent either
    r = qwen(stored, "chat", stdin="hi\n")
    assert r.returncode == 2 and srv.requests() == []


def test_the_hosts_the_user_chose_do_receive_it(srv: FakeServerProcess, stored: Path, tmp_path: Path) -> None:
    host = f"127.0.0.1:{srv.port}"
    r = qwen(stored, "complete", "hi", "--base-url", srv.base_url)  # typed by the user: theirs
    assert (r.returncode, r.stdout) == (0, "echo: hi\n"), r.stderr
    assert bearers(srv) == [f"Bearer {STORED}"]

    (stored / ".env").write_text(f"QWEN_BASE_URL={srv.base_url}\n", encoding="utf-8")
    config_dir = Path(clean_env()["QWEN_CONFIG_DIR"])
    (config_dir / "config.toml").write_text(f'allowed_hosts = ["{host}"]\n', encoding="utf-8")
    r = qwen(stored, "complete", "hi again")  # approved in the user's own config file
    assert (r.returncode, r.stdout) == (0, "echo: hi again\n"), r.stderr
    assert bearers(srv) == [f"Bearer {STORED}"] * 2


def test_a_dotenv_key_may_go_to_the_dotenv_host_but_the_stored_one_never(
    srv: FakeServerProcess, stored: Path
) -> None:
    (stored / ".env").write_text(
        f"DASHSCOPE_API_KEY={DOTENV_KEY}\nQWEN_BASE_URL={srv.base_url}\n", encoding="utf-8"
    )
    r = qwen(stored, "complete", "hi")
    assert (r.returncode, r.stdout) == (0, "echo: hi\n"), r.stderr
    assert bearers(srv) == [f"Bearer {DOTENV_KEY}"]


def test_an_exported_key_is_protected_like_a_stored_one(srv: FakeServerProcess, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"QWEN_BASE_URL={srv.base_url}\n", encoding="utf-8")
    r = qwen(tmp_path, "complete", "hi", DASHSCOPE_API_KEY=STORED)
    assert r.returncode == 2 and srv.requests() == []
    assert "which would receive your API key" in r.stderr


@pytest.mark.parametrize("url", ["localhost:{port}/v1", "127.0.0.1:{port}/compatible-mode/v1", "ftp://x/v1"])
def test_a_base_url_without_http_scheme_is_one_error(
    srv: FakeServerProcess, tmp_path: Path, url: str
) -> None:
    url = url.format(port=srv.port)
    r = qwen(tmp_path, "complete", "hi", "--base-url", url, DASHSCOPE_API_KEY=STORED)
    assert r.returncode == 2 and r.stdout == "" and srv.requests() == []
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith(f"qwen: error: the base URL {url!r} (from --base-url) ")
    assert lines[1] == "hint: give a full URL with its scheme, e.g. --base-url http://localhost:8000/v1"


def test_http_off_loopback_is_refused_before_connecting(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) would hang if qwen tried to connect: it must not even try.
    r = qwen(tmp_path, "complete", "hi", "--base-url", "http://192.0.2.1/v1", DASHSCOPE_API_KEY=STORED)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "qwen: error: the base URL http://192.0.2.1/v1 (from --base-url) is plain http: "
        "your API key would cross the network in clear",
        "hint: use https://, or set QWEN_ALLOW_HTTP=1 if you accept that (e.g. a trusted LAN)",
    ]


def test_a_redirect_is_named_and_not_followed(srv: FakeServerProcess, tmp_path: Path) -> None:
    target = "https://elsewhere.example/v1/chat/completions"
    srv.enqueue({"match": "/chat/completions", "status": 302, "headers": {"Location": target}})
    r = qwen(tmp_path, "complete", "hi", "--base-url", srv.base_url, DASHSCOPE_API_KEY=STORED)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith(f"qwen: error: the server redirected to {target}; not followed (request id ")
    assert (
        lines[1]
        == "hint: qwen never sends your key on to another address; if you trust it, use it as --base-url"
    )
    assert len(srv.requests()) == 1  # not retried, not followed
