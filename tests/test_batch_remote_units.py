"""The pure parts of the Batch API side: judging result lines, splitting input, windows, the table."""

from __future__ import annotations

import io
import json

import pytest

from qwen_cli.batch import remote, results, submit
from qwen_cli.errors import UsageError


def ok_line(cid: str, text: str = "hi") -> dict:
    body = {
        "choices": [{"finish_reason": "stop", "message": {"content": text}}],
        "usage": {"prompt_tokens": 3},
    }
    return {
        "custom_id": cid,
        "response": {"status_code": 200, "request_id": "r", "body": body},
        "error": None,
    }


def test_judge_a_good_line():
    r = results.judge(ok_line("a", "你好"))
    assert r["answer"] == "你好" and r["error"] is None and r["usage"] == {"prompt_tokens": 3}


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ({**ok_line("a"), "error": {"code": "x", "message": "m"}}, "x"),  # error beside a 200 body
        ({"custom_id": "a", "response": {"status_code": 200, "body": {"error": {"code": "y"}}}}, "y"),
        ({"custom_id": "a", "response": {"status_code": 500, "body": {}}}, "http_error"),
        ({"custom_id": "a", "response": {"status_code": 200, "body": {"choices": []}}}, "no_answer"),
        ({"custom_id": "a", "error": {"error_code": "z", "error_message": "m"}}, "z"),
        ([1, 2], "unreadable_line"),
    ],
)
def test_judge_every_kind_of_failure(line, code):
    assert results.judge(line)["error"]["code"] == code


def test_joiner_counts_failures_inside_the_output_file_and_names_the_missing():
    j = results.Joiner()
    lines = [
        json.dumps(ok_line("a")).encode(),
        json.dumps({**ok_line("b"), "error": {"code": "e"}}).encode(),
        b"{not",
    ]
    out = list(j.feed(lines, in_output=True)) + list(j.missing(["a", "b", "c"], "gone"))
    assert [r["custom_id"] for r in out] == ["a", "b", None, "c"]
    t = j.tally
    assert (t.ok, t.failed, t.failed_in_output, t.missing, t.unreadable) == (1, 3, 2, 1, 1)


def test_prepare_splits_by_count_and_by_size():
    items = [
        (str(i), {"model": "qwen-plus", "messages": [{"role": "user", "content": "x" * 50}]})
        for i in range(7)
    ]
    by_count = submit.prepare(items, model=None, think=None, max_requests=3)
    assert [len(p) for p in by_count.parts] == [3, 3, 1]
    one = len(by_count.payloads[-1])
    by_size = submit.prepare(items, model=None, think=None, max_bytes=one * 2)
    assert [len(p) for p in by_size.parts] == [2, 2, 2, 1]
    assert all(len(p) <= one * 2 for p in by_size.payloads)
    assert by_size.sha256 == by_count.sha256  # the same requests, however split


def test_prepare_fills_model_and_thinking_but_keeps_what_lines_say():
    p = submit.prepare([("a", {}), ("b", {"enable_thinking": False})], model="qwen-plus", think=False)
    lines = [json.loads(x) for x in p.payloads[0].splitlines()]
    assert [x["body"] for x in lines] == [
        {"model": "qwen-plus", "enable_thinking": False},
        {"model": "qwen-plus", "enable_thinking": False},
    ]
    with pytest.raises(UsageError, match="one thinking mode"):
        submit.prepare([("a", {}), ("b", {"enable_thinking": True})], model="qwen-plus", think=False)


def test_embeddings_and_the_test_model_go_to_their_endpoints():
    assert (
        submit.prepare([("a", {"model": "text-embedding-v4"})], model=None, think=None).endpoint
        == "/v1/embeddings"
    )
    assert (
        submit.prepare([("a", {"model": "batch-test-model"})], model=None, think=None).endpoint
        == "/v1/chat/ds-test"
    )


@pytest.mark.parametrize(
    ("given", "kept"), [("24h", "24h"), ("336h", "336h"), ("14D", "14d"), (" 2d ", "2d")]
)
def test_window(given, kept):
    assert submit.check_window(given) == kept


def test_parse_batch_is_tolerant():
    b = remote.parse_batch(
        {
            "id": "batch_1",
            "status": "failed",
            "request_counts": None,
            "errors": {"data": [{"code": "c", "message": "m", "line": 3}]},
        }
    )
    assert b.errors == ["line 3: c: m"] and b.counts.total == 0 and b.settled


@pytest.mark.parametrize("bad", ["", "../x", "a b", "a/cancel", "a?x=1"])
def test_batch_ids_that_cannot_be_ids(bad):
    with pytest.raises(UsageError):
        remote.check_id(bad)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("width", [60, 100])
def test_the_table_fits_the_terminal_and_never_cuts_an_id(width):
    from qwen_cli.cli.batch_view import table

    items = [
        remote.parse_batch(
            {
                "id": f"batch_{i:024d}",
                "status": "in_progress",
                "created_at": 1_700_000_000,
                "request_counts": {"total": 50000, "completed": 12345, "failed": 3},
                "metadata": {"ds_name": "a rather long name for a batch of tickets"},
            }
        )
        for i in range(3)
    ]
    out = _Tty()
    table(items, {}, out=out, width=width, bold=False)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert all(len(line) <= width for line in lines)
    assert all(f"batch_{i:024d}" in lines[i + 1] for i in range(3))
    assert "12348/50000" in lines[1]
