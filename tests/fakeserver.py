"""A scriptable fake of DashScope's OpenAI-compatible API, over real sockets.

Stdlib only, so it runs under any Python without the project installed. Two ways in:

* in-process::

      with FakeServer() as srv:                 # 127.0.0.1, free port, daemon thread
          srv.enqueue({"sse": chat_stream_events(["Hel", "lo"])})
          run_qwen("--base-url", srv.base_url)  # srv.url + "/compatible-mode/v1"
          assert srv.requests[0]["json"]["stream"] is True

* as a subprocess: ``python tests/fakeserver.py [--port 0] [--api-key K]`` prints exactly one
  line ``PORT <n>`` once listening and serves until SIGTERM/SIGINT (exit code 0). Script it
  with ``POST /_control/enqueue`` (JSON list of specs), ``GET /_control/requests``,
  ``POST /_control/reset``; :class:`FakeServerProcess` wraps all of that.

A request takes the first queued *spec* whose ``match`` is absent or a substring of its
request target (path plus query); otherwise the default handler answers (echo chat, models,
files, temporary upload, 401 without a key, 404 elsewhere); the echo stops after ``max_tokens``
pieces with ``finish_reason: "length"``. Like DashScope, the echo chat
refuses (400) an ``oss://`` image sent without ``X-DashScope-OssResourceResolve: enable`` or
never uploaded to ``/oss``, and a ``fileid://`` system message naming an unknown file; it
appends ``[N image(s)]`` and ``[N file(s)]`` to the echo. A Qwen-MT request (``translation_options``
or a ``qwen-mt-*`` model) refuses a system message or a second turn (400) and "translates" the
user text by upper-casing it. Spec fields, all optional:

``status`` (200), ``headers`` (dict; a ``None`` value drops a default header), ``json``,
``body`` (str/bytes) with ``content_type``, ``sse`` (list of dicts sent as ``data: <json>``
events, or strings sent verbatim), ``writes`` (list of str / ``{"hex": ..}`` / ``{"b64": ..}``
pieces, each its own chunk), ``chunked`` (False: close-delimited body instead of chunked),
``delay`` (seconds between items), ``delay_before`` (seconds before the headers), ``cut``
(True/"fin": close without the final zero-length chunk; "rst": reset the connection),
``done`` (sse only: append ``data: [DONE]``; default true unless cut), ``repeat`` (1),
``match``; for hostile answers: ``gzip`` (True: compress the body, or each streamed piece, and
say ``Content-Encoding: gzip``), ``forever`` (a write, as in ``writes``, repeated ``delay``
apart after the other pieces until the client goes away: keep-alives, an endless line),
``bomb`` (``{"size": N, "head": str, "fill": str}``: a gzip body, about N/1000 bytes on the
wire, that inflates to ``head`` then ``fill`` repeated up to N bytes).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import email.policy
import json
import os
import selectors
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
import uuid
import zlib
from collections.abc import Iterable, Iterator, Sequence
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

COMPAT_PREFIX = "/compatible-mode/v1"
NATIVE_PREFIX = "/api/v1"
BODY_TEXT_LIMIT = 1 << 20
SPEC_KEYS = frozenset(
    {
        "match",
        "status",
        "headers",
        "json",
        "body",
        "content_type",
        "sse",
        "writes",
        "chunked",
        "delay",
        "delay_before",
        "cut",
        "done",
        "repeat",
        "gzip",
        "forever",
        "bomb",
    }
)
MODEL_IDS = (
    "qwen-max",
    "qwen-plus",
    "qwen-turbo",
    "qwen-vl-max",
    "qwen-long",
    "qwq-plus",
    "qwen3-235b-a22b",
)
INVALID_KEY_MESSAGE = (
    "Incorrect API key provided. For details, see: "
    "https://www.alibabacloud.com/help/en/model-studio/error-code#apikey-error"
)
_REQUEST_ERROR_CODES = frozenset(
    {"invalid_api_key", "model_not_found", "invalid_parameter_error", "not_found"}
)
_DISCONNECTS = (ConnectionError, TimeoutError)  # BrokenPipe, ConnectionReset, socket.timeout

# ---------------------------------------------------------------------------------------------
# Builders: the exact DashScope shapes (see /work/shared/protocol/dashscope.md b, c)
# ---------------------------------------------------------------------------------------------


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def new_request_id() -> str:
    return str(uuid.uuid4())


def _usage(prompt: int, completion: int, reasoning: int = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def chat_stream_events(
    text_pieces: Sequence[str],
    *,
    model: str = "qwen-max",
    reasoning_pieces: Sequence[str] = (),
    usage: dict[str, Any] | None = None,
    include_usage: bool = True,
    id: str | None = None,
    created: int | None = None,
    finish_reason: str = "stop",
    prompt_tokens: int = 10,
) -> list[dict[str, Any]]:
    """Chunks of one streamed answer, in DashScope compatible-mode shape and order.

    First chunk (role assistant, empty content), one chunk per reasoning piece then per text
    piece (``usage: null``), a finish chunk (empty content), then, if ``include_usage``, the
    usage chunk with ``"choices": []``. ``usage=None`` computes one token per piece plus
    ``prompt_tokens``. Send ``data: [DONE]`` after these (an ``sse`` spec does by default).
    """
    cid = id or f"chatcmpl-{new_request_id()}"
    ts = int(time.time()) if created is None else created
    thinking = bool(reasoning_pieces)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "choices": [{"delta": delta, "index": 0, "logprobs": None, "finish_reason": finish}],
            "object": "chat.completion.chunk",
            "usage": None,
            "created": ts,
            "system_fingerprint": None,
            "model": model,
            "id": cid,
        }

    if thinking:
        events = [chunk({"content": None, "role": "assistant", "reasoning_content": ""})]
        events += [chunk({"content": None, "reasoning_content": p}) for p in reasoning_pieces]
        events += [chunk({"content": p, "reasoning_content": None}) for p in text_pieces]
        events.append(chunk({"content": "", "reasoning_content": None}, finish_reason))
    else:
        events = [chunk({"content": "", "role": "assistant"})]
        events += [chunk({"content": p}) for p in text_pieces]
        events.append(chunk({"content": ""}, finish_reason))
    if include_usage:
        if usage is None:
            usage = _usage(prompt_tokens, len(text_pieces) + len(reasoning_pieces), len(reasoning_pieces))
        last = chunk({})
        last["choices"] = []
        last["usage"] = usage
        events.append(last)
    return events


def chat_completion(
    text: str,
    *,
    model: str = "qwen-max",
    reasoning: str | None = None,
    usage: dict[str, Any] | None = None,
    id: str | None = None,
    created: int | None = None,
    finish_reason: str = "stop",
    prompt_tokens: int = 10,
) -> dict[str, Any]:
    """A non-stream ``chat.completion`` body; ``usage=None`` estimates ~4 chars per token."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if usage is None:
        think = (len(reasoning) + 3) // 4 if reasoning else 0
        usage = _usage(prompt_tokens, max(1, (len(text) + 3) // 4) + think, think)
    return {
        "choices": [{"message": message, "finish_reason": finish_reason, "index": 0, "logprobs": None}],
        "object": "chat.completion",
        "usage": usage,
        "created": int(time.time()) if created is None else created,
        "system_fingerprint": None,
        "model": model,
        "id": id or f"chatcmpl-{new_request_id()}",
    }


def error_body(
    message: str,
    code: str,
    type: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Compatible-mode error body. ``type`` defaults to ``invalid_request_error`` for the
    request-error codes (invalid_api_key, model_not_found, invalid_parameter_error, not_found)
    and to the code itself otherwise (limit_requests, Arrearage, data_inspection_failed ...)."""
    default_type = "invalid_request_error" if code in _REQUEST_ERROR_CODES else code
    kind = default_type if type is None else type
    return {
        "error": {"message": message, "type": kind, "param": None, "code": code},
        "request_id": request_id or new_request_id(),
    }


def stream_error_event(
    message: str = "Output data may contain inappropriate content.",
    code: str = "data_inspection_failed",
    type: str | None = None,
) -> dict[str, Any]:
    """A mid-stream error event (put it in ``sse`` with ``"done": False``)."""
    return {"error": error_body(message, code, type)["error"]}


def native_error_body(message: str, code: str, request_id: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": request_id or new_request_id()}


NATIVE_TEXT_PATH = NATIVE_PREFIX + "/services/aigc/text-generation/generation"
NATIVE_MULTIMODAL_PATH = NATIVE_PREFIX + "/services/aigc/multimodal-generation/generation"
SEARCH_RESULTS = [
    {
        "index": 1,
        "title": "Qwen3 released",
        "url": "https://qwenlm.github.io/blog/qwen3/",
        "site_name": "Qwen Blog",
        "icon": "https://qwenlm.github.io/favicon.ico",
    },
    {
        "index": 2,
        "title": "通义千问 - 阿里云",
        "url": "https://www.aliyun.com/product/tongyi",
        "site_name": "阿里云",
        "icon": "",
    },
]


def native_frame(n: int, data: Any, *, event: str = "result", status: int = 200) -> str:
    """One native SSE frame, verbatim as DashScope sends it (no space after the colons)."""
    payload = data if isinstance(data, str) else _dumps(data)
    return f"id:{n}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{payload}\n\n"


def native_stream_events(
    text_pieces: Sequence[str],
    *,
    reasoning_pieces: Sequence[str] = (),
    search_results: Sequence[dict[str, Any]] | None = None,
    prompt_tokens: int = 10,
    finish_reason: str = "stop",
    request_id: str | None = None,
    finish: bool = True,
) -> list[str]:
    """Frames of one native answer (``incremental_output``): reasoning then text deltas with
    ``finish_reason: "null"``, cumulative usage in every frame, a last frame with the finish
    reason; ``search_results`` ride on the first frame as ``output.search_info``."""
    rid = request_id or new_request_id()
    frames: list[str] = []
    out = 0
    pieces = [("reasoning_content", p) for p in reasoning_pieces] + [("content", p) for p in text_pieces]
    reasoning = len(reasoning_pieces)
    for n, (key, piece) in enumerate(pieces, 1):
        out += 1
        msg = {"content": "", "role": "assistant", key: piece}
        output: dict[str, Any] = {"choices": [{"message": msg, "finish_reason": "null"}]}
        if n == 1 and search_results is not None:
            output["search_info"] = {"search_results": list(search_results), "extra_tool_info": []}
        frames.append(
            native_frame(
                n,
                {"output": output, "usage": _native_usage(prompt_tokens, out, reasoning), "request_id": rid},
            )
        )
    if finish:
        last = {
            "choices": [{"message": {"content": "", "role": "assistant"}, "finish_reason": finish_reason}]
        }
        usage = _native_usage(prompt_tokens, out, reasoning)
        if search_results is not None:
            usage["plugins"] = {"search": {"count": 1, "strategy": "turbo"}}
        frames.append(native_frame(len(pieces) + 1, {"output": last, "usage": usage, "request_id": rid}))
    return frames


def _native_usage(prompt: int, output: int, reasoning: int = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "total_tokens": prompt + output,
        "output_tokens": output,
        "input_tokens": prompt,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    if reasoning:
        usage["output_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def native_error_frame(message: str, code: str, *, status: int = 400, n: int = 1) -> str:
    """A mid-stream native error: ``event:error`` with the status comment and the error object."""
    return native_frame(n, native_error_body(message, code), event="error", status=status)


def error_spec(
    status: int,
    message: str,
    code: str,
    type: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A response spec answering with a compatible-mode error, e.g.
    ``error_spec(429, "Requests rate limit exceeded", "limit_requests", repeat=2)``."""
    return {"status": status, "json": error_body(message, code, type), **extra}


def upload_policy(upload_host: str) -> dict[str, Any]:
    """The ``data`` of a temporary-upload policy answer (field names from the dashscope SDK)."""
    return {
        "policy": "cG9saWN5",
        "signature": "c2ln",
        "upload_dir": "dashscope-instant/abc/2026-11-22/xyz",
        "upload_host": upload_host,
        "expire_in_seconds": 300,
        "max_file_size_mb": 100,
        "capacity_limit_mb": 999999,
        "oss_access_key_id": "LTAI-fake",
        "x_oss_object_acl": "private",
        "x_oss_forbid_overwrite": "true",
    }


def split_text(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def long_markdown() -> str:
    """The deterministic Markdown answer of model ``fake-long``."""
    out = ["# A long answer from the fake server", ""]
    for i in range(1, 4):
        out.append(
            f"Paragraph {i}. The fake server streams this text in many small deltas so that "
            "a renderer has to cope with **bold**, *italic*, `inline code` and links such as "
            "[DashScope](https://dashscope.aliyuncs.com) arriving in pieces. 通义千问会把中文"
            "字符拆成多个字节。终端里每个汉字占两列。"
        )
        out.append("")
    out += ["## A list", ""]
    for i in range(1, 9):
        out.append(f"- Item {i}: {'alpha beta gamma delta'[: 5 + i * 2]}")
        if i % 3 == 0:
            out.append(f"  - nested detail {i}.1")
    out.append("")
    for i in range(1, 5):
        out.append(f"{i}. Numbered step {i}")
    out += ["", "## Some code", "", "```python"]
    out += _long_code()
    out += ["```", "", "## A table", "", "| model | context | price |", "|---|---:|:---:|"]
    for i, name in enumerate(MODEL_IDS):
        out.append(f"| {name} | {32768 * (i + 1)} | {0.5 * (i + 1):.2f} |")
    out += ["", "> That is all. 完。", ""]
    return "\n".join(out)


def _long_code() -> list[str]:
    lines = [
        '"""Deterministic sample code for the fake server."""',
        "from __future__ import annotations",
        "",
        "import functools",
        "",
        "",
        "@functools.lru_cache(maxsize=None)",
        "def fib(n: int) -> int:",
        "    if n < 2:",
        "        return n",
        "    return fib(n - 1) + fib(n - 2)",
        "",
        "",
        "class Counter:",
        "    def __init__(self) -> None:",
        "        self.counts: dict[str, int] = {}",
        "",
        "    def add(self, word: str) -> None:",
        "        self.counts[word] = self.counts.get(word, 0) + 1",
        "",
        "    def top(self, n: int = 3) -> list[tuple[str, int]]:",
        "        items = sorted(self.counts.items(), key=lambda kv: -kv[1])",
        "        return items[:n]",
        "",
        "",
        "def main() -> None:",
    ]
    lines += [f"    print(fib({i}))  # step {i}" for i in range(1, 11)]
    lines += ["", "", 'if __name__ == "__main__":', "    main()"]
    return lines


def long_pieces(n: int = 2000) -> list[str]:
    """``long_markdown()`` cut into exactly ``n`` non-empty deltas."""
    text = long_markdown()
    bounds = [i * len(text) // n for i in range(n + 1)]
    return [text[bounds[i] : bounds[i + 1]] for i in range(n)]


# ---------------------------------------------------------------------------------------------
# Specs, multipart
# ---------------------------------------------------------------------------------------------


def normalize_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Validate a response spec (raises ValueError on unknown fields) and copy it."""
    if not isinstance(spec, dict):
        raise TypeError(f"a response spec must be an object, got {spec!r}")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise ValueError(f"unknown spec field(s) {sorted(unknown)}; known: {sorted(SPEC_KEYS)}")
    out = dict(spec)
    repeat = out.get("repeat", 1)
    if not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a positive int, got {repeat!r}")
    out["repeat"] = repeat
    for key in ("sse", "writes"):
        if key in out and not isinstance(out[key], list):
            raise ValueError(f"{key} must be a list")
    for piece in out.get("writes", ()):
        _piece_bytes(piece)
    if "forever" in out:
        _piece_bytes(out["forever"])
    bomb = out.get("bomb")
    if bomb is not None and not (isinstance(bomb, dict) and isinstance(bomb.get("size"), int)):
        raise ValueError(f"bomb must be {{'size': int, 'head': str, 'fill': str}}, got {bomb!r}")
    if bomb is not None:
        gzip_bomb(bomb["size"], bomb.get("head", ""), bomb.get("fill", "a"))  # made now, not mid-request
    return out


_BOMBS: dict[tuple[int, str, str], bytes] = {}


def gzip_bomb(size: int, head: str = "", fill: str = "a") -> bytes:
    """gzip bytes inflating to ``head`` then ``fill`` repeated, ``size`` bytes in all (cached).

    One megabyte block is compressed once and repeated: after a full flush the compressor
    starts afresh, so the same block compresses to the same bytes every time.
    """
    key = (size, head, fill)
    if key in _BOMBS:
        return _BOMBS[key]
    z = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    start = head.encode()
    unit = fill.encode() or b"a"
    block = unit * ((1 << 20) // len(unit))
    out = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff", z.compress(start), z.flush(zlib.Z_FULL_FLUSH)]
    crc = zlib.crc32(start)
    left = size - len(start)
    packed = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH)
    z = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    while left >= len(block):
        out.append(packed)
        crc = zlib.crc32(block, crc)
        left -= len(block)
    rest = block[: max(left, 0)]
    out += [z.compress(rest), z.flush(), struct.pack("<II", zlib.crc32(rest, crc), size & 0xFFFFFFFF)]
    _BOMBS[key] = b"".join(out)
    return _BOMBS[key]


def _gzip_pieces(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Each piece compressed and flushed on its own, as a compressing server streams."""
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for piece in pieces:
        yield z.compress(piece) + z.flush(zlib.Z_SYNC_FLUSH)
    yield z.flush()


def _piece_bytes(piece: Any) -> bytes:
    if isinstance(piece, bytes):
        return piece
    if isinstance(piece, str):
        return piece.encode("utf-8")
    if isinstance(piece, dict) and set(piece) == {"hex"}:
        return bytes.fromhex(piece["hex"])
    if isinstance(piece, dict) and set(piece) == {"b64"}:
        return base64.b64decode(piece["b64"])
    raise ValueError(f"a write must be a str, bytes, {{'hex': ..}} or {{'b64': ..}}: {piece!r}")


def _sse_bytes(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    return f"data: {_dumps(item)}\n\n".encode()


def parse_multipart(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """Parts of a multipart/form-data body: ``{"name", "filename", "content_type", "data"}``."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    msg = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise ValueError("not a multipart body")
    parts = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        parts.append(
            {
                "name": str(name),
                "filename": part.get_filename(),
                "content_type": part["content-type"] and part.get_content_type(),
                "data": part.get_payload(decode=True) or b"",
            }
        )
    return parts


def _form_summary(parts: list[dict[str, Any]]) -> dict[str, Any]:
    form: dict[str, Any] = {}
    for p in parts:
        if p["filename"] is None:
            form[p["name"]] = p["data"].decode("utf-8", "replace")
        else:
            form[p["name"]] = {
                "filename": p["filename"],
                "size": len(p["data"]),
                "content_type": p["content_type"],
            }
    return form


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    fake: FakeServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup; skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (*_DISCONNECTS, OSError)):
            return
        self.fake.errors.append(repr(exc))
        super().handle_error(request, client_address)


class FakeServer:
    """In-process fake DashScope server on 127.0.0.1 (see the module docstring).

    ``api_key``: accept only this key (others get 401); default: any ``Bearer <something>``.
    ``port``: 0 picks a free one. Attributes: ``url``, ``base_url`` (compatible mode),
    ``native_url``, ``port``, ``requests`` (log), ``files`` (uploaded file objects),
    ``errors`` (unexpected handler exceptions; should stay empty).
    """

    def __init__(self, api_key: str | None = None, *, port: int = 0) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.file_contents: dict[str, bytes] = {}
        self.oss_objects: dict[str, dict[str, Any]] = {}  # temporary uploads by object key
        self.errors: list[str] = []
        self._queue: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._logged = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.fake = self
        self.port: int = self._httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + COMPAT_PREFIX
        self.native_url = self.url + NATIVE_PREFIX
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fakeserver-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut short any delays, and close open connections. Idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # scripting -------------------------------------------------------------------------------
    def enqueue(self, *specs: dict[str, Any]) -> None:
        """Queue response specs (FIFO); see the module docstring for the fields."""
        normalized = [normalize_spec(s) for s in specs]
        with self._lock:
            self._queue.extend(normalized)

    def pending(self) -> int:
        """How many queued specs have not been used up."""
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget queued specs, logged requests, files and errors."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.files.clear()
            self.file_contents.clear()
            self.oss_objects.clear()
            self.errors.clear()

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``n`` requests are logged; returns a copy of the log."""
        with self._logged:
            if not self._logged.wait_for(lambda: len(self.requests) >= n, timeout):
                raise TimeoutError(f"{len(self.requests)} request(s) logged, wanted {n}")
            return list(self.requests)

    # used by the handler -----------------------------------------------------------------------
    def _take(self, target: str) -> dict[str, Any] | None:
        with self._lock:
            for i, spec in enumerate(self._queue):
                match = spec.get("match")
                if match is None or match in target:
                    spec["repeat"] -= 1
                    if spec["repeat"] <= 0:
                        del self._queue[i]
                    return spec
        return None

    def _log(self, entry: dict[str, Any]) -> None:
        with self._logged:
            self.requests.append(entry)
            self._logged.notify_all()

    def _sleep(self, seconds: float) -> None:
        if seconds and seconds > 0:
            self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-dashscope/1.0"

    def version_string(self) -> str:
        return self.server_version

    server: _HTTPServer

    # plumbing ----------------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.fake._lock:
            self.server.fake._conns.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._conns.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    @property
    def fake(self) -> FakeServer:
        return self.server.fake

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        self._parts: list[dict[str, Any]] = []
        self._headers_sent = False
        try:
            body = self._read_body()
            path = urlsplit(self.path).path
            if path.startswith("/_control/"):
                self._control(path, body)
                return
            entry = self._record(body)
            spec = self.fake._take(self.path)
            if spec is not None:
                self._serve_spec(spec)
            else:
                self._default(entry, path, body)
        except _DISCONNECTS:
            self.close_connection = True
        except Exception:  # a bug in the fake: report it, answer 500
            self.fake.errors.append(traceback.format_exc())
            self.close_connection = True
            if not self._headers_sent:
                with contextlib.suppress(OSError):
                    self._send_json(500, error_body(traceback.format_exc(), "internal_error"))

    def _record(self, body: bytes) -> dict[str, Any]:
        url = urlsplit(self.path)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        parsed: Any = None
        is_json = False
        if body:
            try:
                parsed = json.loads(body)
                is_json = True
            except ValueError:
                pass
        form = None
        ctype = headers.get("content-type", "")
        if ctype.lower().startswith("multipart/form-data"):
            try:
                self._parts = parse_multipart(ctype, body)
                form = _form_summary(self._parts)
            except Exception:  # a malformed body is the test's business
                self._parts = []
        entry = {
            "method": self.command,
            "path": url.path,
            "query": dict(parse_qsl(url.query, keep_blank_values=True)),
            "headers": headers,
            "json": parsed,
            "body_text": None if is_json else body[:BODY_TEXT_LIMIT].decode("utf-8", "replace"),
            "body_size": len(body),
            "form": form,
            "time": time.time(),
        }
        self.fake._log(entry)
        return entry

    # sending -----------------------------------------------------------------------------------
    def _start(self, status: int, defaults: dict[str, str], extra: dict[str, Any] | None) -> None:
        headers = {k.lower(): (k, v) for k, v in defaults.items()}
        for k, v in (extra or {}).items():
            if v is None:
                headers.pop(k.lower(), None)
            else:
                headers[k.lower()] = (k, str(v))
        self._headers_sent = True
        self.send_response(status)
        for k, v in headers.values():
            self.send_header(k, v)
        self.end_headers()

    def _send_full(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        extra: dict[str, Any] | None = None,
        rid: str | None = None,
        cut: Any = False,
    ) -> None:
        defaults = {"Content-Length": str(len(body)), "x-request-id": rid or new_request_id()}
        if content_type:
            defaults = {"Content-Type": content_type, **defaults}
        self._start(status, defaults, extra)
        if cut:
            self.wfile.write(body[: len(body) // 2])
            self._cut(cut)
        else:
            self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, rid: str | None = None) -> None:
        self._send_full(status, _dumps(obj).encode(), "application/json; charset=utf-8", rid=rid)

    def _send_stream(
        self,
        status: int,
        pieces: Iterable[bytes],
        content_type: str,
        extra: dict[str, Any] | None = None,
        rid: str | None = None,
        delay: float = 0.0,
        cut: Any = False,
        chunked: bool = True,
    ) -> None:
        defaults = {
            "Content-Type": content_type,
            "Cache-Control": "no-cache",
            "x-request-id": rid or new_request_id(),
        }
        if chunked:
            defaults["Transfer-Encoding"] = "chunked"
        else:
            defaults["Connection"] = "close"
            self.close_connection = True
        self._start(status, defaults, extra)
        for i, piece in enumerate(pieces):
            if i:
                self.fake._sleep(delay)
            if piece:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if cut:
            self._cut(cut)
        elif chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _cut(self, how: Any) -> None:
        self.close_connection = True
        if how == "rst":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        else:
            self.connection.shutdown(socket.SHUT_WR)

    def _serve_spec(self, spec: dict[str, Any]) -> None:
        self.fake._sleep(float(spec.get("delay_before") or 0))
        status = int(spec.get("status", 200))
        extra = spec.get("headers")
        ctype = spec.get("content_type")
        delay = float(spec.get("delay") or 0)
        cut = spec.get("cut", False)
        chunked = bool(spec.get("chunked", True))
        if spec.get("gzip") or "bomb" in spec:
            extra = {"Content-Encoding": "gzip", **(extra or {})}
        if "bomb" in spec:
            b = spec["bomb"]
            data = gzip_bomb(b["size"], b.get("head", ""), b.get("fill", "a"))
            pieces: Iterable[bytes] = (data[i : i + 65536] for i in range(0, len(data), 65536))
            default = "application/json; charset=utf-8" if b.get("head", "").startswith("{") else None
            self._send_stream(status, pieces, ctype or default or "text/event-stream", extra, cut=cut)
        elif "sse" in spec or "writes" in spec or "forever" in spec:
            if "sse" in spec:
                items = [_sse_bytes(item) for item in spec["sse"]]
                if spec.get("done", not cut and "forever" not in spec):
                    items.append(b"data: [DONE]\n\n")
            else:
                items = [_piece_bytes(p) for p in spec.get("writes", ())]
            pieces = items
            if "forever" in spec:
                pieces = self._forever(items, _piece_bytes(spec["forever"]))
            if spec.get("gzip"):
                pieces = _gzip_pieces(pieces)
            self._send_stream(
                status,
                pieces,
                ctype or "text/event-stream; charset=utf-8",
                extra,
                delay=delay,
                cut=cut,
                chunked=chunked,
            )
        else:
            if "json" in spec:
                body = _dumps(spec["json"]).encode()
                ctype = ctype or "application/json; charset=utf-8"
            elif "body" in spec:
                raw = spec["body"]
                body = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
                ctype = ctype or "text/plain; charset=utf-8"
            else:
                body = b""
            if spec.get("gzip"):
                body = b"".join(_gzip_pieces([body]))
            self._send_full(status, body, ctype, extra, cut=cut)

    def _forever(self, first: list[bytes], piece: bytes) -> Iterator[bytes]:
        yield from first
        while not self.fake._stopping.is_set():
            yield piece

    # control -----------------------------------------------------------------------------------
    def _control(self, path: str, body: bytes) -> None:
        fake = self.fake
        if path == "/_control/enqueue" and self.command == "POST":
            try:
                specs = json.loads(body or b"[]")
                specs = specs if isinstance(specs, list) else [specs]
                fake.enqueue(*specs)
            except (ValueError, TypeError) as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self._send_json(200, {"queued": len(specs), "pending": fake.pending()})
        elif path == "/_control/requests" and self.command == "GET":
            with fake._lock:
                log = list(fake.requests)
            self._send_json(200, log)
        elif path == "/_control/reset" and self.command == "POST":
            fake.reset()
            self._send_json(200, {"ok": True})
        elif path == "/_control/state" and self.command == "GET":
            self._send_json(
                200,
                {
                    "pending": fake.pending(),
                    "files": list(fake.files.values()),
                    "oss_objects": dict(fake.oss_objects),
                    "errors": list(fake.errors),
                },
            )
        else:
            self._send_json(404, {"error": f"unknown control endpoint {self.command} {path}"})

    # default behaviour -------------------------------------------------------------------------
    def _bearer(self) -> str | None:
        scheme, _, token = self.headers.get("Authorization", "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if self.fake.api_key is not None and token != self.fake.api_key:
            return None
        return token

    def _default(self, entry: dict[str, Any], path: str, body: bytes) -> None:
        rid = new_request_id()
        method = self.command
        route = path.rstrip("/")
        if route.startswith("/compatible-mode/"):
            if self._bearer() is None:
                err = error_body(INVALID_KEY_MESSAGE, "invalid_api_key", None, rid)
                self._send_json(401, err, rid)
                return
            if route.startswith(COMPAT_PREFIX + "/"):
                self._compat(method, route[len(COMPAT_PREFIX) :], entry, rid)
                return
        elif route.startswith(NATIVE_PREFIX + "/"):
            if self._bearer() is None:
                err = native_error_body("Invalid API-key provided.", "InvalidApiKey", rid)
                self._send_json(401, err, rid)
                return
            if route == NATIVE_PREFIX + "/uploads" and method == "GET":
                self._upload_policy(entry, rid)
                return
            if route in (NATIVE_TEXT_PATH, NATIVE_MULTIMODAL_PATH) and method == "POST":
                self._native_chat(entry, rid)
                return
        elif route == "/oss" and method == "POST":
            self._store_oss_object()
            self._send_full(200, b"", None, rid=rid)
            return
        self._not_found(f"The requested resource {method} {path} was not found.", rid)

    def _not_found(self, message: str, rid: str) -> None:
        self._send_json(404, error_body(message, "not_found", None, rid), rid)

    def _compat(self, method: str, route: str, entry: dict[str, Any], rid: str) -> None:
        fake = self.fake
        if route == "/chat/completions" and method == "POST":
            self._chat(entry, rid)
        elif route == "/models" and method == "GET":
            self._send_json(200, {"object": "list", "data": [_model(m) for m in MODEL_IDS]}, rid)
        elif route.startswith("/models/") and method == "GET":
            name = route[len("/models/") :]
            if name in MODEL_IDS:
                self._send_json(200, _model(name), rid)
            else:
                msg = f"The model `{name}` does not exist or you do not have access to it."
                self._send_json(404, error_body(msg, "model_not_found", None, rid), rid)
        elif route == "/files" and method == "POST":
            self._upload_file(entry, rid)
        elif route == "/files" and method == "GET":
            with fake._lock:
                data = list(fake.files.values())
            self._send_json(200, {"object": "list", "data": data}, rid)
        elif route.startswith("/files/"):
            file_id, _, sub = route[len("/files/") :].partition("/")
            meta = fake.files.get(file_id)
            if meta is None:
                self._not_found(f"File {file_id} not found.", rid)
            elif method == "GET" and not sub:
                self._send_json(200, meta, rid)
            elif method == "GET" and sub == "content":
                content = fake.file_contents.get(file_id, b"")
                self._send_full(200, content, "application/octet-stream", rid=rid)
            elif method == "DELETE" and not sub:
                with fake._lock:
                    fake.files.pop(file_id, None)
                    fake.file_contents.pop(file_id, None)
                self._send_json(200, {"id": file_id, "object": "file", "deleted": True}, rid)
            else:
                self._not_found(f"The requested resource {method} {route} was not found.", rid)
        else:
            self._not_found(f"The requested resource {method} {COMPAT_PREFIX}{route} was not found.", rid)

    def _upload_file(self, entry: dict[str, Any], rid: str) -> None:
        parts = self._parts
        file_part = next((p for p in parts if p["name"] == "file"), None)
        purpose = next((p["data"].decode() for p in parts if p["name"] == "purpose"), None)
        if file_part is None or not purpose:
            msg = "Missing required multipart fields 'file' and 'purpose'."
            self._send_json(400, error_body(msg, "invalid_parameter_error", None, rid), rid)
            return
        file_id = "file-fe-" + uuid.uuid4().hex[:24]
        meta = {
            "id": file_id,
            "object": "file",
            "bytes": len(file_part["data"]),
            "filename": file_part["filename"] or "file",
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "created_at": int(time.time()),
        }
        with self.fake._lock:
            self.fake.files[file_id] = meta
            self.fake.file_contents[file_id] = file_part["data"]
        self._send_json(200, meta, rid)

    def _store_oss_object(self) -> None:
        """Remember a temporary upload so chat requests can refer to it as ``oss://<key>``."""
        fields = {p["name"]: p for p in self._parts}
        if "key" in fields and "file" in fields:
            key = fields["key"]["data"].decode("utf-8", "replace")
            ctype = fields.get("x-oss-content-type")
            with self.fake._lock:
                self.fake.oss_objects[key] = {
                    "size": len(fields["file"]["data"]),
                    "content_type": ctype["data"].decode() if ctype else None,
                    "filename": fields["file"]["filename"],
                }

    def _upload_policy(self, entry: dict[str, Any], rid: str) -> None:
        query = entry["query"]
        if query.get("action") != "getPolicy" or not query.get("model"):
            err = native_error_body(
                "Parameters action=getPolicy and model are required.", "InvalidParameter", rid
            )
            self._send_json(400, err, rid)
            return
        self._send_json(200, {"request_id": rid, "data": upload_policy(self.fake.url + "/oss")}, rid)

    def _chat(self, entry: dict[str, Any], rid: str) -> None:
        req = entry["json"]
        if not isinstance(req, dict) or not isinstance(req.get("messages"), list):
            msg = "<400> InternalError.Algo.InvalidParameter: messages must be a non-empty list"
            self._send_json(400, error_body(msg, "invalid_parameter_error", None, rid), rid)
            return
        model = str(req.get("model") or "qwen-max")
        refused, files = self._check_references(entry)
        if refused:
            self._send_json(400, error_body(refused, "invalid_parameter_error", None, rid), rid)
            return
        user_text, images = _last_user_text(req["messages"])
        prompt_tokens = max(1, sum(len(_text_of(m)) for m in req["messages"]) // 4)
        thinking = req.get("enable_thinking") is True
        reasoning = f"Thinking about: {user_text}" if thinking else ""
        translating = "translation_options" in req or model.startswith("qwen-mt")
        if translating:  # Qwen-MT: one user message, no system; "translates" by upper-casing
            refused = _mt_refusal(req)
            if refused:
                self._send_json(400, error_body(refused, "invalid_parameter_error", None, rid), rid)
                return
        if translating:
            pieces = split_text(user_text.upper())
        elif model == "fake-long":
            pieces = long_pieces()
        else:
            answer = "echo: " + user_text + (f" [{images} image(s)]" if images else "")
            answer += f" [{files} file(s)]" if files else ""
            pieces = split_text(answer)
        finish = "stop"
        limit = req.get("max_tokens")
        if isinstance(limit, int) and 0 < limit < len(pieces):  # one piece a token, as counted
            pieces, finish = pieces[:limit], "length"
        delay = 0.05 if model == "fake-slow" else 0.0
        cid = f"chatcmpl-{rid}"
        if req.get("stream") is True:
            opts = req.get("stream_options")
            include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
            events = chat_stream_events(
                pieces,
                model=model,
                reasoning_pieces=split_text(reasoning),
                include_usage=include_usage,
                id=cid,
                finish_reason=finish,
                prompt_tokens=prompt_tokens,
            )
            data = [_sse_bytes(e) for e in events] + [b"data: [DONE]\n\n"]
            self._send_stream(200, data, "text/event-stream; charset=utf-8", rid=rid, delay=delay)
        else:
            self.fake._sleep(delay * len(pieces))
            body = chat_completion(
                "".join(pieces),
                model=model,
                reasoning=reasoning or None,
                id=cid,
                finish_reason=finish,
                prompt_tokens=prompt_tokens,
            )
            self._send_json(200, body, rid)

    def _native_chat(self, entry: dict[str, Any], rid: str) -> None:
        """The native protocol's echo: streams when asked with ``X-DashScope-SSE: enable``;
        with ``enable_search`` and ``search_options.enable_source`` the answer cites
        :data:`SEARCH_RESULTS` as ``[ref_1]`` and sends them on its first frame."""
        req = entry["json"]
        messages = (req.get("input") or {}).get("messages") if isinstance(req, dict) else None
        if not isinstance(messages, list) or not messages:
            err = native_error_body("Field required: input.messages", "InvalidParameter", rid)
            self._send_json(400, err, rid)
            return
        params = req.get("parameters") or {}
        user_text, images = _last_user_text(messages)
        prompt_tokens = max(1, sum(len(_text_of(m)) for m in messages) // 4)
        options = params.get("search_options") or {}
        sourced = params.get("enable_search") is True and options.get("enable_source") is True
        answer = "echo: " + user_text + (f" [{images} image(s)]" if images else "")
        if sourced:
            answer += " [ref_1]"
        reasoning = f"Thinking about: {user_text}" if params.get("enable_thinking") is True else ""
        model = str(req.get("model") or "qwen-max")
        delay = 0.05 if model == "fake-slow" else 0.0
        pieces = long_pieces() if model == "fake-long" else split_text(answer)
        results = SEARCH_RESULTS if sourced else None
        if entry["headers"].get("x-dashscope-sse", "").lower() == "enable":
            frames = native_stream_events(
                pieces,
                reasoning_pieces=split_text(reasoning),
                search_results=results,
                prompt_tokens=prompt_tokens,
                request_id=rid,
            )
            data = [f.encode() for f in frames]
            self._send_stream(200, data, "text/event-stream;charset=UTF-8", rid=rid, delay=delay)
            return
        message: dict[str, Any] = {"role": "assistant", "content": "".join(pieces)}
        if reasoning:
            message["reasoning_content"] = reasoning
        output: dict[str, Any] = {"choices": [{"finish_reason": "stop", "message": message}]}
        if results is not None:
            output["search_info"] = {"search_results": list(results)}
        usage = _native_usage(prompt_tokens, max(1, len(message["content"]) // 4))
        self._send_json(200, {"output": output, "usage": usage, "request_id": rid}, rid)

    def _check_references(self, entry: dict[str, Any]) -> tuple[str | None, int]:
        """Like DashScope: ``oss://`` images need the resolve header and an uploaded object;
        ``fileid://`` system messages must name uploaded files. Returns (error, file count)."""
        resolve = entry["headers"].get("x-dashscope-ossresourceresolve", "").lower() == "enable"
        files = 0
        for message in entry["json"]["messages"]:
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if (
                message.get("role") == "system"
                and isinstance(content, str)
                and content.startswith("fileid://")
            ):
                for file_id in content[len("fileid://") :].split(","):
                    if file_id.strip() not in self.fake.files:
                        return f"Invalid file [id:{file_id.strip()}].", 0
                    files += 1
            for part in content if isinstance(content, list) else []:
                image = part.get("image_url") if isinstance(part, dict) else None
                url = image.get("url") if isinstance(image, dict) else None
                known = isinstance(url, str) and url[len("oss://") :] in self.fake.oss_objects
                if isinstance(url, str) and url.startswith("oss://") and not (resolve and known):
                    return (
                        "<400> InternalError.Algo.InvalidParameter: The provided URL does not appear "
                        "to be valid. Ensure it is correctly formatted."
                    ), 0
        return None, files


def _mt_refusal(req: dict[str, Any]) -> str | None:
    """Why a Qwen-MT request is refused, like the service: a system message or several turns,
    or ``translation_options`` without a target language."""
    messages = req["messages"]
    if any(isinstance(m, dict) and m.get("role") == "system" for m in messages) or len(messages) != 1:
        return "<400> InternalError.Algo.InvalidParameter: Qwen-MT takes one user message, no system message"
    opts = req.get("translation_options")
    if not isinstance(opts, dict) or not opts.get("target_lang"):
        return "<400> InternalError.Algo.InvalidParameter: translation_options.target_lang is required"
    return None


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1735689600, "owned_by": "system"}


def _text_of(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type", "text") == "text"
        )
    return ""


def _last_user_text(messages: list[Any]) -> tuple[str, int]:
    """Text of the last user message (text parts joined by newlines) and its image count."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            images = 0
            if isinstance(content, list):
                images = sum(
                    1 for p in content if isinstance(p, dict) and p.get("type") in ("image_url", "image")
                )
            return _text_of(message), images
    return "", 0


# ---------------------------------------------------------------------------------------------
# Subprocess use
# ---------------------------------------------------------------------------------------------


def wait_for_port(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """Read the ``PORT <n>`` line a freshly started ``fakeserver.py`` prints on stdout."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"fake server printed no PORT line in {timeout}s: {buf!r}")
            if not sel.select(remaining):
                continue
            chunk = os.read(fd, 1024)
            if not chunk:
                raise RuntimeError(f"fake server exited ({proc.wait()}) before PORT: {buf!r}")
            buf += chunk
    line = buf.split(b"\n", 1)[0].decode()
    word, _, port = line.partition(" ")
    if word != "PORT" or not port.isdigit():
        raise RuntimeError(f"unexpected first line from fake server: {line!r}")
    return int(port)


class FakeServerProcess:
    """``fakeserver.py`` in a child process, with the control endpoints wrapped.

    ``with FakeServerProcess("--api-key", "sk-test") as srv: srv.enqueue({...}); srv.url``
    """

    def __init__(self, *args: str, python: str | None = None, startup_timeout: float = 10.0) -> None:
        self.args = [python or sys.executable, str(Path(__file__).resolve()), *args]
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.url = self.base_url = ""
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def start(self) -> Self:
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        try:
            self.port = wait_for_port(self.proc, self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + COMPAT_PREFIX
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Signal the child, wait for it and close its pipe; returns its exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                proc.send_signal(sig)
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with self._opener.open(req, timeout=10) as resp:
            return json.loads(resp.read())

    def enqueue(self, *specs: dict[str, Any]) -> None:
        self._call("POST", "/_control/enqueue", list(specs))

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/_control/requests")
        return result

    def reset(self) -> None:
        self._call("POST", "/_control/reset", {})


class _Stop(Exception):
    pass


def serve_until_signalled(srv: FakeServer) -> int:
    """Start ``srv``, print ``PORT n``, serve until SIGTERM or SIGINT; exit code 0."""

    def on_signal(signum: int, frame: Any) -> None:
        raise _Stop

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        srv.start()
        sys.stdout.write(f"PORT {srv.port}\n")
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    except _Stop:
        pass
    finally:
        srv.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake DashScope compatible-mode server.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--api-key", default=None, help="accept only this Bearer key")
    args = parser.parse_args(argv)
    return serve_until_signalled(FakeServer(api_key=args.api_key, port=args.port))


if __name__ == "__main__":
    sys.exit(main())
