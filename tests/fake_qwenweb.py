"""A scriptable fake of chat.qwen.ai as the `qwen-api` library talks to it, over real sockets.

Stdlib only; built on ``fakeserver.py`` (same queue of response specs, request log, control
endpoints, subprocess mode). Wire shapes: /work/shared/protocol/qwen-web.md.

* in-process::

      with FakeQwenWeb(token="tok-test", cookie="sid=1") as srv:
          run_qwen("--provider", "qwen-web", "--base-url", srv.base_url)
          assert srv.requests[0]["json"]["messages"][0]["chat_type"] == "t2t"

* as a subprocess: ``python tests/fake_qwenweb.py [--port 0] [--token T] [--cookie C] [--done]``
  prints ``PORT <n>``; :class:`FakeQwenWebProcess` wraps it.

Default routes (when no queued spec matches):

``POST /api/chat/completions``, ``/api/v2/chat/completions``
    401 envelope without ``Bearer <token>`` + ``Cookie`` (a doubled ``Bearer`` is refused too);
    400 envelope for a body that is not the library's shape; else the answer ``echo: <last
    user text>`` (``[n image(s)]`` appended), streamed as phase/status deltas with usage on
    every event. Thinking (``feature_config.thinking_enabled``) adds ``phase: think`` deltas
    ``Thinking about: <text>``; ``chat_type: search`` adds the web-search events first.
    ``[DONE]`` only with ``send_done``. ``stream: false`` gets a JSON chat.completion.
    Magic models: ``fake-limit`` (200 + RateLimited envelope, num 5), ``fake-429`` (429 +
    Retry-After 1), ``fake-waf`` (captcha page), ``fake-cut`` (stream cut), ``fake-nochoices``,
    ``fake-auth200`` (200 + Unauthorized envelope), ``fake-slow``, ``fake-long``.
``POST /api/v1/files/getstsToken`` (flat answer), ``/api/v2/files/getstsToken`` (wrapped)
    temporary credentials for one object in bucket ``qwen-webui-fake``.
``PUT /oss/<bucket>/<key>``
    verifies the OSS v1 signature with the issued secret, the security token, the key and
    Content-MD5, then keeps the object (``objects``); errors are OSS XML. ``GET`` reads it back.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

try:
    from tests.fakeserver import (
        FakeServer,
        FakeServerProcess,
        _Handler,
        _sse_bytes,
        long_pieces,
        serve_until_signalled,
        split_text,
    )
except ImportError:  # run as a script: tests/ itself is on sys.path
    from fakeserver import (
        FakeServer,
        FakeServerProcess,
        _Handler,
        _sse_bytes,
        long_pieces,
        serve_until_signalled,
        split_text,
    )

BUCKET = "qwen-webui-fake"
REGION = "oss-fake-1"
SOURCES = [
    {
        "url": "https://example.com/qwen",
        "title": "Qwen - Example",
        "snippet": "Qwen is a family of LLMs.",
        "hostname": "Example",
        "hostlogo": "https://example.com/favicon.ico",
        "date": " (2025-01-01)",
    },
    {
        "url": "https://example.org/llm",
        "title": "What is an LLM?",
        "snippet": "A large language model is ...",
    },
]
WAF_PAGE = (
    "<!DOCTYPE html><html><head><title>Verification</title></head><body>"
    '<script>var url="/punish?x5secdata=abc";</script>RGV587_ERROR::SM::FAIL_SYS_USER_VALIDATE</body></html>'
)


# ---------------------------------------------------------------------------------------------
# Builders: the shapes of section 3.2 and 6
# ---------------------------------------------------------------------------------------------


def envelope(code: str, details: str, num: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"code": code, "details": details}
    if num is not None:
        data["num"] = num
    return {"success": False, "request_id": str(uuid.uuid4()), "data": data}


def unauthorized() -> dict[str, Any]:
    return envelope("Unauthorized", "Token has expired, please log in again.")


def rate_limited(num: int | None = 5) -> dict[str, Any]:
    return envelope("RateLimited", "You've reached the upper limit for today's usage.", num)


def web_event(
    content: str | None = "",
    *,
    role: str = "assistant",
    phase: str | None = None,
    status: str | None = None,
    usage: dict[str, int] | None = None,
    **delta: Any,
) -> dict[str, Any]:
    d: dict[str, Any] = {"role": role, "content": content, **delta}
    if phase is not None:
        d["phase"] = phase
    if status is not None:
        d["status"] = status
    return {"choices": [{"delta": d}], "usage": usage}


def answer_events(
    pieces: Sequence[str],
    *,
    thinking: Sequence[str] = (),
    search: list[dict[str, Any]] | None = None,
    prompt_tokens: int = 1,
    phases: bool | None = None,
) -> list[dict[str, Any]]:
    """One whole answer: search events, think deltas, answer deltas, ``status: finished``."""
    phases = bool(thinking) if phases is None else phases
    n = 0

    def usage() -> dict[str, int]:
        return {"input_tokens": prompt_tokens, "output_tokens": n, "total_tokens": prompt_tokens + n}

    events = []
    if search is not None:
        call = {"name": "web_search", "arguments": ""}
        events.append(web_event(name="", function_call=call, extra=None, usage=usage()))
        info = {"web_search_info": search}
        events.append(
            web_event(role="function", name="web_search", function_call=None, extra=info, usage=usage())
        )
    for p in thinking:
        n += 1
        events.append(web_event(p, phase="think", status="typing", usage=usage()))
    if thinking:
        events.append(web_event("", phase="think", status="finished", usage=usage()))
    answer = "answer" if phases else None
    for p in pieces:
        n += 1
        events.append(web_event(p, phase=answer, status="typing", usage=usage()))
    events.append(web_event("", phase=answer, status="finished", usage=usage()))
    return events


def oss_error_xml(code: str, message: str, **extra: str) -> bytes:
    more = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    body = (
        f"<Error><Code>{code}</Code><Message>{message}</Message>{more}<RequestId>fake-oss</RequestId></Error>"
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()


def oss_string_to_sign(method: str, headers: dict[str, str], resource: str) -> str:
    """OSS v1, written apart from qwen_cli's signer so each checks the other."""
    oss = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-oss-"))
    lines = [method, headers.get("content-md5", ""), headers.get("content-type", ""), headers.get("date", "")]
    return "\n".join(lines) + "\n" + "".join(f"{k}:{v}\n" for k, v in oss) + resource


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class FakeQwenWeb(FakeServer):
    """In-process fake chat.qwen.ai; ``base_url`` is the site root, ``oss_endpoint`` its storage."""

    def __init__(
        self, token: str | None = None, cookie: str | None = None, *, port: int = 0, send_done: bool = False
    ) -> None:
        super().__init__(api_key=token, port=port)
        self._httpd.RequestHandlerClass = _WebHandler
        self.cookie = cookie
        self.send_done = send_done
        self.base_url = self.url
        self.oss_endpoint = self.url + "/oss"
        self.grants: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.grants.clear()
            self.objects.clear()


