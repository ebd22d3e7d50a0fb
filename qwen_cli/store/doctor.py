"""Checking a history database and saving what can be read from a damaged one.

:func:`check` runs SQLite's ``PRAGMA integrity_check``. :func:`repair` copies every row that
can still be read into a fresh database built by the current migrations, moves the damaged
file (with its ``-wal`` and ``-shm``) aside as ``history.db.broken-<time>`` and puts the new
one in its place. Nothing is ever deleted, and the damaged file is only read: the rows are
read from a scratch copy whose header is mended where that helps (the magic string put back,
a truncated file padded to its declared size). Rows are read in ``rowid`` order; when a damaged
page stops the scan, the scan jumps ahead by growing steps, so rows past the damage are
still found. A message whose conversation was lost gets a placeholder conversation titled
``(recovered)``; an attachment whose message was lost stays with its conversation.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from qwen_cli.store.db import Store, failure
from qwen_cli.structs import field, struct

_MAX_JUMP = 1 << 62
_MAGIC = b"SQLite format 3\x00"
_MAX_PAD = 1 << 34  # never pad a copy past 16 GiB, whatever a damaged header says
_FIRST = ("conversations", "messages", "attachments")


@struct
class Health:
    """What :func:`check` found; ``problems`` is empty for a healthy file."""

    path: Path
    exists: bool
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


@struct
class Repaired:
    """What :func:`repair` did."""

    path: Path
    kept_as: Path
    copied: dict[str, int]
    unreadable: int  # rows the scan had to skip (at least this many, when pages were lost)
    refused: int  # rows read but not insertable (broken values)


def check(path: Path, limit: int = 20) -> Health:
    """``PRAGMA integrity_check`` (at most ``limit`` problems) and the row counts of a healthy file.

    Runs on a copy, so the file is only read. Raises :class:`StoreError` when it cannot be read
    at all (a directory, no access).
    """
    if not path.exists():
        return Health(path, exists=False)
    if path.is_dir():
        raise failure(path, IsADirectoryError(21, "it is a directory"))
    health = Health(path, exists=True)
    try:
        with tempfile.TemporaryDirectory(prefix="qwen-doctor-") as tmp:
            found = _integrity(path, Path(tmp) / path.name, limit, health.counts)
    except OSError as exc:
        raise failure(path, exc) from exc
    health.problems = found
    return health


def _integrity(path: Path, copy: Path, limit: int, counts: dict[str, int]) -> list[str]:
    """The check, run on a copy: SQLite would otherwise replay and fold the WAL into the file."""
    shutil.copyfile(path, copy)
    with contextlib.suppress(FileNotFoundError):
        shutil.copyfile(f"{path}-wal", f"{copy}-wal")
    try:
        with contextlib.closing(sqlite3.connect(copy)) as db:
            rows = db.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
            found = [str(r[0]) for r in rows if str(r[0]) != "ok"]
            if not found:
                for table in ("conversations", "messages"):
                    counts[table] = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        err = failure(path, exc)
        if not err.damaged:
            raise err from exc
        found = [str(exc)]
    return found


def repair(path: Path) -> Repaired:
    """Copy what can be read from ``path`` into a new file that takes its place; the damaged
    file is kept as ``<name>.broken-<time>``. Raises :class:`StoreError` if the new file
    cannot be written."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = path.with_name(f"{path.name}.broken-{stamp}")
    fresh = path.with_name(f"{path.name}.recovered-{stamp}")
    copied: dict[str, int] = {}
    unreadable = refused = 0
    scratch = path.with_name(f"{path.name}.reading-{stamp}")
    with Store(fresh) as new:
        try:
            _readable_copy(path, scratch)
            src = sqlite3.connect(scratch)
        except (OSError, sqlite3.Error):
            src = None
        if src is not None:
            with contextlib.closing(src):
                new.db.execute("PRAGMA foreign_keys = OFF")  # checked by hand: see _insert
                new.db.execute("BEGIN IMMEDIATE")
                for table in _tables(new.db):
                    n, lost, bad = _copy(src, new.db, table)
                    copied[table], unreadable, refused = n, unreadable + lost, refused + bad
                new.db.execute("COMMIT")
                new.db.execute("PRAGMA foreign_keys = ON")
    for suffix in ("", "-wal", "-shm"):  # our own scratch copy, not the user's file
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{scratch}{suffix}")
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{kept}{suffix}")
    os.replace(fresh, path)
    return Repaired(path, kept, copied, unreadable, refused)


