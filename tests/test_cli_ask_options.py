"""`-o KEY=VALUE` and `-a FILE` on `qwen complete` and `qwen chat`, and a model the server
refused: the bodies sent, what is printed, and what the store keeps."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests import chatkit
from tests.chatkit import CTRL_D, ENTER, PNG, bodies, lines, only_conversation, store, typed, write_png
from tests.fakeserver import FakeServer, chat_stream_events, error_spec

srv = chatkit.srv  # fixture


# --------------------------------------------------------------------------- -o


@pytest.mark.parametrize("command", ["complete", "chat"])
def test_option_fields_go_to_the_top_of_the_body(run_cli, srv: FakeServer, command: str) -> None:
    args = ["-o", "top_k=20", "-o", "thinking_budget=2048", "-o", 'x_tags=["a", 1]', "-o", "note=plain"]
    if command == "complete":
        r = run_cli("complete", *args, "hi")
    else:
        r = run_cli("chat", *args, stdin=lines("hi", "again"))
    assert r.code == 0, r.err
    for body in bodies(srv):
        assert body["top_k"] == 20 and body["thinking_budget"] == 2048
        assert body["x_tags"] == ["a", 1] and body["note"] == "plain"  # JSON when it parses, else text
    _, exs = only_conversation()
    assert exs[0].user.options["extra"]["top_k"] == 20  # kept with the message, as sent


@pytest.mark.parametrize("command", ["complete", "chat"])
def test_option_fields_take_two_words_as_llm_does(run_cli, srv: FakeServer, command: str) -> None:
    args = ["-o", "top_k", "20", "-o", "presence_penalty", "-0.5", "-o", "note", "two words"]
    if command == "complete":
        r = run_cli("complete", *args, "hi")
    else:
        r = run_cli("chat", *args, stdin=lines("hi"))
    assert r.code == 0, r.err
    (body,) = bodies(srv)
    assert body["top_k"] == 20 and body["presence_penalty"] == -0.5 and body["note"] == "two words"
    assert body["messages"][-1] == {"role": "user", "content": "hi"}


def test_a_bare_prompt_takes_two_word_fields_too(run_cli, srv: FakeServer) -> None:
    assert run_cli("-o", "top_k", "3", "hi").code == 0
    assert bodies(srv)[0]["top_k"] == 3


def test_an_option_field_overrides_what_qwen_would_send(run_cli, srv: FakeServer) -> None:
    assert run_cli("complete", "-t", "0.5", "-o", "temperature=0.9", "hi").code == 0
    assert bodies(srv)[0]["temperature"] == 0.9


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("top_k", "qwen: error: -o takes KEY VALUE or KEY=VALUE (got 'top_k')"),
        ("=3", "qwen: error: -o takes KEY VALUE or KEY=VALUE (got '=3')"),
        ("model=qwen-plus", "qwen: error: -o cannot set model: qwen sends it itself\nhint: choose the model"),
        ("stream=false", "qwen: error: -o cannot set stream"),
    ],
)
def test_bad_option_fields_are_refused_before_sending(
    run_cli, srv: FakeServer, value: str, message: str
) -> None:
    r = run_cli("complete", "hi", "-o", value)  # last: "-o top_k hi" would be top_k=hi
    assert r.code == 2 and r.out == "" and srv.requests == []
    assert r.err.startswith(message) and "\nhint: " in r.err and "Traceback" not in r.err


# --------------------------------------------------------------------------- -a


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_complete_attaches_an_image_and_picks_a_vision_model(
    run_cli, srv: FakeServer, tmp_path: Path
) -> None:
    png = write_png(tmp_path / "cat.png")
    r = run_cli("complete", "-a", str(png), "what is this?")
    assert r.code == 0, r.err
    assert r.out == "echo: what is this? [1 image(s)]\n"
    (body,) = bodies(srv)
    assert body["model"] == "qwen-vl-max"
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": data_url(PNG)}},
                {"type": "text", "text": "what is this?"},
            ],
        }
    ]
    _, (ex,) = only_conversation()
    assert [Path(a.path).name for a in ex.user.attachments] == ["cat.png"]


def test_complete_attaches_several_files(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    a, b = write_png(tmp_path / "a.png"), write_png(tmp_path / "b.png")
    r = run_cli("complete", "-a", str(a), "--attach", str(b), "-m", "qwen-vl-plus", "compare")
    assert r.code == 0, r.err
    assert r.out == "echo: compare [2 image(s)]\n" and bodies(srv)[0]["model"] == "qwen-vl-plus"


def test_complete_attach_refuses_what_upload_refuses(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    r = run_cli("complete", "-a", str(empty), "hi")
    assert r.code == 2 and r.out == "" and srv.requests == []
    assert r.err.startswith("qwen: error: ") and "empty" in r.err.splitlines()[0] and "\nhint: " in r.err
    r = run_cli("complete", "-a", str(tmp_path / "missing.png"), "hi")
    assert r.code == 2 and srv.requests == [] and "missing.png" in r.err.splitlines()[0]


def test_complete_attach_with_a_model_that_cannot_see(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    png = write_png(tmp_path / "cat.png")
    r = run_cli("complete", "-m", "qwen-max", "-a", str(png), "what is this?")
    assert r.code == 2 and srv.requests == []
    assert r.err.splitlines()[:2] == [
        "qwen: error: qwen-max cannot see images",
        "hint: use a vision model: -m qwen-vl-max (QWEN_VISION_MODEL sets the default)",
    ]


def test_chat_attach_goes_with_the_first_message(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    png = write_png(tmp_path / "cat.png")
    r = run_cli("chat", "-a", str(png), stdin=lines("what is this?", "and now?"))
    assert r.code == 0, r.err
    assert r.out == "echo: what is this? [1 image(s)]\necho: and now?\n"
    assert f"attached {png} (PNG image" in r.err
    first, second = bodies(srv)
    assert first["model"] == second["model"] == "qwen-vl-max"
    assert first["messages"][0]["content"][0]["image_url"]["url"] == data_url(PNG)


# --------------------------------------------------------------------------- a refused model


def keys(*typed_lines: str) -> str:
    return "".join(t + ENTER for t in typed_lines) + CTRL_D


def refuse(srv: FakeServer, *, after: int = 0) -> None:
    """The next chat request after ``after`` good ones is refused as DashScope refuses a model."""
    good = [{"sse": chat_stream_events(["fine"])} for _ in range(after)]
    msg = "The model `qwen-nope` does not exist or you do not have access to it."
    srv.enqueue(*good, error_spec(404, msg, "model_not_found"))


def test_a_refused_model_is_not_kept(run_cli, srv: FakeServer) -> None:
    refuse(srv, after=1)
    r = typed(run_cli, keys("a", "/model qwen-nope", "b", "c"))
    assert [b["model"] for b in bodies(srv)] == ["qwen-max", "qwen-nope", "qwen-max"]
    assert "qwen: error: The model `qwen-nope` does not exist" in r.err
    assert (
        "hint: `qwen models` lists the models: pick one with /model NAME in a chat, or -m NAME; "
        "this conversation stays on qwen-max\n" in r.err
    )
    assert "echo: c" in r.out
    conv_id, _ = only_conversation()
    with store() as s:
        assert s.get(conv_id).model == "qwen-max"
    r = run_cli("chat", "-c", stdin=lines("d"))
    assert r.code == 0, r.err and bodies(srv)[-1]["model"] == "qwen-max"


def test_resume_skips_a_refused_model_and_m_overrides(run_cli, srv: FakeServer) -> None:
    assert run_cli("chat", "-m", "qwen-plus", stdin=lines("a")).code == 0
    refuse(srv)
    r = run_cli("chat", "-c", stdin=lines("/model qwen-nope", "b"))
    assert r.code == 1 and "-m NAME" in r.err and "/model NAME" in r.err
    conv_id, _ = only_conversation()
    with store() as s:  # an older qwen stored the refused model: it is still not resumed
        s.update(conv_id, model="qwen-nope")
    assert run_cli("complete", "-c", "c").code == 0
    assert bodies(srv)[-1]["model"] == "qwen-plus"
    assert run_cli("chat", "-c", "-m", "qwen-turbo", stdin=lines("d")).code == 0
    assert bodies(srv)[-1]["model"] == "qwen-turbo"
    with store() as s:
        assert s.get(conv_id).model == "qwen-turbo"


def test_complete_with_a_refused_model_on_a_new_conversation(run_cli, srv: FakeServer) -> None:
    refuse(srv)
    r = run_cli("complete", "-m", "qwen-nope", "hi")
    assert r.code == 1 and r.out == ""
    assert r.err.splitlines()[-1] == (
        "hint: `qwen models` lists the models: pick one with /model NAME in a chat, or -m NAME"
    )
    assert run_cli("complete", "-c", "again").code == 0
    assert bodies(srv)[-1]["model"] == "qwen-max"
