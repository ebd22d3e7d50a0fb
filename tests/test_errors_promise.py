"""Errors that follow the promise (issue 10): one `qwen: error:` line and a `hint:` line for
every error, parser errors included; with --json, also one JSON object on stdout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qwen_cli import config
from tests import samples
from tests.chatkit import lines
from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServer

KEY = "sk-test-errors-00000000000000"
RANGE_HINT = {
    "--temperature": "--temperature: sampling temperature, 0 to 2",
    "--top-p": "--top-p: nucleus sampling, 0 to 1",
    "--max-tokens": (
        "--max-tokens: most tokens to generate (caps the answer's length), e.g. --max-tokens 2000"
    ),
    "--timeout": "--timeout: seconds to wait for data from the server [default: 120]",
    "--max-retries": "--max-retries: retries on connection errors, 429 and 5xx [default: 2]",
}


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with FakeServer() as s:
        monkeypatch.setenv("QWEN_BASE_URL", s.base_url)
        monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
        yield s


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["-t", "5"], "--temperature must be between 0 and 2 (got 5)"),
        (["-t", "abc"], "--temperature must be a number between 0 and 2 (got abc)"),
        (["--temperature=-0.5"], "--temperature must be between 0 and 2 (got -0.5)"),
        (["--top-p", "1.5"], "--top-p must be between 0 and 1 (got 1.5)"),
        (["--max-tokens", "0"], "--max-tokens must be between 1 and 2147483647 (got 0)"),
        (["--max-tokens", "2.5"], "--max-tokens must be a whole number between 1 and 2147483647 (got 2.5)"),
        (["--timeout", "0"], "--timeout must be at least 0.1 (got 0)"),
        (["--max-retries", "-1"], "--max-retries must be at least 0 (got -1)"),
    ],
)
@pytest.mark.parametrize("command", ["complete", "chat", "upload"])
def test_option_values_in_our_words(
    run_cli, srv: FakeServer, command: str, args: list[str], error: str
) -> None:
    rest = {"complete": ["hi"], "chat": [], "upload": ["photo.png", "--ask", "x"]}[command]
    r = run_cli(command, *rest, *args, stdin=lines("hi"))
    flag = error.split()[0]
    assert (r.code, r.out) == (2, "")
    assert r.err.splitlines() == [
        f"qwen: error: {error}",
        f"hint: {RANGE_HINT[flag]}; `qwen {command} --help` lists the options",
    ]
    assert srv.requests == []


def _ranged(cmd: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], str, Any, Any]]:
    found = []
    if hasattr(cmd, "list_commands"):  # a group: its subcommands, built as they are asked for
        for name in cmd.list_commands(None):
            found += _ranged(cmd.get_command(None, name), (*path, name))
    for p in cmd.params:
        info = getattr(getattr(p, "type_descriptor", None), "parameter_info", None)
        if info is not None and (info.min is not None or info.max is not None):
            found.append((path, max(p.opts, key=len), info.min, info.max))
    return found


def test_every_ranged_option_of_every_command_is_worded_alike(run_cli) -> None:
    """Walks the real commands: a new ranged option is covered without a new test."""
    from qwen_cli.cli import app

    ranged = [r for name in app.COMMANDS for r in _ranged(app.load_command(name), (name,))]
    assert {flag for _, flag, _, _ in ranged} >= {
        "--temperature",
        "--top-p",
        "--max-tokens",
        "--seed",
        "--limit",
    }
    for path, flag, low, high in ranged:
        bad = high + 1 if high is not None else low - 1
        r = run_cli(*path, flag, str(bad))
        shown = lambda x: str(int(x)) if float(x).is_integer() else str(x)  # noqa: E731
        bounds = (
            f"between {shown(low)} and {shown(high)}"
            if low is not None and high is not None
            else (f"at least {shown(low)}" if low is not None else f"at most {shown(high)}")
        )
        assert r.code == 2 and r.out == "", (path, flag, r.err)
        error, hint = r.err.splitlines()
        assert error == f"qwen: error: {flag} must be {bounds} (got {bad})", (path, flag)
        assert hint.startswith(f"hint: {flag}: ") and hint.endswith(
            f"`qwen {' '.join(path)} --help` lists the options"
        )


def test_unknown_option_suggests_the_close_one(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "--temperatur", "1", "hi")
    assert (r.code, r.out) == (2, "")
    assert r.err.splitlines() == [
        "qwen: error: No such option: --temperatur",
        # click offers every close option: --template (templates) is one since wave 3
        "hint: did you mean --temperature or --template? `qwen complete --help` lists what it takes",
    ]


def test_json_usage_error_is_one_object_on_stdout(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "-t", "5", "--json", "hi")
    assert r.code == 2
    assert r.err.splitlines()[0] == "qwen: error: --temperature must be between 0 and 2 (got 5)"
    assert json.loads(r.out) == {
        "error": {
            "type": "UsageError",
            "message": "--temperature must be between 0 and 2 (got 5)",
            "hint": f"{RANGE_HINT['--temperature']}; `qwen complete --help` lists the options",
            "exit_code": 2,
            "request_id": None,
        }
    }
    assert r.out.count("\n") == 1 and srv.requests == []


def test_json_after_double_dash_is_a_prompt_not_the_flag(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "-t", "5", "--", "--json")
    assert r.code == 2 and r.out == ""


INVALID = {
    "error": {
        "code": "invalid_parameter_error",
        "message": "<400> InternalError.Algo.InvalidParameter: top_k must be positive",
        "param": None,
        "type": "invalid_request_error",
    },
    "request_id": "req-400-abc",
}
INVALID_HINT = (
    "the server refused a value in the request: check the model and the options given "
    "(-t, --top-p, --max-tokens, --stop, --think, --json-mode); --debug shows what was sent"
)


def test_invalid_parameter_error_has_a_hint(run_cli, srv: FakeServer) -> None:
    srv.enqueue(
        {"status": 400, "json": INVALID, "headers": {"x-request-id": None}, "match": "/chat/completions"}
    )
    r = run_cli("complete", "hi")
    assert (r.code, r.out) == (1, "")
    assert r.err.splitlines() == [
        "qwen: error: <400> InternalError.Algo.InvalidParameter: top_k must be positive"
        " (request id req-400-abc)",
        f"hint: {INVALID_HINT}",
    ]


@pytest.mark.parametrize("command", [["complete", "hi"], ["upload", "photo.png", "--ask", "what?"]])
def test_json_api_error_is_one_object_on_stdout(run_cli, srv: FakeServer, command: list[str]) -> None:
    Path("photo.png").write_bytes(samples.png(20, 20))
    srv.enqueue(
        {"status": 400, "json": INVALID, "headers": {"x-request-id": None}, "match": "/chat/completions"}
    )
    r = run_cli(*command, "--json")
    assert r.code == 1
    assert json.loads(r.out) == {
        "error": {
            "type": "InvalidRequestError",
            "message": "<400> InternalError.Algo.InvalidParameter: top_k must be positive",
            "hint": INVALID_HINT,
            "exit_code": 1,
            "request_id": "req-400-abc",
        }
    }
    assert len(r.err.splitlines()) == 2  # the same error on stderr, for people


def test_a_daily_limit_says_tomorrow_not_a_minute(run_cli, srv: FakeServer) -> None:
    body = {"error": {"code": "RateLimited", "message": "You've reached the upper limit for today's usage."}}
    srv.enqueue(
        {"status": 429, "json": body, "headers": {"x-request-id": None}, "match": "/chat/completions"}
    )
    r = run_cli("complete", "--max-retries", "0", "hi")
    assert r.code == 4
    assert r.err.splitlines() == [
        "qwen: error: You've reached the upper limit for today's usage.",
        "hint: the daily quota is used up: try again tomorrow, or use another model or provider",
    ]


def test_a_daily_limit_on_chat_qwen_ai(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The site's 429 without a wait in hours (fake-429): its daily limit, not a minute's wait."""
    from qwen_cli.client import Qwen
    from tests.fake_qwenweb import FakeQwenWeb

    monkeypatch.setattr(Qwen, "sleep", staticmethod(lambda s: None))
    token, cookie = "tok-errors-0123456789abcdef", "cna=errors; token=tok-errors-0123456789abcdef"
    monkeypatch.setenv("QWEN_AUTH_TOKEN", token)
    monkeypatch.setenv("QWEN_COOKIE", cookie)
    with FakeQwenWeb(token, cookie) as web:
        r = run_cli("complete", "--provider", "qwen-web", "--base-url", web.base_url, "-m", "fake-429", "hi")
    assert r.code == 4
    assert "upper limit for today's usage" in r.err.splitlines()[0]
    assert r.err.splitlines()[1] == (
        "hint: the daily quota is used up: try again tomorrow, or use another model or provider"
    )


