"""Hostile answers, one switch each: response specs for :mod:`tests.fakeserver`.

Each scenario is what a broken, strange or malicious OpenAI-compatible server sends back to a
chat (or model list) request: malformed chunks, unreadable bodies, compression bombs, endless
lines, keep-alives that never end. ``SCENARIOS[name]`` is a list of fakeserver specs; queue
them with ``srv.enqueue(*SCENARIOS[name])``. To try one by hand::

    python tests/hostile_server.py --scenario usage_nan     # prints PORT n, answers every
    qwen complete hi --base-url http://127.0.0.1:n/compatible-mode/v1   # request with it

Streams start with ``GREETING`` so a test can check that what arrived before the trouble is
kept (on screen and in the store); tolerant scenarios end with ``TAIL`` after the trouble.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakeserver import FakeServer, chat_stream_events, serve_until_signalled

GREETING = "Hello 你好, "
TAIL = "and goodbye."
DEEP = 100_000  # nesting levels: past any recursive JSON parser
GIB = 1 << 30


def _chunk(delta: Any, **top: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-hostile", "model": "qwen-max", "created": 1, "choices": [{"delta": delta}], **top}


def _data(raw: str) -> str:
    """One SSE event written verbatim (for JSON that ``json.dumps`` will not produce)."""
    return f"data: {raw}\n\n"


def _around(*middle: Any, tail: bool = True) -> list[Any]:
    """GREETING, the hostile events, then TAIL, a finish and usage."""
    head = chat_stream_events([GREETING])[:2]
    end = chat_stream_events([TAIL] if tail else [])[1:]
    return head + list(middle) + end


PORTAL = (
    "<!DOCTYPE html><html><head><title>Airport WiFi: please sign in</title></head>"
    '<body><form action="/login">Accept the terms <input type=submit></form></body></html>'
)
_USAGE = '{"choices":[],"usage":{"prompt_tokens":%s,"completion_tokens":%s,"total_tokens":%s}}'

# Streams that must be read to the end: every character of GREETING and TAIL kept, exit 0.
TOLERATED: dict[str, list[dict[str, Any]]] = {
    "created_float": [{"sse": _around(_chunk({"content": "1.5 "}, created=1.5))}],
    "created_missing": [{"sse": _around({"choices": [{"delta": {"content": "none "}}]})}],
    "choices_null": [{"sse": _around(_chunk(None) | {"choices": None})}],
    "choices_dict": [{"sse": _around(_chunk(None) | {"choices": {"delta": {"content": "dict "}}})}],
    "delta_string": [{"sse": _around({"choices": [{"delta": "plain "}]})}],
    "content_number": [{"sse": _around(_chunk({"content": 42}))}],
    "usage_nan": [{"sse": _around(_data(_USAGE % ("NaN", "NaN", "NaN")))}],
    "usage_huge": [{"sse": _around(_data(_USAGE % ("1e400", "1e400", "-1e400")))}],
    "usage_negative": [{"sse": _around(_data(_USAGE % (-5, -1, -6)))}],
    "usage_text": [{"sse": _around(_data(_USAGE % ('"lots"', '"many"', '"all"')))}],
    "deep_json": [{"sse": _around(_data("[" * DEEP + "]" * DEEP), _data('{"a":' * DEEP + "1" + "}" * DEEP))}],
    "lone_surrogate": [{"sse": _around(_data('{"choices":[{"delta":{"content":"x\\ud800y "}}]}'))}],
    "junk_lines": [{"sse": _around("data: {not json\n\n", "event: ping\n\n", _data("[1,2]"), _data('"s"'))}],
}

# Answers that cannot be read: one error line with a hint, exit 1 (or as noted in the test).
UNREADABLE: dict[str, list[dict[str, Any]]] = {
    "not_json_body": [{"body": "Internal error <oops>", "content_type": "application/json"}],
    "deep_json_body": [{"body": "[" * DEEP + "]" * DEEP, "content_type": "application/json"}],
    "html_200": [{"body": PORTAL, "content_type": "text/html; charset=utf-8"}],
    "error_message_list": [{"status": 400, "json": {"error": {"message": ["a", 1], "code": "bad"}}}],
}

_FIRST = _data(json.dumps(_chunk({"content": GREETING}), ensure_ascii=False))
_OPEN_CONTENT = 'data: {"choices":[{"delta":{"content":"'

# Compression bombs: ~1 MB on the wire, 1 GiB inflated.
BOMBS: dict[str, list[dict[str, Any]]] = {
    "bomb_body": [{"bomb": {"size": GIB, "head": '{"choices":[{"message":{"content":"'}}],
    "bomb_error": [{"status": 500, "bomb": {"size": GIB, "head": '{"error":{"message":"'}, "repeat": 3}],
    "bomb_stream": [{"bomb": {"size": GIB, "head": _FIRST + _OPEN_CONTENT}}],
    "bomb_stream_lines": [{"bomb": {"size": GIB, "head": _FIRST, "fill": ": ping\n"}}],
}

# Streams that never end by themselves.
ENDLESS: dict[str, list[dict[str, Any]]] = {
    "endless_line": [{"writes": [_FIRST, _OPEN_CONTENT], "forever": "a" * 65536}],
    "keepalive_forever": [
        {"sse": chat_stream_events([GREETING])[:2], "forever": ": ping\n\n", "delay": 0.5, "done": False}
    ],
}

_HF = {"id": "Qwen/Qwen3-0.6B", "object": "model", "created": 1.75e9, "owned_by": "huggingface"}
_LLAMA = {"id": "qwen3.gguf", "object": "model", "owned_by": "llamacpp", "meta": {"n_ctx_train": 40960}}
MODEL_LISTS: dict[str, list[dict[str, Any]]] = {
    "models_created_float": [{"json": {"object": "list", "data": [_HF]}}],  # transformers serve
    "models_created_missing": [{"json": {"object": "list", "data": [_LLAMA]}}],  # llama.cpp
    "models_no_data": [{"json": {"object": "list", "models": ["a"]}}],
}

SCENARIOS: dict[str, list[dict[str, Any]]] = {**TOLERATED, **UNREADABLE, **BOMBS, **ENDLESS, **MODEL_LISTS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="A fake server answering every request with one scenario.")
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    srv = FakeServer(port=args.port)
    for spec in SCENARIOS[args.scenario]:
        srv.enqueue({**spec, "repeat": 1_000_000})
    return serve_until_signalled(srv)


if __name__ == "__main__":
    sys.exit(main())
