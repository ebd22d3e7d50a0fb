"""`qwen complete`/`qwen chat` with --functions, --tool, --yes and --tool-timeout: what each
round sends, what is asked and shown, what is stored and resent, and every bad input."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from qwen_cli.store import Store
from tests import chatkit
from tests.chatkit import bodies, lines
from tests.e2e import QWEN, needs_qwen
from tests.fakeserver import FakeServer, FakeServerProcess, chat_completion
from tests.test_engine_tools import chunk
from tests.test_tools import EXPECTED_ROUND_2, calls_body, pitfall_stream

srv = chatkit.srv  # fixture: an in-process fake, QWEN_BASE_URL and a key set

TOOLS = '''
import time


def weather(city: str, days: int = 1) -> str:
    """Get the weather forecast for a city.

    Args:
        city: The city's name.
    """
    return f"{city}: sunny for {days} day(s)"


def boom() -> str:
    """Always fails."""
    raise RuntimeError("disk on fire")


def slow() -> str:
    """Takes its time."""
    time.sleep(5)
    return "late"
'''


@pytest.fixture
def tools_py(tmp_path: Path) -> str:
    path = tmp_path / "tools.py"
    path.write_text(TOOLS, encoding="utf-8")
    return str(path)


def text_stream(text: str) -> list[dict[str, Any]]:
    return [chunk({"role": "assistant", "content": ""}), chunk({"content": text}), chunk({}, "stop")]


def roles(store_rows: list[Any]) -> list[str]:
    return [m.role for m in store_rows]


def test_a_pipe_without_yes_refuses_each_call_and_tells_the_model(
    srv: FakeServer, run_cli: Any, tools_py: str
) -> None:
    srv.enqueue({"sse": pitfall_stream()}, {"sse": text_stream("I may not look.")})
    res = run_cli("complete", "weather?", "-m", "qwen-plus", "--functions", tools_py, stdin=b"")
    assert res.code == 0, res.err
    assert res.out == "I may not look.\n"
    assert res.err.count("refused the call to weather: without a terminal tools run only with --yes") == 2
    sent = bodies(srv)[1]["messages"]
    refusal = "error: the user did not allow this call; do not call it again unless asked to"
    assert sent[2:] == [
        {"role": "tool", "content": refusal, "tool_call_id": "call_a"},
        {"role": "tool", "content": refusal, "tool_call_id": "call_b"},
    ]


def test_yes_runs_the_calls_sends_each_round_exactly_and_stores_every_step(
    srv: FakeServer, run_cli: Any, tools_py: str
) -> None:
    srv.enqueue({"sse": pitfall_stream()}, {"sse": text_stream("Sunny in both.")})
    res = run_cli("complete", "weather?", "-m", "qwen-plus", "--functions", tools_py, "--yes", stdin=b"")
    assert res.code == 0, res.err
    assert res.out == "Sunny in both.\n"
    first, second = bodies(srv)
    assert [t["function"]["name"] for t in first["tools"]] == ["weather", "boom", "slow"]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["city"]
    assert first["messages"] == [{"role": "user", "content": "weather?"}]
    assert second["messages"] == EXPECTED_ROUND_2 and second["tools"] == first["tools"]
    assert 'tool call: weather({"city": "杭州", "days": 2})' in res.err
    assert "tool result: 北京: sunny for 1 day(s)" in res.err
    with Store.open() as s:
        (ex,) = s.exchanges(s.recent()[0].id)
    assert roles(ex.messages()) == ["user", "assistant", "tool", "tool", "assistant"]
    assert ex.steps[0].tool_calls is not None and ex.steps[0].tool_calls[1].function.arguments == (
        ' {"city": "杭州", "days": 2}'
    )
    assert [m.tool_call_id for m in ex.steps[1:]] == ["call_a", "call_b"]

    # -c: the earlier turn goes again with its steps, in order, byte for byte
    srv.reset()
    res = run_cli("complete", "-c", "and tomorrow?", stdin=b"")
    assert res.code == 0, res.err
    (body,) = bodies(srv)
    assert body["messages"] == [
        *EXPECTED_ROUND_2,
        {"role": "assistant", "content": "Sunny in both."},
        {"role": "user", "content": "and tomorrow?"},
    ]
    assert "tools" not in body  # no --functions this time: nothing offered


def test_a_raising_tool_and_a_slow_tool_give_the_model_error_text(
    srv: FakeServer, run_cli: Any, tools_py: str
) -> None:
    srv.enqueue(
        {"json": calls_body(("c1", "boom", "{}"), ("c2", "slow", ""))},
        {"json": chat_completion("Both failed.", model="qwen-plus")},
    )
    started = time.monotonic()
    res = run_cli(
        "complete", "go", "-m", "qwen-plus", "--no-stream", "--functions", tools_py, "--yes",
        "--tool-timeout", "0.3", stdin=b"",
    )  # fmt: skip
    assert res.code == 0, res.err
    assert time.monotonic() - started < 4  # the slow tool was not waited for
    assert res.out == "Both failed.\n"
    assert bodies(srv)[1]["messages"][2:] == [
        {
            "role": "tool",
            "content": "error: the tool boom raised RuntimeError: disk on fire",
            "tool_call_id": "c1",
        },
        {
            "role": "tool",
            "content": "error: the tool slow did not finish within 0.3 seconds and was stopped",
            "tool_call_id": "c2",
        },
    ]


def test_a_chat_in_a_pipe_resends_earlier_turns_with_their_steps(
    srv: FakeServer, run_cli: Any, tools_py: str
) -> None:
    srv.enqueue(
        {"json": calls_body(("c1", "weather", '{"city": "Oslo"}'))},
        {"json": chat_completion("Sunny in Oslo.", model="qwen-plus")},
    )
    res = run_cli(
        "chat", "-m", "qwen-plus", "--functions", tools_py, "--tool", "weather", "--yes",
        stdin=lines("weather in Oslo?", "thanks"),
    )  # fmt: skip
    assert res.code == 0, res.err
    third = bodies(srv)[2]
    assert [t["function"]["name"] for t in third["tools"]] == ["weather"]
    assert third["messages"] == [
        {"role": "user", "content": "weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "content": "Oslo: sunny for 1 day(s)", "tool_call_id": "c1"},
        {"role": "assistant", "content": "Sunny in Oslo."},
        {"role": "user", "content": "thanks"},
    ]


def test_builtin_tools_need_no_file(srv: FakeServer, run_cli: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("buy milk", encoding="utf-8")
    srv.enqueue({"json": calls_body(("c1", "read_file", '{"path": "notes.txt"}'), ("c2", "now", ""))})
    res = run_cli(
        "complete", "notes?", "-m", "qwen-plus", "--no-stream", "--tool", "read_file", "--tool", "now",
        "--yes", stdin=b"",
    )  # fmt: skip
    assert res.code == 0, res.err
    first, second = bodies(srv)
    assert [t["function"]["name"] for t in first["tools"]] == ["read_file", "now"]
    assert second["messages"][2] == {"role": "tool", "content": "buy milk", "tool_call_id": "c1"}
    assert second["messages"][3]["content"][:2] == "20"  # an ISO date


def test_the_rounds_end_with_an_answer_when_the_model_keeps_calling(
    srv: FakeServer, run_cli: Any, tools_py: str
) -> None:
    for i in range(8):
        srv.enqueue({"json": calls_body((f"c{i}", "weather", '{"city": "Oslo"}'))})
    srv.enqueue({"json": chat_completion("Enough.", model="qwen-plus")})
    res = run_cli(
        "complete", "loop", "-m", "qwen-plus", "--no-stream", "--functions", tools_py, "--yes", stdin=b""
    )
    assert res.code == 0, res.err
    b = bodies(srv)
    assert len(b) == 9 and b[-1]["tool_choice"] == "none" and "tool_choice" not in b[-2]
    assert res.out == "Enough.\n"


# --------------------------------------------------------------------------- bad input


def one_error(res: Any) -> str:
    assert res.code == 2, (res.code, res.err)
    assert "Traceback" not in res.err
    assert res.err.count("qwen: error: ") == 1 and "\nhint: " in res.err
    return str(res.err)


def test_bad_tool_input_is_one_error_line_and_a_hint(
    srv: FakeServer, run_cli: Any, tools_py: str, tmp_path: Path
) -> None:
    err = one_error(run_cli("complete", "hi", "--functions", str(tmp_path / "missing.py"), stdin=b""))
    assert "missing.py: no such file" in err
    broken = tmp_path / "broken.py"
    broken.write_text(
        "def ok() -> str:\n    return 'x'\n\nraise ValueError('half written')\n", encoding="utf-8"
    )
    err = one_error(run_cli("complete", "hi", "--functions", str(broken), stdin=b""))
    assert (
        "does not import (line 4): ValueError: half written" in err and "--debug shows the traceback" in err
    )
    res = run_cli("complete", "hi", "--functions", str(broken), "--debug", stdin=b"")
    assert res.code == 2 and "Traceback" in res.err and "half written" in res.err
    err = one_error(run_cli("complete", "hi", "--functions", tools_py, "--tool", "wether", stdin=b""))
    assert "there is no tool named 'wether' (did you mean weather?)" in err
    odd = tmp_path / "odd.py"
    odd.write_text("def f(*args: int) -> int:\n    return 1\n", encoding="utf-8")
    err = one_error(run_cli("complete", "hi", "--functions", str(odd), stdin=b""))
    assert "the parameters of the function f cannot be described" in err
    err = one_error(run_cli("complete", "hi", "--tool", "now", "--tool-timeout", "0", stdin=b""))
    assert "--tool-timeout must be between 0.1 and 3600 (got 0)" in err
    assert srv.requests == []  # nothing was sent


def test_qwen_web_refuses_functions_in_one_line(run_cli: Any, tools_py: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("QWEN_AUTH_TOKEN", "tok-test-0000")
    monkeypatch.setenv("QWEN_COOKIE", "c=1")
    err = one_error(run_cli("complete", "hi", "--provider", "qwen-web", "--functions", tools_py, stdin=b""))
    assert "--functions/--tool cannot be used here: chat.qwen.ai has no setting for tools" in err


# --------------------------------------------------------------------------- a terminal


def drive(srv: FakeServerProcess, args: list[str], keys: list[bytes], cwd: Path) -> str:
    """The installed `qwen` on a pseudo-terminal; each key typed when the question shows."""
    from tests.test_e2e import ANSI, env

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [QWEN, *args], stdin=slave, stdout=slave, stderr=slave, env=env(srv, TERM="xterm-256color"), cwd=cwd
    )
    os.close(slave)
    seen, asked = b"", 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            seen += data
        if seen.count(b"[n]o ") > asked and asked < len(keys):
            os.write(master, keys[asked])
            asked += 1
        if proc.poll() is not None and not r:
            break
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    os.close(master)
    text = ANSI.sub("", seen.decode("utf-8", "replace"))
    assert proc.returncode == 0, text
    return text


@needs_qwen
def test_a_terminal_asks_before_each_call_yes_always_no(srv: Any, tools_py: str, tmp_path: Path) -> None:
    srv.enqueue(
        {"json": calls_body(("c1", "weather", '{"city": "Oslo"}'), ("c2", "boom", "{}"))},
        {"json": calls_body(("c3", "weather", '{"city": "Rome"}'), ("c4", "weather", '{"city": "Bonn"}'))},
        {"json": chat_completion("Done.", model="qwen-plus")},
    )
    out = drive(
        srv,
        ["complete", "go", "-m", "qwen-plus", "--no-stream", "--functions", tools_py],
        [b"y", b"n", b"a"],  # weather once, boom refused, weather always (Bonn is not asked)
        tmp_path,
    )
    assert 'run weather({"city": "Oslo"})? [y]es / [a]lways for this tool / [n]o yes' in out
    assert "run boom({})? [y]es / [a]lways for this tool / [n]o no" in out
    assert 'run weather({"city": "Rome"})? [y]es / [a]lways for this tool / [n]o always' in out
    assert 'Bonn"})? [y]es' not in out and out.count("[n]o ") == 3
    assert "Done." in out
    sent = [r["json"] for r in srv.requests if r["path"].endswith("/chat/completions")]
    assert [m["content"] for m in sent[1]["messages"][2:]] == [
        "Oslo: sunny for 1 day(s)",
        "error: the user did not allow this call; do not call it again unless asked to",
    ]
    assert [m["content"] for m in sent[2]["messages"][-2:]] == [
        "Rome: sunny for 1 day(s)",
        "Bonn: sunny for 1 day(s)",
    ]


def test_a_model_the_catalogue_says_cannot_call_tools_is_warned_about_once(
    srv: FakeServer, run_cli: Any
) -> None:
    res = run_cli("complete", "hi", "-m", "qwen-long", "--tool", "now", "--yes", stdin=b"")
    assert res.code == 0, res.err
    assert (
        res.err.count("warning: qwen-long cannot call tools (by the catalogue): they are offered anyway") == 1
    )
    assert bodies(srv)[0]["tools"][0]["function"]["name"] == "now"
