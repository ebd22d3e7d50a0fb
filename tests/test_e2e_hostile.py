"""The installed `qwen` against a hostile server (tests/hostile_server.py): no answer crashes it,
loses what arrived, or takes unbounded memory or time."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServerProcess
from tests.hostile_server import BOMBS, ENDLESS, GREETING, MODEL_LISTS, SCENARIOS, TAIL, TOLERATED, UNREADABLE

pytestmark = needs_qwen

KEY = "sk-e2e-hostile-0000000000000000"
MIB = 1 << 20


@dataclass
class Run:
    code: int
    out: str
    err: str
    max_rss: int  # bytes, the child's peak resident set
    seconds: float


# A child forked from this (large) test process counts the parent's pages in its peak RSS, even
# after exec; so `qwen` is started by a small Python that writes its child's peak to a pipe.
_MEASURE = """
import os, resource, subprocess, sys
try:
    code = subprocess.run(sys.argv[3:], timeout=float(sys.argv[2])).returncode
except subprocess.TimeoutExpired:
    code = -9
os.write(int(sys.argv[1]), str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss).encode())
sys.exit(code if code >= 0 else 128 - code)
"""


def qwen(srv: FakeServerProcess, *args: str, timeout: float = 60) -> Run:
    """Run the installed `qwen`; ``max_rss`` is its own peak (KiB from getrusage, in bytes)."""
    env = clean_env(QWEN_BASE_URL=srv.base_url, DASHSCOPE_API_KEY=KEY)
    start = time.monotonic()
    read_fd, write_fd = os.pipe()
    try:
        p = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(write_fd), str(timeout), QWEN, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            pass_fds=(write_fd,),
            timeout=timeout + 30,
        )
        os.close(write_fd)
        write_fd = -1
        peak_kib = int(os.read(read_fd, 64) or b"0")
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    return Run(
        p.returncode,
        p.stdout.decode("utf-8"),
        p.stderr.decode("utf-8"),
        peak_kib * 1024,  # KiB on Linux
        time.monotonic() - start,
    )


def stored() -> list[tuple[str, str, str, str | None]]:
    """(role, content, status, error) of every message in the history database."""
    path = Path(os.environ["QWEN_DATA_DIR"]) / "history.db"
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT role, content, status, error FROM messages ORDER BY id"))


def assert_one_error(r: Run, *, says: str) -> list[str]:
    lines = r.err.splitlines()
    assert "Traceback" not in r.err
    errors = [line for line in lines if line.startswith("qwen: error: ")]
    assert len(errors) == 1 and says in errors[0], r.err
    hints = [line for line in lines if line.startswith("hint: ")]
    assert len(hints) == 1, r.err
    return errors


# What each tolerated scenario adds between GREETING and TAIL.
MIDDLE = {
    "created_float": "1.5 ",
    "created_missing": "none ",
    "choices_dict": "dict ",
    "delta_string": "plain ",
    "content_number": "42",
    "lone_surrogate": "x\ufffdy ",
}


@pytest.mark.parametrize("name", sorted(TOLERATED))
def test_a_malformed_event_is_skipped_or_repaired_and_the_answer_is_whole(
    srv: FakeServerProcess, name: str
) -> None:
    srv.enqueue(*SCENARIOS[name])
    r = qwen(srv, "complete", "hi")
    text = GREETING + MIDDLE.get(name, "") + TAIL
    assert (r.code, r.out) == (0, text + "\n"), r.err
    assert "Traceback" not in r.err and "error" not in r.err
    assert stored() == [("user", "hi", "complete", None), ("assistant", text, "complete", None)]


@pytest.mark.parametrize("no_stream", [False, True])
@pytest.mark.parametrize(
    ("name", "says"),
    [
        (
            "not_json_body",
            "the server answered with something that is not a JSON object: 'Internal error <oops>'",
        ),
        ("deep_json_body", "the server answered with something that is not a JSON object: '[[[["),
        (
            "html_200",
            "the server sent an HTML page ('Airport WiFi: please sign in'), "
            "not an API answer: a proxy or captive portal?",
        ),
        ("error_message_list", "qwen: error: a; 1"),
    ],
)
def test_an_unreadable_answer_is_one_error_line_with_a_hint(
    srv: FakeServerProcess, name: str, says: str, no_stream: bool
) -> None:
    srv.enqueue(*SCENARIOS[name])
    r = qwen(srv, "complete", "hi", *(["--no-stream"] if no_stream else []))
    assert r.code == 1 and r.out == ""
    assert_one_error(r, says=says)
    assert "<html" not in r.err.lower() and "['a', 1]" not in r.err
    assert stored()[-1][0::2] == ("assistant", "error")  # the failed turn is on record


def test_a_compression_bomb_body_is_not_inflated_past_the_cap(srv: FakeServerProcess) -> None:
    srv.enqueue(*BOMBS["bomb_body"])
    r = qwen(srv, "complete", "hi", "--no-stream")
    assert r.code == 1
    assert_one_error(r, says="the server's answer decompressed to more than 32 MiB; stopped reading there")
    assert r.max_rss < 200 * MIB, f"peak RSS {r.max_rss / MIB:.0f} MiB"


def test_a_compression_bomb_error_body_is_capped_on_every_retry(srv: FakeServerProcess) -> None:
    srv.enqueue(*BOMBS["bomb_error"])
    r = qwen(srv, "complete", "hi", "--max-retries", "2")
    assert r.code == 6
    assert_one_error(r, says="an error body larger than 1 MiB; not read past that (gave up after 2 retries)")
    assert len(srv.requests()) == 3
    assert r.max_rss < 200 * MIB, f"peak RSS {r.max_rss / MIB:.0f} MiB"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("bomb_stream", "one event was larger than 8 MiB; stopped reading there"),
        ("endless_line", "one event was larger than 8 MiB; stopped reading there"),
        ("bomb_stream_lines", "no answer data for 3s, only keep-alive comments (read timeout)"),
        ("keepalive_forever", "no answer data for 3s, only keep-alive comments (read timeout)"),
    ],
)
def test_a_stream_that_would_never_end_stops_and_keeps_what_arrived(
    srv: FakeServerProcess, name: str, says: str
) -> None:
    srv.enqueue(*SCENARIOS[name])
    r = qwen(srv, "complete", "hi", "--timeout", "3", timeout=60)
    assert r.code == 6 and r.out == GREETING + "\n"
    assert_one_error(r, says=f"the answer stream broke off after {len(GREETING)} characters: {says}")
    (_, content, status, error) = stored()[-1]
    assert (content, status) == (GREETING, "error") and error and says in error
    assert r.max_rss < 200 * MIB, f"peak RSS {r.max_rss / MIB:.0f} MiB"
    assert r.seconds < 30


@pytest.mark.parametrize(
    ("name", "model"), [("models_created_float", "Qwen/Qwen3-0.6B"), ("models_created_missing", "qwen3.gguf")]
)
def test_models_from_third_party_servers(srv: FakeServerProcess, name: str, model: str) -> None:
    srv.enqueue(*MODEL_LISTS[name])
    r = qwen(srv, "models", "--refresh")
    assert r.code == 0, r.err
    assert model in r.out and "Traceback" not in r.err


def test_a_model_list_without_data_names_the_field(srv: FakeServerProcess) -> None:
    srv.enqueue(*MODEL_LISTS["models_no_data"])
    r = qwen(srv, "models", "--refresh")
    assert r.code == 1
    assert_one_error(r, says="the model list's `data` field is missing or not a list")


def test_every_scenario_is_exercised() -> None:
    named = set(TOLERATED) | {"not_json_body", "deep_json_body", "html_200", "error_message_list"}
    named |= set(BOMBS) | set(ENDLESS) | set(MODEL_LISTS)
    assert named == set(SCENARIOS) and set(UNREADABLE) <= named
