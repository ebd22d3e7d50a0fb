"""The web-search sources of an answer, kept beside its message.

A table of its own, created on first use rather than by a numbered migration (so it needs no
place in :data:`~qwen_cli.store.schema.MIGRATIONS`): one row per answer that had sources, the
list as JSON (index, title, url, site, hostname). Deleting the message deletes its row.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

TABLE = "message_sources"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,"
    " sources TEXT NOT NULL)"
)


def write(db: sqlite3.Connection, message_id: int, sources: Sequence[dict[str, Any]]) -> None:
    """Keep ``sources`` for the message (inside the caller's transaction)."""
    if sources:
        db.execute(_CREATE)
        db.execute(
            f"INSERT OR REPLACE INTO {TABLE} (message_id, sources) VALUES (?, ?)",
            (message_id, json.dumps(list(sources), ensure_ascii=False)),
        )


def read(db: sqlite3.Connection, message_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The sources kept for these messages; none when the table was never made."""
    if (
        not message_ids
        or not db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
        ).fetchone()
    ):
        return {}
    out: dict[int, list[dict[str, Any]]] = {}
    for start in range(0, len(message_ids), 500):
        ids = list(message_ids[start : start + 500])
        marks = ", ".join("?" * len(ids))
        rows = db.execute(f"SELECT message_id, sources FROM {TABLE} WHERE message_id IN ({marks})", ids)
        for mid, text in rows:
            try:
                data = json.loads(text)
            except ValueError:
                continue  # an unreadable list is left out rather than hiding the message
            if isinstance(data, list):
                out[int(mid)] = [d for d in data if isinstance(d, dict)]
    return out
