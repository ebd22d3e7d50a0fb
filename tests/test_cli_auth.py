"""`qwen auth login | status | logout` against local servers standing in for the regions."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen_cli import config, credentials
from tests.conftest import Result, _Stdin
from tests.fakeserver import FakeServer
from tests.regionservers import KEYS, Regions, region_servers

CN, INTL, US = KEYS["cn"], KEYS["intl"], KEYS["us"]


@pytest.fixture
def regions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Regions]:
    with region_servers(monkeypatch) as r:
        yield r


def stored() -> dict[str, Any]:
    return json.loads(credentials.path_in(config.config_dir()).read_text(encoding="utf-8"))


def assert_no_key(r: Result, *keys: str) -> None:
    for key in keys or tuple(KEYS.values()):
        for text in (r.out, r.err):
            assert key not in text and key[:-4] not in text


@pytest.fixture
def run_tty(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `qwen` with a terminal on stdin that types ``typed``; getpass answers ``secret``."""
    from qwen_cli.cli import main

    def run(*args: str, typed: bytes = b"", secret: str = "") -> tuple[Result, list[str]]:
        prompts: list[str] = []

        def fake_getpass(prompt: str = "Password: ", stream: Any = None) -> str:
            prompts.append(prompt)
            return secret

        monkeypatch.setattr("getpass.getpass", fake_getpass)
        monkeypatch.setattr(sys, "stdin", _Stdin(typed, tty=True))
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err), prompts

    return run


# ---------------------------------------------------------------------------------------- login


def test_login_with_key_on_stdin(run_cli, regions: Regions) -> None:
    r = run_cli("auth", "login", "--with-key-stdin", "--region", "intl", stdin=f"  {INTL}\n".encode())
    assert r.code == 0, r.err
    assert r.out == ""
    assert "Logged in to dashscope, region intl (Singapore), key sk-...3333" in r.err
    assert "checked: 7 models available" in r.err
    assert stored() == {"dashscope": {"api_key": INTL, "region": "intl", "default": True}}
    (req,) = regions.requests("intl")
    assert (req["method"], req["path"]) == ("GET", "/compatible-mode/v1/models")
    assert req["headers"]["authorization"] == f"Bearer {INTL}"
    assert regions.count() == {"cn": 0, "intl": 1, "us": 0}
    assert_no_key(r)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_login_writes_0600_file_in_0700_dir(run_cli, regions: Regions) -> None:
    r = run_cli("auth", "login", "--with-key-stdin", "-r", "cn", stdin=CN.encode())
    assert r.code == 0, r.err
    d = config.config_dir()
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE(credentials.path_in(d).stat().st_mode) == 0o600
    assert sorted(p.name for p in d.iterdir()) == ["credentials.json"]


def test_login_with_hidden_prompt_asks_region_then_key(run_tty, regions: Regions) -> None:
    r, prompts = run_tty("auth", "login", typed=b"us\n", secret=US)
    assert r.code == 0, r.err
    assert prompts == ["API key (input is hidden): "]
    assert r.err.startswith("Region (cn = China (Beijing), intl = Singapore, us = US (Virginia)) [cn]: ")
    assert stored()["dashscope"] == {"api_key": US, "region": "us", "default": True}
    assert r.out == ""
    assert_no_key(r)


def test_region_prompt_asks_again_on_a_typo(run_tty, regions: Regions) -> None:
    r, _ = run_tty("auth", "login", typed=b"mars\nintl\n", secret=INTL)
    assert r.code == 0, r.err
    assert "'mars' is not a region" in r.err
    assert stored()["dashscope"]["region"] == "intl"


