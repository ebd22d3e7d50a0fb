"""Issue 11: the explicit context cache (markers in the bodies sent), the thinking budget, and a
footer and ``/usage`` that price what the server reported, against a fake DashScope region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from qwen_cli import catalog
from qwen_cli.engine.request import cache_marked
from qwen_cli.types import Message, TextPart, Usage
from tests.chatkit import bodies, lines, only_conversation
from tests.fakeserver import FakeServer, chat_stream_events

LONG = "You are a careful reviewer. " * 200  # ~1,400 estimated tokens: long enough to be cached
SHORT = "be brief"
MARK = {"type": "ephemeral"}


@pytest.fixture
def cn(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """A fake server standing for DashScope's Beijing region (priced in CNY, markers sent)."""
    with FakeServer() as s:
        monkeypatch.setenv("QWEN_BASE_URL_CN", s.base_url)
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-cache-0000")
        yield s


def scripted(srv: FakeServer, *usages: dict[str, Any], model: str = "qwen-plus") -> None:
    for u in usages:
        srv.enqueue({"sse": chat_stream_events(["ok"], model=model, usage=u)})


def usage(
    prompt: int, completion: int, *, cached: int | None = None, written: int | None = None
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if cached is not None:
        details["cached_tokens"] = cached
    if written is not None:
        details["cache_creation_input_tokens"] = written
    u: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if details:
        u["prompt_tokens_details"] = details
    return u


def markers(body: dict[str, Any]) -> list[tuple[int, str]]:
    """(message index, role) of every content part carrying a marker."""
    return [
        (i, m["role"])
        for i, m in enumerate(body["messages"])
        if isinstance(m["content"], list)
        for p in m["content"]
        if "cache_control" in p
    ]


# --------------------------------------------------------------------------- the rule itself


def test_long_prefix_marked_short_left_alone() -> None:
    msgs = [Message(role="system", content=LONG), Message(role="user", content="hi")]
    got = cache_marked(msgs)
    assert got[0].content == [TextPart(text=LONG, cache_control={"type": "ephemeral"})]  # type: ignore[arg-type]
    assert isinstance(got[1].content, list) and got[1].content[-1].cache_control is not None
    assert msgs[0].content == LONG  # the input is not changed
    short = [Message(role="system", content=SHORT), Message(role="user", content="hi")]
    assert cache_marked(short) == short  # under 1,024 tokens: nothing marked, strings stay strings


def test_short_system_then_long_conversation_marks_only_the_end() -> None:
    msgs = [
        Message(role="system", content=SHORT),
        Message(role="user", content=LONG),
        Message(role="assistant", content="ok"),
        Message(role="user", content="and?"),
    ]
    got = cache_marked(msgs)
    assert got[:3] == msgs[:3]  # only the last message changed shape
    assert got[3].content == [TextPart(text="and?", cache_control={"type": "ephemeral"})]  # type: ignore[arg-type]


def test_never_more_markers_than_the_api_counts() -> None:
    docs = [Message(role="system", content=f"doc {i}: " + LONG) for i in range(6)]
    got = cache_marked([*docs, Message(role="user", content="q")])
    marked = [i for i, m in enumerate(got) if isinstance(m.content, list)]
    assert len(marked) == catalog.CACHE_MAX_MARKERS == 4
    assert marked == [3, 4, 5, 6]  # the last four, the final message's among them
    assert all(isinstance(got[i].content, str) for i in (0, 1, 2))


# --------------------------------------------------------------------------- the bodies sent


def test_chat_with_a_long_system_prompt_marks_it_and_each_new_turn(run_cli, cn: FakeServer) -> None:
    r = run_cli("chat", "-m", "qwen-plus", "-s", LONG, stdin=lines("q1", "q2"))
    assert r.code == 0, r.err
    first, second = bodies(cn)
    assert first["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": LONG, "cache_control": MARK}],
    }
    assert markers(first) == [(0, "system"), (1, "user")]
    assert markers(second) == [(0, "system"), (3, "user")]
    assert second["messages"][1:3] == [
        {"role": "user", "content": "q1"},  # not marked: left as a string
        {"role": "assistant", "content": "echo: q1"},
    ]
    assert second["messages"][3] == {
        "role": "user",
        "content": [{"type": "text", "text": "q2", "cache_control": MARK}],
    }
    _, exs = only_conversation()
    assert exs[0].user.content == "q1" and exs[1].answer and exs[1].answer.options["cache_control"] is True


