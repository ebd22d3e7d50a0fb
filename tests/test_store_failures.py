"""The store's one failure policy: a damaged, read-only or full history costs `complete` and
`chat` only the log (one warning, the answer still printed); `history` commands fail with one
error naming the file and how to recover it; `qwen history doctor` checks and repairs."""

from __future__ import annotations

import contextlib
import os
import random
import re
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen_cli.errors import StoreError
from qwen_cli.store import NewMessage, Store, default_path
from qwen_cli.store import db as store_db
from qwen_cli.store.doctor import check, repair
from tests import chatkit
from tests.chatkit import lines
from tests.fakeserver import FakeServer

srv = chatkit.srv  # fixture

CONVERSATIONS, TURNS = 30, 5


def fill(path: Path) -> None:
    """Enough rows to span many pages: 30 conversations of 5 turns, ~300 bytes a message."""
    with Store(path) as s:
        for i in range(CONVERSATIONS):
            c = s.create(model="qwen-max")
            for j in range(TURNS):
                s.add(c.id, NewMessage("user", f"question {i} {j} " + "x" * 300))
                s.add(c.id, NewMessage("assistant", f"answer {i} {j} " + "y" * 300))


def truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def overwrite_header(path: Path) -> None:
    with open(path, "r+b") as f:
        f.write(b"\0" * 16)  # the "SQLite format 3" magic


def scribble_pages(path: Path) -> None:
    """Random bytes into every third page from page 3 on (a fixed seed: the same damage each run)."""
    rng = random.Random(16)
    data = bytearray(path.read_bytes())
    for page in range(3, len(data) // 4096, 3):
        at = page * 4096 + 200
        data[at : at + 300] = bytes(rng.randrange(256) for _ in range(300))
    path.write_bytes(bytes(data))


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "header": overwrite_header,
    "pages": scribble_pages,
}
# What repair gets back from each, as (conversations, messages) ranges: all of it when only
# the header was hit; the first half of the pages of a truncated file; all but the rows on
# scribbled pages (a placeholder conversation stands in for one whose row was lost).
TOTAL = CONVERSATIONS * TURNS * 2
RECOVERED = {
    "header": (range(30, 31), range(TOTAL, TOTAL + 1)),
    "truncated": (range(30, 31), range(100, TOTAL)),
    "pages": (range(28, 32), range(250, TOTAL)),
}


@pytest.fixture(params=sorted(CORRUPTIONS))
def damaged(request: pytest.FixtureRequest, isolated_env: Path) -> str:
    path = default_path()
    fill(path)
    CORRUPTIONS[request.param](path)
    return str(request.param)


def one_error(err: str, *needles: str) -> None:
    """Exactly one `qwen: error:` line (with every needle) and one hint, no traceback."""
    errors = [ln for ln in err.splitlines() if ln.startswith("qwen: error:")]
    assert len(errors) == 1, err
    assert all(n in errors[0] for n in needles), err
    assert sum(ln.startswith("hint: ") for ln in err.splitlines()) == 1, err
    assert "Traceback" not in err


def test_history_commands_name_the_file_and_the_way_out(run_cli, damaged: str) -> None:
    path = str(default_path())
    for args in (["history"], ["history", "search", "answer"]):
        r = run_cli(*args)
        assert r.code == 1 and r.out == "", (args, r.err)
        one_error(r.err, path, "is damaged")
        assert "hint: `qwen history doctor --repair`" in r.err


def test_complete_and_chat_still_answer_with_a_damaged_history(
    run_cli, srv: FakeServer, damaged: str
) -> None:
    r = run_cli("complete", "still there?")
    assert r.code == 0 and r.out == "echo: still there?\n", r.err
    assert r.err.count("qwen: warning: this exchange is not kept in the history") == (damaged != "pages")
    assert "Traceback" not in r.err
    r = run_cli("chat", stdin=lines("one", "two"))
    assert r.code == 0 and r.out == "echo: one\necho: two\n", r.err
    # scribbled pages: writes work until one lands on a damaged page, then the one warning
    warned = r.err.count("qwen: warning: this conversation is not kept")
    assert warned in ((0, 1) if damaged == "pages" else (1,))
    assert "Traceback" not in r.err
    assert [q["json"]["messages"][-1]["content"] for q in srv.requests] == ["still there?", "one", "two"]


def test_pages_damage_that_writes_survive_is_still_written(run_cli, srv: FakeServer, isolated_env) -> None:
    """Scribbled pages leave the write path working: the exchange is kept, no warning."""
    path = default_path()
    fill(path)
    scribble_pages(path)
    r = run_cli("complete", "kept anyway")
    assert r.code == 0 and r.out == "echo: kept anyway\n" and "warning" not in r.err
    db = sqlite3.connect(path)
    newest = "SELECT role, content FROM messages ORDER BY id DESC LIMIT 2"
    assert db.execute(newest).fetchall() == [("assistant", "echo: kept anyway"), ("user", "kept anyway")]


