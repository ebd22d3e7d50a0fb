"""Uploads for chat.qwen.ai: STS token, a PUT the fake verifies, the image block in the chat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from qwen_cli import attachments as A
from qwen_cli import errors as e
from qwen_cli.cli.hints import hint_for
from qwen_cli.client import Qwen
from qwen_cli.providers import qwen_web_files as wu
from qwen_cli.redact import scrub_known
from qwen_cli.types import Message, TextPart
from qwen_cli.uploads import CHUNK
from tests.fake_qwenweb import BUCKET, FakeQwenWeb, unauthorized

TOKEN = "tok-test-upload-0123456789"
COOKIE = "sid=upload-test-cookie; token=tok-test-upload-0123456789"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def srv() -> Iterator[FakeQwenWeb]:
    with FakeQwenWeb(TOKEN, COOKIE) as server:
        yield server
    assert not server.errors


def web(base_url: str) -> Qwen:
    return Qwen(TOKEN, provider="qwen-web", cookie=COOKIE, base_url=base_url, max_retries=0)


def local(data: bytes, name: str, mime: str | None = None) -> A.Attachment:
    """``data`` written to ``name`` (in the test's own directory), as an attachment sent unchecked."""
    path = Path(name).resolve()
    path.write_bytes(data)
    mime = mime or wu.guess_mime(name)
    kind = "image" if mime.startswith("image/") else "document"
    return A.Attachment(path, name, kind, "png" if kind == "image" else "pdf", mime, len(data), "")


def upload(mode: str, c: Qwen, data: bytes, name: str, mime: str | None = None, **kw: Any) -> wu.WebFile:
    att = local(data, name, mime)
    if mode == "sync":
        return c.files.web_upload(att, **kw)

    async def run() -> wu.WebFile:
        try:
            return await c.files.aweb_upload(att, **kw)
        finally:
            await c.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_upload_then_ask_about_it(mode: str, srv: FakeQwenWeb) -> None:
    with web(srv.base_url) as c:
        f = upload(mode, c, PNG, "kucing 1.png", oss_endpoint=srv.oss_endpoint)
        answer = c.chat.create(
            [Message(role="user", content=[TextPart(text="ini gambar apa?"), f.image_part()])]
        )
    sts, put = srv.requests[0], srv.requests[1]
    assert sts["path"] == "/api/v1/files/getstsToken"
    assert sts["json"] == {"filename": "kucing 1.png", "filesize": len(PNG), "filetype": "image"}
    assert sts["headers"]["authorization"] == f"Bearer {TOKEN}" and sts["headers"]["cookie"] == COOKIE
    # The PUT passed the fake's own signature check; these are the headers it was signed over.
    grant = next(iter(srv.grants.values()))
    assert put["method"] == "PUT" and put["path"] == f"/oss/{BUCKET}/{grant['file_path']}".replace(" ", "%20")
    h = put["headers"]
    assert h["authorization"].startswith(f"OSS {grant['access_key_id']}:")
    assert (
        h["x-oss-security-token"] == grant["security_token"]
        and h["x-oss-content-sha256"] == "UNSIGNED-PAYLOAD"
    )
    assert h["content-type"] == "image/png" and h["content-md5"] and h["date"].endswith("GMT")
    assert "cookie" not in h and "bearer" not in h["authorization"].lower()  # no chat secrets to storage
    stored = srv.objects[f"{BUCKET}/{grant['file_path']}"]
    assert stored["data"] == PNG and stored["content_type"] == "image/png"
    assert (f.file_url, f.file_id, f.mime, f.size) == (
        grant["file_url"],
        grant["file_id"],
        "image/png",
        len(PNG),
    )
    assert answer.content == "echo: ini gambar apa? [1 image(s)]"
    assert srv.requests[-1]["json"]["messages"][0]["content"] == [
        {"type": "text", "text": "ini gambar apa?"},
        {"type": "image", "image": f.file_url},
    ]


def test_secrets_of_the_grant_are_masked(srv: FakeQwenWeb, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="qwen_cli")
    with web(srv.base_url) as c:
        upload("sync", c, b"%PDF-1.4", "doc.pdf", oss_endpoint=srv.oss_endpoint)
    grant = next(iter(srv.grants.values()))
    assert srv.requests[0]["json"]["filetype"] == "application"
    pdf = wu.WebFile(grant["file_url"], grant["file_id"], "doc.pdf", "application/pdf", 8)
    with pytest.raises(e.UsageError, match="images only"):
        pdf.image_part()
    assert "PUT" in caplog.text and grant["security_token"] not in caplog.text
    assert COOKIE not in caplog.text and TOKEN not in caplog.text
    for secret in (grant["access_key_secret"], grant["security_token"]):
        assert secret not in scrub_known(f"error text with {secret} inside")


@respx.mock
def test_v2_answer_and_the_default_endpoint() -> None:
    grant = {
        "access_key_id": "STS.test",
        "access_key_secret": "secret-test",
        "security_token": "CAIS-test",
        "region": "oss-ap-southeast-1",
        "bucketname": "qwen-webui-prod",
        "endpoint": "oss-accelerate.aliyuncs.com",
        "file_path": "u-1/f-1_a.png",
        "file_url": "https://cdn.qwenlm.ai/u-1/f-1_a.png?key=jwt",
        "file_id": "f-1",
    }
    respx.post("https://web.test/api/v1/files/getstsToken").mock(
        return_value=httpx.Response(200, json={"success": True, "request_id": "r", "data": grant})
    )
    put = respx.put("https://qwen-webui-prod.oss-ap-southeast-1.aliyuncs.com/u-1/f-1_a.png").mock(
        return_value=httpx.Response(200)
    )
    f = upload("sync", web("https://web.test"), b"png", "a.png", "image/png")
    assert f.file_url == grant["file_url"] and put.call_count == 1
    assert {c.request.url.host for c in respx.calls} == {
        "web.test",
        "qwen-webui-prod.oss-ap-southeast-1.aliyuncs.com",
    }


@pytest.mark.parametrize(
    "answer, cls, text",
    [
        (httpx.Response(200, json=unauthorized()), e.AuthenticationError, "Token has expired"),
        (httpx.Response(401, json=unauthorized()), e.AuthenticationError, "Token has expired"),
        (httpx.Response(200, json={"access_key_id": "x"}), e.APIStatusError, "lacks access_key_secret"),
        (
            httpx.Response(200, text="<html><title>Login</title></html>"),
            e.APIStatusError,
            "web page \\(Login\\)",
        ),
        (httpx.Response(200, text="RGV587_ERROR"), e.PermissionDeniedError, "browser check"),
        (httpx.Response(200, json=[1]), e.APIStatusError, "not a JSON object"),
    ],
)
@respx.mock
def test_sts_errors(answer: httpx.Response, cls: type[Exception], text: str) -> None:
    respx.post("https://web.test/api/v1/files/getstsToken").mock(return_value=answer)
    with pytest.raises(cls, match=text):
        upload("sync", web("https://web.test"), b"x", "a.png")
    assert len(respx.calls) == 1  # nothing went to storage


@respx.mock
def test_a_grant_that_would_leave_aliyuncs_is_refused() -> None:
    bad = {
        k: "x-" + k for k in ("access_key_id", "access_key_secret", "security_token", "file_path", "file_url")
    }
    bad.update(region="evil.example/", bucketname="b-1")
    respx.post("https://web.test/api/v1/files/getstsToken").mock(return_value=httpx.Response(200, json=bad))
    with pytest.raises(e.APIStatusError, match="invalid region"):
        upload("sync", web("https://web.test"), b"x", "a.png")
    assert len(respx.calls) == 1


def test_storage_refusals_are_mapped(srv: FakeQwenWeb) -> None:
    with web(srv.base_url) as c:
        _refusals(c, srv)


def _refusals(c: Qwen, srv: FakeQwenWeb) -> None:
    grant = wu.parse_sts(c.request_json(wu.sts_request(c.provider, "a.png", 3, "image/png")))  # type: ignore[arg-type]
    srv.grants[grant.access_key_id]["access_key_secret"] = "not-the-one-we-signed-with"
    with pytest.raises(e.APIStatusError, match="SignatureDoesNotMatch") as info:
        c.send(wu.put_request(grant, b"abc", "image/png", endpoint=srv.oss_endpoint))
    assert info.value.status_code == 403 and info.value.exit_code == 1 and hint_for(info.value)
    spec = wu.put_request(grant, b"abc", "image/png", endpoint=srv.oss_endpoint)
    srv.grants[grant.access_key_id]["access_key_secret"] = grant.access_key_secret
    spec.content = b"abd"  # the bytes changed after Content-MD5 was computed
    with pytest.raises(e.APIStatusError, match="InvalidDigest"):
        c.send(spec)
    assert not srv.objects


def test_bad_input(tmp_path: Path) -> None:
    c = web("https://web.test")
    with pytest.raises(e.UsageError, match="empty"):
        upload("sync", c, b"", "a.png")
    with pytest.raises(e.UsageError, match="the client speaks dashscope"):
        upload("sync", Qwen("sk-test-x", base_url="https://x.test/v1"), b"x", "a.png")
    grant = wu.StsGrant("a", "s", "t", "b-1", "oss-x", "k", "https://u", "i")
    with pytest.raises(e.ConfigError, match="not an http"):
        wu.put_request(grant, b"x", "image/png", endpoint="ftp://host")
    with pytest.raises(e.UsageError, match="no such file"):
        c.files.web_upload(tmp_path / "missing.png")  # a path is checked as `qwen upload` checks it
    with pytest.raises(e.UsageError, match="directory"):
        c.files.web_upload(tmp_path)
    assert wu.guess_mime("x.png") == "image/png"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_large_file_is_streamed_from_disk(mode: str, srv: FakeQwenWeb) -> None:
    data = PNG + bytes(range(251)) * 8000  # ~2 MB: 31 pieces of 64 KB
    seen: list[int] = []
    with web(srv.base_url) as c:
        f = upload(mode, c, data, "big.png", oss_endpoint=srv.oss_endpoint, progress=seen.append)
    put = srv.requests[1]
    assert put["headers"]["content-length"] == str(len(data)) and "transfer-encoding" not in put["headers"]
    grant = next(iter(srv.grants.values()))
    assert srv.objects[f"{BUCKET}/{grant['file_path']}"]["data"] == data and f.size == len(data)
    # Read in pieces of at most 64 KB as it was sent, never all at once.
    steps = [b - a for a, b in zip([0, *seen], seen, strict=False)]
    assert seen[-1] == len(data) and len(seen) > 30 and max(steps) == CHUNK