def test_a_rate_limit_for_the_minute_still_says_wait(run_cli, srv: FakeServer) -> None:
    srv.enqueue({"status": 429, "json": {"error": {"message": "Requests rate limit exceeded"}}})
    r = run_cli("complete", "--max-retries", "0", "hi")
    assert r.code == 4 and r.err.splitlines()[1] == (
        "hint: wait a minute and try again, or retry more with --max-retries N"
    )


def _files() -> list[str]:
    Path("tiny.png").write_bytes(samples.png(5, 5))
    Path("empty.txt").write_bytes(b"")
    Path("blob.bin").write_bytes(bytes(range(256)) * 4)
    return ["tiny.png", "empty.txt", "blob.bin"]


PROBLEMS = [
    "qwen: error: tiny.png is 5x5 px: too small for the model, both sides must be over 10 px",
    "hint: use a larger image (at least 11x11 px)",
    "qwen: error: empty.txt is empty (0 bytes)",
    "hint: nothing to send: check the file was saved",
    "qwen: error: blob.bin: cannot send a .bin file",
    "hint: send images (PNG, JPEG, WEBP, GIF, BMP, TIFF) or documents"
    " (PDF, DOCX, XLSX, EPUB, TXT, MD, CSV, JSON)",
]


def test_upload_reports_every_files_problem(run_cli, srv: FakeServer) -> None:
    r = run_cli("upload", *_files(), "--ask", "x")
    assert (r.code, r.out) == (2, "")
    assert r.err.splitlines() == PROBLEMS
    assert srv.requests == []