@pytest.mark.parametrize("kind", ["truncated", "header"])  # pages: the latest may still read
def test_continue_needs_the_history_so_it_is_an_error(run_cli, srv: FakeServer, kind: str) -> None:
    fill(default_path())
    CORRUPTIONS[kind](default_path())
    r = run_cli("complete", "-c", "again")
    assert r.code == 1
    one_error(r.err, str(default_path()))
    assert srv.requests == []


def test_doctor_finds_the_damage_and_repair_keeps_the_broken_file(run_cli, damaged: str) -> None:
    path = default_path()
    before = path.read_bytes()
    r = run_cli("history", "doctor")
    assert r.code == 1
    one_error(r.err, str(path), "is damaged")
    assert "--repair" in r.err
    assert path.read_bytes() == before  # checking never writes

    r = run_cli("history", "doctor", "--repair")
    assert r.code == 0, r.err
    kept = [p for p in path.parent.iterdir() if p.name.startswith("history.db.broken-")]
    assert len(kept) == 1 and kept[0].read_bytes() == before  # moved aside, byte for byte
    assert f"the damaged file is kept as {kept[0]}" in r.out
    found = re.search(r"repaired, kept (\d+) conversations, (\d+) messages", r.out)
    assert found, r.out
    convs, msgs = int(found[1]), int(found[2])
    assert convs in RECOVERED[damaged][0] and msgs in RECOVERED[damaged][1], (convs, msgs)
    assert (
        sorted(p.name for p in path.parent.iterdir() if "reading" in p.name or "recovered-" in p.name) == []
    )
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    r = run_cli("history", "doctor")
    assert r.code == 0 and r.out == f"{path}: ok ({convs} conversations, {msgs} messages)\n"
    r = run_cli("history", "-n", "100")
    assert r.code == 0 and len(r.out.splitlines()) == convs
    r = run_cli("history", "search", "answer")
    assert r.code == 0 and r.out


