"""A fake of DashScope's Batch API on top of the fake server (tests/fakeserver.py), over real sockets.

Stdlib only. ``FakeBatchServer`` is a ``FakeServer`` (its chat, Files API, queued specs and
request log all work) that also answers ``POST /batches``, ``GET /batches/{id}``,
``POST /batches/{id}/cancel`` and ``GET /batches``. A batch moves one step along its path each
time it is looked at (``GET /batches/{id}``):

* ``completed``: validating, in_progress (none done), in_progress (half), finalizing, completed;
* ``expired``: validating, in_progress (half), expired: only the first half has results;
* ``failed``: validating, failed, with ``errors`` (also what an input with two models or a
  repeated ``custom_id`` gets, as the real service validates);
* a cancel: cancelling, then cancelled at the next look, with the results done by then.

The outcome of each new batch is ``outcomes.pop(0)`` if any were queued, else ``outcome``. Results
echo each request's last user message (``echo: <text>``). ``fail_in_output``: custom_ids whose
lines are failures *inside the output file* while ``request_counts.failed`` stays 0 (the pitfall
recorded on the live service); ``fail_in_error``: custom_ids that fail in the error file (counted),
with the ``error_code``/``error_message`` spelling. ``looks`` counts the GETs of each batch.

As a subprocess: ``python tests/fakebatch.py [--port 0] [--outcome expired] [--fail-in-output 2,5]
[--fail-in-error 3]`` prints ``PORT <n>`` and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

try:
    from tests.fakeserver import FakeServer, _Handler, error_body, serve_until_signalled
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fakeserver import FakeServer, _Handler, error_body, serve_until_signalled  # type: ignore[no-redef]

PATHS = {
    "completed": ["validating", "in_progress:0", "in_progress:half", "finalizing", "completed"],
    "expired": ["validating", "in_progress:half", "expired"],
    "failed": ["validating", "failed"],
}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class FakeBatchServer(FakeServer):
    def __init__(
        self,
        api_key: str | None = None,
        *,
        port: int = 0,
        outcome: str = "completed",
        fail_in_output: set[str] | None = None,
        fail_in_error: set[str] | None = None,
    ) -> None:
        super().__init__(api_key, port=port)
        self._httpd.RequestHandlerClass = _BatchHandler
        self.outcome = outcome
        self.outcomes: list[str] = []
        self.fail_in_output = set(fail_in_output or ())
        self.fail_in_error = set(fail_in_error or ())
        self.batches: dict[str, dict[str, Any]] = {}
        self.looks: dict[str, int] = {}
        self._plans: dict[str, dict[str, Any]] = {}
        self._block = threading.Lock()

    def reset(self) -> None:
        super().reset()
        with self._block:
            self.batches.clear()
            self.looks.clear()
            self._plans.clear()
            self.outcomes.clear()

    # ------------------------------------------------------------------ the service
    def create(self, req: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(req, dict) or not isinstance(req.get("input_file_id"), str):
            return 400, error_body("input_file_id is required", "invalid_parameter_error")
        window = req.get("completion_window")
        if not isinstance(window, str) or not window[:-1].isdigit() or window[-1:] not in ("h", "d"):
            return 400, error_body(f"Invalid completion_window {window!r}", "invalid_parameter_error")
        file_id = req["input_file_id"]
        meta = self.files.get(file_id)
        if meta is None or meta.get("purpose") != "batch":
            return 400, error_body(f"File {file_id} is not a batch input file", "invalid_parameter_error")
        lines = [json.loads(x) for x in self.file_contents[file_id].splitlines() if x.strip()]
        outcome = self.outcomes.pop(0) if self.outcomes else self.outcome
        errors = None
        models = {str(x.get("body", {}).get("model")) for x in lines}
        ids = [str(x.get("custom_id")) for x in lines]
        if len(models) > 1:
            outcome, errors = (
                "failed",
                [{"code": "mismatched_model", "line": 2, "message": "more than one model"}],
            )
        elif len(set(ids)) < len(ids):
            outcome, errors = "failed", [{"code": "duplicate_custom_id", "line": 2, "message": "repeated id"}]
        elif outcome == "failed":
            errors = [
                {
                    "code": "model_not_found",
                    "line": 1,
                    "message": "The model is not supported by the Batch API.",
                }
            ]
        bid = "batch_" + uuid.uuid4().hex[:24]
        now = int(time.time())
        batch = {
            "id": bid,
            "object": "batch",
            "endpoint": req.get("endpoint"),
            "errors": None,
            "input_file_id": file_id,
            "completion_window": window,
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now + len(self.batches),  # distinct, newest last
            "in_progress_at": None,
            "expires_at": None,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": req.get("metadata"),
        }
        with self._block:
            self.batches[bid] = batch
            self.looks[bid] = 0
            self._plans[bid] = {
                "path": PATHS.get(outcome, PATHS["completed"]),
                "step": 0,
                "lines": lines,
                "errors": errors,
                "done": 0,
            }
        return 200, batch

    def look(self, bid: str) -> dict[str, Any] | None:
        with self._block:
            batch = self.batches.get(bid)
            if batch is None:
                return None
            self.looks[bid] += 1
            plan = self._plans[bid]
            if batch["status"] == "cancelling":
                self._settle(batch, plan, "cancelled")
            elif batch["status"] not in ("cancelled",) and plan["step"] + 1 < len(plan["path"]):
                plan["step"] += 1
                self._enter(batch, plan, plan["path"][plan["step"]])
            return dict(batch)

    def cancel(self, bid: str) -> tuple[int, dict[str, Any]]:
        with self._block:
            batch = self.batches.get(bid)
            if batch is None:
                return 404, error_body(f"Batch {bid} not found.", "not_found")
            if batch["status"] in ("completed", "failed", "expired", "cancelled"):
                msg = f"Batch {bid} is {batch['status']} and cannot be cancelled."
                return 400, error_body(msg, "invalid_parameter_error")
            batch["status"], batch["cancelling_at"] = "cancelling", int(time.time())
            return 200, dict(batch)

    def page(self, query: dict[str, str]) -> dict[str, Any]:
        with self._block:
            items = sorted(self.batches.values(), key=lambda b: b["created_at"], reverse=True)
        after = query.get("after")
        if after:
            ids = [b["id"] for b in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        limit = int(query.get("limit") or 20)
        data = items[:limit]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(items) > limit,
        }

    def _enter(self, batch: dict[str, Any], plan: dict[str, Any], step: str) -> None:
        status, _, progress = step.partition(":")
        lines = plan["lines"]
        n = len(lines)
        if status == "in_progress":
            plan["done"] = 0 if progress == "0" else n // 2
            batch["in_progress_at"] = batch["in_progress_at"] or int(time.time())
            batch["expires_at"] = int(time.time()) + 86400
            batch["status"] = "in_progress"
            batch["request_counts"] = self._counts(lines[: plan["done"]], n)
        elif status == "finalizing":
            plan["done"] = n
            batch["status"], batch["finalizing_at"] = "finalizing", int(time.time())
            batch["request_counts"] = self._counts(lines, n)
        elif status == "failed":
            batch["status"], batch["failed_at"] = "failed", int(time.time())
            batch["errors"] = {"object": "list", "data": plan["errors"]}
        elif status == "expired":
            self._settle(batch, plan, "expired")
        elif status == "completed":
            plan["done"] = n
            self._settle(batch, plan, "completed")
        else:
            batch["status"] = status

    def _counts(self, done: list[dict[str, Any]], total: int) -> dict[str, int]:
        failed = sum(1 for x in done if str(x.get("custom_id")) in self.fail_in_error)
        return {"total": total, "completed": len(done) - failed, "failed": failed}

    def _settle(self, batch: dict[str, Any], plan: dict[str, Any], status: str) -> None:
        done = plan["lines"][: plan["done"]]
        out = [self._result(x) for x in done if str(x.get("custom_id")) not in self.fail_in_error]
        err = [self._failure(x) for x in done if str(x.get("custom_id")) in self.fail_in_error]
        batch["status"] = status
        batch[f"{status}_at"] = int(time.time())
        batch["request_counts"] = self._counts(done, len(plan["lines"]))
        if out:
            batch["output_file_id"] = self._file("file-batch_output-", out)
        if err:
            batch["error_file_id"] = self._file("file-batch_error-", err)

    def _file(self, prefix: str, lines: list[dict[str, Any]]) -> str:
        fid = prefix + uuid.uuid4().hex[:20]
        data = "".join(_dumps(x) + "\n" for x in lines).encode()
        with self._lock:
            self.files[fid] = {
                "id": fid,
                "object": "file",
                "bytes": len(data),
                "filename": fid + ".jsonl",
                "purpose": "batch_output",
                "status": "processed",
                "created_at": int(time.time()),
            }
            self.file_contents[fid] = data
        return fid

    def _result(self, line: dict[str, Any]) -> dict[str, Any]:
        cid = str(line.get("custom_id"))
        rid = str(uuid.uuid4())
        if cid in self.fail_in_output:  # a failure in the output file; request_counts.failed says 0
            err = {"code": "invalid_parameter_error", "message": "Range of max_tokens should be [1, 8192]"}
            return {
                "id": rid,
                "custom_id": cid,
                "response": {"status_code": 400, "request_id": rid, "body": {"error": err}},
                "error": err,
            }
        body = line.get("body") or {}
        text = ""
        for m in body.get("messages") or []:
            if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
                text = m["content"]
        answer = f"echo: {text}"
        usage = {
            "prompt_tokens": len(text),
            "completion_tokens": len(answer),
            "total_tokens": len(text) + len(answer),
        }
        resp_body = {
            "created": int(time.time()),
            "usage": usage,
            "model": body.get("model"),
            "id": "chatcmpl-" + rid,
            "choices": [
                {"finish_reason": "stop", "index": 0, "message": {"role": "assistant", "content": answer}}
            ],
            "object": "chat.completion",
        }
        return {
            "id": rid,
            "custom_id": cid,
            "response": {"status_code": 200, "request_id": rid, "body": resp_body},
            "error": None,
        }

    def _failure(self, line: dict[str, Any]) -> dict[str, Any]:
        cid = str(line.get("custom_id"))
        rid = str(uuid.uuid4())
        return {
            "id": rid,
            "custom_id": cid,
            "response": {"status_code": 400, "request_id": rid, "body": None},
            "error": {
                "error_code": "data_inspection_failed",
                "error_message": "Input data may contain inappropriate content.",
            },
        }


class _BatchHandler(_Handler):
    server: Any

    def _compat(self, method: str, route: str, entry: dict[str, Any], rid: str) -> None:
        fake: FakeBatchServer = self.server.fake
        if route == "/batches" and method == "POST":
            status, obj = fake.create(entry["json"])
            self._send_json(status, obj, rid)
        elif route == "/batches" and method == "GET":
            self._send_json(200, fake.page(dict(parse_qsl(urlsplit(self.path).query))), rid)
        elif route.startswith("/batches/"):
            bid, _, sub = route[len("/batches/") :].partition("/")
            if method == "GET" and not sub:
                batch = fake.look(bid)
                if batch is None:
                    self._not_found(f"Batch {bid} not found.", rid)
                else:
                    self._send_json(200, batch, rid)
            elif method == "POST" and sub == "cancel":
                status, obj = fake.cancel(bid)
                self._send_json(status, obj, rid)
            else:
                self._not_found(f"The requested resource {method} {route} was not found.", rid)
        else:
            super()._compat(method, route, entry, rid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake DashScope Batch API server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--outcome", default="completed", choices=sorted(PATHS))
    parser.add_argument("--fail-in-output", default="", help="comma-separated custom_ids")
    parser.add_argument("--fail-in-error", default="", help="comma-separated custom_ids")
    a = parser.parse_args(argv)
    ids = lambda s: {x for x in s.split(",") if x}  # noqa: E731
    srv = FakeBatchServer(
        a.api_key,
        port=a.port,
        outcome=a.outcome,
        fail_in_output=ids(a.fail_in_output),
        fail_in_error=ids(a.fail_in_error),
    )
    return serve_until_signalled(srv)


if __name__ == "__main__":
    sys.exit(main())
