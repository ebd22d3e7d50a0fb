"""Conversations kept in SQLite, written as they happen and safe across processes.

One database file, ``history.db`` in the data directory (``QWEN_DATA_DIR`` overrides)::

    conversations  id (12 hex digits), created/updated time, title, model, system prompt,
                   source (chat | complete), options (JSON)
    messages       conversation, seq, role, content, reasoning (kept, never resent), model,
                   options and usage (JSON), token counts, timing, request id, status
                   (complete | interrupted | error), error text, turns left out of the
                   request, dropped (by /undo or /retry: hidden, not deleted)
    attachments    a file sent with a message, as a reference (never its bytes): path, kind,
                   type, MIME type, size, sha256, pixel size, how it was sent (inline, oss,
                   file), the oss:// URL and the model it is bound to, or the file id
    messages_fts   FTS5 over message text (trigram tokenizer when SQLite has it); search
                   falls back to LIKE when FTS5 is missing or a term is under 3 characters

The schema version lives in ``PRAGMA user_version``; :data:`MIGRATIONS` are applied in order,
each inside one exclusive transaction, so several processes opening an old database at once
migrate it exactly once.

Concurrency: WAL journal, a 30 s busy timeout, and every write is one short
``BEGIN IMMEDIATE`` transaction (a message with its attachments and the conversation's
timestamps). ``seq`` is assigned inside that transaction, so processes writing to the same
conversation at once never collide. No transaction is held open while an answer streams.

Failures: every SQLite or file-system error is a ``StoreError`` worded once
(:func:`~qwen_cli.store.db.failure`: damaged file, full disk, cannot write), naming the file
and what to do. ``Store(..., on_failure=f)`` makes writing best effort: the first failed write
is reported to ``f`` once and every later write is skipped, so an answer is never lost to its
log. :mod:`qwen_cli.store.doctor` checks a file and saves what a damaged one still holds.
"""

from qwen_cli.store.db import DB_NAME, Store, default_path
from qwen_cli.store.records import (
    STATUSES,
    Attachment,
    Conversation,
    Exchange,
    Hit,
    Message,
    NewMessage,
    make_title,
)
from qwen_cli.store.schema import MIGRATIONS

__all__ = [
    "DB_NAME",
    "MIGRATIONS",
    "STATUSES",
    "Attachment",
    "Conversation",
    "Exchange",
    "Hit",
    "Message",
    "NewMessage",
    "Store",
    "default_path",
    "make_title",
]
