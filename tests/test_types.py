"""Response models are tolerant: what the CLI does not need takes any value, what it reads is
repaired, and nothing a server sends in a chunk raises."""

from __future__ import annotations

import math
from typing import Any

import pytest

from qwen_cli.types import ChatCompletion, ChatCompletionChunk, ModelInfo, Usage


def chunk(**fields: Any) -> ChatCompletionChunk:
    base: dict[str, Any] = {"id": "c1", "model": "m", "choices": [{"delta": {"content": "hi"}}]}
    return ChatCompletionChunk.model_validate({**base, **fields})


@pytest.mark.parametrize("created", [1.5, "2026-11-30", None, {"t": 1}, -1])
def test_created_takes_any_value(created: Any) -> None:
    assert chunk(created=created).delta.content == "hi"
    assert ModelInfo.model_validate({"id": "x", "created": created}).id == "x"


def test_model_without_created() -> None:
    m = ModelInfo.model_validate({"id": "llama", "object": "model", "owned_by": "llamacpp", "meta": {}})
    assert (m.id, m.created) == ("llama", None)


@pytest.mark.parametrize(
    ("choices", "content"),
    [
        (None, None),
        ({"delta": {"content": "a"}}, "a"),  # a dict where a list belongs
        ([{"delta": "plain text"}], "plain text"),  # delta as the text itself
        ([{"delta": {"content": 42}}], "42"),
        ([{"delta": {"content": 1.5}}], "1.5"),
        ([{"delta": {"content": [{"type": "text", "text": "x"}, {"text": "y"}]}}], "xy"),
        ([{"delta": {"content": {"odd": True}}}], None),
        ([{"delta": {"content": True}}], None),
        (["junk", 3, {"delta": {"content": "ok"}}], "ok"),
        ("nonsense", None),
        ([{"delta": None, "finish_reason": 7}], None),
    ],
)
def test_odd_choices_are_repaired_or_skipped(choices: Any, content: str | None) -> None:
    c = chunk(choices=choices)
    assert c.delta.content == content


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -5, "lots", [1], {"a": 1}, True, 1.5])
def test_unreadable_token_counts_become_zero(bad: Any) -> None:
    c = chunk(usage={"prompt_tokens": bad, "completion_tokens": 3, "total_tokens": bad})
    assert c.usage is not None
    assert (c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.total_tokens) == (0, 3, 0)


@pytest.mark.parametrize("usage", [math.nan, "lots", [1, 2], 5])
def test_usage_that_is_not_an_object_is_dropped(usage: Any) -> None:
    assert chunk(usage=usage).usage is None


def test_counts_written_as_whole_floats_or_digit_strings_are_read() -> None:
    u = Usage.model_validate(
        {
            "prompt_tokens": 10.0,
            "completion_tokens": "7",
            "total_tokens": 17,
            "prompt_tokens_details": {"cached_tokens": math.nan},
            "completion_tokens_details": "n/a",
        }
    )
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (10, 7, 17)
    assert (u.cached_tokens, u.reasoning_tokens) == (None, None)


def test_lone_surrogates_become_replacement_characters() -> None:
    c = chunk(choices=[{"delta": {"content": "a\ud800b", "reasoning_content": "\udfff"}}])
    assert (c.delta.content, c.delta.reasoning_content) == ("a\ufffdb", "\ufffd")
    assert c.delta.content.encode("utf-8") == b"a\xef\xbf\xbdb"


def test_a_whole_answer_is_tolerant_too() -> None:
    body = {
        "id": 12,
        "created": 1.7e9,
        "choices": {"message": {"content": 42, "role": None}, "finish_reason": ["stop"]},
        "usage": {"prompt_tokens": -1, "completion_tokens": math.inf},
        "sources": [{"url": 3, "title": None}, "junk"],
        "extra": [[[]]],
    }
    c = ChatCompletion.model_validate(body)
    assert (c.id, c.content, c.finish_reason) == ("12", "42", None)
    assert c.usage is not None and (c.usage.prompt_tokens, c.usage.completion_tokens) == (0, 0)
    assert [s.url for s in c.sources] == ["3"]
