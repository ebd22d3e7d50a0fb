"""Key checks in other regions (`auth status`, `auth login`) skip base URLs a .env chose."""

from __future__ import annotations

from pathlib import Path

import httpx
import respx

from qwen_cli import config, credentials
from qwen_cli.providers.dashscope import REGIONS

KEY = "sk-test-stored-000000000000abcd"
DOTENV_URL = "http://127.0.0.1:9/v1"
INVALID = {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}}


@respx.mock
def test_status_never_tries_the_key_at_a_dotenv_region_url(run_cli) -> None:  # type: ignore[no-untyped-def]
    credentials.update(config.config_dir(), "dashscope", {"api_key": KEY, "region": "cn"})
    Path(".env").write_text(f"QWEN_BASE_URL_INTL={DOTENV_URL}\n", encoding="utf-8")
    cn = respx.get(REGIONS["cn"] + "/models").mock(return_value=httpx.Response(401, json=INVALID))
    us = respx.get(REGIONS["us"] + "/models").mock(return_value=httpx.Response(401, json=INVALID))
    trap = respx.get(DOTENV_URL + "/models").mock(return_value=httpx.Response(200, json={"data": []}))
    r = run_cli("auth", "status")
    assert r.code == 3
    assert (cn.call_count, us.call_count, trap.call_count) == (1, 1, 0)


@respx.mock
def test_login_never_checks_a_new_key_at_a_dotenv_region_url(run_cli) -> None:  # type: ignore[no-untyped-def]
    Path(".env").write_text(f"QWEN_BASE_URL_CN={DOTENV_URL}\n", encoding="utf-8")
    trap = respx.get(DOTENV_URL + "/models").mock(return_value=httpx.Response(200, json={"data": []}))
    r = run_cli("auth", "login", "--with-key-stdin", stdin=f"{KEY}\n".encode())
    assert r.code == 2 and trap.call_count == 0
    assert r.err.splitlines() == [
        f"qwen: error: {Path.cwd() / '.env'} sets QWEN_BASE_URL_CN: your key would be sent there to be "
        "checked; not sent",
        "hint: run `qwen auth login` in another directory, or pass --base-url yourself",
    ]
    assert credentials.load(config.config_dir()) == {}
    r = run_cli("auth", "login", "--with-key-stdin", "--no-verify", stdin=f"{KEY}\n".encode())
    assert r.code == 0 and trap.call_count == 0
    assert credentials.load(config.config_dir())["dashscope"]["api_key"] == KEY
