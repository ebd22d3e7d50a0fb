"""Fitting a conversation into the context window: what is sent, what is left out, and why."""

from __future__ import annotations

from qwen_cli.conversation import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    Turn,
    budget_for,
    estimate_tokens,
    message_tokens,
    plan,
)
from qwen_cli.types import ImagePart, ImageURL, Message, TextPart


def user(text: str) -> Message:
    return Message(role="user", content=text)


def turns(n: int, chars: int = 400) -> list[Turn]:
    """``n`` turns of about ``chars // 4 + 4`` tokens per message."""
    return [Turn(user(f"q{i}" + "x" * (chars - 2)), f"a{i}" + "y" * (chars - 2)) for i in range(n)]


def roles_and_text(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.role, m.text[:2]) for m in messages]


def test_estimate_counts_cjk_per_character() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2
    assert estimate_tokens("你好世界") == 4
    assert estimate_tokens("こんにちは") == 5 and estimate_tokens("안녕하세요") == 5
    assert estimate_tokens("hi 你好") == 2 + 1  # "hi " -> 1, two CJK -> 2
    image = Message(role="user", content=[ImagePart(image_url=ImageURL(url="data:,")), TextPart(text="abcd")])
    assert message_tokens(image) == MESSAGE_OVERHEAD + 1 + IMAGE_TOKENS


def test_budget_leaves_room_for_the_answer() -> None:
    assert budget_for(32_768, 8_192) == 32_768 - 8_192
    assert budget_for(1_000_000, 16_384) == 1_000_000 - 16_384
    assert budget_for(32_768, 16_384) == 32_768 - 8_192  # at most a quarter of the window
    assert budget_for(32_768, 8_192, max_tokens=1_000) == 31_768  # --max-tokens is the room


def test_budget_aims_below_the_input_limit() -> None:
    assert budget_for(131_072, 8_192, input_limit=98_304) == 98_304 - 8_192  # qwq-plus
    assert budget_for(131_072, 8_192, 1_000, input_limit=98_304) == 97_304
    assert budget_for(32_768, 8_192, input_limit=32_768) == budget_for(32_768, 8_192)


def test_the_preamble_follows_the_system_prompt_and_is_never_left_out() -> None:
    files = Message(role="system", content="fileid://file-fe-1")
    p = plan("be brief", turns(3), user("new"), budget=300, preamble=[files])
    assert p.left_out == 2
    assert [(m.role, m.text) for m in p.messages[:2]] == [
        ("system", "be brief"),
        ("system", "fileid://file-fe-1"),
    ]
    assert roles_and_text(p.messages[2:]) == [("user", "q2"), ("assistant", "a2"), ("user", "ne")]
    assert plan(None, [], user("q"), budget=100, preamble=[files]).messages[0] == files


def test_everything_is_sent_when_it_fits() -> None:
    p = plan("be brief", turns(3), user("new"), budget=10_000)
    assert p.left_out == 0 and not p.measured
    assert roles_and_text(p.messages) == [
        ("system", "be"),
        ("user", "q0"),
        ("assistant", "a0"),
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2"),
        ("user", "ne"),
    ]


def test_oldest_turns_go_first_never_system_or_new() -> None:
    ts = turns(10)  # each turn: 2 * (4 + 100) = 208 tokens
    p = plan("sys", ts, user("new question"), budget=700)
    assert p.left_out == 7 and p.tokens <= 700
    assert roles_and_text(p.messages)[0] == ("system", "sy")
    assert [m.text[:2] for m in p.messages if m.role == "user"] == ["q7", "q8", "q9", "ne"]
    # nothing fits: still the system prompt and the new message, everything else left out
    huge = user("z" * 100_000)
    p = plan("sys", ts, huge, budget=700)
    assert p.left_out == 10 and [m.role for m in p.messages] == ["system", "user"]
    assert p.messages[-1] is huge and p.tokens > 700


def test_server_counts_beat_the_estimate() -> None:
    base = turns(4, chars=40)  # tiny by estimate: 2 * (4 + 10) = 28 tokens a turn
    # ... but the server said the request of the last turn had a 5,000-token prompt
    measured = [
        *base[:3],
        Turn(base[3].user, base[3].answer, prompt_tokens=5_000, answer_tokens=10, left_out=0),
    ]
    assert plan(None, base, user("next"), budget=1_000).left_out == 0
    p = plan(None, measured, user("next"), budget=1_000)
    assert p.left_out == 4 and [m.text for m in p.messages] == ["next"]
    p = plan(None, measured, user("next"), budget=6_000)
    assert p.measured and p.left_out == 0 and p.tokens == 5_000 + (4 + 10) + (4 + 1)


def test_server_counts_can_also_say_it_fits() -> None:
    # long by estimate (CJK counted one token a character), small as the server counted it
    ts = [Turn(user("天" * 3000), "好" * 3000) for _ in range(3)]
    last = Turn(ts[2].user, ts[2].answer, prompt_tokens=2_500, answer_tokens=1_000, left_out=0)
    assert plan(None, ts, user("再来"), budget=8_000).left_out > 0
    p = plan(None, [*ts[:2], last], user("再来"), budget=8_000)
    assert p.left_out == 0 and p.measured and p.tokens == 2_500 + 1_004 + 6


def test_the_anchor_accounts_for_turns_it_had_left_out() -> None:
    ts = turns(6)  # 208 tokens a turn by estimate
    # turn 5's request had left out turns 0-2 and measured 1,000 tokens
    ts[5] = Turn(ts[5].user, ts[5].answer, prompt_tokens=1_000, answer_tokens=100, left_out=3)
    new = user("new")
    full = plan(None, ts, new, budget=100_000)
    assert full.left_out == 0 and full.tokens == 1_000 + 3 * 208 + 104 + message_tokens(new)
    same = plan(None, ts, new, budget=1_000 + 104 + message_tokens(new))
    assert same.left_out == 3
    fewer = plan(None, ts, new, budget=1_000)
    assert fewer.left_out == 4 and fewer.tokens == 1_000 - 208 + 104 + message_tokens(new)
