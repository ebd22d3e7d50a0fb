"""The store itself: one SQLite connection, short write transactions, queries."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import time
import weakref
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
    make_title,
    message_from,
    new_id,
    tool_calls_json,
    usage_counts,
)
from qwen_cli.store.schema import MIGRATIONS
from qwen_cli.utf8 import clean_text

DB_NAME = "history.db"
BUSY_TIMEOUT_S = 30.0


def default_path() -> Path:
    from qwen_cli import config

    return config.data_dir() / DB_NAME


def failure(path: Path, exc: BaseException) -> StoreError:
    """The one wording of every store problem: what happened to which file, and what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    low = text.lower()
    where = path.parent
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in low or "not a database" in low:
        return StoreError(
            f"the history database {path} is damaged ({text})",
            path=str(path),
            damaged=True,
            hint=f"`qwen history doctor --repair` saves what can be read into a new {path.name} "
            f"and keeps the damaged file beside it",
        )
    io_error = name.startswith("SQLITE_IOERR") or "disk i/o error" in low
    full = name == "SQLITE_FULL" or "disk is full" in low or getattr(exc, "errno", None) == errno.ENOSPC
    if full or (io_error and _nearly_full(where)):  # no room even for the WAL: an I/O error
        return StoreError(
            f"cannot write the history database {path}: the disk is full",
            path=str(path),
            hint=f"free some space on the disk holding {where}, or point QWEN_DATA_DIR at another disk",
        )
    if (
        name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM"))
        or "readonly" in low
        or "unable to open" in low
        or getattr(exc, "errno", None)
        in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.EEXIST)
    ):
        reason = getattr(exc, "strerror", None) or text
        return StoreError(
            f"cannot write the history database {path}: {reason}",
            path=str(path),
            hint=f"make {where} and {path.name} writable, or point QWEN_DATA_DIR at a directory "
            "you can write",
        )
    if io_error:
        return StoreError(
            f"cannot write the history database {path}: {text}",
            path=str(path),
            hint=f"check the disk holding {where} (free space, errors in dmesg), or point "
            "QWEN_DATA_DIR at another disk",
        )
    return StoreError(
        f"the history database {path} failed: {text}",
        path=str(path),
        hint="check that the data directory is writable and the disk not full (QWEN_DATA_DIR moves it)",
    )


def _nearly_full(where: Path) -> bool:
    """Less than 1 MiB free where the database lives."""
    try:
        st = os.statvfs(where)
    except (OSError, AttributeError):  # gone, or no statvfs (Windows)
        return False
    return st.f_bavail * st.f_frsize < 1 << 20


