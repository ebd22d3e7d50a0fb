"""The batches submitted from here, remembered in the data directory (not the history store).

``<data dir>/batches/jobs.json`` holds one record a batch: its input file, the hash of what was
uploaded (the same input is not submitted twice unnoticed), the server it went to, its part of
the input and the last status seen. ``<id>.ids`` beside it lists the part's ``custom_id``s in
input order, one JSON string a line, so ``fetch`` can name the requests that have no result.
Files are replaced whole (written aside, then renamed): a crash leaves the old or the new one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qwen_cli.errors import StoreError
from qwen_cli.structs import asdict, field, field_names, struct

SETTLED_BADLY = frozenset({"failed", "expired", "cancelled"})  # nothing to fear from submitting again


@struct
class Job:
    id: str
    base_url: str
    input: str  # the input file's absolute path
    sha256: str
    model: str
    count: int
    part: int = 1
    parts: int = 1
    input_file_id: str = ""
    status: str = "validating"
    created_at: float = field(default_factory=time.time)
    schema: dict[str, Any] | None = None  # --schema: fetch checks each answer against it


def _dir() -> Path:
    from qwen_cli import config

    return config.data_dir() / "batches"


def _index() -> Path:
    return _dir() / "jobs.json"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}", path=str(path)) from None


def load() -> list[Job]:
    path = _index()
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read {path}: {exc}", path=str(path), damaged=True) from None
    known = set(field_names(Job))
    return [
        Job(**{k: v for k, v in r.items() if k in known})
        for r in raw.get("jobs", [])
        if isinstance(r, dict) and isinstance(r.get("id"), str)
    ]


def _save(jobs: list[Job]) -> None:
    data = json.dumps({"version": 1, "jobs": [asdict(j) for j in jobs]}, ensure_ascii=False, indent=1)
    _write(_index(), data.encode("utf-8"))


def _ids_path(batch_id: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in batch_id)
    return _dir() / f"{safe}.ids"


def add(job: Job, custom_ids: list[str]) -> None:
    """Remember a batch just created, with the ids of its requests."""
    _write(_ids_path(job.id), "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in custom_ids).encode())
    _save([*(j for j in load() if j.id != job.id), job])


def find(batch_id: str) -> Job | None:
    return next((j for j in load() if j.id == batch_id), None)


def submitted_before(sha256: str, base_url: str) -> list[Job]:
    """The batches made from the same input for the same server that may still bring results."""
    return [
        j for j in load() if j.sha256 == sha256 and j.base_url == base_url and j.status not in SETTLED_BADLY
    ]


def note_status(batch_id: str, status: str) -> None:
    """Keep the last status seen of a remembered batch (others are left alone)."""
    jobs = load()
    for j in jobs:
        if j.id == batch_id and j.status != status:
            j.status = status
            _save(jobs)
            return


def custom_ids(batch_id: str) -> Iterator[str]:
    """The ``custom_id``s of a remembered batch, in input order (nothing for another one)."""
    try:
        with _ids_path(batch_id).open("rb") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)
    except FileNotFoundError:
        return