def test_upload_problems_as_json(run_cli, srv: FakeServer) -> None:
    r = run_cli("upload", *_files(), "--ask", "x", "--json")
    assert r.code == 2 and r.err.splitlines() == PROBLEMS
    err = json.loads(r.out)["error"]
    assert (err["type"], err["message"], err["exit_code"]) == ("UsageError", "3 files cannot be sent", 2)
    assert [(e["message"], e["hint"]) for e in err["errors"]] == [
        (PROBLEMS[i].removeprefix("qwen: error: "), PROBLEMS[i + 1].removeprefix("hint: ")) for i in (0, 2, 4)
    ]


def test_one_bad_file_among_good_ones_is_one_error(run_cli, srv: FakeServer) -> None:
    Path("ok.png").write_bytes(samples.png(20, 20))
    Path("empty.txt").write_bytes(b"")
    r = run_cli("upload", "ok.png", "empty.txt", "--ask", "x")
    assert r.code == 2 and r.err.splitlines() == PROBLEMS[2:4]


# -- configuration ------------------------------------------------------------------------------


def _config(home: Path, text: str) -> Path:
    cdir = home / "config"
    cdir.mkdir(parents=True, exist_ok=True)
    path = cdir / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_config_keys_are_warned_with_the_closest(isolated_env: Path) -> None:
    path = _config(isolated_env, 'modle = "qwen-plus"\napi_key = "sk-nope"\nzzz = 1\nmodel = "qwen-turbo"\n')
    s = config.resolve()
    assert s.model == "qwen-turbo"
    assert s.warnings == [
        f"{path}: unknown setting 'modle' is ignored; did you mean 'model'?",
        f"{path}: 'api_key' is ignored: keys and cookies are not read from config.toml; "
        "run `qwen auth login` or set them in the environment",
        f"{path}: unknown setting 'zzz' is ignored (known: provider, region, base_url, model, vision_model, "
        "timeout, connect_timeout, max_retries, oss_endpoint, cache_control, base_urls, allowed_hosts, "
        "aliases)",
    ]


def test_known_config_keys_are_not_warned(isolated_env: Path) -> None:
    _config(
        isolated_env,
        'region = "intl"\ntimeout = 30\nallowed_hosts = []\n[base_urls]\ncn = "https://x.aliyuncs.com/v1"\n',
    )
    assert config.resolve().warnings == []


def test_config_warning_is_shown_once_before_the_answer(run_cli, srv: FakeServer, isolated_env: Path) -> None:
    path = _config(isolated_env, 'modle = "x"\n')
    r = run_cli("complete", "-q", "hi")
    assert r.code == 0 and r.out == "echo: hi\n"
    assert r.err == f"qwen: warning: {path}: unknown setting 'modle' is ignored; did you mean 'model'?\n"


