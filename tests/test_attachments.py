"""Detecting, checking and composing attachments: pure, no network."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from qwen_cli import attachments as A
from qwen_cli import filetypes
from qwen_cli.errors import EXIT_USAGE, UsageError
from qwen_cli.types import ImagePart, TextPart
from tests import samples as S

IMAGES = [
    ("a.png", S.png(20, 30), "png", "image/png", (20, 30)),
    ("a.jpg", S.jpeg(640, 480), "jpeg", "image/jpeg", (640, 480)),
    ("b.jpeg", S.jpeg(33, 44, progressive=True, exif=5000), "jpeg", "image/jpeg", (33, 44)),
    ("a.gif", S.gif(64, 12), "gif", "image/gif", (64, 12)),
    ("a.bmp", S.bmp(15, 16), "bmp", "image/bmp", (15, 16)),
    ("b.bmp", S.bmp(15, 16, top_down=True), "bmp", "image/bmp", (15, 16)),
    ("c.bmp", S.bmp_core(300, 200), "bmp", "image/bmp", (300, 200)),
    ("a.webp", S.webp_lossy(1024, 768), "webp", "image/webp", (1024, 768)),
    ("b.webp", S.webp_lossless(4000, 3000), "webp", "image/webp", (4000, 3000)),
    ("c.webp", S.webp_extended(70000, 11), "webp", "image/webp", (70000, 11)),
    ("a.tif", S.tiff(12, 13), "tiff", "image/tiff", (12, 13)),
    ("b.tiff", S.tiff(500, 400, big_endian=True), "tiff", "image/tiff", (500, 400)),
]

DOCS = [
    ("r.pdf", S.pdf(), "pdf", "application/pdf"),
    ("r.docx", S.docx(), "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("r.xlsx", S.xlsx(), "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("r.epub", S.epub(), "epub", "application/epub+zip"),
    ("r.txt", "plain 文本\n".encode(), "txt", "text/plain"),
    ("r.md", b"# Title\n\n- item\n", "md", "text/markdown"),
    ("r.csv", b"a,b\n1,2\n", "csv", "text/csv"),
    ("r.json", b'{"k": [1, 2]}', "json", "application/json"),
]


def usage_error(path: Any) -> UsageError:
    with pytest.raises(UsageError) as info:
        A.inspect(path)
    err = info.value
    assert err.exit_code == EXIT_USAGE
    assert "\n" not in err.message and err.hint and "\n" not in err.hint
    return err


@pytest.mark.parametrize(("name", "data", "kind", "mime", "dims"), IMAGES)
def test_images_are_detected_with_their_size(tmp_path: Path, name, data, kind, mime, dims) -> None:
    att = A.inspect(S.write(tmp_path, name, data))
    assert (att.kind, att.type, att.mime, (att.width, att.height)) == ("image", kind, mime, dims)
    assert att.size == len(data) and att.sha256 == hashlib.sha256(data).hexdigest()
    assert att.path == (tmp_path / name).resolve() and att.shown == str(tmp_path / name)


@pytest.mark.parametrize(("name", "data", "kind", "mime"), DOCS)
def test_documents_are_detected(tmp_path: Path, name, data, kind, mime) -> None:
    att = A.inspect(S.write(tmp_path, name, data))
    assert (att.kind, att.type, att.mime, att.width, att.height) == ("document", kind, mime, None, None)
    assert att.upload_name == name


def test_type_comes_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    att = A.inspect(S.write(tmp_path, "photo.png", S.jpeg(100, 50)))
    assert (att.type, att.mime) == ("jpeg", "image/jpeg")
    doc = A.inspect(S.write(tmp_path, "notes.txt", S.pdf()))
    assert (doc.kind, doc.type) == ("document", "pdf")
    assert doc.upload_name == "notes.txt.pdf"  # the Files API goes by the extension
    named = A.inspect(S.write(tmp_path, "report", S.docx()))
    assert named.type == "docx" and named.upload_name == "report.docx"
    assert A.inspect(S.write(tmp_path, "x.JPEG", S.jpeg(20, 20))).upload_name == "x.JPEG"


def test_missing_path(tmp_path: Path) -> None:
    err = usage_error(tmp_path / "nope.png")
    assert err.message == f"{tmp_path / 'nope.png'}: no such file"
    assert "check the path" in (err.hint or "")


def test_directory(tmp_path: Path) -> None:
    err = usage_error(tmp_path)
    assert err.message == f"{tmp_path} is a directory, not a file"
    assert f"{tmp_path}/*.png" in (err.hint or "")


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert usage_error(fifo).message == f"{fifo} is not a regular file"


def test_empty(tmp_path: Path) -> None:
    err = usage_error(S.write(tmp_path, "empty.png", b""))
    assert err.message.endswith("empty.png is empty (0 bytes)")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_by_permissions(tmp_path: Path) -> None:
    path = S.write(tmp_path, "secret.png", S.png(20, 20))
    path.chmod(0)
    assert usage_error(path).message == f"cannot read {path}: permission denied"


def test_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = S.write(tmp_path, "secret.png", S.png(20, 20))

    def denied(*args: Any, **kw: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(A, "open", denied, raising=False)  # root ignores chmod 000
    err = usage_error(path)
    assert err.message == f"cannot read {path}: permission denied"
    assert err.hint == "check the file's permissions"


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        ("a.zip", S.plain_zip(), "a ZIP archive"),
        ("deck.pptx", S.pptx(), "a PowerPoint presentation"),
        ("a.gz", b"\x1f\x8b\x08\x00rest", "a gzip archive"),
        (
            "old.doc",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
            "an old Office (.doc/.xls/.ppt) file",
        ),
        ("p.heic", b"\x00\x00\x00\x18ftypheic\x00\x00", "a HEIC image"),
        ("main.py", b"print('hi')\n", "a text file named .py"),
        ("README", b"read me\n", "a text file without an extension"),
        ("data.bin", b"\x00\x01\x02\x03\xff", "a .bin file"),
        ("noext", b"\x00\x01\x02\xfe", "a file of unknown type"),
        ("gbk.txt", "中文".encode("gbk"), "a .txt file that is not UTF-8 text"),
        ("broken.zip", b"PK\x03\x04garbage", "a damaged ZIP container"),
    ],
)
def test_unsupported_types(tmp_path: Path, name: str, data: bytes, what: str) -> None:
    err = usage_error(S.write(tmp_path, name, data))
    assert err.message == f"{tmp_path / name}: cannot send {what}"


def test_text_invalid_after_the_head(tmp_path: Path) -> None:
    data = b"a" * (filetypes.HEAD + 10) + b"\xff\xfe"
    err = usage_error(S.write(tmp_path, "late.csv", data))
    assert err.message.endswith("late.csv: cannot send a .csv file that is not UTF-8 text")
    assert err.hint == "save it as UTF-8 and try again"
    cut = usage_error(S.write(tmp_path, "cut.md", "末".encode()[:2]))
    assert "in the middle of a UTF-8 character" in cut.message


@pytest.mark.parametrize(
    ("data", "dims"),
    [(S.png(1, 1), "1x1"), (S.png(10, 10), "10x10"), (S.gif(11, 10), "11x10"), (S.jpeg(5, 400), "5x400")],
)
def test_image_too_small(tmp_path: Path, data: bytes, dims: str) -> None:
    err = usage_error(S.write(tmp_path, "small.img", data))
    assert err.message.endswith(
        f"small.img is {dims} px: too small for the model, both sides must be over 10 px"
    )
    assert err.hint == "use a larger image (at least 11x11 px)"


def test_eleven_pixels_is_enough(tmp_path: Path) -> None:
    assert A.inspect(S.write(tmp_path, "ok.png", S.png(11, 11))).width == 11


def test_damaged_image_header(tmp_path: Path) -> None:
    err = usage_error(S.write(tmp_path, "bad.png", b"\x89PNG\r\n\x1a\n\x00\x00"))
    assert "cannot read the size of this PNG image; the file looks damaged" in err.message
    jpeg = usage_error(S.write(tmp_path, "bad.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 10))
    assert "looks damaged" in jpeg.message


def test_image_too_large_for_inline_and_temporary_upload(tmp_path: Path) -> None:
    path = S.sparse(tmp_path, "huge.png", S.png(20, 20), A.OSS_LIMIT + 1)
    err = usage_error(path)
    assert err.message == (
        f"{path} is 100.0 MB: too large to send inline (7.0 MB) or through the temporary upload (100.0 MB)"
    )
    assert err.hint == "shrink or compress the image"


def test_document_over_150_mb(tmp_path: Path) -> None:
    path = S.sparse(tmp_path, "big.pdf", S.pdf(), A.DOCUMENT_LIMIT + 1)
    err = usage_error(path)
    assert err.message == f"{path} is 150.0 MB: over the Files API limit of 150.0 MB"
    assert err.hint == "split the document into smaller files"
    ok = S.sparse(tmp_path, "edge.pdf", S.pdf(), 2 * A.MB)
    assert A.inspect(ok).size == 2 * A.MB


# --------------------------------------------------------------------------- model, plan


def att(tmp_path: Path, name: str, data: bytes) -> A.Attachment:
    return A.inspect(S.write(tmp_path, name, data))


def test_check_model(tmp_path: Path) -> None:
    img = att(tmp_path, "a.png", S.png(20, 20))
    doc = att(tmp_path, "a.pdf", S.pdf())
    A.check_model("qwen-vl-max", [img])
    A.check_model("qwen-long", [doc])
    A.check_model("my-local-model", [img])  # unknown: the server decides
    with pytest.raises(UsageError) as info:
        A.check_model("qwen-max", [img], vision_model="qwen3-vl-plus")
    assert info.value.message == "qwen-max cannot see images"
    assert info.value.hint == "use a vision model: -m qwen3-vl-plus (QWEN_VISION_MODEL sets the default)"
    with pytest.raises(UsageError) as info:
        A.check_model("qwen-vl-max", [doc])
    assert (info.value.message, info.value.hint) == (
        "qwen-vl-max cannot read uploaded documents",
        "use -m qwen-long",
    )
    with pytest.raises(UsageError) as info:
        A.check_model("qwen-vl-max", [img, doc])
    assert "cannot ask about images" in info.value.message and info.value.exit_code == 2
    with pytest.raises(UsageError) as info:
        A.check_together([img, doc])
    assert "cannot ask about images" in info.value.message
    A.check_together([img, img])


def test_model_for_names_the_model_to_switch_to(tmp_path: Path) -> None:
    img = att(tmp_path, "a.png", S.png(20, 20))
    doc = att(tmp_path, "a.pdf", S.pdf())
    assert A.model_for("qwen-max", [img], vision_model="qwen3-vl-plus") == "qwen3-vl-plus"
    assert A.model_for("qwen-max", [doc]) == "qwen-long"
    assert [A.model_for(m, [img]) for m in ("qwen-vl-max", "my-local-model")] == [None, None]
    assert A.model_for("qwen-long", [doc]) is None
    with pytest.raises(UsageError) as info:  # qwen chat says how to switch its way
        A.check_model("qwen-max", [doc], switch="/model")
    assert info.value.hint == "use /model qwen-long"


def test_plan_inline_until_the_budget_then_oss(tmp_path: Path) -> None:
    small = att(tmp_path, "s.png", S.png(20, 20))
    doc = att(tmp_path, "d.txt", b"text")
    budget = small.size * 2
    assert A.plan([small, doc, small, small], inline_limit=budget) == ["inline", "file", "inline", "oss"]
    assert A.plan([small, doc], via_oss=True) == ["oss", "file"]
    with pytest.raises(UsageError) as info:
        A.plan([small, small, small], inline_limit=budget, oss_available=False)
    assert "too large to send inline" in info.value.message
    assert "this base URL has no temporary upload" in info.value.message
    with pytest.raises(UsageError) as info:
        A.plan([small], via_oss=True, oss_available=False)
    assert info.value.message.startswith("--via-oss needs DashScope's temporary upload")


def test_inline_data_url_and_compose(tmp_path: Path) -> None:
    data = S.jpeg(40, 30)
    img = att(tmp_path, "x.png", data)  # a JPEG under a .png name: the mime follows the bytes
    sent = A.inline(img)
    assert sent.url == "data:image/jpeg;base64," + base64.b64encode(data).decode()
    assert sent.reference == "inline"
    oss = A.Sent(img, "oss", url="oss://dir/x.png", model="qwen-vl-max")
    messages, headers = A.compose("what is it?", [sent, oss], system="be brief")
    assert headers == {"X-DashScope-OssResourceResolve": "enable"}
    assert [m.role for m in messages] == ["system", "user"]
    content = messages[1].content
    assert isinstance(content, list)
    assert [type(p) for p in content] == [ImagePart, ImagePart, TextPart]
    assert messages[1].model_dump()["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "oss://dir/x.png"},
    }
    assert messages[1].text == "what is it?"


def test_compose_documents(tmp_path: Path) -> None:
    a = A.Sent(att(tmp_path, "a.pdf", S.pdf()), "file", file_id="file-fe-1")
    b = A.Sent(att(tmp_path, "b.md", b"# b"), "file", file_id="file-fe-2")
    messages, headers = A.compose("summarize", [a, b], system="you are terse")
    assert headers == {}
    assert [(m.role, m.content) for m in messages] == [
        ("system", "you are terse"),
        ("system", "fileid://file-fe-1,file-fe-2"),
        ("user", "summarize"),
    ]
    assert [m.role for m in A.compose("q", [a])[0]] == ["system", "user"]


def test_inline_refuses_a_file_changed_since_checked(tmp_path: Path) -> None:
    path = S.write(tmp_path, "x.png", S.png(20, 20))
    img = A.inspect(path)
    path.write_bytes(S.png(21, 20))
    with pytest.raises(UsageError) as info:
        A.inline(img)
    assert "changed while it was being sent" in info.value.message


def test_record_keeps_a_reference_not_the_bytes(tmp_path: Path) -> None:
    img = att(tmp_path, "x.png", S.png(20, 20))
    rec = A.inline(img).record()
    assert rec["url"] is None and rec["via"] == "inline" and rec["sha256"] == img.sha256
    assert rec == {
        "path": str(img.path),
        "kind": "image",
        "type": "png",
        "mime": "image/png",
        "size": img.size,
        "sha256": img.sha256,
        "width": 20,
        "height": 20,
        "via": "inline",
        "url": None,
        "file_id": None,
        "model": None,
    }
    assert A.Sent(img, "oss", url="oss://k", model="qwen-vl-max").record()["url"] == "oss://k"


def test_restore_turns_a_record_back_into_a_reference(tmp_path: Path) -> None:
    img = att(tmp_path, "x.png", S.png(20, 20))
    doc = att(tmp_path, "r.pdf", S.pdf())
    for sent in (
        A.Sent(img, "inline"),
        A.Sent(img, "oss", url="oss://dir/x.png", model="qwen-vl-max"),
        A.Sent(doc, "file", file_id="file-fe-1"),
    ):
        back = A.restore(sent.record())
        assert back.record() == sent.record()
        assert (back.via, back.url, back.file_id, back.model) == (
            sent.via,
            sent.url,
            sent.file_id,
            sent.model,
        )
        assert back.attachment.shown == str(sent.attachment.path)
    # an inline image comes back without bytes: read again (and checked) when sent
    assert A.restore(A.inline(img).record()).url is None
    assert A.inline(A.restore(A.inline(img).record()).attachment).url == A.inline(img).url


def test_restore_fills_in_an_older_record(tmp_path: Path) -> None:
    """Rows from before the store kept type and via: path, mime, size and sha256 only."""
    data = S.png(20, 20)
    path = S.write(tmp_path, "x.png", data)
    old = {
        "path": str(path),
        "mime": "image/png",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    back = A.restore(old)
    assert (back.via, back.attachment.kind, back.attachment.type) == ("inline", "image", "png")
    assert A.inline(back.attachment).url == "data:image/png;base64," + base64.b64encode(data).decode()
    heic = A.restore({**old, "mime": "image/heic"})  # a type we no longer send: still described
    assert (heic.attachment.kind, heic.attachment.type) == ("image", "")
    assert "image/heic" in heic.attachment.describe()
    assert A.restore({**old, "mime": "application/pdf", "file_id": "file-fe-9"}).via == "file"


def test_headers_for_a_whole_request(tmp_path: Path) -> None:
    img = att(tmp_path, "x.png", S.png(20, 20))
    inline_only, _ = A.compose("q", [A.inline(img)])
    assert A.headers_for(inline_only) == {}
    history, _ = A.compose("earlier", [A.Sent(img, "oss", url="oss://k", model="m")])
    assert A.headers_for([*history, *inline_only]) == {"X-DashScope-OssResourceResolve": "enable"}


def test_human_size() -> None:
    assert [A.human_size(n) for n in (5, 2048, 3 * A.MB)] == ["5 B", "2.0 KB", "3.0 MB"]