def test_login_without_terminal_or_stdin_flag_is_refused(run_cli, regions: Regions) -> None:
    r = run_cli("auth", "login", "--region", "cn", stdin=CN.encode())
    assert r.code == 2
    assert r.err.splitlines()[0] == "qwen: error: no terminal to ask for the key on (stdin is not a terminal)"
    assert "--with-key-stdin" in r.err.splitlines()[1]
    assert not credentials.path_in(config.config_dir()).exists()
    assert regions.count() == {"cn": 0, "intl": 0, "us": 0}
    assert_no_key(r)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", "got 0 non-empty lines"),
        (b"\n  \n", "got 0 non-empty lines"),
        (f"{CN}\n{CN}\n".encode(), "got 2 non-empty lines"),
        (b"sk-test-has space-0000000011", "contains a space HTTP cannot send (at position 12 of 28)"),
        (b"sk-test-\x01ctrl-000000000011", "contains a control character"),
        ("sk-test-中文-000000000011".encode(), "contains a character HTTP cannot send"),
    ],
)
def test_login_rejects_bad_input_without_echoing_it(
    run_cli, regions: Regions, data: bytes, text: str
) -> None:
    r = run_cli("auth", "login", "--with-key-stdin", "-r", "cn", stdin=data)
    assert r.code == 2
    assert text in r.err
    assert len(r.err.splitlines()) == 2 and r.err.splitlines()[1].startswith("hint: ")
    assert "000000000011" not in r.err and "has space" not in r.err and CN not in r.err
    assert not credentials.path_in(config.config_dir()).exists()


def test_ctrl_c_or_d_at_the_prompts_leaves_cleanly(run_tty, regions: Regions, monkeypatch, capsys) -> None:
    r, _ = run_tty("auth", "login", typed=b"")  # end of input at the region prompt
    assert r.code == 130 and "Traceback" not in r.err

    from qwen_cli.cli import main

    for exc in (EOFError, KeyboardInterrupt):

        def stop(prompt: str = "", stream: object = None, exc: type[BaseException] = exc) -> str:
            raise exc

        monkeypatch.setattr("getpass.getpass", stop)
        monkeypatch.setattr(sys, "stdin", _Stdin(b"", tty=True))
        assert main(["auth", "login", "-r", "cn"]) == 130
        assert capsys.readouterr().err == "\nqwen: interrupted\n"
    assert not credentials.path_in(config.config_dir()).exists()


def test_empty_hidden_input_is_refused(run_tty, regions: Regions) -> None:
    r, _ = run_tty("auth", "login", "-r", "cn", secret="   ")
    assert r.code == 2 and "no API key given" in r.err


def test_explicit_wrong_region_is_refused_and_named(run_cli, regions: Regions) -> None:
    r = run_cli("auth", "login", "--with-key-stdin", "--region", "cn", stdin=INTL.encode())
    assert r.code == 3
    lines = r.err.splitlines()
    assert lines[0] == "qwen: error: this key belongs to region intl (Singapore), not cn (China (Beijing))"
    assert "--region intl" in lines[1] and "qwen auth login --region intl" in lines[1]
    assert not credentials.path_in(config.config_dir()).exists()
    # tried once in cn, then once in each other region until one accepted it
    assert regions.count() == {"cn": 1, "intl": 1, "us": 0}
    assert_no_key(r)


def test_region_found_when_not_given(run_cli, regions: Regions) -> None:
    r = run_cli("auth", "login", "--with-key-stdin", stdin=US.encode())
    assert r.code == 0, r.err
    assert (
        "refused in cn (China (Beijing)) but works in us (US (Virginia)): storing it for region us" in r.err
    )
    assert stored()["dashscope"] == {"api_key": US, "region": "us", "default": True}
    assert regions.count() == {"cn": 1, "intl": 1, "us": 1}


def test_key_refused_everywhere(run_cli, regions: Regions) -> None:
    bad = "sk-test-nobody-knows-me-9999"
    r = run_cli("auth", "login", "--with-key-stdin", stdin=bad.encode())
    assert r.code == 3
    assert r.err.startswith(
        "qwen: error: the key was refused in every region (cn, intl, us): Incorrect API key"
    )
    assert "Model Studio console" in r.err
    assert not credentials.path_in(config.config_dir()).exists()
    assert_no_key(r, bad)


