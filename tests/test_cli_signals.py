"""SIGTERM/SIGHUP handling in-process: Ctrl-C's path, a store write never cut in half, the
previous handlers restored, 128 + signal from main()."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from qwen_cli.cli import signals
from qwen_cli.errors import Terminated
from qwen_cli.store import MIGRATIONS, Store


def test_terminated_is_a_keyboard_interrupt_with_its_exit_code() -> None:
    exc = Terminated(signal.SIGTERM)
    assert isinstance(exc, KeyboardInterrupt) and exc.exit_code == 143
    assert Terminated(signal.SIGHUP).exit_code == 129


def test_handlers_are_restored_after_the_block() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    with signals.handled():
        assert signal.getsignal(signal.SIGTERM) is signals._on_signal
        with pytest.raises(Terminated) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert caught.value.signum == signal.SIGTERM and signals.received() == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGHUP)  # a second signal: noted, not raised (cleanup goes on)
        time.sleep(0.05)
        assert signals.received() == signal.SIGTERM
        assert isinstance(signals.pending(), Terminated)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before
    with signals.handled():
        assert signals.received() is None and signals.pending() is None


def test_a_signal_during_a_store_write_waits_for_the_commit(tmp_path: Path) -> None:
    """The signal lands inside the write transaction; the row is committed, then it raises."""

    def migration(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE t (x)")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # Python runs the handler here, inside the transaction
        db.execute("INSERT INTO t VALUES (1)")

    with signals.handled(), pytest.raises(Terminated):
        store = Store(tmp_path / "h.db", migrations=[*MIGRATIONS, migration])
        try:
            time.sleep(2)
        finally:
            store.close()
    db = sqlite3.connect(tmp_path / "h.db")
    assert db.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS) + 1,)


def test_main_exits_with_128_plus_the_signal(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def killed(*args: object, **kw: object) -> None:
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(1)

    monkeypatch.setattr("qwen_cli.cli.answer.settings_for", killed)
    r = run_cli("complete", "hi")
    assert r.code == 129 and r.out == "" and "Traceback" not in r.err  # typer's Exit(130), remapped
