"""Every test runs with a clean environment and its own config, data and cache dirs."""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

FAKE_KEY = "sk-test0000000000000000000000abcd"  # not a real key: fixed shape for masking tests


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("QWEN_", "DASHSCOPE_")) or name in (
            "NO_COLOR",
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "ALL_PROXY",
        ):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("QWEN_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("QWEN_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("QWEN_CACHE_DIR", str(home / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no stray .env
    # Never sleep for real between retries: every client's backoff (not Retry-After) is 0 s.
    from qwen_cli.client import Qwen

    monkeypatch.setattr(Qwen, "jitter", staticmethod(lambda delay: 0.0))
    return home


@pytest.fixture(autouse=True)
def reset_logging() -> Iterator[None]:
    """`--debug` run in-process adds a handler bound to this test's captured stderr: drop it after."""
    log = logging.getLogger("qwen_cli")
    handlers, level = list(log.handlers), log.level
    yield
    log.handlers[:] = handlers
    log.setLevel(level)


class _Stdin(io.TextIOWrapper):
    def __init__(self, data: bytes, tty: bool) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``qwen`` in-process through its real error boundary; stdout is not a TTY."""
    from qwen_cli.cli import main

    def run(*args: str, stdin: bytes | None = None) -> Result:
        monkeypatch.setattr(sys, "stdin", _Stdin(stdin or b"", tty=stdin is None))
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    """A fake DashScope server in a subprocess, shared by a test module."""
    from tests.fakeserver import FakeServerProcess

    with FakeServerProcess() as srv:
        yield srv


@pytest.fixture
def srv(server):  # type: ignore[no-untyped-def]
    """The module's fake server, its queue and request log emptied for this test."""
    server.reset()
    return server
