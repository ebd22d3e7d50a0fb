from __future__ import annotations

import json

import pytest

from qwen_cli.sse import (
    MAX_EVENT_BYTES,
    DeltaNormalizer,
    EventTooLargeError,
    SSEDecoder,
    TextBuffer,
)


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


def test_a_long_line_arriving_in_many_reads_is_one_event() -> None:
    payload = "汉" * 300_000  # 900 kB, cut mid-character by the 4 kB reads
    raw = f"data: {payload}\n\n".encode()
    events = feed_all(raw, 4096)
    assert [e.data for e in events] == [payload]


def test_an_event_past_the_cap_raises_and_forgets_it() -> None:
    d = SSEDecoder(max_event=1000)
    assert d.feed(b"data: " + b"x" * 600) == []
    with pytest.raises(EventTooLargeError) as info:
        d.feed(b"y" * 600)  # no newline yet: the unfinished line alone is over the cap
    assert info.value.limit == 1000
    assert d.feed(b"\n\ndata: next\n\n")[-1].data == "next"


def test_many_data_lines_count_towards_the_cap() -> None:
    d = SSEDecoder(max_event=1000)
    with pytest.raises(EventTooLargeError):
        for _ in range(20):
            d.feed(b"data: " + b"z" * 99 + b"\n")


def test_an_endless_line_stops_at_the_default_cap() -> None:
    d = SSEDecoder()
    piece = b"a" * 65536
    with pytest.raises(EventTooLargeError):
        for _ in range((MAX_EVENT_BYTES // len(piece)) + 2):
            d.feed(piece)


def test_lines_split_across_reads_at_every_line_end() -> None:
    raw = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"
    for step in (1, 2, 5):
        assert [e.data for e in feed_all(raw, step)] == ["a\nb\nc", "d"]


def test_text_buffer_appends_and_joins() -> None:
    t = TextBuffer("ab")
    for piece in ["c", "", "δε"]:
        t.append(piece)
    assert (str(t), len(t)) == ("abcδε", 5)
    t.append("!")
    assert str(t) == "abcδε!"


def test_a_text_buffer_reads_as_the_string_appended() -> None:
    buf = TextBuffer("why")
    buf.append("he")
    buf.append("")
    buf.append("llo")
    assert (str(buf), len(buf)) == ("whyhello", 8)
    assert str(buf) == "whyhello"  # joined once, read again


def test_only_cr_and_lf_end_lines() -> None:
    text = "a\x0bb\x0cc\x1cd\x85e\u2028f"  # line ends to str.splitlines, not to SSE
    assert [e.data for e in feed_all(f"data: {text}\n\n".encode(), 3)] == [text]
