"""Fragments (``-f``) kept once by their hash, and which message used which.

Tables of their own, created on first use rather than by a numbered migration (as
:mod:`qwen_cli.store.sources` does)::

    fragments          sha256 (of the UTF-8 text) primary key, text, size in bytes
    message_fragments  message id, position (the order sent), sha256, source (a path as
                       given, a URL, or "stdin"); deleting the message deletes its rows

A conversation that sends the same 200 KB file in 30 turns stores its text once. A fragment
no message uses any more (its conversation deleted) is deleted with its last reference.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Sequence

from qwen_cli.structs import struct

TEXTS = "fragments"
LINKS = "message_fragments"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TEXTS} ("
    " sha256 TEXT PRIMARY KEY, text TEXT NOT NULL, size INTEGER NOT NULL, created_at REAL NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {LINKS} ("
    " message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    " position INTEGER NOT NULL, sha256 TEXT NOT NULL REFERENCES fragments(sha256),"
    " source TEXT NOT NULL, PRIMARY KEY (message_id, position))",
    f"CREATE INDEX IF NOT EXISTS {LINKS}_sha256 ON {LINKS} (sha256)",
    # the text goes with its last reference: a deleted conversation leaves nothing behind
    f"CREATE TRIGGER IF NOT EXISTS {LINKS}_gone AFTER DELETE ON {LINKS} BEGIN"
    f" DELETE FROM {TEXTS} WHERE sha256 = OLD.sha256"
    f" AND NOT EXISTS (SELECT 1 FROM {LINKS} WHERE sha256 = OLD.sha256); END",
)


@struct(frozen=True)
class Fragment:
    """A fragment's text and where it came from (a path as given, a URL, or ``stdin``)."""

    source: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def size(self) -> int:
        """Its size in bytes (UTF-8)."""
        return len(self.text.encode("utf-8", "surrogatepass"))


def write(db: sqlite3.Connection, message_id: int, fragments: Sequence[Fragment]) -> None:
    """Link ``fragments`` (in the order sent) to the message, storing each text not yet kept
    (inside the caller's transaction)."""
    if not fragments:
        return
    for sql in _CREATE:
        db.execute(sql)
    now = time.time()
    for position, f in enumerate(fragments):
        digest = f.sha256
        db.execute(
            f"INSERT OR IGNORE INTO {TEXTS} (sha256, text, size, created_at) VALUES (?, ?, ?, ?)",
            (digest, f.text, f.size, now),
        )
        db.execute(
            f"INSERT OR REPLACE INTO {LINKS} (message_id, position, sha256, source) VALUES (?, ?, ?, ?)",
            (message_id, position, digest, f.source),
        )


def read(db: sqlite3.Connection, message_ids: Sequence[int]) -> dict[int, list[Fragment]]:
    """The fragments of these messages, in the order they were sent; none when never made."""
    if (
        not message_ids
        or not db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (LINKS,)
        ).fetchone()
    ):
        return {}
    out: dict[int, list[Fragment]] = {}
    for start in range(0, len(message_ids), 500):
        ids = list(message_ids[start : start + 500])
        marks = ", ".join("?" * len(ids))
        rows = db.execute(
            f"SELECT l.message_id, l.source, t.text FROM {LINKS} l JOIN {TEXTS} t ON t.sha256 = l.sha256"
            f" WHERE l.message_id IN ({marks}) ORDER BY l.message_id, l.position",
            ids,
        )
        for mid, source, text in rows:
            out.setdefault(int(mid), []).append(Fragment(str(source), str(text)))
    return out