class _Connection(sqlite3.Connection):
    """The store's text rule, in one place for every statement: text that UTF-8 cannot encode
    (a lone surrogate) is written with U+FFFD in its place rather than failing the write."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if isinstance(parameters, (tuple, list)):
            parameters = tuple(clean_text(p) if isinstance(p, str) else p for p in parameters)
        return super().execute(sql, parameters)


_OPEN: weakref.WeakSet[Store] = weakref.WeakSet()  # the stores not closed yet


def close_all() -> None:
    """Close every store still open: the process is ending without the interpreter's teardown
    (``cli.exit_now``), and closing the last connection folds the WAL file back into the
    database, so ``history.db`` alone holds every conversation (as after a normal exit)."""
    for store in list(_OPEN):
        store.close()


class Store:
    """The conversation store; open one per process (``Store.open()``), close it when done."""

    def __init__(
        self,
        path: Path | str,
        *,
        migrations: list[Callable[[sqlite3.Connection], None]] | None = None,
        on_failure: Callable[[StoreError], None] | None = None,
    ):
        """Open (creating it if need be) the store at ``path``.

        ``on_failure`` makes writing best effort: the first write that fails is reported to it
        (once) and that write and every later one are skipped, so the caller goes on without a
        log. Without it every failure raises :class:`StoreError`. Reads always raise.
        """
        self.path = Path(path)
        self._migrations = MIGRATIONS if migrations is None else migrations
        self._on_failure = on_failure
        self.failed: StoreError | None = None  # set once a best-effort write failed
        self._skipped = 0
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
            _OPEN.add(self)
        except (OSError, sqlite3.Error, StoreError) as exc:
            if hasattr(self, "db"):  # no open file left behind (it would keep its mount busy)
                self.db.close()
            if isinstance(exc, StoreError):
                raise
            raise self._error(exc) from exc

    @classmethod
    def open(
        cls, path: Path | str | None = None, *, on_failure: Callable[[StoreError], None] | None = None
    ) -> Store:
        return cls(path or default_path(), on_failure=on_failure)

    def close(self) -> None:
        _OPEN.discard(self)
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, exc: BaseException) -> StoreError:
        return failure(self.path, exc)

    @property
    def version(self) -> int:
        return int(self._rows("PRAGMA user_version")[0][0])

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
            with contextlib.suppress(sqlite3.Error):  # a failed write may have rolled back already
                self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            raise self._error(exc) from exc

    def _write(
        self, fn: Callable[[sqlite3.Connection], Any], skipped: Callable[[], Any] = lambda: None
    ) -> Any:
        """Run ``fn`` in one write transaction. When writing is best effort (``on_failure``) and
        the store has failed, ``skipped()`` stands in for the result."""
        if self.failed is not None:
            return skipped()
        try:
            try:
                with self._tx() as db:
                    return fn(db)
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        except StoreError as err:
            if self._on_failure is None:
                raise
            self.failed = err
            self._on_failure(err)
            return skipped()

    def _meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def _rows(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        """Every row of one query; a damaged or unreadable file is a :class:`StoreError`."""
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

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
        return [conversation_from(r) for r in self._rows(sql, args)]

    def resolve(self, prefix: str) -> str:
        """The full id of the one conversation whose id starts with ``prefix``."""
        p = prefix.strip().lower()
        if not p or any(ch not in "0123456789abcdef" for ch in p):
            raise UsageError(
                f"not a conversation id: {prefix!r}", hint="ids are hex digits; run `qwen history`"
            )
        rows = self._rows(
            "SELECT id, title FROM conversations WHERE substr(id, 1, ?) = ? ORDER BY updated_at DESC",
            (len(p), p),
        )
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
        counts = usage_counts(msg.usage)

        def insert(db: sqlite3.Connection) -> Message:
            now = time.time()
            seq = db.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE conversation_id = ?", (conv_id,)
            ).fetchone()[0]
            cur = db.execute(
                "INSERT INTO messages (conversation_id, seq, role, content, reasoning, model, options,"
                " usage, prompt_tokens, completion_tokens, total_tokens, cached_tokens,"
                " cache_creation_tokens, reasoning_tokens, created_at, elapsed, first_token, request_id,"
                " response_id, finish_reason, status, error, left_out, tool_calls, tool_call_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conv_id, seq, msg.role, msg.content, msg.reasoning, msg.model,
                    json.dumps(msg.options), json.dumps(msg.usage) if msg.usage else None,
                    counts["prompt_tokens"], counts["completion_tokens"], counts["total_tokens"],
                    counts["cached_tokens"], counts["cache_creation_tokens"], counts["reasoning_tokens"],
                    now, msg.elapsed, msg.first_token, msg.request_id, msg.response_id,
                    msg.finish_reason, msg.status, msg.error, msg.left_out,
                    tool_calls_json(msg.tool_calls), msg.tool_call_id,
                ),
            )  # fmt: skip
            mid = int(cur.lastrowid or 0)
            if msg.sources:
                from qwen_cli.store import sources

                sources.write(db, mid, msg.sources)
            if msg.fragments:
                from qwen_cli.store import fragments

                fragments.write(db, mid, msg.fragments)
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

        def unstored() -> Message:
            self._skipped += 1
            now = time.time()
            return Message(**vars(msg), id=-self._skipped, conversation_id=conv_id, seq=0, created_at=now)

        result: Message = self._write(insert, unstored)
        return result

    def drop(self, *message_ids: int) -> None:
        """Hide messages from the conversation (``/undo``, ``/retry``); the rows stay on disk."""

        def hide(db: sqlite3.Connection) -> None:
            db.executemany("UPDATE messages SET dropped = 1 WHERE id = ?", [(i,) for i in message_ids])

        self._write(hide)

    def messages(self, conv_id: str) -> list[Message]:
        rows = self._rows(
            "SELECT * FROM messages WHERE conversation_id = ? AND NOT dropped ORDER BY seq", (conv_id,)
        )
        msgs = [message_from(r) for r in rows]
        by_id = {m.id: m for m in msgs}
        from qwen_cli.store import fragments, sources

        try:
            for mid, found in sources.read(self.db, [m.id for m in msgs if m.role == "assistant"]).items():
                by_id[mid].sources = found
            for mid, texts in fragments.read(self.db, [m.id for m in msgs if m.role == "user"]).items():
                by_id[mid].fragments = texts
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        for a in self.attachments(conv_id):
            if a.message_id in by_id:
                by_id[a.message_id].attachments.append(a)
        return msgs

    def exchanges(self, conv_id: str) -> list[Exchange]:
        """Turns: each user message with the messages that followed it (system rows skipped).

        The answer is the turn's last message when it is an assistant's; the messages before
        it (tool calls and their results) are the exchange's ``steps``.
        """
        turns: list[tuple[Message, list[Message]]] = []
        for m in self.messages(conv_id):
            if m.role == "user":
                turns.append((m, []))
            elif m.role in ("assistant", "tool") and turns:
                turns[-1][1].append(m)
        out: list[Exchange] = []
        for user, rest in turns:
            if rest and rest[-1].role == "assistant":
                out.append(Exchange(user, rest[-1], rest[:-1]))
            else:
                out.append(Exchange(user, None, rest))
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
        rows = self._rows("SELECT * FROM attachments WHERE conversation_id = ? ORDER BY id", (conv_id,))
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
        rows = self._rows(
            f"SELECT m.* FROM messages m WHERE {where} AND NOT m.dropped ORDER BY m.created_at DESC,"
            " m.id DESC LIMIT ?",
            (*args, limit),
        )
        convs: dict[str, Conversation] = {}
        hits = []
        for r in rows:
            msg = message_from(r)
            if msg.conversation_id not in convs:
                convs[msg.conversation_id] = self.get(msg.conversation_id)
            hits.append(Hit(convs[msg.conversation_id], msg))
        return hits
