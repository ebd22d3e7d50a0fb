"""The list of models an account can use, cached for a day in the user cache directory.

One small JSON file per provider and base URL (``models-<hash>.json``), written
atomically. It holds model ids only, never a key. The catalogue
(:mod:`qwen_cli.catalog`) supplies everything else about each model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from qwen_cli.structs import field, struct

MAX_AGE = 24 * 3600.0
VERSION = 1


@struct
class ModelList:
    """Model ids and where they came from: ``api`` (just fetched), ``cache`` or ``catalogue``."""

    ids: list[str]
    source: str
    base_url: str = ""
    fetched_at: float | None = None  # epoch seconds, for api and cache
    stale: bool = False  # shown because fetching failed or was skipped
    problem: str | None = None  # why fetching failed
    extra: dict[str, Any] = field(default_factory=dict)

    def age(self, now: float | None = None) -> float | None:
        if self.fetched_at is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.fetched_at)


def path_for(cache_dir: Path, provider: str, base_url: str) -> Path:
    digest = hashlib.sha256(f"{provider}\n{base_url.rstrip('/')}".encode()).hexdigest()[:16]
    return cache_dir / f"models-{digest}.json"


def load(
    cache_dir: Path, provider: str, base_url: str, *, max_age: float | None = MAX_AGE
) -> ModelList | None:
    """The cached list, or ``None`` when absent, unreadable, for another server, or older than ``max_age``."""
    path = path_for(cache_dir, provider, base_url)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None
    ids = data.get("ids")
    fetched_at = data.get("fetched_at")
    if (
        data.get("provider") != provider
        or data.get("base_url") != base_url.rstrip("/")
        or not isinstance(ids, list)
        or not all(isinstance(i, str) for i in ids)
        or not isinstance(fetched_at, (int, float))
    ):
        return None
    age = time.time() - float(fetched_at)
    if max_age is not None and not (-300 <= age <= max_age):  # a clock that jumped back: refetch
        return None
    return ModelList(ids=list(ids), source="cache", base_url=base_url, fetched_at=float(fetched_at))


def save(cache_dir: Path, provider: str, base_url: str, ids: list[str], *, now: float | None = None) -> Path:
    """Store ``ids`` for this provider and base URL (atomically); return the file's path."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = path_for(cache_dir, provider, base_url)
    data = {
        "version": VERSION,
        "provider": provider,
        "base_url": base_url.rstrip("/"),
        "fetched_at": time.time() if now is None else now,
        "ids": ids,
    }
    fd, tmp = tempfile.mkstemp(prefix=".models-", suffix=".tmp", dir=cache_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def clear(cache_dir: Path) -> int:
    """Forget every cached list (a new key may see other models); return how many were removed."""
    n = 0
    with contextlib.suppress(OSError):
        for p in cache_dir.glob("models-*.json"):
            with contextlib.suppress(OSError):
                p.unlink()
                n += 1
    return n


def all_cached_ids(cache_dir: Path) -> list[str]:
    """Every model id in any cached list, whatever its age (for shell completion)."""
    seen: dict[str, None] = {}
    with contextlib.suppress(OSError):
        for p in sorted(cache_dir.glob("models-*.json")):
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(p.read_text(encoding="utf-8"))
                for i in data.get("ids", []) if isinstance(data, dict) else []:
                    if isinstance(i, str):
                        seen[i] = None
    return list(seen)
