"""The state of every request of one run, durable as each one completes.

One SQLite file per output file, in the data directory (``batch/runs/<hash of the output's
absolute path>.sqlite``), apart from the history store. A row per request: its id, a hash of
its body, ``done`` or ``failed``, the attempts, and the whole output line. Each row is committed
(WAL, synchronous=NORMAL: a committed answer survives ``kill -9``) before its line is written to
the output, so after a kill the output is made whole again from here (:meth:`RunState.missing_from`)
and only requests with no row, or whose body changed, are sent again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qwen_cli.errors import StoreError

DONE = "done"
FAILED = "failed"


def body_hash(body: dict[str, Any]) -> str:
    """The hash of a body as it would be sent: keys sorted, no spaces."""
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def state_path(data_dir: Path, output: Path) -> Path:
    key = hashlib.sha256(str(output.resolve()).encode("utf-8")).hexdigest()[:24]
    return data_dir / "batch" / "runs" / f"{key}.sqlite"


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode, the file made private (answers are the user's)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        path.chmod(0o600)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(
            f"cannot open {path}: {exc}", hint="check the data directory (QWEN_DATA_DIR)"
        ) from None
    return db


class RunState:
    """The requests of one output file: which are answered, which failed, their lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS requests (custom_id TEXT PRIMARY KEY, hash TEXT NOT NULL,"
            " status TEXT NOT NULL, attempts INTEGER NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL)"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        # the order results came in, counted here: a MAX(seq) per insert scans the whole table
        self._seq = int(self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()[0])

    def close(self) -> None:
        self.db.close()

    def reset(self, output: str) -> None:
        """Forget every request: a new run for ``output``."""
        self.db.execute("BEGIN")
        self.db.execute("DELETE FROM requests")
        self.db.execute("DELETE FROM meta")
        self.db.execute("INSERT INTO meta VALUES ('output', ?)", (output,))
        self.db.execute("COMMIT")
        self._seq = 0

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])

    def known(self) -> dict[str, tuple[str, str]]:
        """id -> (body hash, status) of every request with a result."""
        return {cid: (h, s) for cid, h, s in self.db.execute("SELECT custom_id, hash, status FROM requests")}

    def record(self, custom_id: str, digest: str, status: str, attempts: int, line: str) -> None:
        """Keep a request's result (replacing an earlier failure), committed before it returns."""
        self._seq += 1
        self.db.execute(
            "INSERT OR REPLACE INTO requests VALUES (?, ?, ?, ?, ?, ?)",
            (custom_id, digest, status, attempts, self._seq, line),
        )

    def lines(self, ids: list[str] | None = None) -> Iterator[tuple[str, str]]:
        """(id, output line) in the order they completed, or in the order of ``ids``."""
        if ids is None:
            yield from self.db.execute("SELECT custom_id, line FROM requests ORDER BY seq")
            return
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = dict(
                self.db.execute(f"SELECT custom_id, line FROM requests WHERE custom_id IN ({marks})", chunk)
            )
            for cid in chunk:
                if cid in rows:
                    yield cid, rows[cid]

    def missing_from(self, output: Path) -> list[str]:
        """Lines kept here whose request has no line (or an older one) in ``output``."""
        written: dict[str, str] = {}
        try:
            with output.open("rb") as f:
                for raw in f:
                    try:
                        obj = json.loads(raw)
                    except ValueError:
                        continue  # a line cut by a kill: its request's row rewrites it
                    if isinstance(obj, dict) and isinstance(obj.get("custom_id"), str):
                        written[obj["custom_id"]] = raw.decode("utf-8", "replace").rstrip("\n")
        except FileNotFoundError:
            pass
        return [line for cid, line in self.lines() if written.get(cid) != line]
