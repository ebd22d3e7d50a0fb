"""Uploads against respx routes: the Files API, the temporary upload and the chat request after."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from qwen_cli import attachments as A
from qwen_cli.cli.hints import hint_for
from qwen_cli.client import Qwen
from qwen_cli.errors import APIStatusError, NotFoundError, UsageError
from qwen_cli.providers import files as F
from qwen_cli.uploads import Files
from tests import samples as S
from tests.conftest import FAKE_KEY
from tests.fakeserver import parse_multipart, upload_policy
from tests.test_client import chunk, sse, stream_response

HOST = "http://fake.test"
BASE = HOST + "/compatible-mode/v1"
NATIVE = HOST + "/api/v1"
OSS = "http://oss.test/bucket"
POLICY = upload_policy(OSS)

MODES = ["sync", "async"]


def run(mode: str, files: Files, method: str, *args: Any, **kw: Any) -> Any:
    if mode == "sync":
        return getattr(files, method)(*args, **kw)
    return asyncio.run(getattr(files, "a" + method)(*args, **kw))


def files_for(**kw: Any) -> Files:
    return Files(Qwen(FAKE_KEY, base_url=kw.pop("base_url", BASE), max_retries=0), **kw)


def form(request: httpx.Request) -> dict[str, dict[str, Any]]:
    parts = parse_multipart(request.headers["content-type"], request.read())
    return {p["name"]: p for p in parts}


def file_meta(file_id: str, name: str, size: int) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": 1729065448,
        "filename": name,
        "purpose": "file-extract",
        "status": "processed",
        "status_details": None,
    }


def test_native_url_is_derived_from_the_compatible_base() -> None:
    assert F.native_url(BASE) == NATIVE
    assert F.native_url("https://dashscope-intl.aliyuncs.com/compatible-mode/v1/") == (
        "https://dashscope-intl.aliyuncs.com/api/v1"
    )
    assert F.native_url("http://localhost:8000/v1") is None
    assert files_for(base_url="http://localhost:8000/v1").oss_available is False
    assert files_for(native_url="http://elsewhere.test/api/v1").native_url == "http://elsewhere.test/api/v1"


@pytest.mark.parametrize("mode", MODES)
@respx.mock
def test_files_api_upload(mode: str, tmp_path: Path) -> None:
    data = S.pdf("report body") * 300
    att = A.inspect(S.write(tmp_path, "report", data))  # no extension: uploaded as report.pdf
    route = respx.post(f"{BASE}/files").mock(
        return_value=httpx.Response(200, json=file_meta("file-fe-1", "report.pdf", len(data)))
    )
    seen: list[int] = []
    obj = run(mode, files_for(), "upload", att, progress=seen.append)
    assert obj.id == "file-fe-1" and obj.bytes == len(data) and obj.filename == "report.pdf"
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert int(request.headers["content-length"]) > len(data)  # a length, not chunked
    parts = form(request)
    assert list(parts) == ["purpose", "file"]
    assert parts["purpose"]["data"] == b"file-extract" and parts["purpose"]["filename"] is None
    assert parts["file"]["data"] == data
    assert (parts["file"]["filename"], parts["file"]["content_type"]) == ("report.pdf", "application/pdf")
    assert seen and seen[-1] == len(data)


@pytest.mark.parametrize("mode", MODES)
@respx.mock
def test_files_api_list_follows_pages_and_delete(mode: str) -> None:
    listing = respx.get(f"{BASE}/files")
    listing.side_effect = [
        httpx.Response(
            200, json={"object": "list", "data": [file_meta("file-fe-1", "a.pdf", 1)], "has_more": True}
        ),
        httpx.Response(200, json={"object": "list", "data": [file_meta("file-fe-2", "b.txt", 2)]}),
    ]
    got = run(mode, files_for(), "list")
    assert [f.id for f in got] == ["file-fe-1", "file-fe-2"]
    assert "after" not in listing.calls[0].request.url.params
    assert listing.calls[1].request.url.params["after"] == "file-fe-1"

    gone = respx.delete(f"{BASE}/files/file-fe-1").mock(
        return_value=httpx.Response(200, json={"id": "file-fe-1", "object": "file", "deleted": True})
    )
    run(mode, files_for(), "delete", "file-fe-1")
    assert gone.call_count == 1 and gone.calls.last.request.headers["authorization"] == f"Bearer {FAKE_KEY}"

    respx.delete(f"{BASE}/files/file-fe-x").mock(
        return_value=httpx.Response(
            404, json={"error": {"message": "File file-fe-x not found.", "code": "not_found"}}
        )
    )
    with pytest.raises(NotFoundError) as info:
        run(mode, files_for(), "delete", "file-fe-x")
    assert info.value.exit_code == 1 and "qwen upload --list" in (hint_for(info.value) or "")


@pytest.mark.parametrize("mode", MODES)
@respx.mock
def test_temporary_upload_policy_then_form(mode: str, tmp_path: Path) -> None:
    data = S.png(40, 40)
    att = A.inspect(S.write(tmp_path, "猫 cat.png", data))
    policy = respx.get(f"{NATIVE}/uploads").mock(
        return_value=httpx.Response(200, json={"request_id": "r1", "data": POLICY})
    )
    oss = respx.post(OSS).mock(return_value=httpx.Response(200))
    url = run(mode, files_for(), "temporary_upload", att, model="qwen-vl-plus")
    assert url == "oss://dashscope-instant/abc/2026-11-22/xyz/cat.png"
    preq = policy.calls.last.request
    assert dict(preq.url.params) == {"action": "getPolicy", "model": "qwen-vl-plus"}
    assert preq.headers["authorization"] == f"Bearer {FAKE_KEY}"
    oreq = oss.calls.last.request
    assert "authorization" not in oreq.headers
    parts = form(oreq)
    assert list(parts) == [
        "OSSAccessKeyId",
        "Signature",
        "policy",
        "key",
        "x-oss-object-acl",
        "x-oss-forbid-overwrite",
        "success_action_status",
        "x-oss-content-type",
        "file",
    ]
    fields = {k: p["data"].decode() for k, p in parts.items() if k != "file"}
    assert fields == {
        "OSSAccessKeyId": "LTAI-fake",
        "Signature": "c2ln",
        "policy": "cG9saWN5",
        "key": "dashscope-instant/abc/2026-11-22/xyz/cat.png",
        "x-oss-object-acl": "private",
        "x-oss-forbid-overwrite": "true",
        "success_action_status": "200",
        "x-oss-content-type": "image/png",
    }
    assert parts["file"]["data"] == data and parts["file"]["content_type"] == "image/png"


@pytest.mark.parametrize("mode", MODES)
@respx.mock
def test_policy_limit_is_checked_before_the_form(mode: str, tmp_path: Path) -> None:
    att = A.inspect(S.sparse(tmp_path, "big.png", S.png(20, 20), 3 * A.MB))
    respx.get(f"{NATIVE}/uploads").mock(
        return_value=httpx.Response(200, json={"data": {**POLICY, "max_file_size_mb": 2}})
    )
    oss = respx.post(OSS).mock(return_value=httpx.Response(200))
    with pytest.raises(UsageError) as info:
        run(mode, files_for(), "temporary_upload", att, model="qwen-vl-max")
    assert "over the temporary upload's limit of 2 MB" in info.value.message and info.value.exit_code == 2
    assert oss.call_count == 0


@pytest.mark.parametrize("mode", MODES)
@respx.mock
def test_storage_error_is_one_readable_line(mode: str, tmp_path: Path) -> None:
    att = A.inspect(S.write(tmp_path, "a.png", S.png(20, 20)))
    respx.get(f"{NATIVE}/uploads").mock(return_value=httpx.Response(200, json={"data": POLICY}))
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        "<Message>Invalid according to Policy: Policy expired.</Message><RequestId>5F</RequestId></Error>"
    )
    respx.post(OSS).mock(
        return_value=httpx.Response(403, text=xml, headers={"content-type": "application/xml"})
    )
    with pytest.raises(APIStatusError) as info:
        run(mode, files_for(), "temporary_upload", att, model="qwen-vl-max")
    err = info.value
    assert err.message == (
        f"the temporary upload of {att.shown} failed (HTTP 403): "
        "AccessDenied: Invalid according to Policy: Policy expired."
    )
    assert err.exit_code == 1 and hint_for(err) and "policy may have expired" in hint_for(err)


@respx.mock
def test_incomplete_policy(tmp_path: Path) -> None:
    att = A.inspect(S.write(tmp_path, "a.png", S.png(20, 20)))
    respx.get(f"{NATIVE}/uploads").mock(
        return_value=httpx.Response(200, json={"request_id": "r9", "data": {"policy": "p"}})
    )
    with pytest.raises(APIStatusError) as info:
        files_for().temporary_upload(att, model="qwen-vl-max")
    assert info.value.message.startswith("the temporary-upload policy is incomplete (no signature")
    assert info.value.request_id == "r9"


def test_no_temporary_upload_on_other_servers(tmp_path: Path) -> None:
    att = A.inspect(S.write(tmp_path, "a.png", S.png(20, 20)))
    with pytest.raises(UsageError) as info:
        files_for(base_url="http://localhost:8000/v1").temporary_upload(att, model="m")
    assert info.value.message == "http://localhost:8000/v1 has no temporary upload for images"


# --------------------------------------------------------------------------- whole questions


def answer_stream() -> httpx.Response:
    return stream_response(sse(chunk("a red square"), chunk("", finish="stop")))


@pytest.mark.parametrize("mode", MODES)
@respx.mock
def test_images_inline_and_oss_reach_the_chat_body_with_the_header(mode: str, tmp_path: Path) -> None:
    small = A.inspect(S.write(tmp_path, "small.gif", S.gif(20, 20)))
    bigger = A.inspect(S.write(tmp_path, "bigger.webp", S.webp_lossless(200, 100) + b"\x00" * 4000))
    respx.get(f"{NATIVE}/uploads").mock(return_value=httpx.Response(200, json={"data": POLICY}))
    oss = respx.post(OSS).mock(return_value=httpx.Response(200))
    chat = respx.post(f"{BASE}/chat/completions").mock(return_value=answer_stream())
    assert Files(Qwen(FAKE_KEY, base_url=BASE)).plan([small, bigger]) == ["inline", "inline"]
    # A budget that fits only the first image: the second goes through the temporary upload.
    c = Qwen(FAKE_KEY, base_url=BASE, max_retries=0)
    files = Files(c, inline_limit=small.size)
    if mode == "sync":
        sent = files.prepare([small, bigger], model="qwen-vl-max")
    else:
        sent = asyncio.run(files.aprepare([small, bigger], model="qwen-vl-max"))
    assert [s.via for s in sent] == ["inline", "oss"]
    assert oss.call_count == 1
    messages, headers = A.compose("what changed?", sent)
    req = c.chat.request(messages, model="qwen-vl-max", stream=True, extra_headers=headers)
    if mode == "sync":
        with c.chat.stream(req) as s:
            text = "".join(piece.delta.content or "" for piece in s)
    else:

        async def stream() -> str:
            out = ""
            async with await c.chat.astream(req) as s:
                async for piece in s:
                    out += piece.delta.content or ""
            return out

        text = asyncio.run(stream())
    assert text == "a red square"
    request = chat.calls.last.request
    assert request.headers["x-dashscope-ossresourceresolve"] == "enable"
    body = json.loads(request.content)
    content = body["messages"][0]["content"]
    assert content[0]["type"] == "image_url"
    assert content[0]["image_url"]["url"].startswith("data:image/gif;base64,R0lGODlh")
    assert content[1] == {
        "type": "image_url",
        "image_url": {"url": "oss://dashscope-instant/abc/2026-11-22/xyz/bigger.webp"},
    }
    assert content[2] == {"type": "text", "text": "what changed?"}


@pytest.mark.parametrize("mode", MODES)
@respx.mock
def test_document_id_reaches_the_chat_body(mode: str, tmp_path: Path) -> None:
    doc = A.inspect(S.write(tmp_path, "notes.md", b"# notes\n"))
    respx.post(f"{BASE}/files").mock(
        return_value=httpx.Response(200, json=file_meta("file-fe-9", "notes.md", 8))
    )
    chat = respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(200, json={"choices": [{"message": {"content": "done"}}]})
    )
    c = Qwen(FAKE_KEY, base_url=BASE, max_retries=0)
    files = Files(c)
    if mode == "sync":
        sent = files.prepare([doc], model="qwen-long")
    else:
        sent = asyncio.run(files.aprepare([doc], model="qwen-long"))
    messages, headers = A.compose("summarize", sent, system="be brief")
    req = c.chat.request(messages, model="qwen-long", extra_headers=headers)
    answer = c.chat.complete(req) if mode == "sync" else asyncio.run(c.chat.acomplete(req))
    assert answer.content == "done"
    request = chat.calls.last.request
    assert "x-dashscope-ossresourceresolve" not in request.headers
    assert json.loads(request.content)["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "system", "content": "fileid://file-fe-9"},
        {"role": "user", "content": "summarize"},
    ]


@pytest.mark.parametrize("mode", MODES)
@respx.mock
def test_failed_upload_takes_back_what_it_uploaded(mode: str, tmp_path: Path) -> None:
    a = A.inspect(S.write(tmp_path, "a.pdf", S.pdf("a")))
    b = A.inspect(S.write(tmp_path, "b.pdf", S.pdf("b")))
    uploads = respx.post(f"{BASE}/files")
    uploads.side_effect = [
        httpx.Response(200, json=file_meta("file-fe-a", "a.pdf", a.size)),
        httpx.Response(
            400, json={"error": {"message": "File type not supported.", "code": "invalid_parameter_error"}}
        ),
    ]
    cleanup = respx.delete(f"{BASE}/files/file-fe-a").mock(
        return_value=httpx.Response(200, json={"id": "file-fe-a", "deleted": True})
    )
    chat = respx.post(f"{BASE}/chat/completions")
    with pytest.raises(APIStatusError) as info:
        run(mode, files_for(), "prepare", [a, b], model="qwen-long")
    assert info.value.message == "File type not supported."
    assert cleanup.call_count == 1 and chat.call_count == 0


@pytest.mark.parametrize("mode", MODES)
@respx.mock
def test_ctrl_c_during_an_upload_takes_back_what_it_uploaded(mode: str, tmp_path: Path) -> None:
    a = A.inspect(S.write(tmp_path, "a.pdf", S.pdf("a")))
    b = A.inspect(S.write(tmp_path, "b.pdf", S.pdf("b")))
    uploads = respx.post(f"{BASE}/files")
    uploads.mock(return_value=httpx.Response(200, json=file_meta("file-fe-a", "a.pdf", a.size)))
    cleanup = respx.delete(f"{BASE}/files/file-fe-a").mock(
        return_value=httpx.Response(200, json={"id": "file-fe-a", "deleted": True})
    )

    def press_ctrl_c(done: int) -> None:
        raise KeyboardInterrupt

    def progress(att: A.Attachment) -> Any:
        return press_ctrl_c if att is b else None  # pressed while b is being read and sent

    with pytest.raises(KeyboardInterrupt):
        run(mode, files_for(), "prepare", [a, b], model="qwen-long", progress=progress)
    assert uploads.call_count == 1 and cleanup.call_count == 1


@pytest.mark.parametrize("mode", MODES)
@respx.mock
def test_a_server_without_the_files_api_says_so(mode: str, tmp_path: Path) -> None:
    doc = A.inspect(S.write(tmp_path, "a.txt", b"text"))
    local = "http://localhost:8000/v1"
    not_found = httpx.Response(404, json={"error": {"message": "Not Found", "code": "not_found"}})
    respx.post(f"{local}/files").mock(return_value=not_found)
    respx.get(f"{local}/files").mock(return_value=not_found)
    for method, args in (("upload", (doc,)), ("list", ())):
        with pytest.raises(NotFoundError) as info:
            run(mode, files_for(base_url=local), method, *args)
        assert hint_for(info.value) == "this server has no Files API; it is a DashScope feature (--region cn)"
    respx.get(f"{NATIVE}/uploads").mock(return_value=not_found)
    img = A.inspect(S.write(tmp_path, "a.png", S.png(20, 20)))
    with pytest.raises(NotFoundError) as info:
        run(mode, files_for(), "temporary_upload", img, model="qwen-vl-max")
    assert (hint_for(info.value) or "").startswith("this server has no temporary upload")
