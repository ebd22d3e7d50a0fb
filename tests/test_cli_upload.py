"""`qwen upload` through its real error boundary, against respx routes."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from qwen_cli import attachments as A
from qwen_cli.cli.progress import UploadProgress
from tests import samples as S
from tests.conftest import FAKE_KEY
from tests.fakeserver import parse_multipart, upload_policy
from tests.test_client import USAGE, chunk, sse, stream_response

HOST = "https://dashscope.aliyuncs.com"
BASE = HOST + "/compatible-mode/v1"
CHAT = BASE + "/chat/completions"
FILES = BASE + "/files"
POLICY_URL = HOST + "/api/v1/uploads"
OSS = "https://dashscope-file-mgr.oss-cn-beijing.aliyuncs.com"
POLICY = upload_policy(OSS)


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    return FAKE_KEY


@pytest.fixture
def here() -> Path:
    return Path.cwd()  # conftest chdirs into an empty directory per test


def answer(*pieces: str) -> httpx.Response:
    return stream_response(sse(*[chunk(p) for p in pieces], chunk("", finish="stop"), USAGE))


def body(route: respx.Route) -> dict[str, Any]:
    return json.loads(route.calls.last.request.content)


def file_meta(file_id: str, name: str, size: int) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": 1729065448,
        "filename": name,
        "purpose": "file-extract",
        "status": "processed",
    }


@respx.mock
def test_image_question_streams_the_answer(run_cli, here: Path) -> None:
    png = S.png(20, 20)
    S.write(here, "cat.png", png)
    chat = respx.post(CHAT).mock(return_value=answer("Seekor ", "kucing merah."))
    r = run_cli("upload", "cat.png", "--ask", "ini gambar apa?")
    assert r.code == 0, r.err
    assert r.out == "Seekor kucing merah.\n"
    assert "8 total" in r.err  # the footer, on stderr
    sent = body(chat)
    assert sent["model"] == "qwen-vl-max" and sent["stream"] is True
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()},
                },
                {"type": "text", "text": "ini gambar apa?"},
            ],
        }
    ]
    assert "x-dashscope-ossresourceresolve" not in chat.calls.last.request.headers


@respx.mock
def test_several_images_keep_their_own_mime_types(run_cli, here: Path) -> None:
    S.write(here, "a.png", S.png(20, 20))
    S.write(here, "b.jpg", S.jpeg(30, 30))
    S.write(here, "c.png", S.webp_lossy(40, 40))  # a WEBP whatever its name says
    chat = respx.post(CHAT).mock(return_value=answer("ok"))
    r = run_cli("upload", "a.png", "b.jpg", "c.png", "--ask", "what changed?", "-s", "be brief")
    assert r.code == 0, r.err
    messages = body(chat)["messages"]
    assert messages[0] == {"role": "system", "content": "be brief"}
    urls = [p["image_url"]["url"].split(";")[0] for p in messages[1]["content"][:3]]
    assert urls == ["data:image/png", "data:image/jpeg", "data:image/webp"]
    assert messages[1]["content"][3] == {"type": "text", "text": "what changed?"}


@respx.mock
def test_question_from_stdin_and_model_options(run_cli, here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    S.write(here, "a.gif", S.gif(20, 20))
    chat = respx.post(CHAT).mock(return_value=answer("ok"))
    monkeypatch.setenv("QWEN_VISION_MODEL", "qwen3-vl-plus")
    r = run_cli("upload", "a.gif", "--ask", "-", "--temperature", "0.2", stdin=b"apa ini?\n")
    assert r.code == 0, r.err
    sent = body(chat)
    assert sent["model"] == "qwen3-vl-plus" and sent["temperature"] == 0.2
    assert sent["messages"][0]["content"][1] == {"type": "text", "text": "apa ini?"}
    assert run_cli("upload", "a.gif", "--ask", "x", "-m", "my-finetuned-vl").code == 0
    assert body(chat)["model"] == "my-finetuned-vl"


@respx.mock
def test_via_oss_sends_policy_form_and_header(run_cli, here: Path) -> None:
    png = S.png(24, 24)
    S.write(here, "cat.png", png)
    policy = respx.get(POLICY_URL).mock(
        return_value=httpx.Response(200, json={"request_id": "r", "data": POLICY})
    )
    oss = respx.post(OSS).mock(return_value=httpx.Response(200))
    chat = respx.post(CHAT).mock(return_value=answer("a cat"))
    r = run_cli("upload", "cat.png", "--via-oss", "--ask", "what is it?")
    assert r.code == 0, r.err
    assert r.out == "a cat\n"
    assert "uploaded cat.png to oss://dashscope-instant/abc/2026-11-22/xyz/cat.png" in r.err
    assert dict(policy.calls.last.request.url.params) == {"action": "getPolicy", "model": "qwen-vl-max"}
    assert policy.calls.last.request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    oreq = oss.calls.last.request
    parts = {p["name"]: p for p in parse_multipart(oreq.headers["content-type"], oreq.read())}
    assert parts["key"]["data"] == b"dashscope-instant/abc/2026-11-22/xyz/cat.png"
    assert parts["success_action_status"]["data"] == b"200"
    assert parts["x-oss-content-type"]["data"] == b"image/png"
    assert parts["file"]["data"] == png and list(parts)[-1] == "file"
    assert "authorization" not in oreq.headers
    creq = chat.calls.last.request
    assert creq.headers["x-dashscope-ossresourceresolve"] == "enable"
    assert body(chat)["messages"][0]["content"][0] == {
        "type": "image_url",
        "image_url": {"url": "oss://dashscope-instant/abc/2026-11-22/xyz/cat.png"},
    }


@respx.mock
def test_large_image_goes_through_the_temporary_upload(run_cli, here: Path) -> None:
    S.sparse(here, "big.png", S.png(20, 20), A.INLINE_LIMIT + 1)
    respx.get(POLICY_URL).mock(return_value=httpx.Response(200, json={"data": POLICY}))
    oss = respx.post(OSS).mock(return_value=httpx.Response(200))
    chat = respx.post(CHAT).mock(return_value=answer("big"))
    r = run_cli("upload", "big.png", "--ask", "and this?")
    assert r.code == 0, r.err
    assert oss.call_count == 1
    assert body(chat)["messages"][0]["content"][0]["image_url"]["url"].startswith("oss://")


@respx.mock
def test_pdf_goes_through_the_files_api_to_qwen_long(run_cli, here: Path) -> None:
    pdf = S.pdf("quarterly numbers")
    S.write(here, "report.pdf", pdf)
    upload = respx.post(FILES).mock(
        return_value=httpx.Response(200, json=file_meta("file-fe-abc", "report.pdf", len(pdf)))
    )
    chat = respx.post(CHAT).mock(return_value=answer("Revenue grew."))
    r = run_cli("upload", "report.pdf", "--ask", "summarize", "-s", "answer in English")
    assert r.code == 0, r.err
    assert r.out == "Revenue grew.\n"
    assert "uploaded report.pdf as file-fe-abc (remove it with: qwen upload --delete file-fe-abc)" in r.err
    ureq = upload.calls.last.request
    parts = {p["name"]: p for p in parse_multipart(ureq.headers["content-type"], ureq.read())}
    assert parts["purpose"]["data"] == b"file-extract"
    assert (parts["file"]["filename"], parts["file"]["content_type"], parts["file"]["data"]) == (
        "report.pdf",
        "application/pdf",
        pdf,
    )
    sent = body(chat)
    assert sent["model"] == "qwen-long"
    assert sent["messages"] == [
        {"role": "system", "content": "answer in English"},
        {"role": "system", "content": "fileid://file-fe-abc"},
        {"role": "user", "content": "summarize"},
    ]


@respx.mock
def test_without_ask_prints_one_reference_per_line(run_cli, here: Path) -> None:
    S.write(here, "a.png", S.png(20, 20))
    S.write(here, "notes.md", b"# notes\n")
    respx.get(POLICY_URL).mock(return_value=httpx.Response(200, json={"data": POLICY}))
    respx.post(OSS).mock(return_value=httpx.Response(200))
    respx.post(FILES).mock(return_value=httpx.Response(200, json=file_meta("file-fe-md", "notes.md", 8)))
    chat = respx.post(CHAT)
    r = run_cli("upload", "a.png", "notes.md")
    assert r.code == 0, r.err
    assert r.out == "oss://dashscope-instant/abc/2026-11-22/xyz/a.png\nfile-fe-md\n"
    assert "last 48 hours and work only with qwen-vl-max" in r.err
    assert chat.call_count == 0
    j = run_cli("upload", "notes.md", "--json")
    record = json.loads(j.out)
    assert record["reference"] == "file-fe-md" and record["file_id"] == "file-fe-md"
    assert record["mime"] == "text/markdown" and record["size"] == 8 and len(record["sha256"]) == 64


@pytest.mark.parametrize("columns", [120, 60])
@respx.mock
def test_list_on_a_terminal_fits_its_width_and_never_cuts_an_id(run_cli, monkeypatch, columns: int) -> None:
    long_id = "file-fe-0123456789abcdef0123456789"
    name = "a very long document name that goes on and on.pdf"
    listing = {
        "object": "list",
        "data": [file_meta(long_id, name, 123_456), file_meta("file-fe-2", "c.txt", 3)],
    }
    respx.get(FILES).mock(return_value=httpx.Response(200, json=listing))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", str(columns))
    r = run_cli("upload", "--list", "--no-color")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 3 and all(len(line) <= columns for line in lines)  # one line per file
    assert lines[1].startswith(long_id + " ") and "\x1b" not in r.out
    assert lines[0].split()[:2] == ["id", "size"]
    if columns == 120:
        assert lines[0].split() == ["id", "size", "created", "purpose", "status", "name"]
        assert "file-extract" in lines[1] and "…" in lines[1]  # the name gives way first
    else:
        assert "purpose" not in lines[0] and "status" not in lines[0]


@respx.mock
def test_list_and_delete(run_cli) -> None:
    listing = {
        "object": "list",
        "data": [file_meta("file-fe-1", "a [b].pdf", 10), file_meta("file-fe-2", "c.txt", 3)],
    }
    respx.get(FILES).mock(return_value=httpx.Response(200, json=listing))
    r = run_cli("upload", "--list")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert [ln.split("\t")[0] for ln in lines] == ["file-fe-1", "file-fe-2"]
    assert lines[0].split("\t")[1] == "10" and lines[0].split("\t")[3] == "a [b].pdf"
    assert [f["id"] for f in json.loads(run_cli("upload", "--list", "--json").out)] == [
        "file-fe-1",
        "file-fe-2",
    ]

    gone = respx.delete(f"{FILES}/file-fe-1").mock(
        return_value=httpx.Response(200, json={"id": "file-fe-1", "deleted": True})
    )
    d = run_cli("upload", "--delete", "file-fe-1")
    assert (d.code, d.out) == (0, "") and "deleted file-fe-1" in d.err and gone.call_count == 1
    respx.delete(f"{FILES}/nope").mock(
        return_value=httpx.Response(
            404, json={"error": {"message": "File nope not found.", "code": "not_found"}}
        )
    )
    n = run_cli("upload", "--delete", "nope")
    assert n.code == 1
    assert n.err.splitlines() == [
        "qwen: error: File nope not found.",
        "hint: run `qwen upload --list` to see the ids of your uploaded files",
    ]


@respx.mock
def test_empty_list(run_cli) -> None:
    respx.get(FILES).mock(return_value=httpx.Response(200, json={"object": "list", "data": []}))
    r = run_cli("upload", "--list")
    assert (r.code, r.out) == (0, "") and "no uploaded files" in r.err


@respx.mock
def test_failed_upload_sends_no_message(run_cli, here: Path) -> None:
    S.write(here, "a.pdf", S.pdf("a"))
    S.write(here, "b.pdf", S.pdf("b"))
    up = respx.post(FILES)
    up.side_effect = [
        httpx.Response(200, json=file_meta("file-fe-a", "a.pdf", 1)),
        httpx.Response(500, json={"error": {"message": "internal error", "code": "internal_error"}}),
    ]
    cleanup = respx.delete(f"{FILES}/file-fe-a").mock(
        return_value=httpx.Response(200, json={"deleted": True})
    )
    chat = respx.post(CHAT)
    r = run_cli("upload", "a.pdf", "b.pdf", "--ask", "compare", "--max-retries", "0")
    assert r.code == 6 and r.out == ""
    assert r.err.splitlines()[0] == "qwen: error: internal error"
    assert chat.call_count == 0 and cleanup.call_count == 1


# --------------------------------------------------------------------------- bad input: exit 2, nothing sent


def _bad_inputs(here: Path) -> dict[str, tuple[list[str], str, str]]:
    """name -> (arguments, first error line, start of the hint line)."""
    S.write(here, "ok.png", S.png(20, 20))
    S.write(here, "ok.pdf", S.pdf())
    S.write(here, "empty.png", b"")
    S.write(here, "tiny.png", S.png(1, 1))
    S.write(here, "archive.zip", S.plain_zip())
    S.write(here, "main.py", b"print(1)\n")
    (here / "folder").mkdir()
    S.sparse(here, "huge.png", S.png(20, 20), A.OSS_LIMIT + 1)
    S.sparse(here, "huge.pdf", S.pdf(), A.DOCUMENT_LIMIT + 1)
    types = f"hint: send images ({'PNG, JPEG, WEBP, GIF, BMP, TIFF'})"
    return {
        "missing": (["nope.png", "--ask", "x"], "nope.png: no such file", "hint: check the path"),
        "directory": (["folder", "--ask", "x"], "folder is a directory, not a file", "hint: name the files"),
        "empty": (["empty.png", "--ask", "x"], "empty.png is empty (0 bytes)", "hint: nothing to send"),
        "unsupported": (["archive.zip", "--ask", "x"], "archive.zip: cannot send a ZIP archive", types),
        "source code": (
            ["main.py", "--ask", "x"],
            "main.py: cannot send a text file named .py",
            "hint: text goes",
        ),
        "too small": (
            ["tiny.png", "--ask", "x"],
            "tiny.png is 1x1 px: too small for the model, both sides must be over 10 px",
            "hint: use a larger image",
        ),
        "image too large": (
            ["huge.png", "--ask", "x"],
            "huge.png is 100.0 MB: too large to send inline (7.0 MB) "
            "or through the temporary upload (100.0 MB)",
            "hint: shrink or compress",
        ),
        "document too large": (
            ["huge.pdf", "--ask", "x"],
            "huge.pdf is 150.0 MB: over the Files API limit of 150.0 MB",
            "hint: split the document",
        ),
        "text-only model": (
            ["ok.png", "--ask", "x", "-m", "qwen-max"],
            "qwen-max cannot see images",
            "hint: use a vision model: -m qwen-vl-max",
        ),
        "text-only model without ask": (
            ["ok.png", "-m", "qwen-plus"],
            "qwen-plus cannot see images",
            "hint: use a",
        ),
        "document model": (
            ["ok.pdf", "--ask", "x", "-m", "qwen-vl-max"],
            "qwen-vl-max cannot read uploaded documents",
            "hint: use -m qwen-long",
        ),
        "mixed": (
            ["ok.png", "ok.pdf", "--ask", "x"],
            "cannot ask about images (ok.png) and documents (ok.pdf) together",
            "hint: ask about them",
        ),
        "empty question": (["ok.png", "--ask", "  "], "the question is empty", "hint: give one"),
        "no files": ([], "no files given", "hint: qwen upload FILE"),
        "list with files": (
            ["ok.png", "--list"],
            "--list and --delete go alone: no files, no --ask, not both",
            "hint: run",
        ),
        "oss on another server": (
            ["ok.png", "--via-oss", "--ask", "x", "--base-url", "http://localhost:9/v1"],
            "--via-oss needs DashScope's temporary upload (ok.png), "
            "and this base URL has no temporary upload",
            "hint: use DashScope",
        ),
        "image upload on another server": (
            ["ok.png", "--base-url", "http://localhost:9/v1"],
            "ok.png: without --ask, images are uploaded through DashScope's temporary upload, "
            "which http://localhost:9/v1 does not offer",
            "hint: ask about it",
        ),
    }


BAD = [
    "missing",
    "directory",
    "empty",
    "unsupported",
    "source code",
    "too small",
    "image too large",
    "document too large",
    "text-only model",
    "text-only model without ask",
    "document model",
    "mixed",
    "empty question",
    "no files",
    "list with files",
    "oss on another server",
    "image upload on another server",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_exit_2_and_nothing_sent(run_cli, here: Path, case: str) -> None:
    args, message, hint = _bad_inputs(here)[case]
    with respx.mock(assert_all_mocked=True) as mock:  # any request at all would fail the test
        r = run_cli("upload", *args, stdin=b"")
        assert len(mock.calls) == 0
    assert r.code == 2, r.err
    assert r.out == ""
    lines = r.err.splitlines()
    assert len(lines) == 2, r.err
    assert lines[0] == f"qwen: error: {message}"
    assert lines[1].startswith(hint), lines[1]
    assert "Traceback" not in r.err


def test_unreadable_file(run_cli, here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    S.write(here, "locked.png", S.png(20, 20))

    def denied(*args: Any, **kw: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(A, "open", denied, raising=False)  # tests run as root, where chmod 000 reads fine
    with respx.mock(assert_all_mocked=True) as mock:
        r = run_cli("upload", "locked.png", "--ask", "x")
        assert len(mock.calls) == 0
    assert (r.code, r.out) == (2, "")
    assert r.err.splitlines() == [
        "qwen: error: cannot read locked.png: permission denied",
        "hint: check the file's permissions",
    ]


# --------------------------------------------------------------------------- progress bars


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def recording_console() -> Any:
    from rich.console import Console

    return Console(file=io.StringIO(), force_terminal=True, width=100)


def test_progress_bars_only_when_worth_it(tmp_path: Path) -> None:
    small = A.inspect(S.write(tmp_path, "small.png", S.png(20, 20)))
    big = A.inspect(S.sparse(tmp_path, "big.pdf", S.pdf(), 3 * A.MB))
    assert UploadProgress(enabled=False).hook(big) is None  # stderr not a terminal: nothing at all

    clock, console = Clock(), recording_console()
    with UploadProgress(enabled=True, clock=clock, console=console) as bars:
        hook = bars.hook(small)
        assert hook is not None
        hook(small.size)
        assert not bars.shown  # quick and small: no bar
        slow = bars.hook(small)
        assert slow is not None
        clock.now += 0.6
        slow(10)
        assert bars.shown  # small but slow: a bar
    clock2, console2 = Clock(), recording_console()
    with UploadProgress(enabled=True, clock=clock2, console=console2) as bars2:
        hook2 = bars2.hook(big)
        assert hook2 is not None
        hook2(A.MB)
        assert bars2.shown  # big: a bar from the start
        hook2(big.size)
    assert "uploading big.pdf" in console2.file.getvalue()
