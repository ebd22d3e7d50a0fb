"""The store's one failure policy for the commands that answer (``complete``, ``chat``).

A history that cannot be opened, read or written (damaged file, read-only directory, full
disk) costs only the log: one warning on stderr, the answer still comes, and nothing more is
written this run. Only when the history itself is needed (``-c``, ``--resume``) is it an
error. The ``history`` commands never get here: for them every store problem is an error
naming the file and how to recover it (``qwen history doctor``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from qwen_cli.errors import StoreError

if TYPE_CHECKING:
    from qwen_cli.store import Store


def warn(err: StoreError, what: str = "this exchange") -> None:
    """The warning, said once per run (the store calls it once, then stops writing)."""
    from qwen_cli.cli.hints import hint_for
    from qwen_cli.redact import scrub_known

    sys.stderr.write(f"qwen: warning: {what} is not kept in the history: {scrub_known(err.message)}\n")
    hint = hint_for(err)
    if hint:
        sys.stderr.write(f"hint: {scrub_known(hint)}\n")
    sys.stderr.flush()


def open_store(*, needed: bool, what: str = "this exchange") -> Store | None:
    """The store, writing best effort; ``None`` (after the warning) when it cannot be opened,
    unless ``needed``: then its :class:`StoreError` is raised. ``what`` names what is lost."""
    from qwen_cli.store import Store

    try:
        return Store.open(on_failure=lambda err: warn(err, what))
    except StoreError as err:
        if needed:
            raise
        warn(err, what)
        return None


class OpenLater:
    """:func:`open_store` (best effort) on the first call, not before: a new chat reaches its
    prompt without SQLite, and the store opens when the first message is stored. Its warning,
    if it cannot be opened, comes then. ``close()`` closes it if it was opened."""

    def __init__(self, what: str = "this exchange") -> None:
        self.what = what
        self.store: Store | None = None

    def __call__(self) -> Store | None:
        self.store = open_store(needed=False, what=self.what)
        return self.store

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
