"""Starting: a bare prompt is `qwen complete`'s, a typo of a command is told, start-up is cheap."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
import respx

from qwen_cli.cli import app
from tests.conftest import FAKE_KEY
from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServerProcess
from tests.test_client import USAGE, chunk, sse, stream_response

CN = "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions"


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    return FAKE_KEY


def answer(*pieces: str) -> httpx.Response:
    return stream_response(sse(*[chunk(p) for p in pieces], chunk("", finish="stop"), USAGE))


def sent(route: respx.Route) -> dict[str, Any]:
    return json.loads(route.calls.last.request.content)


@respx.mock
def test_bare_prompt_is_complete(run_cli, key) -> None:
    route = respx.post(CN).mock(return_value=answer("Hel", "lo"))
    r = run_cli("what is SSE?")
    assert (r.code, r.out) == (0, "Hello\n"), r.err
    body = sent(route)
    assert body["messages"] == [{"role": "user", "content": "what is SSE?"}]
    assert body["model"] == "qwen-max" and body["stream"] is True


@respx.mock
def test_complete_options_before_the_bare_prompt(run_cli, key) -> None:
    route = respx.post(CN).mock(return_value=answer("ok"))
    r = run_cli("-m", "qwen-plus", "-t", "0.5", "--max-tokens", "7", "--stop", "a", "--stop", "b", "hi", "-q")
    assert (r.code, r.out, r.err) == (0, "ok\n", "")
    body = sent(route)
    assert body["model"] == "qwen-plus" and body["messages"] == [{"role": "user", "content": "hi"}]
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.5, 7, ["a", "b"])


@respx.mock
def test_bare_prompt_with_a_pipe_puts_the_prompt_first(run_cli, key) -> None:
    route = respx.post(CN).mock(return_value=answer("short"))
    r = run_cli("summarize", stdin=b"line one\nline two\n")
    assert (r.code, r.out) == (0, "short\n"), r.err
    assert sent(route)["messages"] == [{"role": "user", "content": "summarize\n\nline one\nline two\n"}]


@respx.mock
def test_double_dash_forces_a_prompt_even_a_command_name(run_cli, key) -> None:
    route = respx.post(CN).mock(return_value=answer("x"))
    for words in ("chat about X", "chat", "compete"):
        r = run_cli("--", words)
        assert (r.code, r.out) == (0, "x\n"), r.err
        assert sent(route)["messages"] == [{"role": "user", "content": words}]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("compete", "complete"), ("chta", "chat"), ("modles", "models"), ("Histroy", "history")],
)
def test_a_mistyped_command_is_told_the_closest(run_cli, typed: str, meant: str) -> None:
    with respx.mock:  # nothing is sent: any request would fail the test
        r = run_cli(typed, "hi")
    assert r.code == 2 and r.out == ""
    assert r.err == (
        f"qwen: error: no command {typed!r}; did you mean {meant!r}?\n"
        f"hint: to send it as a prompt instead: qwen -- {typed}\n"
    )


@respx.mock
def test_words_not_close_to_a_command_are_a_prompt(run_cli, key) -> None:
    route = respx.post(CN).mock(return_value=answer("x"))
    for prompt in ("bogus", "hello", "what", "compete with me"):  # a sentence is never a typo
        r = run_cli(prompt, "-q")
        assert (r.code, r.out) == (0, "x\n"), r.err
        assert sent(route)["messages"][-1]["content"] == prompt


def test_route_leaves_commands_and_root_options_alone() -> None:
    for args in ([], ["--help"], ["-h"], ["-V"], ["--version"], ["chat", "-c"], ["history", "show", "x"]):
        assert app.route(list(args)) == args
    assert app.route(["hi", "-m", "x"]) == ["complete", "hi", "-m", "x"]
    assert app.route(["-", "-s", "review"]) == ["complete", "-", "-s", "review"]
    assert app.route(["--", "chat"]) == ["complete", "--", "chat"]


def test_option_values_keep_typers_checks(run_cli, key) -> None:
    """The light converters (cli/coerce.py) hand every refused value to typer: same checks, and
    the one error boundary words them."""
    with respx.mock:
        for args, says in (
            (("-t", "5", "hi"), "qwen: error: --temperature must be between 0 and 2 (got 5)"),
            (("-t", "abc", "hi"), "qwen: error: --temperature must be a number between 0 and 2 (got abc)"),
            (("--seed", "x1", "hi"), "qwen: error: --seed must be a whole number between 0 and 2147483647"),
            (("--top-p", "-0.5", "hi"), "qwen: error: --top-p must be between 0 and 1 (got -0.5)"),
        ):
            r = run_cli("complete", *args)
            assert r.code == 2 and r.out == "" and says in r.err, (args, r.err)


@respx.mock
def test_option_values_are_converted_to_their_types(run_cli, key) -> None:
    route = respx.post(CN).mock(return_value=answer("x"))
    r = run_cli("complete", "hi", "-t", "1e-1", "--top-p", ".5", "--seed", "+7", "--timeout", "3", "-q")
    assert r.code == 0, r.err
    body = sent(route)
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.1, 0.5, 7)
    assert isinstance(body["seed"], int) and isinstance(body["top_p"], float)


def _loaded_after(args: list[str]) -> set[str]:
    code = (
        "import contextlib, io, sys\n"
        "from qwen_cli.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main({args!r})\n"
        "print(rc, ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    rc, loaded = p.stdout.split(" ", 1)
    assert rc == "0", p.stderr
    return set(loaded.split())


@pytest.mark.parametrize("args", [["--help"], ["--version"], *([name, "--help"] for name in app.COMMANDS)])
def test_help_loads_no_pydantic_httpx_rich_or_prompt_toolkit(args: list[str]) -> None:
    heavy = {"pydantic", "pydantic_core", "httpx", "rich", "prompt_toolkit"}
    assert _loaded_after(args) & heavy == set()


@needs_qwen
def test_installed_qwen_takes_a_bare_prompt_in_a_pipe() -> None:
    with FakeServerProcess() as srv:
        env = clean_env(DASHSCOPE_API_KEY="sk-e2e", QWEN_BASE_URL=srv.base_url)
        p = subprocess.run(
            [QWEN, "summarize", "-q"], input=b"a\nb\n", capture_output=True, env=env, timeout=60
        )
        assert (p.returncode, p.stdout, p.stderr) == (0, b"echo: summarize\n\na\nb\n", b"")
        assert srv.requests()[-1]["json"]["messages"][-1]["content"] == "summarize\n\na\nb\n"
        p = subprocess.run([QWEN, "compete", "hi"], capture_output=True, env=env, timeout=60)
        assert (
            p.returncode == 2
            and p.stdout == b""
            and srv.requests()[-1]["json"]["messages"][-1]["content"] == "summarize\n\na\nb\n"
        )
        assert p.stderr.decode().splitlines() == [
            "qwen: error: no command 'compete'; did you mean 'complete'?",
            "hint: to send it as a prompt instead: qwen -- compete",
        ]


def test_a_sync_answer_does_not_load_asyncio_or_pydantic() -> None:
    """``qwen complete`` has no event loop: it does not pay for importing asyncio; its wire
    types are records (record.py), not pydantic models: it does not pay for pydantic either."""
    code = (
        "import sys\n"
        "from qwen_cli.cli import main\n"
        "code = main(['complete', 'hi'])\n"
        "sys.stderr.write(f'ASYNCIO {\"asyncio\" in sys.modules}\\n')\n"
        "sys.stderr.write(f'PYDANTIC {\"pydantic\" in sys.modules}\\n')\n"
        "sys.exit(code)\n"
    )
    with FakeServerProcess() as srv:
        env = clean_env(DASHSCOPE_API_KEY="sk-e2e", QWEN_BASE_URL=srv.base_url)
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=60)
    assert p.returncode == 0 and p.stdout == b"echo: hi\n", p.stderr
    assert b"ASYNCIO False" in p.stderr and b"PYDANTIC False" in p.stderr


# What `qwen chat` loads only when it needs it, never before its first prompt: the wire types
# and httpx on the first send, rich on the first answer (the banner is written with plain SGR
# codes), the store (SQLite) of a new conversation when its first message is stored, an
# answer's events and reply when one is asked.
NOT_BEFORE_THE_PROMPT = (
    "pydantic",
    "httpx",
    "rich",
    "sqlite3",
    "qwen_cli.store",
    "qwen_cli.transcript",
    "qwen_cli.engine.events",
    "qwen_cli.engine.reply",
)


def test_chat_reaches_its_prompt_without_pydantic_or_httpx() -> None:
    """Nothing is sent or stored before the user types: NOT_BEFORE_THE_PROMPT stays unloaded."""
    import os
    import pty
    import select

    code = (
        "import sys, prompt_toolkit\n"
        "def prompt(self, *a, **k):\n"
        f"    heavy = sorted(m for m in {NOT_BEFORE_THE_PROMPT!r} if m in sys.modules)\n"
        "    sys.stdout.write(f'LOADED {heavy}\\n'); sys.stdout.flush(); raise EOFError\n"
        "prompt_toolkit.PromptSession.prompt = prompt\n"
        "from qwen_cli.cli import main\n"
        "sys.exit(main(['chat']))\n"
    )
    master, slave = pty.openpty()
    env = dict(os.environ, DASHSCOPE_API_KEY=FAKE_KEY, TERM="xterm")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    try:
        while select.select([master], [], [], 30)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        assert proc.wait(timeout=30) == 0, out
    assert b"LOADED []" in out, out


def test_root_options_stay_the_roots() -> None:
    """Every option of the root command is routed to it, never taken for complete's."""
    from typer import Context

    root = app.build()
    ctx = Context(root, info_name="qwen", help_option_names=["-h", "--help"])
    names = {name for p in root.get_params(ctx) for name in (*p.opts, *p.secondary_opts)}
    assert names == set(app.ROOT_OPTIONS)
    for name in app.ROOT_OPTIONS:
        assert app.route([name]) == [name]