@pytest.mark.parametrize(
    ("where", "source", "hint"),
    [
        ("config", "config file", "write a number in {path}, e.g. timeout = 120"),
        ("env", "QWEN_TIMEOUT", "set QWEN_TIMEOUT to a number, e.g. QWEN_TIMEOUT=120"),
        (".env", ".env", "write a number for QWEN_TIMEOUT in .env, e.g. QWEN_TIMEOUT=120"),
    ],
)
def test_a_timeout_that_is_no_number_has_a_hint(
    run_cli,
    srv: FakeServer,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    source: str,
    hint: str,
) -> None:
    path = _config(isolated_env, 'timeout = "fast"\n' if where == "config" else "")
    if where == "env":
        monkeypatch.setenv("QWEN_TIMEOUT", "fast")
    if where == ".env":
        Path(".env").write_text("QWEN_TIMEOUT=fast\n")
    r = run_cli("complete", "hi")
    assert (r.code, r.out) == (2, "")
    assert r.err.splitlines() == [
        f"qwen: error: timeout must be a number, got 'fast' (from {source})",
        f"hint: {hint.format(path=path)}",
    ]
    assert srv.requests == []


def test_a_boolean_is_no_number(isolated_env: Path) -> None:
    _config(isolated_env, "max_retries = true\n")
    with pytest.raises(config.ConfigError, match="max-retries must be a number, got True"):
        config.resolve()


@pytest.mark.parametrize(
    ("flags", "env", "cfile"),
    [({"region": "INTL"}, {}, ""), ({}, {"QWEN_REGION": "Intl"}, ""), ({}, {}, 'region = "INTL"\n')],
)
def test_region_in_any_case(
    isolated_env: Path, flags: dict[str, str], env: dict[str, str], cfile: str
) -> None:
    _config(isolated_env, cfile)
    s = config.resolve(flags, env={**env, "QWEN_CONFIG_DIR": str(isolated_env / "config")})
    assert s.region == "intl" and s.dashscope_region == "intl"
    assert s.base_url == config.resolve({"region": "intl"}).base_url


def test_region_in_capitals_on_the_command_line(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "-q", "--region", "US", "hi")  # QWEN_BASE_URL points at the fake server
    assert r.code == 0 and r.out == "echo: hi\n", r.err


# -- the tty-echo guard -------------------------------------------------------------------------


def test_no_tty_echo_leaves_no_exception_behind() -> None:
    from qwen_cli.cli.answer import no_tty_echo

    for active in (False, True):  # True: stdout is pytest's capture, not a terminal
        with pytest.raises(RuntimeError) as info, no_tty_echo(active):
            raise RuntimeError("boom")
        assert info.value.__context__ is None and info.value.__cause__ is None


# -- the installed qwen in a pipe ---------------------------------------------------------------


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QWEN, *args], capture_output=True, text=True, env=clean_env(**env), timeout=60)


@needs_qwen
def test_pipe_option_error() -> None:
    p = _run("complete", "-t", "5", "hi", "--base-url", "http://127.0.0.1:9")
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr.splitlines() == [
        "qwen: error: --temperature must be between 0 and 2 (got 5)",
        f"hint: {RANGE_HINT['--temperature']}; `qwen complete --help` lists the options",
    ]


@needs_qwen
def test_pipe_json_error_and_debug_traceback() -> None:
    p = _run("complete", "--json", "--max-retries", "0", "hi", "--base-url", "http://127.0.0.1:9")
    assert p.returncode == 5
    err = json.loads(p.stdout)["error"]
    assert (
        err["type"] == "APIConnectionError"
        and err["exit_code"] == 5
        and "could not connect" in err["message"]
    )
    assert err["hint"] == "check --base-url / --region, your network, and HTTPS_PROXY if you use a proxy"
    p = _run("complete", "--debug", "--max-retries", "0", "hi", "--base-url", "http://127.0.0.1:9")
    assert p.returncode == 5
    assert "Traceback" in p.stderr and "ValueError" not in p.stderr and "During handling" not in p.stderr
    assert p.stderr.splitlines()[-2].startswith("qwen: error: could not connect to http://127.0.0.1:9")


@needs_qwen
def test_pipe_upload_problems(tmp_path: Path) -> None:
    files = [str(Path(f).resolve()) for f in _files()]
    p = _run("upload", *files, "--ask", "x", "--base-url", "http://127.0.0.1:9")
    assert (p.returncode, p.stdout) == (2, "")
    assert [line for line in p.stderr.splitlines() if line.startswith("qwen: error:")] == [
        f"qwen: error: {files[0]} is 5x5 px: too small for the model, both sides must be over 10 px",
        f"qwen: error: {files[1]} is empty (0 bytes)",
        f"qwen: error: {files[2]}: cannot send a .bin file",
    ]
    assert len(p.stderr.splitlines()) == 6
