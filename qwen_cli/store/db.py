"""The store itself: one SQLite connection, short write transactions, queries."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qwen_cli.errors import StoreError, UsageError
from qwen_cli.store.records import (
    STATUSES,
    Attachment,
    Conversation,
    Exchange,
    Hit,
    Message,
    NewMessage,
    conversation_from,
    int_of,
    make_title,
    message_from,
    new_id,
)
from qwen_cli.store.schema import MIGRATIONS
from qwen_cli.utf8 import clean_text

DB_NAME = "history.db"
BUSY_TIMEOUT_S = 30.0


def default_path() -> Path:
    from qwen_cli import config

    return config.data_dir() / DB_NAME


class _Connection(sqlite3.Connection):
    """The store's text rule, in one place for every statement: text that UTF-8 cannot encode
    (a lone surrogate) is written with U+FFFD in its place rather than failing the write."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if isinstance(parameters, (tuple, list)):
            parameters = tuple(clean_text(p) if isinstance(p, str) else p for p in parameters)
        return super().execute(sql, parameters)


class Store:
    """The conversation store; open one per process (``Store.open()``), close it when done."""

    def __init__(
        self, path: Path | str, *, migrations: list[Callable[[sqlite3.Connection], None]] | None = None
    ):
        self.path = Path(path)
        self._migrations = MIGRATIONS if migrations is None else migrations
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():  # conversations are private: 0600 (WAL files follow it)
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, factory=_Connection
            )
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
            self.fts = self._meta("fts") or "none"
        except (OSError, sqlite3.Error) as exc:
            raise self._error(exc) from exc

    @classmethod
    def open(cls, path: Path | str | None = None) -> Store:
        return cls(path or default_path())

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, exc: BaseException) -> StoreError:
        return StoreError(
            f"the conversation store {self.path} failed: {exc}",
            hint="check that the data directory is writable and the disk not full (QWEN_DATA_DIR moves it)",
        )

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        if self.version == len(self._migrations):
            return
        with self._tx():
            current = self.version  # re-read under the lock: another process may have won
            if current > len(self._migrations):
                raise StoreError(
                    f"{self.path} has schema version {current}, newer than this qwen knows "
                    f"({len(self._migrations)})",
                    hint="upgrade qwen, or point QWEN_DATA_DIR at another directory",
                )
            for number, migration in enumerate(self._migrations[current:], current + 1):
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so concurrent writers queue instead of failing."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            raise self._error(exc) from exc

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        try:
            with self._tx() as db:
                return fn(db)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # ------------------------------------------------------------------ conversations

    def create(
        self,
        *,
        model: str | None = None,
        system: str | None = None,
        source: str = "chat",
        options: dict[str, Any] | None = None,
    ) -> Conversation:
        now = time.time()
        conv = Conversation(new_id(), now, now, "", model, system, source, dict(options or {}))

        def insert(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO conversations (id, created_at, updated_at, title, model, system, source,"
                " options) VALUES (?, ?, ?, '', ?, ?, ?, ?)",
                (conv.id, now, now, model, system, source, json.dumps(conv.options)),
            )

        self._write(insert)
        return conv

    def update(
        self, conv_id: str, *, model: str | None = None, system: str | None = None, clear_system: bool = False
    ) -> None:
        def change(db: sqlite3.Connection) -> None:
            if model is not None:
                db.execute("UPDATE conversations SET model = ? WHERE id = ?", (model, conv_id))
            if system is not None or clear_system:
                db.execute("UPDATE conversations SET system = ? WHERE id = ?", (system, conv_id))

        self._write(change)

    def get(self, conv_id: str) -> Conversation:
        rows = self._conversations("WHERE c.id = ?", (conv_id,))
        if not rows:
            raise UsageError(f"no conversation {conv_id}", hint="run `qwen history` to list them")
        return rows[0]

    def recent(self, limit: int | None = 50) -> list[Conversation]:
        """Most recently used first."""
        return self._conversations("ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?", (limit or -1,))

    def latest(self) -> Conversation | None:
        rows = self.recent(1)
        return rows[0] if rows else None

    def _conversations(self, tail: str, args: tuple[Any, ...]) -> list[Conversation]:
        sql = (
            "SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND"
            " m.role = 'user' AND NOT m.dropped) AS turns, (SELECT coalesce(sum(total_tokens), 0)"
            " FROM messages m WHERE m.conversation_id = c.id AND NOT m.dropped) AS tokens"
            f" FROM conversations c {tail}"
        )
        return [conversation_from(r) for r in self.db.execute(sql, args)]

    def resolve(self, prefix: str) -> str:
        """The full id of the one conversation whose id starts with ``prefix``."""
        p = prefix.strip().lower()
        if not p or any(ch not in "0123456789abcdef" for ch in p):
            raise UsageError(
                f"not a conversation id: {prefix!r}", hint="ids are hex digits; run `qwen history`"
            )
        rows = self.db.execute(
            "SELECT id, title FROM conversations WHERE substr(id, 1, ?) = ? ORDER BY updated_at DESC",
            (len(p), p),
        ).fetchall()
        if not rows:
            raise UsageError(f"no conversation id starts with {p}", hint="run `qwen history` to list them")
        if len(rows) > 1:
            shown = ", ".join(f"{r['id']} ({r['title'] or 'untitled'})" for r in rows[:5])
            more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
            raise UsageError(
                f"conversation id {p} is ambiguous: {shown}{more}", hint="give more characters of the id"
            )
        return str(rows[0]["id"])

    def delete(self, conv_id: str) -> bool:
        def rm(db: sqlite3.Connection) -> bool:
            return db.execute("DELETE FROM conversations WHERE id = ?", (conv_id,)).rowcount > 0

        return bool(self._write(rm))

    # ------------------------------------------------------------------ messages

    def add(self, conv_id: str, msg: NewMessage) -> Message:
        """Write ``msg`` (and its attachments) in one transaction; returns it as stored."""
        if msg.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {msg.status!r}")
        usage = msg.usage or {}

        def insert(db: sqlite3.Connection) -> Message:
            now = time.time()
            seq = db.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE conversation_id = ?", (conv_id,)
            ).fetchone()[0]
            cur = db.execute(
                "INSERT INTO messages (conversation_id, seq, role, content, reasoning, model, options,"
                " usage, prompt_tokens, completion_tokens, total_tokens, created_at, elapsed,"
                " first_token, request_id, response_id, finish_reason, status, error, left_out)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conv_id, seq, msg.role, msg.content, msg.reasoning, msg.model,
                    json.dumps(msg.options), json.dumps(msg.usage) if msg.usage else None,
                    int_of(usage, "prompt_tokens"), int_of(usage, "completion_tokens"),
                    int_of(usage, "total_tokens"), now, msg.elapsed, msg.first_token, msg.request_id,
                    msg.response_id, msg.finish_reason, msg.status, msg.error, msg.left_out,
                ),
            )  # fmt: skip
            mid = int(cur.lastrowid or 0)
            for a in msg.attachments:
                a.message_id, a.id, a.created_at = mid, self._attach(db, conv_id, mid, a, now), now
            sets = "updated_at = ?" + (", model = ?" if msg.model else "")
            args: list[Any] = [now] + ([msg.model] if msg.model else [])
            db.execute(f"UPDATE conversations SET {sets} WHERE id = ?", (*args, conv_id))
            if msg.role == "user":
                db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                    (make_title(msg.content), conv_id),
                )
            return Message(**vars(msg), id=mid, conversation_id=conv_id, seq=seq, created_at=now)

        result: Message = self._write(insert)
        return result

    def drop(self, *message_ids: int) -> None:
        """Hide messages from the conversation (``/undo``, ``/retry``); the rows stay on disk."""

        def hide(db: sqlite3.Connection) -> None:
            db.executemany("UPDATE messages SET dropped = 1 WHERE id = ?", [(i,) for i in message_ids])

        self._write(hide)

    def messages(self, conv_id: str) -> list[Message]:
        rows = self.db.execute(
            "SELECT * FROM messages WHERE conversation_id = ? AND NOT dropped ORDER BY seq", (conv_id,)
        ).fetchall()
        msgs = [message_from(r) for r in rows]
        by_id = {m.id: m for m in msgs}
        for a in self.attachments(conv_id):
            if a.message_id in by_id:
                by_id[a.message_id].attachments.append(a)
        return msgs

    def exchanges(self, conv_id: str) -> list[Exchange]:
        """User messages paired with the answer that followed each (system rows skipped)."""
        out: list[Exchange] = []
        for m in self.messages(conv_id):
            if m.role == "user":
                out.append(Exchange(m))
            elif m.role == "assistant" and out and out[-1].answer is None:
                out[-1].answer = m
        return out

    # ------------------------------------------------------------------ attachments

    @staticmethod
    def _attach(db: sqlite3.Connection, conv_id: str, mid: int | None, a: Attachment, now: float) -> int:
        if a.url is not None and not a.url.startswith("oss://"):
            raise ValueError("only oss:// URLs are stored, never the file's bytes as a data: URL")
        cur = db.execute(
            "INSERT INTO attachments (conversation_id, message_id, path, mime_type, size, sha256, url,"
            " file_id, kind, type, width, height, via, model, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                conv_id, mid, a.path, a.mime_type, a.size, a.sha256, a.url, a.file_id, a.kind, a.type,
                a.width, a.height, a.via, a.model, now,
            ),
        )  # fmt: skip
        return int(cur.lastrowid or 0)

    def add_attachment(self, conv_id: str, a: Attachment, message_id: int | None = None) -> Attachment:
        """Record a file reference (``Attachment.of(sent.record())``), on its own or for a message."""
        now = time.time()
        a.message_id, a.created_at = message_id, now
        a.id = self._write(lambda db: self._attach(db, conv_id, message_id, a, now))
        return a

    def attachments(self, conv_id: str) -> list[Attachment]:
        rows = self.db.execute(
            "SELECT * FROM attachments WHERE conversation_id = ? ORDER BY id", (conv_id,)
        ).fetchall()
        return [
            Attachment(
                r["path"], r["mime_type"], r["size"], r["sha256"], r["url"], r["file_id"], r["id"],
                r["message_id"], r["kind"], r["type"], r["width"], r["height"], r["via"], r["model"],
                r["created_at"],
            )
            for r in rows
        ]  # fmt: skip

    # ------------------------------------------------------------------ search

    def search(self, text: str, limit: int = 50) -> list[Hit]:
        """Messages containing every word of ``text``, newest first."""
        terms = text.split()
        if not terms:
            raise UsageError("nothing to search for", hint='qwen history search "some words"')
        if (self.fts == "trigram" and all(len(t) >= 3 for t in terms)) or self.fts == "unicode61":
            query = " ".join('"' + t.replace('"', '""') + '"' for t in terms)
            where = "m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"
            args: list[Any] = [query]
        else:
            where = " AND ".join(["m.content LIKE ? ESCAPE '\\'"] * len(terms))
            args = [
                "%" + t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for t in terms
            ]
        rows = self.db.execute(
            f"SELECT m.* FROM messages m WHERE {where} AND NOT m.dropped ORDER BY m.created_at DESC,"
            " m.id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        convs: dict[str, Conversation] = {}
        hits = []
        for r in rows:
            msg = message_from(r)
            if msg.conversation_id not in convs:
                convs[msg.conversation_id] = self.get(msg.conversation_id)
            hits.append(Hit(convs[msg.conversation_id], msg))
        return hits