def test_no_verify_stores_without_a_request(run_cli, regions: Regions) -> None:
    r = run_cli("auth", "login", "--with-key-stdin", "-r", "intl", "--no-verify", stdin=CN.encode())
    assert r.code == 0, r.err
    assert "not checked (--no-verify)" in r.err
    assert regions.count() == {"cn": 0, "intl": 0, "us": 0}
    assert stored()["dashscope"] == {"api_key": CN, "region": "intl", "default": True}


def test_network_failure_stores_nothing(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_BASE_URL_CN", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("QWEN_MAX_RETRIES", "0")
    r = run_cli("auth", "login", "--with-key-stdin", "-r", "cn", stdin=CN.encode())
    assert r.code == 5
    assert "could not connect" in r.err and "--no-verify" in r.err
    assert not credentials.path_in(config.config_dir()).exists()


def test_login_keeps_other_providers_and_custom_base_url(run_cli, regions: Regions) -> None:
    credentials.save(config.config_dir(), {"qwen-web": {"token": "tok-test-1234567", "cookie": "a=b; c=d"}})
    url = regions.servers["us"].base_url
    r = run_cli("auth", "login", "--with-key-stdin", "--base-url", url, stdin=US.encode())
    assert r.code == 0, r.err
    assert stored() == {
        "qwen-web": {"token": "tok-test-1234567", "cookie": "a=b; c=d"},
        "dashscope": {"api_key": US, "region": "cn", "base_url": url, "default": True},
    }
    s = config.resolve()
    assert (s.api_key, s.base_url, s.source("base_url")) == (US, url, "credentials file")


def test_login_says_when_the_environment_wins(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("QWEN_API_KEY", CN)
    r = run_cli("auth", "login", "--with-key-stdin", "-r", "intl", stdin=INTL.encode())
    assert r.code == 0, r.err
    assert "note: QWEN_API_KEY in the environment sets a key too" in r.err
    assert_no_key(r)


def test_login_clears_stale_model_cache_and_seeds_it(run_cli, regions: Regions) -> None:
    from qwen_cli import modelcache

    cache = config.cache_dir()
    modelcache.save(cache, "dashscope", "http://old.example/v1", ["old-model"])
    r = run_cli("auth", "login", "--with-key-stdin", "-r", "intl", stdin=INTL.encode())
    assert r.code == 0
    assert modelcache.load(cache, "dashscope", "http://old.example/v1") is None
    fresh = modelcache.load(cache, "dashscope", regions.servers["intl"].base_url)
    assert fresh is not None and "qwen-max" in fresh.ids


# --------------------------------------------------------------------------------------- status


def test_status_from_credentials_file(run_cli, regions: Regions) -> None:
    credentials.save(config.config_dir(), {"dashscope": {"api_key": INTL, "region": "intl"}})
    r = run_cli("auth", "status")
    assert r.code == 0, r.err
    path = credentials.path_in(config.config_dir())
    assert r.out.splitlines() == [
        "provider  dashscope",
        f"region    intl (Singapore), from {path}",
        f"base URL  {regions.servers['intl'].base_url}, from QWEN_BASE_URL_INTL",
        f"API key   sk-...3333, from {path}",
        "check     ok: GET /models answered with 7 models",
    ]
    assert r.err == ""


@pytest.mark.parametrize("var", ["DASHSCOPE_API_KEY", "QWEN_API_KEY"])
def test_status_names_the_environment_variable(run_cli, regions: Regions, monkeypatch, var: str) -> None:
    monkeypatch.setenv(var, CN)
    r = run_cli("auth", "status")
    assert r.code == 0, r.err
    assert f"API key   sk-...1111, from {var}" in r.out
    assert "region    cn (China (Beijing)), default" in r.out


def test_status_names_dotenv(run_cli, regions: Regions) -> None:
    Path(".env").write_text(f"DASHSCOPE_API_KEY={US}\nQWEN_REGION=us\n", encoding="utf-8")
    r = run_cli("auth", "status")
    assert r.code == 0, r.err
    env_path = Path.cwd() / ".env"
    assert f"API key   sk-...5555, from {env_path}" in r.out
    assert f"region    us (US (Virginia)), from {env_path}" in r.out


def test_status_offline_makes_no_request(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-anything-at-all-00")
    r = run_cli("auth", "status", "--offline")
    assert r.code == 0
    assert r.out.splitlines()[-1] == "check     skipped (--offline)"
    assert regions.count() == {"cn": 0, "intl": 0, "us": 0}


def test_status_not_logged_in_exits_3(run_cli) -> None:
    r = run_cli("auth", "status", "--offline")
    assert r.code == 3
    assert "API key   none" in r.out
    assert r.err.splitlines() == [
        "qwen: error: not logged in: no API key",
        "hint: run `qwen auth login`, or set DASHSCOPE_API_KEY",
    ]


def test_status_wrong_region_says_where_the_key_belongs(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", INTL)
    r = run_cli("auth", "status")
    assert r.code == 3
    assert "region    cn (China (Beijing)), default" in r.out
    assert r.err.splitlines() == [
        "qwen: error: this key belongs to region intl (Singapore), not cn (China (Beijing))",
        "hint: switch with --region intl (or QWEN_REGION=intl), "
        "or store it for that region: qwen auth login --region intl",
    ]
    assert "invalid" not in r.err.lower()
    assert regions.count() == {"cn": 1, "intl": 1, "us": 0}  # once each, no retries
    r = run_cli("auth", "status", "--region", "intl")
    assert r.code == 0 and "check     ok" in r.out


def test_status_key_refused_everywhere(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-revoked-key-000000")
    r = run_cli("auth", "status", "-r", "us")
    assert r.code == 3
    assert "refused in every region (cn, intl, us)" in r.err
    assert regions.count() == {"cn": 1, "intl": 1, "us": 1}


def test_status_says_which_regions_could_not_be_tried(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", US)
    monkeypatch.setenv("QWEN_BASE_URL_US", "http://127.0.0.1:9/v1")
    r = run_cli("auth", "status")
    assert r.code == 3
    assert "the key was refused in cn and intl (us could not be reached to try it)" in r.err
    assert "every region" not in r.err


def test_status_custom_base_url_does_not_probe_regions(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", INTL)
    with FakeServer(api_key=CN) as gateway:
        r = run_cli("auth", "status", "--base-url", gateway.base_url)
        assert len(gateway.requests) == 1
    assert r.code == 3
    assert "the key was refused by the server" in r.err
    assert "base URL  " + gateway.base_url + ", from the command line" in r.out
    assert regions.count() == {"cn": 0, "intl": 0, "us": 0}


def test_status_403_is_not_a_region_problem(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", CN)
    body = {"error": {"message": "Access denied, account in arrears", "code": "Arrearage"}}
    regions.servers["cn"].enqueue({"match": "/models", "status": 403, "json": body})
    r = run_cli("auth", "status")
    assert r.code == 3
    assert "qwen: error: Access denied, account in arrears" in r.err
    assert regions.count() == {"cn": 1, "intl": 0, "us": 0}


# --------------------------------------------------------------------------------------- logout


def test_logout_removes_the_file(run_cli, regions: Regions) -> None:
    assert run_cli("auth", "login", "--with-key-stdin", "-r", "cn", stdin=CN.encode()).code == 0
    path = credentials.path_in(config.config_dir())
    r = run_cli("auth", "logout")
    assert r.code == 0
    assert r.err == f"Removed the stored credentials for dashscope from {path}.\n"
    assert not path.exists()
    assert run_cli("auth", "status", "--offline").code == 3
    r = run_cli("auth", "logout")
    assert r.code == 0 and r.err == "No stored credentials: nothing to remove.\n"


def test_logout_one_provider_keeps_the_others(run_cli) -> None:
    credentials.save(
        config.config_dir(),
        {"dashscope": {"api_key": CN, "region": "cn"}, "qwen-web": {"token": "t-123456", "cookie": "c=1"}},
    )
    r = run_cli("auth", "logout", "--provider", "dashscope")
    assert r.code == 0
    assert stored() == {"qwen-web": {"token": "t-123456", "cookie": "c=1"}}
    r = run_cli("auth", "logout", "--provider", "dashscope")
    assert "No stored credentials for dashscope" in r.err


def test_logout_says_when_an_environment_key_remains(run_cli, regions: Regions, monkeypatch) -> None:
    credentials.save(config.config_dir(), {"dashscope": {"api_key": CN, "region": "cn"}})
    monkeypatch.setenv("DASHSCOPE_API_KEY", INTL)
    Path(".env").write_text(f"QWEN_API_KEY={US}\n", encoding="utf-8")
    r = run_cli("auth", "logout")
    assert r.code == 0
    lines = r.err.splitlines()
    assert lines[0].startswith("Removed the stored credentials for dashscope")
    assert lines[1] == (
        "note: DASHSCOPE_API_KEY is still set in the environment, so qwen will keep using that key; "
        "remove it from the environment to log out completely."
    )
    assert lines[2].startswith(f"note: QWEN_API_KEY is still set in the .env file in {Path.cwd()}")
    assert_no_key(r)
    r = run_cli("auth", "status", "--offline")
    assert r.code == 0 and "from DASHSCOPE_API_KEY" in r.out


# ------------------------------------------------------------------------- modes and secrets


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_group_readable_file_is_warned_about_on_every_command(run_cli, regions: Regions) -> None:
    path = credentials.save(config.config_dir(), {"dashscope": {"api_key": CN, "region": "cn"}})
    path.chmod(0o640)
    for args in (("auth", "status", "--offline"), ("models", "--offline"), ("complete", "hi")):
        r = run_cli(*args)
        assert (
            f"qwen: warning: {path} is readable by other users (mode 640); run `chmod 600 {path}`"
            in r.err.splitlines()
        ), args
    path.chmod(0o600)
    config.config_dir().chmod(0o770)
    r = run_cli("auth", "status", "--offline")
    assert "can be written by other users (mode 770)" in r.err and "chmod 700" in r.err
    assert r.code == 0


def test_key_with_a_line_break_in_the_environment_is_refused_unechoed(run_cli, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-line\nbreak-00000011")
    r = run_cli("auth", "status", "--debug")
    assert r.code == 2
    assert "the API key from DASHSCOPE_API_KEY contains a control character" in r.err
    assert "sk-test-line" not in r.err and "break-0000" not in r.err


def test_surrounding_whitespace_is_dropped_from_keys(monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", f"  {CN}\n")
    assert config.resolve().api_key == CN


def _every_auth_run(run_cli, run_tty, regions: Regions, monkeypatch) -> list[Result]:
    out = []
    for debug in ((), ("--debug",)):
        out.append(run_cli("auth", "login", "--with-key-stdin", "-r", "cn", *debug, stdin=INTL.encode()))
        out.append(run_cli("auth", "login", "--with-key-stdin", *debug, stdin=INTL.encode()))
        out.append(run_tty("auth", "login", "-r", "intl", *debug, secret=INTL)[0])
        out.append(run_cli("auth", "status", *debug))
        out.append(run_cli("auth", "status", "-r", "cn", *debug))
        out.append(run_cli("auth", "status", "--offline", *debug))
        out.append(run_cli("models", "--refresh", *debug))
        out.append(run_cli("models", "--refresh", "-r", "cn", *debug))
        out.append(run_cli("models", "show", "qwen-max", "--json", *debug))
        out.append(run_cli("complete", "hi", "-r", "cn", *debug))
        out.append(run_cli("auth", "logout", *debug[:0]))
        monkeypatch.setenv("DASHSCOPE_API_KEY", INTL)
        out.append(run_cli("auth", "status", *debug))
        out.append(run_cli("auth", "logout"))
        monkeypatch.delenv("DASHSCOPE_API_KEY")
    return out


def test_the_key_appears_in_no_output_of_any_command(run_cli, run_tty, regions: Regions, monkeypatch) -> None:
    results = _every_auth_run(run_cli, run_tty, regions, monkeypatch)
    assert {r.code for r in results} == {0, 3}  # both successes and auth failures were exercised
    assert any("debug: > GET" in r.err for r in results)  # and --debug logged requests
    assert any("Traceback" in r.err for r in results)  # and printed tracebacks
    for r in results:
        assert_no_key(r)
