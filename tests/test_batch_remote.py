"""`qwen batch submit/status/wait/fetch/cancel/list` against the fake Batch service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAKE_KEY
from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakebatch import FakeBatchServer


@pytest.fixture
def fake() -> Iterator[FakeBatchServer]:
    with FakeBatchServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)


def write_input(path: Path, n: int, *, model: str | None = None, extra: list[str] | None = None) -> Path:
    lines = []
    for i in range(1, n + 1):
        body: dict[str, Any] = {"messages": [{"role": "user", "content": f"question {i}"}]}
        if model:
            body["model"] = model
        lines.append(json.dumps({"custom_id": f"r{i}", "body": body}))
    path.write_text("\n".join([*lines, *(extra or [])]) + "\n", encoding="utf-8")
    return path


def b(fake: FakeBatchServer, *args: str) -> list[str]:
    return [*args, "--base-url", fake.base_url]


def submitted(fake: FakeBatchServer) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["path"].endswith("/batches") and r["method"] == "POST"]


def uploaded_lines(fake: FakeBatchServer) -> list[list[dict[str, Any]]]:
    ups = [f for f in fake.files.values() if f["purpose"] == "batch"]
    return [[json.loads(x) for x in fake.file_contents[f["id"]].splitlines()] for f in ups]


def test_submit_uploads_the_requests_and_prints_the_batch_id(run_cli, fake, tmp_path):
    src = write_input(tmp_path / "in.jsonl", 3, extra=["not json"])
    r = run_cli(
        *b(
            fake,
            "batch",
            "submit",
            str(src),
            "-m",
            "qwen-plus",
            "--no-think",
            "--window",
            "7d",
            "--name",
            "t",
        )
    )
    assert r.code == 0, r.err
    (bid,) = r.out.split()
    assert bid in fake.batches
    assert "in.jsonl:4: not JSON" in r.err and "(left out)" in r.err
    (lines,) = uploaded_lines(fake)
    assert [x["custom_id"] for x in lines] == ["r1", "r2", "r3"]
    assert all(x["url"] == "/v1/chat/completions" and x["method"] == "POST" for x in lines)
    assert all(x["body"]["model"] == "qwen-plus" and x["body"]["enable_thinking"] is False for x in lines)
    (create,) = submitted(fake)
    assert create["json"]["completion_window"] == "7d"
    assert create["json"]["endpoint"] == "/v1/chat/completions"
    assert create["json"]["metadata"] == {"ds_name": "t"}
    upload = next(r for r in fake.requests if r["path"].endswith("/files"))
    assert upload["form"]["purpose"] == "batch"
    assert upload["form"]["file"]["filename"] == "in.jsonl"


def test_the_same_input_is_not_submitted_twice_unless_forced(run_cli, fake, tmp_path):
    src = write_input(tmp_path / "in.jsonl", 2, model="qwen-plus")
    first = run_cli(*b(fake, "batch", "submit", str(src)))
    again = run_cli(*b(fake, "batch", "submit", str(src)))
    assert again.code == 2 and again.out == ""
    assert f"already submitted as {first.out.strip()}" in again.err and "hint: " in again.err
    assert len(submitted(fake)) == 1
    forced = run_cli(*b(fake, "batch", "submit", str(src), "--force"))
    assert forced.code == 0 and len(submitted(fake)) == 2


def test_over_the_limits_the_file_becomes_several_batches(run_cli, fake, tmp_path, monkeypatch):
    from qwen_cli.batch import submit

    monkeypatch.setattr(submit, "MAX_REQUESTS", 2)
    src = write_input(tmp_path / "in.jsonl", 5, model="qwen-plus")
    r = run_cli(*b(fake, "batch", "submit", str(src)))
    assert r.code == 0, r.err
    assert len(r.out.split()) == 3 and len(submitted(fake)) == 3
    assert sorted(len(x) for x in uploaded_lines(fake)) == [1, 2, 2]
    assert "3 batches" in r.err


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], "is empty: no requests"),
        (['{"custom_id":"a","body":{"model":"qwen-plus"}}'], "no request can be sent"),  # no messages
        (
            [
                '{"custom_id":"a","url":"/v1/embeddings","body":{"messages":[{"role":"user","content":"x"}]}}',
            ],
            "no request can be sent",
        ),
        (
            [
                '{"custom_id":"a","body":{"model":"qwen-plus","messages":[{"role":"user","content":"x"}]}}',
                '{"custom_id":"b","body":{"model":"qwen-max","messages":[{"role":"user","content":"x"}]}}',
            ],
            "one model a file",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(run_cli, fake, tmp_path, lines, expected):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines), encoding="utf-8")
    r = run_cli(*b(fake, "batch", "submit", str(src)))
    assert r.code == 2 and r.out == ""
    assert expected in r.err and "\nhint: " in r.err and "Traceback" not in r.err
    assert fake.requests == []


def test_strict_stops_at_a_bad_line(run_cli, fake, tmp_path):
    src = write_input(tmp_path / "in.jsonl", 2, model="qwen-plus", extra=["[1]"])
    r = run_cli(*b(fake, "batch", "submit", str(src), "--strict"))
    assert r.code == 2 and "in.jsonl:3: a JSON list, not a request" in r.err and fake.requests == []


def test_a_line_over_the_line_limit_is_refused_naming_it(run_cli, fake, tmp_path, monkeypatch):
    from qwen_cli.batch import submit

    monkeypatch.setattr(submit, "MAX_LINE_BYTES", 100)
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps(
            {
                "custom_id": "big",
                "body": {"model": "qwen-plus", "messages": [{"role": "user", "content": "y" * 200}]},
            }
        ),
        encoding="utf-8",
    )
    r = run_cli(*b(fake, "batch", "submit", str(src)))
    assert r.code == 2 and "'big'" in r.err and "limit" in r.err and fake.requests == []


@pytest.mark.parametrize("window", ["12h", "15d", "soon"])
def test_window_out_of_range(run_cli, fake, tmp_path, window):
    src = write_input(tmp_path / "in.jsonl", 1, model="qwen-plus")
    r = run_cli(*b(fake, "batch", "submit", str(src), "--window", window))
    assert r.code == 2 and "--window must be 24h to 336h" in r.err and fake.requests == []


def submit_one(run_cli, fake, tmp_path, n: int = 4) -> str:
    src = write_input(tmp_path / "in.jsonl", n, model="qwen-plus")
    r = run_cli(*b(fake, "batch", "submit", str(src)))
    assert r.code == 0, r.err
    return str(r.out.strip())


def test_wait_follows_the_batch_to_completed_then_fetch_judges_every_line(run_cli, fake, tmp_path):
    fake.fail_in_output = {"r2"}  # a failure inside the output file: request_counts.failed stays 0
    bid = submit_one(run_cli, fake, tmp_path)
    w = run_cli(*b(fake, "batch", "wait", bid, "--interval", "0.01"))
    assert w.code == 0, w.err
    assert w.out == ""
    seen = [line.split(": ", 1)[1] for line in w.err.splitlines() if line.startswith(bid + ": ")]
    assert seen == [
        "in_progress, 0/4 done",
        "in_progress, 2/4 done",
        "finalizing, 4/4 done",
        "completed, 4/4 done",
    ]
    assert fake.batches[bid]["request_counts"]["failed"] == 0
    out = tmp_path / "results.jsonl"
    f = run_cli(*b(fake, "batch", "fetch", bid, "-o", str(out)))
    assert f.code == 1
    results = {x["custom_id"]: x for x in map(json.loads, out.read_text().splitlines())}
    assert set(results) == {"r1", "r2", "r3", "r4"}
    assert results["r1"]["answer"] == "echo: question 1" and results["r1"]["error"] is None
    assert results["r1"]["usage"]["prompt_tokens"] == len("question 1")
    assert results["r2"]["answer"] is None and results["r2"]["error"]["code"] == "invalid_parameter_error"
    assert "3 of 4 requests answered, 1 failed (1 inside the output file" in f.err
    assert "qwen: error: 1 of 4 requests failed (r2)" in f.err and "hint: " in f.err
    again = run_cli(*b(fake, "batch", "fetch", bid, "-o", str(out)))
    assert again.code == 2 and "exists" in again.err and "--force" in again.err
    assert run_cli(*b(fake, "batch", "fetch", bid, "-o", str(out), "--force")).code == 1


def test_fetch_reads_the_error_file_and_its_other_spelling(run_cli, fake, tmp_path):
    fake.fail_in_error = {"r3"}
    bid = submit_one(run_cli, fake, tmp_path)
    assert run_cli(*b(fake, "batch", "wait", bid, "--interval", "0.01")).code == 0
    f = run_cli(*b(fake, "batch", "fetch", bid))  # to stdout
    assert f.code == 1
    results = {x["custom_id"]: x for x in map(json.loads, f.out.splitlines())}
    assert results["r3"]["error"] == {
        "code": "data_inspection_failed",
        "message": "Input data may contain inappropriate content.",
    }
    assert sum(1 for x in results.values() if x["error"] is None) == 3


def test_all_good_fetch_exits_zero(run_cli, fake, tmp_path):
    bid = submit_one(run_cli, fake, tmp_path, n=2)
    run_cli(*b(fake, "batch", "wait", bid, "--interval", "0.01"))
    out = tmp_path / "r.jsonl"
    f = run_cli(*b(fake, "batch", "fetch", bid, "-o", str(out)))
    assert f.code == 0, f.err
    assert len(out.read_text().splitlines()) == 2 and not (tmp_path / "r.jsonl.part").exists()


def test_an_expired_batch_names_the_requests_that_never_ran(run_cli, fake, tmp_path):
    fake.outcome = "expired"
    bid = submit_one(run_cli, fake, tmp_path)
    w = run_cli(*b(fake, "batch", "wait", bid, "--interval", "0.01"))
    assert w.code == 1 and f"batch {bid} expired: 2 of 4 requests done" in w.err
    f = run_cli(*b(fake, "batch", "fetch", bid))
    assert f.code == 1
    results = [json.loads(x) for x in f.out.splitlines()]
    missing = [x["custom_id"] for x in results if x["error"] and x["error"]["code"] == "not_processed"]
    assert missing == ["r3", "r4"]
    assert "2 without a result" in f.err


def test_a_failed_batch_says_why(run_cli, fake, tmp_path):
    fake.outcome = "failed"
    bid = submit_one(run_cli, fake, tmp_path)
    w = run_cli(*b(fake, "batch", "wait", bid, "--interval", "0.01"))
    assert w.code == 1 and "model_not_found" in w.err and "hint: " in w.err
    f = run_cli(*b(fake, "batch", "fetch", bid))
    assert f.code == 1 and "failed: line 1: model_not_found" in f.err


def test_fetch_before_the_batch_settles_is_refused(run_cli, fake, tmp_path):
    bid = submit_one(run_cli, fake, tmp_path)
    f = run_cli(*b(fake, "batch", "fetch", bid, "-o", str(tmp_path / "r.jsonl")))
    assert f.code == 2 and "no results yet" in f.err and f"qwen batch wait {bid}" in f.err
    assert not (tmp_path / "r.jsonl").exists()


def test_cancel_then_cancelled_with_what_was_done(run_cli, fake, tmp_path):
    bid = submit_one(run_cli, fake, tmp_path)
    run_cli(*b(fake, "batch", "status", bid))  # validating -> in_progress (none done)
    c = run_cli(*b(fake, "batch", "cancel", bid))
    assert c.code == 0, c.err
    assert fake.batches[bid]["status"] == "cancelling"
    assert any(r["path"].endswith(f"/batches/{bid}/cancel") for r in fake.requests)
    w = run_cli(*b(fake, "batch", "wait", bid, "--interval", "0.01"))
    assert w.code == 1 and "cancelled" in w.err
    again = run_cli(*b(fake, "batch", "cancel", bid))
    assert again.code == 2 and "already cancelled" in again.err


def test_unknown_batch_id(run_cli, fake):
    for cmd in ("status", "wait", "fetch", "cancel"):
        r = run_cli(*b(fake, "batch", cmd, "batch_nope"))
        assert r.code == 1, (cmd, r.err)
        assert "unknown batch id batch_nope" in r.err and "hint: run `qwen batch list`" in r.err


def test_status_of_one_and_the_table_of_all(run_cli, fake, tmp_path):
    bid = submit_one(run_cli, fake, tmp_path)
    one = run_cli(*b(fake, "batch", "status", bid))
    assert one.code == 0 and f"id:          {bid}\n" in one.out and "status:      in_progress" in one.out
    assert str(tmp_path / "in.jsonl") in one.out
    js = run_cli(*b(fake, "batch", "status", bid, "--json"))
    assert json.loads(js.out)["id"] == bid
    table = run_cli(*b(fake, "batch", "list"))
    assert table.code == 0
    (row,) = table.out.splitlines()
    assert row.split("\t")[0] == bid and row.split("\t")[-1] == "in.jsonl"
    assert run_cli(*b(fake, "batch", "status")).out == table.out


def test_a_provider_without_a_batch_service_names_batch_run(run_cli, tmp_path):
    src = write_input(tmp_path / "in.jsonl", 1, model="qwen-plus")
    r = run_cli("batch", "submit", str(src), "--provider", "qwen-web", "--base-url", "http://127.0.0.1:9")
    assert r.code == 2 and "has no batch service" in r.err and "qwen batch run" in r.err


def test_a_server_without_a_batch_api(run_cli, tmp_path):
    from tests.fakeserver import FakeServer

    src = write_input(tmp_path / "in.jsonl", 1, model="qwen-plus")
    with FakeServer() as plain:
        listed = run_cli("batch", "list", "--base-url", plain.base_url)
        r = run_cli("batch", "submit", str(src), "--base-url", plain.base_url)
    assert listed.code == 1 and "hint: this server has no Batch API" in listed.err
    assert r.code == 1 and r.out == "" and "qwen batch run" in r.err


@needs_qwen
def test_installed_qwen_in_a_pipe(fake, tmp_path):
    """submit | wait | fetch with the installed binary: ids on stdout, plain progress on stderr."""
    import subprocess

    fake.fail_in_output = {"r1"}
    src = write_input(tmp_path / "in.jsonl", 3, model="qwen-plus")
    env = clean_env(DASHSCOPE_API_KEY=FAKE_KEY)

    def qwen(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([QWEN, *b(fake, *args)], capture_output=True, text=True, env=env, timeout=60)

    s = qwen("batch", "submit", str(src))
    assert s.returncode == 0, s.stderr
    bid = s.stdout.strip()
    w = qwen("batch", "wait", bid, "--interval", "0.01")
    assert w.returncode == 0 and w.stdout == "" and "\x1b" not in w.stderr
    assert f"{bid}: completed, 3/3 done" in w.stderr
    f = qwen("batch", "fetch", bid)
    assert f.returncode == 1
    assert [json.loads(x)["custom_id"] for x in f.stdout.splitlines()] == ["r1", "r2", "r3"]
    assert "qwen: error: 1 of 3 requests failed (r1)" in f.stderr and "Traceback" not in f.stderr
