"""`/attach` in `qwen chat`: the files `qwen upload` takes, sent with the next message the way
`qwen upload` sends them, kept in the store as references, and sent again on later turns."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from qwen_cli import attachments as A
from tests import chatkit
from tests import samples as S
from tests.chatkit import CTRL_D, ENTER, PNG, bodies, lines, only_conversation, store, typed, write_png
from tests.fakeserver import FakeServer, error_body

srv = chatkit.srv  # fixture

CHAT = "/compatible-mode/v1/chat/completions"
FILES = "/compatible-mode/v1/files"
POLICY = "/api/v1/uploads"
RESOLVE = "x-dashscope-ossresourceresolve"


def keys(*typed_lines: str) -> str:
    return "".join(t + ENTER for t in typed_lines) + CTRL_D


def calls(srv: FakeServer) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in srv.requests]


def chats(srv: FakeServer) -> list[dict[str, Any]]:
    return [r for r in srv.requests if r["path"] == CHAT]


def errors(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("qwen: error:")]


def rows() -> list[dict[str, Any]]:
    with store() as s:
        return [dict(r) for r in s.db.execute("SELECT * FROM attachments ORDER BY id")]


def no_bytes_stored() -> None:
    with store() as s:
        dump = "\n".join(s.db.iterdump())
    assert "data:" not in dump and "base64" not in dump


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


# --------------------------------------------------------------------------- images


def test_an_image_goes_inline_and_the_store_keeps_a_reference(
    run_cli, srv: FakeServer, tmp_path: Path
) -> None:
    png = write_png(tmp_path / "cat.png")
    r = typed(run_cli, keys(f"/attach {png}", "what is this?", "and now?", "/history"), "-m", "qwen-vl-max")
    assert r.code == 0, r.err
    assert f"attached {png} (PNG image, {len(PNG)} B, 20x20 px) to your next message\n" in r.err
    assert "echo: what is this? [1 image(s)]\necho: and now?\n" in r.out
    assert "you: what is this? [image cat.png]" in r.err  # /history: stdout is not a terminal
    assert calls(srv) == [("POST", CHAT), ("POST", CHAT)]  # nothing uploaded for a small image
    first, second = chats(srv)
    assert first["json"]["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": data_url(PNG)}},
                {"type": "text", "text": "what is this?"},
            ],
        }
    ]
    assert RESOLVE not in first["headers"]
    assert second["json"]["messages"][0] == first["json"]["messages"][0]  # read again from disk
    assert second["json"]["messages"][2] == {"role": "user", "content": "and now?"}  # not attached again
    _, exs = only_conversation()
    [a] = exs[0].user.attachments
    assert exs[1].user.attachments == []
    assert (a.path, a.kind, a.type, a.mime_type, a.size, a.sha256) == (
        str(png.resolve()),
        "image",
        "png",
        "image/png",
        len(PNG),
        hashlib.sha256(PNG).hexdigest(),
    )
    assert (a.width, a.height, a.via, a.url, a.file_id, a.message_id) == (
        20,
        20,
        "inline",
        None,
        None,
        exs[0].user.id,
    )
    no_bytes_stored()


def test_attachments_wait_for_the_next_message_across_new(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    png = write_png(tmp_path / "cat.png")
    r = typed(
        run_cli, keys("hello", f"/attach {png}", f"/attach {png}", "/new", "two cats?"), "-m", "qwen-vl-max"
    )
    assert "2 attached files still go with your next message" in r.err
    assert "echo: two cats? [2 image(s)]" in r.out
    with store() as s:
        first, second = (s.exchanges(c.id) for c in reversed(s.recent()))
    assert [len(e.user.attachments) for e in first + second] == [0, 2]


def test_a_changed_or_missing_image_becomes_a_note(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    png = write_png(tmp_path / "cat.png")
    assert typed(run_cli, keys(f"/attach {png}", "first"), "-m", "qwen-vl-max").code == 0
    png.write_bytes(S.png(30, 30))
    r = run_cli("chat", "-c", stdin=lines("second"))
    assert r.code == 0, r.err
    assert bodies(srv)[-1]["messages"][0] == {
        "role": "user",
        "content": f"first\n\n[image {png.resolve()} changed since it was attached: not sent again]",
    }
    png.unlink()
    assert run_cli("chat", "-c", stdin=lines("third")).code == 0
    assert bodies(srv)[-1]["messages"][0]["content"] == (
        f"first\n\n[image {png.resolve()} is no longer on disk: not sent again]"
    )
    assert bodies(srv)[-1]["model"] == "qwen-vl-max"


def test_a_big_image_goes_through_the_temporary_upload(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    big = S.sparse(tmp_path, "big.png", S.png(40, 30), 8 * A.MB)
    r = typed(
        run_cli,
        keys(f"/attach {big}", "what is this?", "and now?", "/model qwen-vl-plus", "and with plus?"),
        "-m",
        "qwen-vl-max",
    )
    assert r.code == 0, r.err
    assert "through the temporary upload (too large to go inline)" in r.err
    assert "echo: what is this? [1 image(s)]" in r.out
    assert calls(srv) == [
        ("GET", POLICY),
        ("POST", "/oss"),
        ("POST", CHAT),
        ("POST", CHAT),  # the oss:// URL is reused
        ("GET", POLICY),  # a temporary upload works only with its model: made again for qwen-vl-plus
        ("POST", "/oss"),
        ("POST", CHAT),
    ]
    assert [srv.requests[i]["query"]["model"] for i in (0, 4)] == ["qwen-vl-max", "qwen-vl-plus"]
    [key] = srv.oss_objects
    assert srv.oss_objects[key]["size"] == 8 * A.MB
    for req in chats(srv):
        assert req["headers"][RESOLVE] == "enable"
        assert req["json"]["messages"][0]["content"][0] == {
            "type": "image_url",
            "image_url": {"url": f"oss://{key}"},
        }
    assert f"uploaded {big} to oss://{key} (kept 48 hours)" in r.err
    [row] = rows()
    assert (row["via"], row["url"], row["model"], row["file_id"]) == (
        "oss",
        f"oss://{key}",
        "qwen-vl-max",
        None,
    )
    no_bytes_stored()


def test_a_temporary_upload_is_reused_until_it_expires(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    big = S.sparse(tmp_path, "big.png", S.png(40, 30), 8 * A.MB)
    assert typed(run_cli, keys(f"/attach {big}", "first"), "-m", "qwen-vl-max").code == 0
    assert run_cli("chat", "-c", stdin=lines("second")).code == 0
    assert calls(srv)[-1] == ("POST", CHAT) and calls(srv).count(("GET", POLICY)) == 1
    with store() as s:  # 47.5 hours later: too close to the 48 hours to count on it
        s.db.execute("UPDATE attachments SET created_at = ?", (time.time() - 47.5 * 3600,))
    r = run_cli("chat", "-c", stdin=lines("third"))
    assert r.code == 0, r.err
    assert calls(srv)[-3:] == [("GET", POLICY), ("POST", "/oss"), ("POST", CHAT)]
    assert chats(srv)[-1]["headers"][RESOLVE] == "enable"


def test_earlier_images_past_the_inline_limit_go_through_the_temporary_upload(
    run_cli, srv: FakeServer, tmp_path: Path
) -> None:
    a = S.sparse(tmp_path, "a.png", S.png(40, 30), 4 * A.MB)
    b = S.sparse(tmp_path, "b.png", S.png(50, 30), 4 * A.MB)
    r = typed(run_cli, keys(f"/attach {a}", "first", f"/attach {b}", "second"), "-m", "qwen-vl-max")
    assert r.code == 0, r.err
    assert calls(srv) == [("POST", CHAT), ("GET", POLICY), ("POST", "/oss"), ("POST", CHAT)]
    first, second = chats(srv)
    assert RESOLVE not in first["headers"] and second["headers"][RESOLVE] == "enable"
    old, _, new = second["json"]["messages"]
    assert old["content"][0]["image_url"]["url"] == "oss://" + next(iter(srv.oss_objects))
    assert new["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")  # the new one inline
    assert [row["via"] for row in rows()] == ["inline", "inline"]


# --------------------------------------------------------------------------- documents


def test_a_document_goes_through_the_files_api_and_stays_for_every_turn(
    run_cli, srv: FakeServer, tmp_path: Path
) -> None:
    pdf = S.write(tmp_path, "report.pdf", S.pdf())
    js = tmp_path / "chat.json"
    r = typed(
        run_cli,
        keys(
            f"/attach {pdf}",
            "summarize",
            "and more?",
            "/history",
            f"/save {js}",
            "/model qwen-max",
            "plain now",
        ),
        "-m",
        "qwen-long",
        "-s",
        "be brief",
    )
    assert r.code == 0, r.err
    assert "(PDF document" in r.err and "uploaded to the Files API when you send it" in r.err
    [fid] = srv.files
    assert f"uploaded {pdf} as {fid} (remove it with: qwen upload --delete {fid})" in r.err
    assert calls(srv) == [("POST", FILES), ("POST", CHAT), ("POST", CHAT), ("POST", CHAT)]
    upload = srv.requests[0]["form"]
    assert upload["purpose"] == "file-extract" and upload["file"]["filename"] == "report.pdf"
    assert "echo: summarize [1 file(s)]\necho: and more? [1 file(s)]\n" in r.out
    assert "you: summarize [file report.pdf]" in r.err
    roles = [[(m["role"], m["content"]) for m in b["messages"]] for b in bodies(srv)]
    files = ("system", f"fileid://{fid}")
    assert roles[0] == [("system", "be brief"), files, ("user", "summarize")]
    assert roles[1] == [
        ("system", "be brief"),
        files,
        ("user", "summarize"),
        ("assistant", "echo: summarize [1 file(s)]"),
        ("user", "and more?"),
    ]
    # qwen-max cannot read it: no fileid:// message, a note in the message it came with
    assert roles[2][:2] == [
        ("system", "be brief"),
        ("user", f"summarize\n\n[document not shown to this model: {pdf.resolve()}]"),
    ]
    [row] = rows()
    assert (row["kind"], row["type"], row["mime_type"], row["via"], row["file_id"], row["url"]) == (
        "document",
        "pdf",
        "application/pdf",
        "file",
        fid,
        None,
    )
    saved = json.loads(js.read_text(encoding="utf-8"))["messages"][0]["attachments"]
    assert saved == [
        {
            "path": str(pdf.resolve()),
            "mime_type": "application/pdf",
            "size": len(S.pdf()),
            "sha256": hashlib.sha256(S.pdf()).hexdigest(),
            "file_id": fid,
            "kind": "document",
            "type": "pdf",
            "via": "file",
        }
    ]
    # a later session: the file id comes from the store; nothing is uploaded again
    assert run_cli("chat", "-c", "-m", "qwen-long", stdin=lines("one more")).code == 0
    assert calls(srv)[-1] == ("POST", CHAT) and calls(srv).count(("POST", FILES)) == 1
    assert bodies(srv)[-1]["messages"][1] == {"role": "system", "content": f"fileid://{fid}"}


# --------------------------------------------------------------------------- refusals


def test_a_model_that_cannot_take_it_is_named_and_the_attachment_kept(
    run_cli, srv: FakeServer, tmp_path: Path
) -> None:
    png = write_png(tmp_path / "cat.png")
    r = typed(run_cli, keys(f"/attach {png}", "what is this?", "/model qwen-vl-max", "what is this?"))
    assert "qwen-max cannot see images: switch with /model qwen-vl-max before sending" in r.err
    assert errors(r.err) == ["qwen: error: qwen-max cannot see images"]
    assert "hint: use a vision model: /model qwen-vl-max" in r.err and "the attachment is kept" in r.err
    assert len(bodies(srv)) == 1 and bodies(srv)[0]["model"] == "qwen-vl-max"
    assert bodies(srv)[0]["messages"][0]["content"][0]["type"] == "image_url"
    _, exs = only_conversation()
    assert len(exs) == 1 and len(exs[0].user.attachments) == 1  # the refused try left nothing

    pdf = S.write(tmp_path, "r.pdf", S.pdf())
    r = run_cli("chat", stdin=lines(f"/attach {pdf}", "summarize"))
    assert "qwen-max cannot read uploaded documents: switch with /model qwen-long before sending" in r.err
    assert errors(r.err) == ["qwen: error: qwen-max cannot read uploaded documents"]
    assert "hint: use /model qwen-long" in r.err and r.code == 2
    assert len(bodies(srv)) == 1 and not srv.files


def test_bad_input_is_refused_at_once(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.bin").write_text("just text")
    S.write(tmp_path, "tiny.png", S.png(5, 5))
    (tmp_path / "my pics").mkdir()
    png = write_png(tmp_path / "my pics" / "cat.png")
    pdf = S.write(tmp_path, "r.pdf", S.pdf())
    r = typed(
        run_cli,
        keys(
            f"/attach {tmp_path}/missing.png",
            f"/attach {tmp_path}",
            f"/attach {tmp_path}/empty.png",
            f"/attach {tmp_path}/notes.bin",
            f"/attach {tmp_path}/tiny.png",
            "/attach",
            f'/attach "{png}"',
            f"/attach {pdf}",
            "/attach",
            "/attach -",
            "/attach",
        ),
        "-m",
        "qwen-vl-max",
    )
    assert errors(r.err) == [
        f"qwen: error: {tmp_path}/missing.png: no such file",
        f"qwen: error: {tmp_path} is a directory, not a file",
        f"qwen: error: {tmp_path}/empty.png is empty (0 bytes)",
        f"qwen: error: {tmp_path}/notes.bin: cannot send a text file named .bin",
        f"qwen: error: {tmp_path}/tiny.png is 5x5 px: too small for the model, both sides must be over 10 px",
        "qwen: error: /attach needs a file",
        f"qwen: error: cannot ask about images ({png}) and documents ({pdf}) together",
        "qwen: error: /attach needs a file",
    ]
    assert r.err.count("\nhint: ") == 8
    assert "hint: send them with separate messages" in r.err
    assert r.out == f"{png} (PNG image, {len(PNG)} B, 20x20 px)\n"  # /attach alone lists them
    assert "dropped 1 attachment\n" in r.err
    assert srv.requests == []
    with store() as s:
        assert s.recent() == []


def test_a_failed_upload_writes_nothing_and_keeps_the_message(
    run_cli, srv: FakeServer, tmp_path: Path
) -> None:
    pdf = S.write(tmp_path, "r.pdf", S.pdf())
    srv.enqueue({"match": "/files", "status": 500, "json": error_body("upload broke", "internal_error")})
    # the message comes back at the prompt: Enter alone sends it again
    r = typed(
        run_cli,
        f"/attach {pdf}{ENTER}summarize it{ENTER}{ENTER}{CTRL_D}",
        "-m",
        "qwen-long",
        "--max-retries",
        "0",
    )
    assert r.code == 0, r.err
    [error] = errors(r.err)
    assert error.startswith("qwen: error: upload broke (request id ")
    assert "your message is back at the prompt: Enter sends it again" in r.err
    assert calls(srv) == [("POST", FILES), ("POST", FILES), ("POST", CHAT)]
    assert r.out == "echo: summarize it [1 file(s)]\n"
    [fid] = srv.files
    _, [ex] = only_conversation()
    assert ex.user.content == "summarize it" and [a.file_id for a in ex.user.attachments] == [fid]
    with store() as s:
        assert s.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
        assert s.db.execute("SELECT count(*) FROM attachments").fetchone()[0] == 1


def test_a_failed_upload_in_a_script_stops_with_nothing_written(
    run_cli, srv: FakeServer, tmp_path: Path
) -> None:
    pdf = S.write(tmp_path, "r.pdf", S.pdf())
    srv.enqueue({"match": "/files", "status": 500, "json": error_body("upload broke", "internal_error")})
    r = run_cli(
        "chat", "-m", "qwen-long", "--max-retries", "0", stdin=lines(f"/attach {pdf}", "summarize it", "more")
    )
    assert r.code == 6 and [e[:25] for e in errors(r.err)] == ["qwen: error: upload broke"]
    assert "back at the prompt" not in r.err
    assert calls(srv) == [("POST", FILES)]
    with store() as s:
        assert s.recent() == []


def test_an_old_store_row_is_sent_again_inline(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    """Rows written before /attach kept the type and how a file went: read as inline images."""
    png = write_png(tmp_path / "cat.png")
    assert run_cli("chat", "-m", "qwen-vl-max", stdin=lines("hello")).code == 0
    with store() as s:
        conv = s.latest()
        assert conv is not None
        [ex] = s.exchanges(conv.id)
        s.db.execute(
            "INSERT INTO attachments (conversation_id, message_id, path, mime_type, size, sha256, created_at)"
            " VALUES (?, ?, ?, 'image/png', ?, ?, ?)",
            (conv.id, ex.user.id, str(png), len(PNG), hashlib.sha256(PNG).hexdigest(), time.time()),
        )
    assert run_cli("chat", "-c", stdin=lines("again")).code == 0
    assert bodies(srv)[-1]["messages"][0]["content"][0] == {
        "type": "image_url",
        "image_url": {"url": data_url(PNG)},
    }


def test_the_store_never_takes_a_data_url(tmp_path: Path) -> None:
    from qwen_cli.store import Attachment, NewMessage

    rec = A.inline(A.inspect(write_png(tmp_path / "cat.png"))).record()
    assert rec["url"] is None  # Sent.record() drops the data: URL
    with pytest.raises(ValueError, match="never the file's bytes"):
        Attachment.of({**rec, "url": data_url(PNG)})
    bad = Attachment.of(rec)
    bad.url = data_url(PNG)
    with store() as s:
        conv = s.create()
        with pytest.raises(ValueError, match="never the file's bytes"):
            s.add(conv.id, NewMessage("user", "x", attachments=[bad]))
        assert s.messages(conv.id) == []  # the whole message was rolled back
