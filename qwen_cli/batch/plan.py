"""What a batch will take, before anything is sent: requests, tokens, cost per engine, time, problems.

Input tokens use the estimate context trimming uses (:func:`qwen_cli.conversation.message_tokens`,
generous). Answer tokens are unknown before they are written: each request's ``max_tokens``
bounds them, else :data:`ASSUMED_OUTPUT` a request is assumed and the plan says so. Costs use
the catalogue's list prices (:func:`qwen_cli.catalog.price_usage`); the Batch API bills 50 % of
them, successful requests only [DOC-EN batch, via dashscope-more.md]. Time: the requests and
tokens over the model's rate limits, the longer of the two.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from qwen_cli.structs import field, struct

if TYPE_CHECKING:
    from qwen_cli.batch.inputs import Inputs
    from qwen_cli.batch.ratelimit import Limits

ASSUMED_OUTPUT = 256  # answer tokens a request, when no max_tokens bounds them [INF]
BATCH_PRICE_SHARE = 0.5  # [DOC-EN batch]
# The Batch API's input limits [DOC-EN batch].
BATCH_MAX_REQUESTS = 50_000
BATCH_MAX_LINE_BYTES = 6 * 1024 * 1024
BATCH_MAX_FILE_BYTES = 500 * 1024 * 1024


@struct
class Plan:
    source: str
    requests: int
    models: dict[str, int]
    input_tokens: int
    output_tokens: int
    output_assumed: bool  # some request had no max_tokens: ASSUMED_OUTPUT was used for it
    currency: str | None  # None: no price known (another server, or an unpriced model)
    cost_realtime: float | None
    cost_batch: float | None
    rpm: float | None
    tpm: float | None
    limits_source: str
    minutes: float | None  # at the rate limits; None when nothing limits the rate
    problems: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the Batch API's limits

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "requests": self.requests,
            "models": self.models,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "output_assumed": self.output_assumed,
            "cost": {
                "currency": self.currency,
                "realtime": _round(self.cost_realtime),
                "batch": _round(self.cost_batch),
            },
            "rate_limits": {"rpm": self.rpm, "tpm": self.tpm, "source": self.limits_source},
            "minutes": _round(self.minutes),
            "problems": [{"line": n, "message": m} for n, m in self.problems],
            "notes": self.notes,
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def make_plan(inputs: Inputs, limits: Limits, region: str | None) -> Plan:
    """The plan for ``inputs`` at ``limits``, priced in ``region`` (``None``: not priced)."""
    from qwen_cli import catalog
    from qwen_cli.conversation import MESSAGE_OVERHEAD, estimate_tokens, message_tokens
    from qwen_cli.types import Message, Usage

    models: Counter[str] = Counter()
    tokens_in = tokens_out = 0
    assumed = False
    problems = [(p.line, p.message) for p in inputs.problems]
    cost: float | None = 0.0 if region else None
    currency: str | None = None
    total_bytes = 0
    for item in inputs.items:
        model = str(item.body.get("model"))
        models[model] += 1
        n = 0
        for m in item.body.get("messages") or []:
            try:
                n += message_tokens(Message.model_validate(m))
            except ValueError:
                n += MESSAGE_OVERHEAD + estimate_tokens(json.dumps(m, ensure_ascii=False))
        shape = item.body.get("response_format")
        if isinstance(shape, dict) and isinstance(shape.get("json_schema"), dict):  # read as input [INF]
            n += estimate_tokens(json.dumps(shape["json_schema"], ensure_ascii=False))
        limit = item.body.get("max_tokens")
        bounded = isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
        out = limit if bounded and isinstance(limit, int) else ASSUMED_OUTPUT
        assumed = assumed or not bounded
        tokens_in += n
        tokens_out += out
        spec = catalog.lookup(model)
        if n > spec.input_limit:
            problems.append((item.line, f"about {n:,} input tokens: over {spec.id}'s {spec.input_limit:,}"))
        size = len(json.dumps({"custom_id": item.custom_id, "body": item.body}, ensure_ascii=False).encode())
        total_bytes += size + 1
        if size > BATCH_MAX_LINE_BYTES:
            problems.append((item.line, f"{size:,} bytes: over the Batch API's 6 MB a line"))
        if cost is not None and region is not None:
            got = catalog.price_usage(model, Usage(prompt_tokens=n, completion_tokens=out), region)
            if got is None:
                cost = None
            else:
                cost += got.amount
                currency = got.symbol
    problems.sort()
    notes = []
    if len(models) > 1:
        notes.append(
            f"{len(models)} models: the Batch API takes one model a file, so submit needs one file each"
        )
    if len(inputs.items) > BATCH_MAX_REQUESTS:
        parts = -(-len(inputs.items) // BATCH_MAX_REQUESTS)
        notes.append(f"over the Batch API's {BATCH_MAX_REQUESTS:,} requests a file: {parts} files")
    if total_bytes > BATCH_MAX_FILE_BYTES:
        notes.append(f"{total_bytes / 2**20:,.0f} MB: over the Batch API's 500 MB a file")
    minutes = None
    if limits.rpm or limits.tpm:
        by_requests = len(inputs.items) / limits.rpm if limits.rpm else 0.0
        by_tokens = (tokens_in + tokens_out) / limits.tpm if limits.tpm else 0.0
        minutes = max(by_requests, by_tokens)
    return Plan(
        source=inputs.source,
        requests=len(inputs.items),
        models=dict(models),
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        output_assumed=assumed,
        currency=currency if cost is not None else None,
        cost_realtime=cost,
        cost_batch=cost * BATCH_PRICE_SHARE if cost is not None else None,
        rpm=limits.rpm,
        tpm=limits.tpm,
        limits_source=limits.source,
        minutes=minutes,
        problems=problems,
        notes=notes,
    )
