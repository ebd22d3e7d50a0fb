from __future__ import annotations

import json

import pytest

from qwen_cli.sse import DeltaNormalizer, SSEDecoder


def feed_all(data: bytes, step: int) -> list:
    d = SSEDecoder()
    out = []
    for i in range(0, len(data), step):
        out += d.feed(data[i : i + step])
    return out + d.flush()


STREAM = (
    'data: {"choices":[{"delta":{"content":"你好"}}]}\n\n'
    ": keep-alive\n\n"
    'data: {"choices":[{"delta":{"content":"，世界 🌏"}}]}\n\n'
    "data: [DONE]\n\n"
).encode()


@pytest.mark.parametrize("step", [1, 2, 3, 7, len(STREAM)])
def test_any_chunk_boundary_gives_whole_characters(step: int) -> None:
    events = feed_all(STREAM, step)
    assert [e.data for e in events][-1] == "[DONE]"
    texts = [json.loads(e.data)["choices"][0]["delta"]["content"] for e in events[:-1]]
    assert "".join(texts) == "你好，世界 🌏"


@pytest.mark.parametrize("sep", [b"\r\n", b"\n", b"\r"])
def test_line_endings(sep: bytes) -> None:
    raw = sep.join([b"event: result", b"id: 7", b"data: a", b"data: b", b"", b"data: c", b"", b""])
    events = feed_all(raw, 1)
    assert [(e.event, e.id, e.data) for e in events] == [("result", "7", "a\nb"), (None, None, "c")]


def test_crlf_split_between_reads_is_one_line_end() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: x\r") == []
    assert [e.data for e in d.feed(b"\n\r\n")] == ["x"]


def test_comments_and_no_space_after_colon() -> None:
    events = feed_all(b':HTTP_STATUS/200\ndata:{"a":1}\n\n', 1)
    assert [e.data for e in events] == ['{"a":1}']


def test_last_event_without_blank_line_is_flushed() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: tail") == []
    assert [e.data for e in d.flush()] == ["tail"]


def test_cumulative_deltas_reduced_to_suffix() -> None:
    n = DeltaNormalizer()
    assert [n.feed(p) for p in ["Hel", "Hello", "Hello wor", "Hello world"]] == [
        "Hel",
        "lo",
        " wor",
        "ld",
    ]
    assert n.text == "Hello world"


def test_incremental_deltas_untouched() -> None:
    n = DeltaNormalizer()
    assert [n.feed(p) for p in ["a", "b", "a"]] == ["a", "b", "a"]


@pytest.mark.parametrize(
    ("pieces", "text"),
    [
        (["1", "1"], "11"),  # Qwen streams digits one by one
        (["1", "1", "1"], "111"),
        (["哈", "哈", "哈"], "哈哈哈"),
        (["Hel", "Hello", "Hello"], "Hello"),  # a cumulative server repeating itself adds nothing
        (["ab", "abc", "abc", "abcd"], "abcd"),
    ],
)
def test_repeated_pieces(pieces: list[str], text: str) -> None:
    n = DeltaNormalizer()
    for p in pieces:
        n.feed(p)
    assert n.text == text
