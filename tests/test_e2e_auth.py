"""The installed `qwen`: auth and models as a new user meets them, regions as separate processes."""

from __future__ import annotations

import os
import pty
import select
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServerProcess
from tests.regionservers import KEYS

pytestmark = needs_qwen
CN, INTL = KEYS["cn"], KEYS["intl"]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, FakeServerProcess]]:
    with (
        FakeServerProcess("--api-key", KEYS["cn"]) as cn,
        FakeServerProcess("--api-key", KEYS["intl"]) as intl,
        FakeServerProcess("--api-key", KEYS["us"]) as us,
    ):
        yield {"cn": cn, "intl": intl, "us": us}


@pytest.fixture
def env(servers: dict[str, FakeServerProcess]) -> dict[str, str]:
    for srv in servers.values():
        srv.reset()
    return clean_env(**{f"QWEN_BASE_URL_{region.upper()}": srv.base_url for region, srv in servers.items()})


def qwen(env: dict[str, str], *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QWEN, *args], input=stdin, capture_output=True, text=True, env={**env, **extra}, timeout=60
    )


def no_key(*texts: str) -> None:
    for text in texts:
        for key in KEYS.values():
            assert key not in text and key[:-4] not in text


class Pane:
    """One tmux pane running a command, on a private tmux server."""

    def __init__(self, cmd: str, env: dict[str, str]) -> None:
        self.tmux = ["tmux", "-L", f"qwen-auth-{os.getpid()}", "-f", "/dev/null"]
        subprocess.run(
            [
                *self.tmux,
                "new-session",
                "-d",
                "-x",
                "100",
                "-y",
                "30",
                "-s",
                "t",
                cmd + "; echo __EXIT__$?; sleep 60",
            ],
            check=True,
            env={**env, "TERM": "xterm-256color"},
            timeout=20,
        )

    def screen(self) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-J", "-S", "-", "-t", "t"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared:\n{self.screen()}")

    def type(self, text: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "t", "-l", text], check=True, timeout=20)
        subprocess.run([*self.tmux, "send-keys", "-t", "t", "Enter"], check=True, timeout=20)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, timeout=20)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_new_user_logs_in_with_hidden_input_checks_status_and_logs_out(
    env: dict[str, str], servers: dict[str, FakeServerProcess]
) -> None:
    pane = Pane(f"{QWEN} auth login", env)
    try:
        pane.wait_for("Region (cn = China (Beijing), intl = Singapore, us = US (Virginia)) [cn]: ")
        pane.type("intl")
        pane.wait_for("API key (input is hidden): ")
        pane.type(INTL)
        screen = pane.wait_for("__EXIT__")
    finally:
        pane.close()
    assert "__EXIT__0" in screen, screen
    assert (
        "Logged in to dashscope, region intl (Singapore), key sk-...3333; checked: 7 models available."
        in screen
    )
    no_key(screen)  # the key was never echoed
    path = Path(env["QWEN_CONFIG_DIR"]) / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert servers["intl"].requests()[-1]["headers"]["authorization"] == f"Bearer {INTL}"

    p = qwen(env, "auth", "status")
    assert p.returncode == 0, p.stderr
    assert f"API key   sk-...3333, from {path}" in p.stdout and "check     ok" in p.stdout

    p = qwen(env, "auth", "status", "--region", "cn")  # the key is Singapore's
    assert p.returncode == 3
    assert "this key belongs to region intl (Singapore), not cn (China (Beijing))" in p.stderr
    assert "--region intl" in p.stderr and "Traceback" not in p.stderr

    p = qwen(env, "auth", "logout", DASHSCOPE_API_KEY=CN)
    assert p.returncode == 0 and not path.exists()
    assert "note: DASHSCOPE_API_KEY is still set in the environment" in p.stderr
    no_key(p.stdout, p.stderr)


