"""The results of a batch, judged one line at a time and written as one line a request.

Every line of the output and error files is judged on its own: failed lines can appear in the
output file while the batch's ``request_counts.failed`` says 0 [REC-QC]. A line succeeded only
when it has no ``error``, its ``response.status_code`` is 200 and its body holds an answer.
Errors come as ``{"code", "message"}`` or ``{"error_code", "error_message"}`` [DOC-EN, INF], at
the top of the line or in ``response.body.error``.

Each result written: ``{"custom_id", "answer", "finish_reason", "usage", "error", "status_code",
"request_id"}`` (``data`` for embeddings); ``error`` is ``{"code", "message"}`` or null.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from qwen_cli.structs import field, struct

NOT_PROCESSED = "not_processed"


@struct
class Tally:
    ok: int = 0
    failed: int = 0
    failed_in_output: int = 0  # failures the output file held (the counts may not show them)
    missing: int = 0  # requests of the input with no result at all
    unreadable: int = 0  # lines that were not a JSON object
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failed_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.ok + self.failed


def _error(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict) or not obj:
        return None
    code = obj.get("code", obj.get("error_code"))
    message = obj.get("message", obj.get("error_message"))
    return {"code": None if code is None else str(code), "message": None if message is None else str(message)}


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return None


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def judge(obj: Any) -> dict[str, Any]:
    """One result line from one line of an output or error file (already parsed)."""
    if not isinstance(obj, dict):
        obj = {"error": {"code": "unreadable_line", "message": "not a JSON object"}}
    response = _obj(obj.get("response"))
    body = _obj(response.get("body"))
    status = response.get("status_code")
    status = status if isinstance(status, int) and not isinstance(status, bool) else None
    cid = obj.get("custom_id")
    out: dict[str, Any] = {
        "custom_id": cid if isinstance(cid, str) else None if cid is None else str(cid),
        "answer": None,
        "finish_reason": None,
        "usage": body.get("usage") if isinstance(body.get("usage"), dict) else None,
        "error": None,
        "status_code": status,
        "request_id": response.get("request_id") if isinstance(response.get("request_id"), str) else None,
    }
    error = _error(obj.get("error")) or _error(body.get("error"))
    if error is None and status != 200:
        message = body.get("message") if isinstance(body.get("message"), str) else None
        error = {"code": str(body.get("code") or "http_error"), "message": message or f"HTTP status {status}"}
    if error is None:
        choices = body.get("choices")
        first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        message = first.get("message") if first is not None else None
        if isinstance(message, dict):
            out["answer"] = _text(message.get("content"))
            out["finish_reason"] = first.get("finish_reason") if first is not None else None
            if isinstance(message.get("reasoning_content"), str):
                out["reasoning"] = message["reasoning_content"]
        elif isinstance(body.get("data"), list):  # embeddings
            out["data"] = body["data"]
        else:
            error = {"code": "no_answer", "message": "the response holds no answer"}
    out["error"] = error
    return out


def parse(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:  # UnicodeDecodeError included
        return None


@struct
class Joiner:
    """Judges result lines, writes them, counts them; then names the input's requests that had
    no result (``missing``: the batch expired or was cancelled before they ran)."""

    tally: Tally = field(default_factory=Tally)
    seen: set[str] = field(default_factory=set)

    def feed(self, lines: Iterable[bytes], *, in_output: bool) -> Iterator[dict[str, Any]]:
        for raw in lines:
            obj = parse(raw)
            result = judge(obj)
            if obj is None:
                self.tally.unreadable += 1
                result["error"] = {"code": "unreadable_line", "message": "not JSON"}
            self._count(result, in_output=in_output)
            yield result

    def missing(self, expected: Iterable[str], why: str) -> Iterator[dict[str, Any]]:
        for cid in expected:
            if cid in self.seen:
                continue
            self.seen.add(cid)
            result = {
                "custom_id": cid,
                "answer": None,
                "finish_reason": None,
                "usage": None,
                "error": {"code": NOT_PROCESSED, "message": why},
                "status_code": None,
                "request_id": None,
            }
            self.tally.missing += 1
            self._count(result, in_output=False)
            yield result

    def _count(self, result: dict[str, Any], *, in_output: bool) -> None:
        t = self.tally
        if result["custom_id"] is not None:
            self.seen.add(result["custom_id"])
        if result["error"] is None:
            t.ok += 1
        else:
            t.failed += 1
            t.failed_in_output += int(in_output)
            if result["custom_id"] is not None and len(t.failed_ids) < 1000:
                t.failed_ids.append(result["custom_id"])
        usage = result.get("usage") or {}
        for key, attr in (("prompt_tokens", "prompt_tokens"), ("completion_tokens", "completion_tokens")):
            v = usage.get(key)
            if isinstance(v, int) and not isinstance(v, bool):
                setattr(t, attr, getattr(t, attr) + v)


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False) + "\n"
