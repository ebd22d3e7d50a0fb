"""Numbered migrations: ``PRAGMA user_version`` is how many of :data:`MIGRATIONS` were applied.

Each migration runs inside the store's one exclusive transaction, statement by statement
(``executescript`` would commit half-way). Append only: a released migration is never
edited; a schema change is a new function at the end of the list.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

_TABLES = (
    """CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        model TEXT,
        system TEXT,
        source TEXT NOT NULL DEFAULT 'chat',
        options TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX conversations_updated ON conversations(updated_at)",
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
        content TEXT NOT NULL,
        reasoning TEXT NOT NULL DEFAULT '',
        model TEXT,
        options TEXT NOT NULL DEFAULT '{}',
        usage TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        total_tokens INTEGER,
        created_at REAL NOT NULL,
        elapsed REAL,
        first_token REAL,
        request_id TEXT,
        response_id TEXT,
        finish_reason TEXT,
        status TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'interrupted', 'error')),
        error TEXT,
        left_out INTEGER,
        dropped INTEGER NOT NULL DEFAULT 0,
        UNIQUE (conversation_id, seq)
    )""",
    """CREATE TABLE attachments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        mime_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        url TEXT,
        file_id TEXT,
        created_at REAL NOT NULL
    )""",
    "CREATE INDEX attachments_conversation ON attachments(conversation_id)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

_FTS_TRIGGERS = (
    """CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END""",
    """CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    END""",
    """CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END""",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",  # index what is already there
)


def _run(db: sqlite3.Connection, statements: Sequence[str]) -> None:
    for sql in statements:
        db.execute(sql)


def _m1_tables(db: sqlite3.Connection) -> None:
    _run(db, _TABLES)


def _m2_search(db: sqlite3.Connection, tokenizers: Sequence[str] = ("trigram", "unicode61")) -> None:
    """Full-text search over message text: trigram (substrings, CJK) > unicode61 > none (LIKE)."""
    kind = "none"
    for tokenizer in tokenizers:
        try:
            db.execute(
                "CREATE VIRTUAL TABLE messages_fts USING fts5("
                f"content, content='messages', content_rowid='id', tokenize='{tokenizer}')"
            )
        except sqlite3.OperationalError:  # no FTS5, or a SQLite older than 3.34 (no trigram)
            continue
        kind = tokenizer
        _run(db, _FTS_TRIGGERS)
        break
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('fts', ?)", (kind,))


def _m3_attachment_references(db: sqlite3.Connection) -> None:
    """Enough about each attachment to send it again on a later turn without its bytes: its
    kind and type, pixel size, how it went (inline, oss, file) and the model an oss:// URL is
    bound to."""
    for column in ("kind TEXT", "type TEXT", "width INTEGER", "height INTEGER", "via TEXT", "model TEXT"):
        db.execute(f"ALTER TABLE attachments ADD COLUMN {column}")


def _m4_tool_messages(db: sqlite3.Connection) -> None:
    """Turns of several messages: an assistant message's ``tool_calls`` (JSON, arguments kept
    as the model wrote them) and a tool result's ``tool_call_id``; and the usage counts that
    pricing needs as columns (cached, cache-creation and reasoning tokens), filled in for the
    rows already there from their usage JSON."""
    for column in (
        "tool_calls TEXT",
        "tool_call_id TEXT",
        "cached_tokens INTEGER",
        "cache_creation_tokens INTEGER",
        "reasoning_tokens INTEGER",
    ):
        db.execute(f"ALTER TABLE messages ADD COLUMN {column}")
    from qwen_cli.store.records import usage_counts, usage_from

    rows = db.execute("SELECT id, usage FROM messages WHERE usage IS NOT NULL").fetchall()
    for mid, usage in rows:
        n = usage_counts(usage_from(usage))
        db.execute(
            "UPDATE messages SET cached_tokens = ?, cache_creation_tokens = ?, reasoning_tokens = ?"
            " WHERE id = ?",
            (n["cached_tokens"], n["cache_creation_tokens"], n["reasoning_tokens"], mid),
        )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m1_tables,
    _m2_search,
    _m3_attachment_references,
    _m4_tool_messages,
]