def test_piped_login_wrong_region_and_debug_never_show_the_key(env: dict[str, str]) -> None:
    p = qwen(env, "auth", "login", "--with-key-stdin", "--region", "us", "--debug", stdin=INTL + "\n")
    assert p.returncode == 3 and "belongs to region intl" in p.stderr
    assert "Authorization" in p.stderr or "authorization" in p.stderr  # --debug logged the requests
    no_key(p.stdout, p.stderr)
    p = qwen(env, "auth", "login", "--with-key-stdin", stdin=INTL + "\n")
    assert p.returncode == 0 and "storing it for region intl" in p.stderr
    for args in (
        ("auth", "status", "--debug"),
        ("models", "--debug", "--refresh"),
        ("models", "show", "qwen-max"),
    ):
        p = qwen(env, *args)
        assert p.returncode == 0, p.stderr
        no_key(p.stdout, p.stderr)
    p = qwen(env, "auth", "login")  # no terminal, no --with-key-stdin
    assert p.returncode == 2 and "--with-key-stdin" in p.stderr


def run_in_pty(env: dict[str, str], *args: str) -> str:
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(
        [QWEN, *args], stdin=slave, stdout=slave, stderr=slave, env={**env, "TERM": "xterm-256color"}
    )
    os.close(slave)
    chunks = []
    while True:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    assert proc.wait(timeout=10) == 0
    os.close(master)
    return b"".join(chunks).decode()


def test_models_online_cached_offline(env: dict[str, str], servers: dict[str, FakeServerProcess]) -> None:
    env = {**env, "DASHSCOPE_API_KEY": CN, "QWEN_MAX_RETRIES": "0"}
    screen = run_in_pty(env, "models")
    assert "\x1b[" in screen  # a rich table, in colour
    assert "in ¥/M" in screen and "qwen-vl-max" in screen and "7 models from GET" in screen
    assert len(servers["cn"].requests()) == 1
    p = qwen(env, "models")
    assert p.returncode == 0 and "from the cache, fetched just now" in p.stderr
    assert len(servers["cn"].requests()) == 1
    p = qwen(env, "models", "--refresh", QWEN_BASE_URL_CN="http://127.0.0.1:9/compatible-mode/v1")
    assert (
        p.returncode == 0 and "could not fetch the model list" in p.stderr and "it may be stale" in p.stderr
    )
    assert len(p.stdout.splitlines()) > 7  # the catalogue: nothing cached for that URL


# ------------------------------------------------------------------ a gateway standing in for a region

BIG_USAGE = {"prompt_tokens": 100_000, "completion_tokens": 5_000, "total_tokens": 105_000}


def test_a_region_behind_a_gateway_as_a_new_user_meets_it(
    env: dict[str, str], servers: dict[str, FakeServerProcess]
) -> None:
    """QWEN_BASE_URL_CN points at a local server: it is still DashScope's Beijing region."""
    from tests.fakeserver import chat_stream_events

    p = qwen(env, "complete", "hi")  # no key: refused before anything is sent
    assert (p.returncode, p.stdout) == (3, "")
    assert p.stderr == "qwen: error: no API key\nhint: run `qwen auth login` or set DASHSCOPE_API_KEY\n"
    assert all(srv.requests() == [] for srv in servers.values())

    status = qwen(env, "auth", "status", DASHSCOPE_API_KEY=INTL)
    complete = qwen(env, "complete", "hi", DASHSCOPE_API_KEY=INTL)  # a Singapore key, asked in Beijing
    assert status.returncode == complete.returncode == 3 and complete.stdout == ""
    assert complete.stderr.startswith("qwen: error: this key belongs to region intl (Singapore), not cn")
    assert complete.stderr == status.stderr
    no_key(status.stdout, status.stderr, complete.stderr)

    servers["cn"].enqueue({"sse": chat_stream_events(["答案"], usage=BIG_USAGE)})
    p = qwen(env, "complete", "hi", DASHSCOPE_API_KEY=CN)
    assert p.returncode == 0 and p.stdout == "答案\n"
    assert "~¥0.2880" in p.stderr  # 100k in and 5k out of qwen-max at Beijing's list price

    servers["cn"].enqueue({"sse": chat_stream_events(["答案"], usage=BIG_USAGE)})
    p = qwen(env, "chat", stdin="hi\n/usage\n", DASHSCOPE_API_KEY=CN)
    assert p.returncode == 0, p.stderr
    assert p.stderr.splitlines()[-1] == "1 turn · 100,000 in · 5,000 out · 105,000 total · ~¥0.2880"  # piped
