"""Tools that need no file: ``now``, ``read_file`` and ``fetch`` (``--tool NAME``).

``read_file`` reads only files under the current directory (no ``..``, no absolute path
outside it, no symlink that leads out), at most :data:`READ_MAX_BYTES`; ``fetch`` reads an
http(s) URL within :mod:`qwen_cli.webfetch`'s limits (local addresses too: the user approves
each call). Their failures raise; :mod:`qwen_cli.tools.run` turns that into text for the model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

READ_MAX_BYTES = 200_000
FETCH_MAX_BYTES = 200_000
FETCH_TIMEOUT = 15.0


def now() -> str:
    """The local date and time, with the time zone, in ISO 8601 format."""
    from datetime import datetime

    return datetime.now().astimezone().isoformat(timespec="seconds")


def read_file(path: str) -> str:
    """Read a text file under the current directory.

    Args:
        path: The file's path, relative to the current directory.
    """
    base = Path.cwd().resolve()
    target = (base / path).resolve()  # symlinks followed: where the file really is
    if target != base and base not in target.parents:
        raise PermissionError(f"{path} is outside the current directory")
    if not target.is_file():
        raise FileNotFoundError(f"{path} is not a file")
    with open(target, "rb") as f:
        data = f.read(READ_MAX_BYTES + 1)
    text = data[:READ_MAX_BYTES].decode("utf-8", "replace")
    if len(data) > READ_MAX_BYTES:
        size = os.path.getsize(target)
        text += f"\n[cut: only the first {READ_MAX_BYTES:,} of {size:,} bytes were read]"
    return text


def fetch(url: str) -> str:
    """Fetch a web page (http or https) and return its text.

    Args:
        url: The page's address.
    """
    from qwen_cli.webfetch import fetch_text

    page = fetch_text(url, max_bytes=FETCH_MAX_BYTES, timeout=FETCH_TIMEOUT)
    cut = f"\n[cut: only the first {FETCH_MAX_BYTES:,} bytes were read]" if page.truncated else ""
    return page.text + cut


BUILTINS: dict[str, Callable[..., Any]] = {"now": now, "read_file": read_file, "fetch": fetch}
