"""What the user chose in ``qwen complete --shell``'s menu, kept beside the answer.

A table of its own, created on first use rather than by a numbered migration (as
:mod:`qwen_cli.store.sources` does): one row per choice (execute, describe, revise, copy,
abort), the command it was made on and, for execute, the command's exit code. Deleting the
message deletes its rows.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwen_cli.store.db import Store

TABLE = "shell_choices"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    " choice TEXT NOT NULL, command TEXT NOT NULL, exit_code INTEGER, created_at REAL NOT NULL)"
)


def record(store: Store, message_id: int, choice: str, command: str, exit_code: int | None = None) -> None:
    """Keep one choice (its own short write transaction; best effort as the store's writes are)."""

    def insert(db: sqlite3.Connection) -> None:
        db.execute(_CREATE)
        db.execute(
            f"INSERT INTO {TABLE} (message_id, choice, command, exit_code, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (message_id, choice, command, exit_code, time.time()),
        )

    store._write(insert)


def read(db: sqlite3.Connection, message_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The choices made on these messages, in order; none when the table was never made."""
    if (
        not message_ids
        or not db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
        ).fetchone()
    ):
        return {}
    out: dict[int, list[dict[str, Any]]] = {}
    marks = ", ".join("?" * len(message_ids))
    rows = db.execute(
        f"SELECT message_id, choice, command, exit_code FROM {TABLE}"
        f" WHERE message_id IN ({marks}) ORDER BY id",
        list(message_ids),
    )
    for mid, choice, command, code in rows:
        out.setdefault(int(mid), []).append({"choice": choice, "command": command, "exit_code": code})
    return out
