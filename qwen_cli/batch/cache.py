"""Answers kept by the exact request: an identical re-run costs nothing.

One SQLite file in the data directory (``batch/cache.sqlite``). The key is the SHA-256 of the
server's base URL and the body as it is sent (keys sorted), so the model and every option are
part of it; only successful answers are kept. ``--no-cache`` neither reads nor writes it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from qwen_cli.batch.state import connect


def cache_path(data_dir: Path) -> Path:
    return data_dir / "batch" / "cache.sqlite"


def cache_key(server: str, body: dict[str, Any]) -> str:
    text = json.dumps(
        {"server": server, "body": body}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, path: Path) -> None:
        self.db: sqlite3.Connection = connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL)")

    def get(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            data = json.loads(row[0])
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, answer: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?)", (key, json.dumps(answer, ensure_ascii=False))
        )

    def close(self) -> None:
        self.db.close()
