"""`qwen complete` keeps its exchanges in the conversation store; -c continues the latest one."""

from __future__ import annotations

import pytest
import respx

from tests import chatkit
from tests.chatkit import Interrupted, interrupted, lines, only_conversation, sent_messages, store
from tests.fakeserver import FakeServer, error_spec

srv = chatkit.srv  # fixture


@pytest.fixture(autouse=True, params=["dashscope", "dashscope-native"])
def provider(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here, in both of DashScope's protocols."""
    monkeypatch.setenv("QWEN_PROVIDER", request.param)
    return str(request.param)


def test_complete_logs_its_exchange(run_cli, srv: FakeServer, provider: str) -> None:
    r = run_cli("complete", "what is SSE?", "-s", "be brief", "-t", "0.5")
    assert r.code == 0 and r.out == "echo: what is SSE?\n"
    native = srv.requests[0]["path"].endswith("/text-generation/generation")
    assert native == (provider == "dashscope-native")  # each protocol really spoken
    conv_id, [ex] = only_conversation()
    assert ex.user.content == "what is SSE?" and ex.user.options == {"temperature": 0.5}
    assert ex.answer and ex.answer.content == "echo: what is SSE?" and ex.answer.status == "complete"
    with store() as s:
        conv = s.get(conv_id)
    assert (conv.source, conv.system, conv.title) == ("complete", "be brief", "what is SSE?")


def test_no_log_keeps_nothing(run_cli, srv: FakeServer, isolated_env) -> None:
    assert run_cli("complete", "secret", "--no-log").code == 0
    assert not (isolated_env / "data" / "history.db").exists()


def test_continue_sends_the_history_and_appends(run_cli, srv: FakeServer) -> None:
    assert run_cli("complete", "first", "-s", "sys", "-m", "qwen-plus").code == 0
    assert run_cli("complete", "-c", "second").code == 0
    assert run_cli("complete", "-c", "third", "--no-log").code == 0  # reads, does not write
    assert sent_messages(srv)[1] == [
        ("system", "sys"),
        ("user", "first"),
        ("assistant", "echo: first"),
        ("user", "second"),
    ]
    assert srv.requests[1]["json"]["model"] == "qwen-plus"  # the conversation's model
    assert len(sent_messages(srv)[2]) == 6
    _, exs = only_conversation()
    assert [e.user.content for e in exs] == ["first", "second"]


def test_continue_a_chat_from_complete_and_back(run_cli, srv: FakeServer) -> None:
    assert run_cli("chat", stdin=lines("from chat")).code == 0
    assert run_cli("complete", "-c", "from complete", "-s", "new system").code == 0
    assert sent_messages(srv)[-1] == [
        ("system", "new system"),
        ("user", "from chat"),
        ("assistant", "echo: from chat"),
        ("user", "from complete"),
    ]
    assert run_cli("chat", "-c", stdin=lines("chat again")).code == 0
    assert sent_messages(srv)[-1][0] == ("system", "new system")
    _, exs = only_conversation()
    assert len(exs) == 3


def test_continue_with_nothing_to_continue(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "-c", "hello")
    assert r.code == 2 and "no conversation to continue" in r.err and srv.requests == []


def test_errors_are_logged_and_keep_their_exit_code(run_cli, srv: FakeServer) -> None:
    srv.enqueue(
        error_spec(404, "The model `nope` does not exist or you do not have access to it.", "model_not_found")
    )
    r = run_cli("complete", "hi", "-m", "nope")
    assert r.code == 1 and "qwen models" in r.err
    _, [ex] = only_conversation()
    assert ex.answer and ex.answer.status == "error" and "does not exist" in (ex.answer.error or "")


@respx.mock
def test_ctrl_c_is_logged_as_interrupted(run_cli, provider: str) -> None:
    native = provider == "dashscope-native"
    respx.post(url__startswith="http://local.test/v1/").mock(
        return_value=interrupted(Interrupted("part", native=native))
    )
    r = run_cli("complete", "hi", "--base-url", "http://local.test/v1")
    assert r.code == 130 and r.out == "part\n"
    _, [ex] = only_conversation()
    assert ex.answer and (ex.answer.status, ex.answer.content) == ("interrupted", "part")


def test_an_unusable_store_only_costs_the_log(run_cli, srv: FakeServer, tmp_path, monkeypatch) -> None:
    (tmp_path / "blocker").write_text("a file")
    monkeypatch.setenv("QWEN_DATA_DIR", str(tmp_path / "blocker"))
    r = run_cli("complete", "still answered")
    assert r.code == 0 and r.out == "echo: still answered\n"
    assert "qwen: warning: this exchange is not kept in the history" in r.err
    assert run_cli("complete", "-c", "needs it").code == 1