class _WebHandler(_Handler):
    server_version = "fake-qwenweb/1.0"

    @property
    def web(self) -> FakeQwenWeb:
        fake = self.server.fake
        assert isinstance(fake, FakeQwenWeb)
        return fake

    def _control(self, path: str, body: bytes) -> None:
        if path == "/_control/objects" and self.command == "GET":
            with self.web._lock:
                objs = {k: {**v, "data": None} for k, v in self.web.objects.items()}
            self._send_json(200, objs)
            return
        super()._control(path, body)

    def _default(self, entry: dict[str, Any], path: str, body: bytes) -> None:
        rid = str(uuid.uuid4())
        route, method = path.rstrip("/"), self.command
        if route.startswith("/oss/") and method in ("PUT", "GET"):
            self._oss(method, unquote(route[len("/oss/") :]), body)
        elif not route.startswith("/api/"):
            self._send_json(404, envelope("Not_Found", f"{method} {path} was not found"), rid)
        elif not self._authorized():
            self._send_json(401, unauthorized(), rid)
        elif route in ("/api/chat/completions", "/api/v2/chat/completions") and method == "POST":
            self._chat(entry["json"], rid)
        elif route in ("/api/v1/files/getstsToken", "/api/v2/files/getstsToken") and method == "POST":
            self._sts(entry["json"], wrapped="/v2/" in route, rid=rid)
        else:
            self._send_json(404, envelope("Not_Found", f"{method} {path} was not found"), rid)

    def _authorized(self) -> bool:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        token, cookie = token.strip(), self.headers.get("Cookie", "").strip()
        if scheme != "Bearer" or not token or token.lower().startswith("bearer") or not cookie:
            return False
        web = self.web
        return (web.api_key is None or token == web.api_key) and (web.cookie is None or cookie == web.cookie)

    # chat ----------------------------------------------------------------------------------------
    def _chat(self, req: Any, rid: str) -> None:
        problem = _shape_problem(req)
        if problem:
            self._send_json(400, envelope("Bad_Request", problem), rid)
            return
        model = str(req["model"])
        if self._scenario(model, rid):
            return
        last = req["messages"][-1]
        text, images = _last_user(req["messages"])
        fc = last["feature_config"]
        thinking = fc.get("thinking_enabled") is True or fc.get("output_schema") == "phase"
        answer = "echo: " + text + (f" [{images} image(s)]" if images else "")
        pieces = long_pieces(400) if model == "fake-long" else split_text(answer)
        events = answer_events(
            pieces,
            thinking=split_text("Thinking about: " + text) if thinking else [],
            search=SOURCES if last["chat_type"] == "search" else None,
            prompt_tokens=max(1, len(text) // 4),
        )
        if req.get("stream") is not True:
            body = {
                "id": f"chatcmpl-{rid}",
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}],
                "usage": events[-1]["usage"],
            }
            self._send_json(200, body, rid)
            return
        data = [_sse_bytes(e) for e in events] + ([b"data: [DONE]\n\n"] if self.web.send_done else [])
        delay = 0.05 if model == "fake-slow" else 0.0
        self._send_stream(200, data, "text/event-stream; charset=utf-8", rid=rid, delay=delay)

    def _scenario(self, model: str, rid: str) -> bool:
        ctype = "text/event-stream; charset=utf-8"
        if model == "fake-limit":
            self._send_json(200, rate_limited(5), rid)
        elif model == "fake-429":
            self._send_full(429, _json(rate_limited(None)), "application/json", {"Retry-After": "1"}, rid)
        elif model == "fake-auth200":
            self._send_json(200, unauthorized(), rid)
        elif model == "fake-waf":
            self._send_full(200, WAF_PAGE.encode(), "text/html; charset=utf-8", rid=rid)
        elif model == "fake-cut":
            events = answer_events(["The ", "first ", "half", " and more"])[:3]
            self._send_stream(200, [_sse_bytes(e) for e in events], ctype, rid=rid, cut=True)
        elif model == "fake-nochoices":
            self._send_stream(200, [_sse_bytes({"unexpected": "shape"})], ctype, rid=rid)
        else:
            return False
        return True

    # upload ----------------------------------------------------------------------------------------
    def _sts(self, req: Any, *, wrapped: bool, rid: str) -> None:
        ok = isinstance(req, dict) and isinstance(req.get("filename"), str) and req["filename"]
        size = req.get("filesize") if isinstance(req, dict) else None
        if (
            not ok
            or not isinstance(size, int)
            or isinstance(size, bool)
            or not isinstance(req.get("filetype"), str)
        ):
            self._send_json(400, envelope("Bad_Request", "filename, filesize (int), filetype required"), rid)
            return
        file_id = str(uuid.uuid4())
        key = f"fake-user/{file_id}_{req['filename']}"
        grant = {
            "access_key_id": f"STS.fake{len(self.web.grants) + 1}",
            "access_key_secret": uuid.uuid4().hex,
            "security_token": "CAIS" + uuid.uuid4().hex * 2,
            "region": REGION,
            "bucketname": BUCKET,
            "endpoint": "oss-accelerate.aliyuncs.com",
            "file_path": key,
            "file_url": f"{self.web.url}/oss/{BUCKET}/{quote(key)}?key=fake-jwt",
            "file_id": file_id,
        }
        with self.web._lock:
            self.web.grants[grant["access_key_id"]] = {**grant, "filesize": size, "filetype": req["filetype"]}
        body = {"success": True, "request_id": rid, "data": grant} if wrapped else grant
        self._send_json(200, body, rid)

    def _oss(self, method: str, resource: str, body: bytes) -> None:
        bucket, _, key = resource.partition("/")
        if method == "GET":
            obj = self.web.objects.get(f"{bucket}/{key}")
            if obj is None:
                self._send_full(404, oss_error_xml("NoSuchKey", "no such key"), "application/xml")
            else:
                self._send_full(200, obj["data"], obj["content_type"])
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        scheme, _, cred = headers.get("authorization", "").partition(" ")
        ak, _, sig = cred.partition(":")
        grant = self.web.grants.get(ak)
        error = None
        if scheme != "OSS" or grant is None:
            error = (403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist.")
        elif headers.get("x-oss-security-token") != grant["security_token"]:
            error = (403, "InvalidSecurityToken", "The security token you provided is invalid.")
        elif not headers.get("date"):
            error = (403, "AccessDenied", "Missing Date header.")
        elif (bucket, key) != (grant["bucketname"], grant["file_path"]):
            error = (403, "AccessDenied", "The credentials are for another object.")
        if error is None and grant is not None:
            to_sign = oss_string_to_sign("PUT", headers, f"/{bucket}/{key}")
            mac = hmac.new(grant["access_key_secret"].encode(), to_sign.encode(), hashlib.sha1).digest()
            if not hmac.compare_digest(base64.b64encode(mac).decode(), sig):
                error = (403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
            if error is None and headers.get("content-md5", md5) != md5:
                error = (400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
        if error is not None:
            self._send_full(error[0], oss_error_xml(error[1], error[2]), "application/xml")
            return
        obj = {"data": body, "content_type": headers.get("content-type", ""), "size": len(body)}
        with self.web._lock:
            self.web.objects[f"{bucket}/{key}"] = obj
        etag = '"' + hashlib.md5(body).hexdigest().upper() + '"'
        self._send_full(200, b"", None, {"ETag": etag, "x-oss-request-id": "fake-oss"})


def _json(obj: Any) -> bytes:
    import json

    return json.dumps(obj).encode()


def _shape_problem(req: Any) -> str | None:
    """What is wrong with a chat body, by the library's shape (client.py:44-128)."""
    if not isinstance(req, dict) or not isinstance(req.get("model"), str):
        return "the body needs a model"
    if req.get("incremental_output") is not True:
        return "incremental_output must be true"
    messages = req.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "function"):
            return f"bad message role in {m!r}"
        if not isinstance(m.get("content"), (str, list)) or not isinstance(m.get("chat_type"), str):
            return "each message needs content and chat_type"
        if not isinstance(m.get("feature_config"), dict) or m.get("extra") != {}:
            return "each message needs feature_config and extra"
        for block in m["content"] if isinstance(m["content"], list) else []:
            if block.get("type") == "image" and not str(block.get("image", "")).startswith("http"):
                return f"image blocks need a URL: {block!r}"
    return None


def _last_user(messages: list[dict[str, Any]]) -> tuple[str, int]:
    for m in reversed(messages):
        if m["role"] == "user":
            content = m["content"]
            if isinstance(content, str):
                return content, 0
            text = "\n".join(str(b.get("text", "")) for b in content if b.get("type") == "text")
            return text, sum(1 for b in content if b.get("type") == "image")
    return "", 0


# ---------------------------------------------------------------------------------------------
# Subprocess use
# ---------------------------------------------------------------------------------------------


class FakeQwenWebProcess(FakeServerProcess):
    """``fake_qwenweb.py`` in a child process: ``base_url`` and ``oss_endpoint`` like the in-process one."""

    def __init__(self, *args: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.args[1] = str(Path(__file__).resolve())
        self.oss_endpoint = ""

    def start(self) -> FakeQwenWebProcess:
        super().start()
        self.base_url = self.url
        self.oss_endpoint = self.url + "/oss"
        return self

    def objects(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_control/objects")
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake chat.qwen.ai server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=None, help="accept only this token")
    parser.add_argument("--cookie", default=None, help="accept only this cookie")
    parser.add_argument("--done", action="store_true", help="end streams with data: [DONE]")
    args = parser.parse_args(argv)
    return serve_until_signalled(FakeQwenWeb(args.token, args.cookie, port=args.port, send_done=args.done))


if __name__ == "__main__":
    sys.exit(main())