def test_short_system_prompt_is_not_marked(run_cli, cn: FakeServer) -> None:
    assert run_cli("chat", "-m", "qwen-plus", "-s", SHORT, stdin=lines("q1", "q2")).code == 0
    assert [markers(b) for b in bodies(cn)] == [[], []]
    assert bodies(cn)[0]["messages"][0] == {"role": "system", "content": SHORT}


@pytest.mark.parametrize(
    "how",
    ["flag", "config", "env", "one-off complete", "no explicit cache", "other server"],
)
def test_markers_left_out(
    run_cli, cn: FakeServer, how: str, monkeypatch: pytest.MonkeyPatch, isolated_env
) -> None:
    args = ["chat", "-m", "qwen-plus", "-s", LONG]
    if how == "flag":
        args.append("--no-cache-control")
    elif how == "config":
        (isolated_env / "config").mkdir()
        (isolated_env / "config" / "config.toml").write_text("cache_control = false\n", encoding="utf-8")
    elif how == "env":
        monkeypatch.setenv("QWEN_CACHE_CONTROL", "0")
    elif how == "one-off complete":
        args = ["complete", "-m", "qwen-plus", "-s", LONG, "q1"]
    elif how == "no explicit cache":
        args[2] = "qwen-max"  # implicit cache only
    else:
        other = cn.base_url.replace("127.0.0.1", "localhost")  # the same fake, not a DashScope region
        monkeypatch.setenv("QWEN_BASE_URL", other)
    r = run_cli(*args, stdin=lines("q1"))
    assert r.code == 0, r.err
    (body,) = bodies(cn)
    assert markers(body) == [] and body["messages"][0]["content"] == LONG


def test_complete_c_marks_the_conversation(run_cli, cn: FakeServer) -> None:
    assert run_cli("complete", "-m", "qwen-plus", "-s", LONG, "q1").code == 0
    assert run_cli("complete", "-c", "-m", "qwen-plus", "q2").code == 0
    first, second = bodies(cn)
    assert markers(first) == [] and markers(second) == [(0, "system"), (3, "user")]