def test_repair_keeps_ids_links_and_search(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with Store(path) as s:
        c = s.create(model="qwen-max", system="sys")
        s.add(c.id, NewMessage("user", "找一下 trigram words"))
        s.add(c.id, NewMessage("assistant", "found", status="interrupted"))
    overwrite_header(path)
    done = repair(path)
    assert done.copied["conversations"] == 1 and done.copied["messages"] == 2
    with Store(path) as s:
        [conv] = s.recent()
        assert (conv.id, conv.system) == (c.id, "sys")
        assert [(m.role, m.content, m.status) for m in s.messages(c.id)] == [
            ("user", "找一下 trigram words", "complete"),
            ("assistant", "found", "interrupted"),
        ]
        assert [h.message.content for h in s.search("trigram")] == ["找一下 trigram words"]


def test_doctor_on_a_healthy_or_missing_history(run_cli, isolated_env) -> None:
    path = default_path()
    r = run_cli("history", "doctor")
    assert r.code == 0 and r.out == f"{path}: no history yet\n"
    fill(path)
    r = run_cli("history", "doctor", "--repair")
    assert (
        r.code == 0
        and r.out == f"{path}: ok ({CONVERSATIONS} conversations, {CONVERSATIONS * TURNS * 2} messages)\n"
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["history.db"]  # nothing to repair


def test_check_reports_problems_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    fill(path)
    assert check(path).ok
    scribble_pages(path)
    health = check(path)
    assert not health.ok and health.problems


# --------------------------------------------------------------------------- read-only, full disk


class FailingWrites:
    """A connection whose writes fail the way SQLite says so, reads going through."""

    def __init__(self, db: sqlite3.Connection, error: str) -> None:
        object.__setattr__(self, "_db", db)
        object.__setattr__(self, "_error", error)

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            raise sqlite3.OperationalError(self._error)
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._db, name, value)


@pytest.fixture(params=["database or disk is full", "attempt to write a readonly database"])
def unwritable(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, isolated_env) -> str:
    """The sqlite boundary fails every write (tests run as root: chmod would not stop them)."""
    fill(default_path())  # an existing history, readable
    real = sqlite3.connect

    def connect(*args: Any, **kw: Any) -> Any:
        return FailingWrites(real(*args, **kw), request.param)

    monkeypatch.setattr(store_db.sqlite3, "connect", connect)
    return str(request.param)


def test_a_full_or_read_only_disk_costs_only_the_log(run_cli, srv: FakeServer, unwritable: str) -> None:
    want = "the disk is full" if "full" in unwritable else "attempt to write a readonly database"
    r = run_cli("complete", "hello")
    assert r.code == 0 and r.out == "echo: hello\n", r.err
    warnings = [ln for ln in r.err.splitlines() if ln.startswith("qwen: warning:")]
    assert len(warnings) == 1 and want in warnings[0] and str(default_path()) in warnings[0]
    r = run_cli("chat", stdin=lines("a", "b", "c"))
    assert r.code == 0 and r.out == "echo: a\necho: b\necho: c\n", r.err
    assert r.err.count("qwen: warning: this conversation is not kept in the history") == 1
    assert "Traceback" not in r.err
    r = run_cli("complete", "-c", "goes on")  # reading the history still works; writing is off
    assert r.code == 0 and r.out == "echo: goes on\n" and r.err.count("qwen: warning:") == 1


def test_history_rm_on_a_full_or_read_only_disk_is_an_error(run_cli, unwritable: str) -> None:
    with Store.open() as s:
        conv_id = s.recent(1)[0].id
    r = run_cli("history", "rm", conv_id, "--yes")
    assert r.code == 1
    one_error(r.err, "cannot write the history database", str(default_path()))
    assert "QWEN_DATA_DIR" in r.err


def test_a_history_that_is_a_directory(run_cli, srv: FakeServer, isolated_env) -> None:
    default_path().mkdir(parents=True)
    r = run_cli("complete", "hi")
    assert r.code == 0 and r.out == "echo: hi\n"
    assert r.err.count("qwen: warning: this exchange is not kept in the history") == 1
    r = run_cli("history")
    assert r.code == 1
    one_error(r.err, "cannot write the history database", str(default_path()))


def test_best_effort_store_reports_once_and_stops_writing(tmp_path: Path, monkeypatch) -> None:
    seen: list[StoreError] = []
    s = Store(tmp_path / "h.db", on_failure=seen.append)
    calls = 0
    real = s.db

    class Full(FailingWrites):
        def execute(self, sql: str, *args: Any) -> Any:
            nonlocal calls
            calls += 1
            return super().execute(sql, *args)

    s.db = Full(real, "database or disk is full")  # type: ignore[assignment]
    conv = s.create()
    first = s.add(conv.id, NewMessage("user", "a"))
    after = calls
    second = s.add(conv.id, NewMessage("assistant", "b"))
    assert calls == after  # nothing more is tried once the store failed
    assert len(seen) == 1 and "disk is full" in seen[0].message and s.failed is seen[0]
    assert (first.id, second.id) == (-1, -2) and second.content == "b"
    s.db = real
    s.close()
    with Store(tmp_path / "h.db") as strict, pytest.raises(StoreError):
        strict.db = FailingWrites(strict.db, "database or disk is full")  # type: ignore[assignment]
        strict.create()


# --------------------------------------------------------------------------- real mounts (root)


def mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def data_mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory to mount over, made the data directory; unmounted after the test."""
    where = tmp_path / "mnt"
    where.mkdir()
    monkeypatch.setenv("QWEN_DATA_DIR", str(where))
    yield where
    if subprocess.run(["umount", str(where)], capture_output=True).returncode == 0:
        assert subprocess.run(["umount", str(where)], capture_output=True).returncode != 0, "mounted twice"
    assert not os.path.ismount(where), "still mounted: something in qwen kept a file open"


def test_a_really_full_disk(run_cli, srv: FakeServer, data_mount: Path) -> None:
    if not mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(data_mount)):
        pytest.skip("cannot mount a tmpfs here (not root, or no privileges)")
    assert run_cli("complete", "first").code == 0  # a history exists, then the disk fills up
    with contextlib.suppress(OSError), open(data_mount / "filler", "wb") as f:
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    big = " ".join(str(n) for n in range(3000))  # an answer too long for what is left
    r = run_cli("complete", big)
    assert r.code == 0 and r.out == f"echo: {big}\n", r.err
    warnings = [ln for ln in r.err.splitlines() if ln.startswith("qwen: warning:")]
    assert len(warnings) == 1 and "the disk is full" in warnings[0], r.err
    r = run_cli("chat", stdin=lines("one", "two"))
    assert r.code == 0 and r.out == "echo: one\necho: two\n" and r.err.count("qwen: warning:") == 1


def test_a_really_read_only_data_directory(run_cli, srv: FakeServer, data_mount: Path) -> None:
    assert run_cli("complete", "first").code == 0
    if not (
        mount("--bind", str(data_mount), str(data_mount)) and mount("-o", "remount,ro,bind", str(data_mount))
    ):
        pytest.skip("cannot make a read-only bind mount here (not root, or no privileges)")
    r = run_cli("complete", "hello")
    assert r.code == 0 and r.out == "echo: hello\n"
    warnings = [ln for ln in r.err.splitlines() if ln.startswith("qwen: warning:")]
    assert len(warnings) == 1 and "cannot write the history database" in warnings[0], r.err
    r = run_cli("history")
    assert r.code == 1
    one_error(r.err, "cannot write the history database", str(data_mount / "history.db"))


def test_check_reads_the_wal_and_writes_nothing(tmp_path: Path) -> None:
    """A history caught with rows still in its WAL (a process killed): counted, left as it is."""
    live, path = tmp_path / "live" / "history.db", tmp_path / "history.db"
    with Store(live) as s:
        s.db.execute("PRAGMA wal_autocheckpoint = 0")
        s.add(s.create().id, NewMessage("user", "only in the WAL"))
        for suffix in ("", "-wal"):
            Path(f"{path}{suffix}").write_bytes(Path(f"{live}{suffix}").read_bytes())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert "history.db-wal" in before
    health = check(path)
    assert health.ok and health.counts == {"conversations": 1, "messages": 1}
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
