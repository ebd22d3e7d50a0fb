"""The installed `qwen upload` against the fake server in a subprocess, over real sockets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import samples as S
from tests.e2e import needs_qwen
from tests.fakeserver import FakeServerProcess
from tests.test_e2e import qwen, run_in_pty

pytestmark = needs_qwen


@pytest.fixture
def here() -> Path:
    return Path.cwd()


def paths(srv: FakeServerProcess) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in srv.requests()]


def test_image_question_streams_its_answer(srv: FakeServerProcess, here: Path) -> None:
    S.write(here, "cat.png", S.png(32, 24))
    p = qwen(srv, "upload", "cat.png", "--ask", "ini gambar apa?")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == "echo: ini gambar apa? [1 image(s)]\n"
    assert "qwen-vl-max" in p.stderr.decode()
    (chat,) = srv.requests()
    content = chat["json"]["messages"][0]["content"]
    assert content[0]["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert content[1] == {"type": "text", "text": "ini gambar apa?"}
    assert chat["json"]["model"] == "qwen-vl-max" and chat["json"]["stream"] is True


def test_several_images_and_a_question_from_stdin(srv: FakeServerProcess, here: Path) -> None:
    S.write(here, "before.jpg", S.jpeg(64, 64))
    S.write(here, "after.bmp", S.bmp(64, 64))
    p = qwen(srv, "upload", "before.jpg", "after.bmp", "--ask", "-", stdin=b"what changed?\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == "echo: what changed? [2 image(s)]\n"
    content = srv.requests()[-1]["json"]["messages"][0]["content"]
    assert [c["image_url"]["url"].split(";")[0] for c in content[:2]] == ["data:image/jpeg", "data:image/bmp"]


def test_via_oss_policy_form_and_header(srv: FakeServerProcess, here: Path) -> None:
    png = S.png(40, 40)
    S.write(here, "cat.png", png)
    p = qwen(srv, "upload", "cat.png", "--via-oss", "--ask", "what is it?")
    assert p.returncode == 0, p.stderr
    # The fake refuses an oss:// image without the header or without the upload, like DashScope.
    assert p.stdout.decode() == "echo: what is it? [1 image(s)]\n"
    assert paths(srv) == [
        ("GET", "/api/v1/uploads"),
        ("POST", "/oss"),
        ("POST", "/compatible-mode/v1/chat/completions"),
    ]
    policy, form, chat = srv.requests()
    assert policy["query"] == {"action": "getPolicy", "model": "qwen-vl-max"}
    assert policy["headers"]["authorization"] == "Bearer sk-e2e-not-a-real-key-0000"
    assert "authorization" not in form["headers"]
    assert form["form"] == {
        "OSSAccessKeyId": "LTAI-fake",
        "Signature": "c2ln",
        "policy": "cG9saWN5",
        "key": "dashscope-instant/abc/2026-11-22/xyz/cat.png",
        "x-oss-object-acl": "private",
        "x-oss-forbid-overwrite": "true",
        "success_action_status": "200",
        "x-oss-content-type": "image/png",
        "file": {"filename": "cat.png", "size": len(png), "content_type": "image/png"},
    }
    assert chat["headers"]["x-dashscope-ossresourceresolve"] == "enable"
    url = chat["json"]["messages"][0]["content"][0]["image_url"]["url"]
    assert url == "oss://dashscope-instant/abc/2026-11-22/xyz/cat.png"


def test_pdf_through_the_files_api(srv: FakeServerProcess, here: Path) -> None:
    S.write(here, "report.pdf", S.pdf("numbers"))
    p = qwen(srv, "upload", "report.pdf", "--ask", "summarize", "-s", "be brief")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == "echo: summarize [1 file(s)]\n"
    upload, chat = srv.requests()
    assert (upload["method"], upload["path"]) == ("POST", "/compatible-mode/v1/files")
    assert upload["form"]["purpose"] == "file-extract"
    assert upload["form"]["file"]["content_type"] == "application/pdf"
    file_id = chat["json"]["messages"][1]["content"].removeprefix("fileid://")
    assert file_id.startswith("file-fe-")
    assert chat["json"]["model"] == "qwen-long"
    assert chat["json"]["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "system", "content": f"fileid://{file_id}"},
        {"role": "user", "content": "summarize"},
    ]
    assert f"uploaded report.pdf as {file_id}" in p.stderr.decode()


def test_upload_list_delete(srv: FakeServerProcess, here: Path) -> None:
    S.write(here, "a.md", b"# a\n")
    S.write(here, "b.csv", b"x,y\n1,2\n")
    S.write(here, "c.png", S.png(20, 20))
    up = qwen(srv, "upload", "a.md", "b.csv", "c.png")
    assert up.returncode == 0, up.stderr
    refs = up.stdout.decode().splitlines()
    assert len(refs) == 3
    assert refs[0].startswith("file-fe-") and refs[1].startswith("file-fe-")
    assert refs[2] == "oss://dashscope-instant/abc/2026-11-22/xyz/c.png"
    listed = qwen(srv, "upload", "--list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.decode().splitlines()]
    assert sorted((r[0], r[3]) for r in rows) == sorted([(refs[0], "a.md"), (refs[1], "b.csv")])
    gone = qwen(srv, "upload", "--delete", refs[0])
    assert (gone.returncode, gone.stdout) == (0, b"")
    assert f"deleted {refs[0]}" in gone.stderr.decode()
    after = qwen(srv, "upload", "--list").stdout.decode()
    assert refs[0] not in after and refs[1] in after
    again = qwen(srv, "upload", "--delete", refs[0])
    assert again.returncode == 1
    assert "hint: run `qwen upload --list`" in again.stderr.decode()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("tiny.png", S.png(1, 1), "tiny.png is 1x1 px: too small for the model"),
        ("empty.pdf", b"", "empty.pdf is empty (0 bytes)"),
        ("song.mp3", b"ID3\x03\x00" + b"\x00" * 50, "song.mp3: cannot send an MP3 file"),
    ],
)
def test_bad_input_exit_2_before_anything_is_sent(
    srv: FakeServerProcess, here: Path, name: str, data: bytes, message: str
) -> None:
    S.write(here, name, data)
    p = qwen(srv, "upload", name, "--ask", "x")
    assert p.returncode == 2
    assert p.stdout == b""
    err = p.stderr.decode().splitlines()
    assert err[0].startswith(f"qwen: error: {message}") and err[1].startswith("hint: ") and len(err) == 2
    assert srv.requests() == []


def test_progress_bar_only_on_a_terminal(srv: FakeServerProcess, here: Path) -> None:
    S.write(here, "big.txt", b"line of text\n" * 200_000)  # 2.6 MB: a bar from the first byte
    raw = run_in_pty(srv, "upload", "big.txt")
    assert b"uploading big.txt" in raw
    assert b"file-fe-" in raw
    piped = qwen(srv, "upload", "big.txt")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.decode().startswith("file-fe-")
    assert piped.stderr == b""  # no bar, no escape codes, nothing at all


def test_list_on_a_narrow_terminal_never_cuts_an_id(srv: FakeServerProcess, here: Path) -> None:
    S.write(here, "a [really] long name for a file.md", b"# a\n")
    ref = qwen(srv, "upload", "a [really] long name for a file.md").stdout.decode().strip()
    raw = run_in_pty(srv, "upload", "--list", cols=50).decode()
    rows = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in raw.split("\r\n") if line]
    assert rows[1].startswith(ref + "  ")  # whole, on one line with the rest of its row
    assert all(len(row) <= 50 for row in rows)  # columns give way rather than wrap
    assert rows[0].split() == ["id", "name"] and rows[1].endswith("a [really] long…")
    raw = run_in_pty(srv, "upload", "--list", cols=100).decode()
    assert "4 B" in raw and "size" in raw and "processed" in raw  # room for the other columns