def test_bad_cache_setting_is_one_error(run_cli, cn: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_CACHE_CONTROL", "maybe")
    r = run_cli("chat", stdin=lines("q1"))
    assert r.code != 0 and bodies(cn) == []
    assert (
        r.err.splitlines()[0]
        == "qwen: error: cache_control must be true or false, got 'maybe' (from QWEN_CACHE_CONTROL)"
    )
    assert r.err.splitlines()[1].startswith("hint: ") and "Traceback" not in r.err


# --------------------------------------------------------------------------- honest cost


def test_price_each_kind_of_token_at_its_rate() -> None:
    plain = Usage.model_validate(usage(20_000, 100))
    hit = Usage.model_validate(usage(20_000, 100, cached=16_000, written=0))
    written = Usage.model_validate(usage(20_000, 100, cached=0, written=16_000))
    full = catalog.price_usage("qwen-plus", plain, "cn")
    assert (
        full is not None
        and full.amount == pytest.approx((20_000 * 0.8 + 100 * 2.0) / 1e6)
        and full.saved == 0
    )
    explicit = catalog.price_usage("qwen-plus", hit, "cn", explicit=True)
    implicit = catalog.price_usage("qwen-plus", hit, "cn")
    assert explicit and implicit
    assert explicit.amount == pytest.approx((4_000 * 0.8 + 16_000 * 0.8 * 0.10 + 100 * 2.0) / 1e6)
    assert implicit.amount == pytest.approx((4_000 * 0.8 + 16_000 * 0.8 * 0.20 + 100 * 2.0) / 1e6)
    assert explicit.amount < implicit.amount < full.amount
    assert explicit.saved == pytest.approx(full.amount - explicit.amount)
    w = catalog.price_usage("qwen-plus", written, "cn", explicit=True)
    assert w is not None and w.amount == pytest.approx((4_000 * 0.8 + 16_000 * 0.8 * 1.25 + 100 * 2.0) / 1e6)
    assert w.text() == "~¥0.0194 · cache write +¥0.0032"
    assert explicit.text() == "~¥0.0047 · saved ~¥0.0115 by cache"
    assert full.text() == "~¥0.0162"


def test_reasoning_and_search_priced_where_the_catalogue_knows() -> None:
    thought = Usage.model_validate(
        {**usage(1_000, 1_000), "completion_tokens_details": {"reasoning_tokens": 800}}
    )
    got = catalog.price_usage("qwen-plus", thought, "cn")
    assert got is not None and got.amount == pytest.approx(
        (1_000 * 0.8 + 1_000 * 8.0) / 1e6
    )  # thinking-mode output
    other = catalog.price_usage("qwen-max", thought, "cn")  # no thinking price known: the output price
    assert other is not None and other.amount == pytest.approx((1_000 * 2.4 + 1_000 * 9.6) / 1e6)
    searched = Usage.model_validate(
        {**usage(1_000, 0), "plugins": {"search": {"count": 1, "strategy": "max"}}}
    )
    s = catalog.price_usage("qwen-plus", searched, "cn")
    assert s is not None and s.amount == pytest.approx(1_000 * 0.8 / 1e6 + 4.0 / 1000)
    odd = Usage.model_validate({**usage(1_000, 0), "plugins": {"search": "yes"}})  # unknown shape: no fee
    o = catalog.price_usage("qwen-plus", odd, "cn")
    assert o is not None and o.amount == pytest.approx(1_000 * 0.8 / 1e6)
    assert catalog.price_usage("qwen2.5-7b-instruct", thought, "cn") is None  # no price: nothing claimed


def test_footer_prices_a_scripted_hit_below_the_uncached_price(run_cli, cn: FakeServer) -> None:
    scripted(
        cn,
        usage(20_000, 100, cached=0, written=16_000),  # turn 1 writes the cache
        usage(20_000, 100, cached=16_000, written=0),  # turn 2 reads it
    )
    r = run_cli("chat", "-m", "qwen-plus", "-s", LONG, stdin=lines("q1", "q2", "/usage"))
    assert r.code == 0, r.err
    footers = [line for line in r.err.splitlines() if line.startswith("qwen-plus · ")]
    assert len(footers) == 2
    assert "cached 0" not in footers[0] and " · cache write 16000 · " in footers[0]
    assert footers[0].endswith("~¥0.0194 · cache write +¥0.0032")
    assert " · cached 16000 · " in footers[1] and "cache write" not in footers[1]
    assert footers[1].endswith("~¥0.0047 · saved ~¥0.0115 by cache")  # uncached it would be ~¥0.0162
    (usage_line,) = [line for line in r.err.splitlines() if line.startswith("2 turns")]  # piped: stderr
    assert usage_line == (
        "2 turns · 40,000 in · 200 out · 40,200 total · cached 16,000 · cache write 16,000"
        " · ~¥0.0241 · saved ~¥0.0083 by cache"
    )


def test_nothing_cached_prints_no_cached_count(run_cli, cn: FakeServer) -> None:
    scripted(cn, usage(100, 10, cached=0))
    r = run_cli("complete", "-m", "qwen-plus", "q")
    assert r.code == 0, r.err
    (footer,) = [line for line in r.err.splitlines() if line.startswith("qwen-plus · ")]
    assert "cached" not in footer and "saved" not in footer and footer.endswith("~¥0.0001")


# --------------------------------------------------------------------------- thinking budget


def test_think_budget_is_sent_and_implies_thinking(run_cli, cn: FakeServer) -> None:
    r = run_cli("complete", "-m", "qwen-plus", "--think-budget", "500", "q")
    assert r.code == 0, r.err
    (body,) = bodies(cn)
    assert body["thinking_budget"] == 500 and body["enable_thinking"] is True
    assert run_cli("complete", "-m", "qwen-plus", "q").code == 0
    assert "thinking_budget" not in bodies(cn)[1] and "enable_thinking" not in bodies(cn)[1]


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["--think-budget", "0"], "qwen: error: --think-budget must be between 1 and 2147483647 (got 0)"),
        (["--think-budget", "-5"], "qwen: error: --think-budget must be between 1 and 2147483647 (got -5)"),
        (
            ["-m", "qwen-max", "--think-budget", "100"],
            "qwen: error: qwen-max cannot think, so a thinking budget does not apply to it",
        ),
        (
            ["--no-think", "--think-budget", "100"],
            "qwen: error: --think-budget asks for thinking, --no-think turns it off",
        ),
    ],
)
def test_bad_think_budget_is_refused_before_sending(
    run_cli, cn: FakeServer, args: list[str], first_line: str
) -> None:
    r = run_cli("complete", *args, "q")
    assert r.code == 2 and r.out == ""
    assert r.err.splitlines()[0] == first_line
    assert r.err.splitlines()[1].startswith("hint: ") and len(r.err.splitlines()) == 2
    assert bodies(cn) == []


