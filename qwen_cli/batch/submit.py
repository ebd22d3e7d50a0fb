"""The input of ``qwen batch submit``: read, checked against the Batch API's limits, split.

Limits [DOC-EN, dashscope-more.md (c)1]: one model and one thinking mode a file, at most
``MAX_REQUESTS`` requests and ``MAX_FILE_BYTES`` a file, at most ``MAX_LINE_BYTES`` a line,
``custom_id`` unique. Over the count or size a file becomes several (each its own batch); a line
over its limit is refused with the limit named. Everything is checked before anything is sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from qwen_cli.errors import UsageError
from qwen_cli.structs import struct

MAX_REQUESTS = 50_000
MAX_FILE_BYTES = 500 * 1000 * 1000
MAX_LINE_BYTES = 6 * 1000 * 1000
CHAT_URL = "/v1/chat/completions"
EMBEDDINGS_URL = "/v1/embeddings"
TEST_URL = "/v1/chat/ds-test"
TEST_MODEL = "batch-test-model"
WINDOW_HOURS = (24, 336)
MAX_NAME = 100
MAX_DESCRIPTION = 200
_SHOWN = 5  # problems named in one message

Item = tuple[str, dict[str, Any]]  # (custom_id, body)


def endpoint_for(model: str) -> str:
    """The Batch API endpoint a model's requests go to."""
    if model == TEST_MODEL:
        return TEST_URL
    if model.startswith("text-embedding"):
        return EMBEDDINGS_URL
    return CHAT_URL


@struct
class Prepared:
    """The checked requests as the files to upload: one part for each batch to create."""

    model: str
    endpoint: str
    parts: list[list[str]]  # the custom_ids of each part, in input order
    payloads: list[bytes]  # each part's JSONL
    sha256: str  # of all parts, so the same input is never submitted twice unnoticed

    @property
    def count(self) -> int:
        return sum(len(p) for p in self.parts)


def prepare(
    items: Sequence[Item],
    *,
    model: str | None,
    think: bool | None,
    max_requests: int | None = None,
    max_bytes: int | None = None,
) -> Prepared:
    """Fill in the model (``-m``, for lines without one) and ``enable_thinking``; check one model
    and one thinking mode; split at the request and size limits."""
    max_requests = max_requests or MAX_REQUESTS
    max_bytes = max_bytes or MAX_FILE_BYTES
    bodies: list[Item] = []
    models: dict[str, str] = {}  # model -> first custom_id asking for it
    modes: dict[object, str] = {}
    for cid, body in items:
        b = dict(body)
        if not b.get("model"):
            if not model:
                raise UsageError(f"request {cid!r} names no model", hint="name one with -m MODEL")
            b["model"] = model
        if think is not None and "enable_thinking" not in b:
            b["enable_thinking"] = think
        models.setdefault(str(b["model"]), cid)
        modes.setdefault(b.get("enable_thinking"), cid)
        bodies.append((cid, b))
    if len(models) > 1:
        named = ", ".join(f"{m} (first in {c!r})" for m, c in list(models.items())[:_SHOWN])
        raise UsageError(
            f"the Batch API takes one model a file; this one asks for {len(models)}: {named}",
            hint="split the file by model and submit each",
        )
    if len(modes) > 1:
        raise UsageError(
            "the Batch API takes one thinking mode a file; the requests set enable_thinking differently",
            hint="give --think or --no-think for the lines without it, or split the file",
        )
    the_model = next(iter(models))
    endpoint = endpoint_for(the_model)
    parts: list[list[str]] = [[]]
    payloads: list[list[bytes]] = [[]]
    size = 0
    digest = hashlib.sha256()
    for cid, body in bodies:
        line = _encode({"custom_id": cid, "method": "POST", "url": endpoint, "body": body})
        if len(line) > MAX_LINE_BYTES:
            raise UsageError(
                f"request {cid!r} is {len(line) / 1e6:.1f} MB: over the Batch API's limit of "
                f"{MAX_LINE_BYTES // 1_000_000} MB a line",
                hint="shorten it, or send it with `qwen complete`",
            )
        if parts[-1] and (len(parts[-1]) >= max_requests or size + len(line) > max_bytes):
            parts.append([])
            payloads.append([])
            size = 0
        parts[-1].append(cid)
        payloads[-1].append(line)
        size += len(line)
        digest.update(line)
    return Prepared(the_model, endpoint, parts, [b"".join(p) for p in payloads], digest.hexdigest())


def _encode(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


_WINDOW = re.compile(r"^(\d+)([hd])$")


def check_window(value: str) -> str:
    """``--window``: whole hours or days, 24h to 336h (14d)."""
    m = _WINDOW.match(value.strip().lower())
    hours = (int(m.group(1)) * (24 if m.group(2) == "d" else 1)) if m else None
    low, high = WINDOW_HOURS
    if hours is None or not low <= hours <= high:
        raise UsageError(
            f"--window must be {low}h to {high}h (or 1d to {high // 24}d) (got {value})",
            hint="the time the service may take, e.g. --window 24h or --window 7d",
        )
    return f"{m.group(1)}{m.group(2)}" if m else value


def metadata(name: str | None, description: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value, limit, flag in (
        ("ds_name", name, MAX_NAME, "--name"),
        ("ds_description", description, MAX_DESCRIPTION, "--description"),
    ):
        if value is None:
            continue
        if len(value) > limit:
            raise UsageError(
                f"{flag} is {len(value)} characters: the Batch API takes at most {limit}",
                hint=f"shorten {flag}",
            )
        out[key] = value
    return out