def _readable_copy(path: Path, scratch: Path) -> None:
    """A copy of the damaged file (and its WAL) that SQLite will open: the magic string put
    back if it was overwritten, and a truncated file padded with empty pages up to the size
    its header declares, so the pages that survived can still be read. The original is
    never written to."""
    shutil.copyfile(path, scratch)
    with contextlib.suppress(FileNotFoundError):
        shutil.copyfile(f"{path}-wal", f"{scratch}-wal")
    with open(scratch, "r+b") as f:
        head = f.read(100)
        if len(head) < 100:
            return
        if head[:16] != _MAGIC:
            f.seek(0)
            f.write(_MAGIC)
        page_size = int.from_bytes(head[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(head[28:32], "big")
        size = f.seek(0, os.SEEK_END)
        if 512 <= page_size <= 65536 and page_size & (page_size - 1) == 0:
            declared = pages * page_size
            if size < declared <= _MAX_PAD:
                f.truncate(declared)


def _tables(db: sqlite3.Connection) -> list[str]:
    """The new file's own tables (not the FTS index, which the triggers refill), parents first."""
    names = [
        str(r[0])
        for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")
        if not str(r[0]).startswith(("sqlite_", "messages_fts")) and r[0] != "meta"
    ]
    return [t for t in _FIRST if t in names] + [t for t in names if t not in _FIRST]


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [str(r[1]) for r in db.execute(f'PRAGMA table_info("{table}")')]


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection, table: str) -> tuple[int, int, int]:
    try:
        have = set(_columns(src, table))
    except sqlite3.DatabaseError:
        return 0, 1, 0
    cols = [c for c in _columns(dst, table) if c in have]
    if not cols:
        return 0, 0, 0
    copied = lost = refused = 0
    for row in _readable(src, table, cols):
        if row is None:
            lost += 1
        elif _insert(dst, table, dict(zip(cols, row, strict=True))):
            copied += 1
        else:
            refused += 1
    return copied, lost, refused


def _readable(src: sqlite3.Connection, table: str, cols: list[str]) -> Iterator[tuple[object, ...] | None]:
    """Rows in rowid order; ``None`` once for each damaged stretch skipped."""
    select = ", ".join(f'"{c}"' for c in cols)
    after, jump = -(1 << 63), 1
    while True:
        try:
            sql = f'SELECT rowid, {select} FROM "{table}" WHERE rowid > ? ORDER BY rowid'
            cur = src.execute(sql, (after,))
            for row in cur:
                after, jump = row[0], 1
                yield tuple(row[1:])
            return
        except sqlite3.DatabaseError:
            if jump == 1:
                yield None
            if jump > _MAX_JUMP or after > (1 << 63) - 1 - jump:
                return
            after, jump = after + jump, jump * 2


def _insert(dst: sqlite3.Connection, table: str, row: dict[str, object]) -> bool:
    conv = row.get("conversation_id")
    if table != "conversations" and isinstance(conv, str):
        when = row.get("created_at") if isinstance(row.get("created_at"), (int, float)) else time.time()
        dst.execute(
            "INSERT OR IGNORE INTO conversations (id, created_at, updated_at, title) VALUES (?, ?, ?, ?)",
            (conv, when, when, "(recovered)"),
        )
    parent = row.get("message_id") if table == "attachments" else None
    found = "SELECT 1 FROM messages WHERE id = ?"
    if parent is not None and dst.execute(found, (parent,)).fetchone() is None:
        row["message_id"] = None
    names = ", ".join(f'"{c}"' for c in row)
    marks = ", ".join("?" for _ in row)
    try:
        dst.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', tuple(row.values()))
    except sqlite3.Error:
        return False
    return True