def test_think_budget_not_a_number_is_refused(run_cli, cn: FakeServer) -> None:
    r = run_cli("complete", "--think-budget", "lots", "q")
    assert r.code == 2 and r.out == ""
    assert r.err.splitlines() == [
        "qwen: error: --think-budget must be a whole number between 1 and 2147483647 (got lots)",
        "hint: --think-budget: most tokens to think for (thinking_budget); implies --think; "
        "`qwen complete --help` lists the options",
    ]
    assert bodies(cn) == []


def test_think_on_a_model_that_cannot_warns_once(run_cli, cn: FakeServer) -> None:
    r = run_cli("chat", "-m", "qwen-max", "--think", stdin=lines("q1", "q2"))
    assert r.code == 0, r.err
    warnings = [line for line in r.err.splitlines() if "cannot think" in line]
    assert warnings == [
        "warning: qwen-max cannot think (by the catalogue): --think is sent but may do nothing"
    ]
    assert [b["enable_thinking"] for b in bodies(cn)] == [True, True]


def test_slash_think_budget_in_chat(run_cli, cn: FakeServer) -> None:
    script = lines("/think 300", "q1", "/think", "/think off", "q2", "/model qwen-max", "/think 50", "q3")
    r = run_cli("chat", "-m", "qwen-plus", stdin=script)
    assert r.code == 2, r.err  # line mode stops at the refused /think 50
    assert "thinking: on (budget 300 tokens)" in r.out
    first, second = bodies(cn)
    assert first["thinking_budget"] == 300 and first["enable_thinking"] is True
    assert "thinking_budget" not in second and second["enable_thinking"] is False
    assert "qwen: error: qwen-max cannot think, so a thinking budget does not apply to it" in r.err


def test_a_message_with_images_is_marked_on_its_last_text() -> None:
    from qwen_cli.types import ImagePart, ImageURL

    img = ImagePart(image_url=ImageURL(url="oss://dir/x.png"))
    msgs = [Message(role="system", content=LONG), Message(role="user", content=[TextPart(text="what?"), img])]
    got = cache_marked(msgs)
    assert got[1].model_dump(exclude_none=True)["content"] == [
        {"type": "text", "text": "what?", "cache_control": {"type": "ephemeral"}},
        {"type": "image_url", "image_url": {"url": "oss://dir/x.png"}},
    ]
    only_images = [Message(role="system", content=LONG), Message(role="user", content=[img])]
    assert cache_marked(only_images)[1] == only_images[1]
