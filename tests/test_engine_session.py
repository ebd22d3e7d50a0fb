"""The conversation engine without the command line: the messages each turn sends, trimming
to the model's input limit, what it stores (interrupted and broken answers too), and that a
plain text turn does no file work."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from qwen_cli import catalog, config
from qwen_cli.client import Qwen
from qwen_cli.engine import AnswerText, Event, Reply, Sampling, Session, Trimmed
from qwen_cli.engine.files import ChatFiles
from qwen_cli.errors import AuthenticationError, StreamInterruptedError
from qwen_cli.store import Store
from tests.chatkit import Interrupted, answer, interrupted, sse
from tests.fakeserver import FakeServer, chat_stream_events, error_spec

LOCAL = "http://local.test/v1"
URL = LOCAL + "/chat/completions"


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open() as s:
        yield s


_clients: list[Qwen] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def session(store: Store | None, base_url: str = LOCAL, **kw: Any) -> Session:
    """An engine session built as a library user would: settings, a client, a store."""
    env = {"DASHSCOPE_API_KEY": "sk-engine-test-0000", "QWEN_ALLOW_HTTP": "1"}  # local.test is not loopback
    settings = config.resolve({"base_url": base_url}, env=env)
    client = Qwen(settings.api_key, base_url=settings.base_url, max_retries=0)
    _clients.append(client)
    return Session(client=client, settings=settings, store=store, **kw)


def sent(route: respx.Route) -> list[list[dict[str, Any]]]:
    return [json.loads(c.request.content)["messages"] for c in route.calls]


def pieces(*texts: str) -> httpx.Response:
    events = [{"id": "c", "model": "qwen-max", "choices": [{"delta": {"content": t}}]} for t in texts]
    events.append({"id": "c", "choices": [{"delta": {}, "finish_reason": "stop"}]})
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(*events))


class Recorder:
    """A display that keeps every event and what the store held while the answer streamed."""

    def __init__(self, store: Store | None = None) -> None:
        self.events: list[Event] = []
        self.store = store
        self.seen_in_store: list[list[tuple[str, str]]] = []

    def __call__(self, reply: Reply) -> Any:
        for e in reply:
            self.events.append(e)
            if self.store is not None and isinstance(e, AnswerText):
                conv = self.store.recent()[0]
                self.seen_in_store.append([(m.role, m.content) for m in self.store.messages(conv.id)])
        return reply.end()


@respx.mock
def test_each_turn_sends_the_system_prompt_the_answers_so_far_and_the_new_message(store: Store) -> None:
    route = respx.post(URL).mock(side_effect=[answer("one"), answer("two"), answer("three")])
    s = session(store, system="be brief", sampling=Sampling(temperature=0.2, max_tokens=50))
    assert s.send("first").content == "one"
    assert s.send("second").content == "two"
    s.model = "qwen-plus"  # /model between turns
    s.think = True
    s.send("third")
    assert sent(route) == [
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first"}],
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "one"},
            {"role": "user", "content": "second"},
        ],
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "one"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "two"},
            {"role": "user", "content": "third"},
        ],
    ]
    bodies = [json.loads(c.request.content) for c in route.calls]
    assert [b["model"] for b in bodies] == ["qwen-max", "qwen-max", "qwen-plus"]
    assert all(b["temperature"] == 0.2 and b["max_tokens"] == 50 and b["stream"] is True for b in bodies)
    assert "enable_thinking" not in bodies[0] and bodies[2]["enable_thinking"] is True
    exs = store.exchanges(store.recent()[0].id)
    assert [(e.user.content, e.answer and e.answer.content, e.answer and e.answer.status) for e in exs] == [
        ("first", "one", "complete"),
        ("second", "two", "complete"),
        ("third", "three", "complete"),
    ]
    assert exs[2].user.options == {"temperature": 0.2, "max_tokens": 50, "enable_thinking": True}


@respx.mock
def test_the_question_is_stored_before_the_answer_and_the_answer_when_it_ends(store: Store) -> None:
    respx.post(URL).mock(return_value=pieces("hello ", "there"))
    rec = Recorder(store)
    s = session(store, display=rec)
    ans = s.send("hi")
    assert rec.seen_in_store == [[("user", "hi")]] * 2  # while the answer streamed: the question only
    assert [type(e).__name__ for e in rec.events] == ["AnswerText", "AnswerText", "Finish"]
    assert "".join(e.text for e in rec.events if isinstance(e, AnswerText)) == "hello there"
    conv = store.recent()[0]
    assert [(m.role, m.content, m.status) for m in store.messages(conv.id)] == [
        ("user", "hi", "complete"),
        ("assistant", "hello there", "complete"),
    ]
    assert ans.state == "complete" and conv.source == "chat" and conv.title == "hi"


@respx.mock
def test_reasoning_is_stored_but_never_resent_and_failed_turns_are_not_resent(store: Store) -> None:
    thinking = sse(
        {"id": "c1", "model": "qwq-plus", "choices": [{"delta": {"reasoning_content": "hmm"}}]},
        {"id": "c1", "model": "qwq-plus", "choices": [{"delta": {"content": "42"}, "finish_reason": "stop"}]},
        {
            "id": "c1",
            "choices": [],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        },
    )
    refused = httpx.Response(401, json={"error": {"message": "Incorrect API key provided.", "code": "x"}})
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, headers={"content-type": "text/event-stream"}, content=thinking),
            refused,
            answer("fine"),
        ]
    )
    rec = Recorder()
    s = session(store, model="qwq-plus", display=rec)
    first = s.send("the answer?")
    assert (first.content, first.reasoning, first.usage and first.usage.prompt_tokens) == ("42", "hmm", 7)
    kinds = [type(e).__name__ for e in rec.events]
    assert kinds == ["ReasoningText", "AnswerText", "UsageReport", "Finish"]
    with pytest.raises(AuthenticationError):
        s.send("again")
    s.send("once more")
    assert sent(route)[2] == [
        {"role": "user", "content": "the answer?"},
        {"role": "assistant", "content": "42"},  # no reasoning, and the refused turn is left out
        {"role": "user", "content": "once more"},
    ]
    exs = store.exchanges(store.recent()[0].id)
    assert exs[0].answer and exs[0].answer.reasoning == "hmm"
    assert (
        exs[1].answer
        and exs[1].answer.status == "error"
        and "Incorrect API key" in (exs[1].answer.error or "")
    )


@respx.mock
def test_trimming_aims_below_the_input_limit_not_the_context_window(store: Store) -> None:
    spec = catalog.lookup("qwq-plus")
    assert spec.input_limit < spec.context  # 98,304 of 131,072
    route = respx.post(URL).mock(return_value=answer("ok"))
    rec = Recorder()
    s = session(store, model="qwq-plus", display=rec)
    big = ["x" * 140_000 + str(i) for i in range(3)]  # ~35,000 tokens each by estimate
    for text in big:
        s.send(text)
    # Three such messages (~105,000 tokens) fit the old budget (window less the answer's room,
    # 122,880) but not what qwq-plus accepts: its input limit less the room, 98,304 - 8,192.
    last = sent(route)[2]
    assert [m["content"][-1] for m in last if m["role"] == "user"] == ["1", "2"]
    trimmed = [e for e in rec.events if isinstance(e, Trimmed)]
    assert trimmed == [Trimmed("qwq-plus", 1, trimmed[0].tokens, 90_112, 131_072, 98_304)]
    assert 70_000 < trimmed[0].tokens <= 90_112
    exs = store.exchanges(store.recent()[0].id)
    assert [e.answer.left_out for e in exs if e.answer] == [0, 0, 1]


@respx.mock
def test_max_tokens_is_the_answers_room(store: Store) -> None:
    route = respx.post(URL).mock(return_value=answer("ok"))
    s = session(store, model="qwq-plus", sampling=Sampling(max_tokens=40_000))
    s.send("x" * 120_000)  # ~30,000 tokens
    s.send("y" * 120_000)  # with the first: ~60,000 > 98,304 - 40,000
    assert [m["content"][0] for m in sent(route)[1]] == ["y"]


@respx.mock
def test_ctrl_c_mid_answer_is_stored_as_interrupted_with_the_partial(store: Store) -> None:
    stream = Interrupted("The first ", "half")
    respx.post(URL).mock(side_effect=[interrupted(stream), answer("fine")])
    s = session(store)
    ans = s.send("tell me")
    assert ans.interrupted and ans.content == "The first half" and stream.closed
    s.send("go on")
    exs = store.exchanges(store.recent()[0].id)
    a = exs[0].answer
    assert a and (a.status, a.content, a.request_id) == ("interrupted", "The first half", "rid-int")


@respx.mock
def test_ctrl_c_in_the_display_keeps_what_arrived(store: Store) -> None:
    respx.post(URL).mock(return_value=pieces("a", "b", "c"))

    def impatient(reply: Reply) -> Any:
        try:
            for e in reply:
                if isinstance(e, AnswerText) and e.text == "b":
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            return reply.end(interrupted=True)
        return reply.end()

    ans = session(store, display=impatient).send("q")
    assert ans.interrupted and ans.content == "ab"
    a = store.exchanges(store.recent()[0].id)[0].answer
    assert a and (a.status, a.content) == ("interrupted", "ab")


@respx.mock
def test_ctrl_c_while_connecting_is_stored_as_interrupted(store: Store) -> None:
    def connect(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    respx.post(URL).mock(side_effect=connect)
    ans = session(store).send("q")
    assert ans.interrupted and ans.content == ""
    a = store.exchanges(store.recent()[0].id)[0].answer
    assert a and (a.status, a.content) == ("interrupted", "")


def test_a_broken_stream_is_stored_with_what_arrived_then_raised(store: Store) -> None:
    with FakeServer() as srv:
        srv.enqueue({"sse": chat_stream_events(["Half ", "an answer"])[:3], "cut": True})
        s = session(store, base_url=srv.base_url)
        with pytest.raises(StreamInterruptedError, match="broke off after 14 characters"):
            s.send("q")
    a = store.exchanges(store.recent()[0].id)[0].answer
    assert a and (a.status, a.content) == ("error", "Half an answer") and "broke off" in (a.error or "")


def test_an_error_before_the_first_byte_is_stored_then_raised(store: Store) -> None:
    with FakeServer() as srv:
        srv.enqueue(error_spec(401, "Incorrect API key provided.", "invalid_api_key"))
        with pytest.raises(AuthenticationError):
            session(store, base_url=srv.base_url).send("hi")
    exs = store.exchanges(store.recent()[0].id)
    assert exs[0].user.content == "hi" and exs[0].answer and exs[0].answer.status == "error"


def test_no_store_keeps_the_conversation_in_memory() -> None:
    with FakeServer() as srv:
        s = session(None, base_url=srv.base_url)
        s.send("one")
        s.send("two")
        assert [r["json"]["messages"][-3:] for r in srv.requests][1] == [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "echo: one"},
            {"role": "user", "content": "two"},
        ]
    assert [e.answer and e.answer.content for e in s.exchanges] == ["echo: one", "echo: two"]


def test_a_store_to_open_later_opens_when_the_first_message_is_stored() -> None:
    """A new conversation (``qwen chat``) need not open the store before its first message."""
    opened: list[Store] = []

    def open_store() -> Store:
        opened.append(Store.open())
        return opened[-1]

    with FakeServer() as srv:
        s = session(None, base_url=srv.base_url, open_store=open_store)
        s.model = "qwen-plus"  # state changes before the first turn open nothing
        s.set_system("be brief")
        s.new_conversation()
        assert opened == [] and s.log
        s.send("one")
        s.send("two")
    assert len(opened) == 1
    store = opened[0]
    try:
        conv = store.recent()[0]
        assert (conv.model, conv.system) == ("qwen-plus", "be brief")
        assert [(e.user.content, e.answer and e.answer.content) for e in store.exchanges(conv.id)] == [
            ("one", "echo: one"),
            ("two", "echo: two"),
        ]
    finally:
        store.close()


def test_a_store_that_cannot_be_opened_later_costs_only_the_log() -> None:
    calls: list[int] = []

    def cannot_open() -> None:  # as cli.storelog.open_store after its warning
        calls.append(1)

    with FakeServer() as srv:
        s = session(None, base_url=srv.base_url, open_store=cannot_open)
        assert s.send("one").content == "echo: one"
        assert s.send("two").content == "echo: two"
        assert srv.requests[-1]["json"]["messages"][-3:][0] == {"role": "user", "content": "one"}
    assert calls == [1] and not s.log and s.store is None
    assert [e.answer and e.answer.content for e in s.exchanges] == ["echo: one", "echo: two"]


@respx.mock
def test_a_text_turn_does_no_file_work_and_looks_the_model_up_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    respx.post(URL).mock(return_value=answer("ok"))
    s = session(store)
    s.send("warm up")

    def forbidden(*a: object, **k: object) -> None:
        raise AssertionError("file work for a text turn")

    for name in ("upload", "budget", "wire", "files_message"):
        monkeypatch.setattr(ChatFiles, name, forbidden)
    lookups: list[str] = []
    real = catalog.lookup
    monkeypatch.setattr(catalog, "lookup", lambda m: lookups.append(m) or real(m))
    assert s.send("plain text").content == "ok"
    assert lookups == ["qwen-max"]
    s.retry()
    assert lookups == ["qwen-max", "qwen-max"]


def test_the_engine_imports_no_typer_rich_prompt_toolkit_or_file_code(tmp_path) -> None:
    script = textwrap.dedent(
        """
        import sys
        # httpx's own command line (httpx._main) loads click and rich whenever click is
        # installed, as llama-index-core (the llamaindex extra) installs it: not ours to count
        sys.modules["httpx._main"] = None
        from qwen_cli import config
        from qwen_cli.client import Qwen
        from qwen_cli.engine import Session
        from qwen_cli.store import Store
        from tests.fakeserver import FakeServer

        with FakeServer() as srv, Store.open() as store:
            settings = config.resolve({"base_url": srv.base_url})
            client = Qwen(settings.api_key, base_url=settings.base_url)
            s = Session(client=client, settings=settings, store=store)
            assert s.send("hi").content == "echo: hi"
            assert s.send("and again").content == "echo: and again"
            assert len(srv.requests) == 2
        loaded = [m for m in ("typer", "rich", "prompt_toolkit", "click", "qwen_cli.cli",
                  "qwen_cli.attachments", "qwen_cli.uploads", "qwen_cli.render", "qwen_cli.repl")
                  if m in sys.modules]
        print("loaded:", loaded)
        """
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DASHSCOPE_API_KEY": "sk-engine-test-0000",
        "QWEN_CONFIG_DIR": str(tmp_path / "config"),
        "QWEN_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parent.parent),
    }
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "loaded: []"
