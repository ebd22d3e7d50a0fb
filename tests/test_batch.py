"""`qwen batch`: inputs, plan, and the local engine against the fake server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServer, error_spec


def lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def sent_prompts(srv) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["json"]["messages"][-1]["content"] for r in srv.requests if "chat/completions" in r["path"]]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with FakeServer() as srv:
        monkeypatch.setenv("QWEN_BASE_URL", srv.base_url)
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
        yield srv


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


MIXED = (
    '{"custom_id":"a","body":{"model":"qwen-plus",'
    '"messages":[{"role":"user","content":"hi A"}],"temperature":0.5}}\n'
    '{"id":"b","prompt":"hello B","system":"be brief","max_tokens":50}\n'
    '"bare C"\n'
    "\n"
    "not json\n"
    '{"id":"b","prompt":"dup"}\n'
)


def test_every_jsonl_shape_becomes_a_body_with_thinking_said(fake, run_cli, tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", MIXED)
    r = run_cli("batch", "run", str(src), "-o", str(tmp_path / "out.jsonl"), "-m", "qwen-max")
    assert r.code == 0, r.err
    bodies = {r["json"]["messages"][-1]["content"]: r["json"] for r in fake.requests}
    assert set(bodies) == {"hi A", "hello B", "bare C"}
    a, b, c = bodies["hi A"], bodies["hello B"], bodies["bare C"]
    assert a["model"] == "qwen-plus" and a["temperature"] == 0.5  # the line's own fields win
    assert b["model"] == "qwen-max" and b["max_tokens"] == 50
    assert b["messages"][0] == {"role": "system", "content": "be brief"}
    assert all(x["enable_thinking"] is False and x["stream"] is False for x in (a, b, c))
    assert "in.jsonl:5: not JSON" in r.err and "in.jsonl:6: duplicate id 'b' (first on line 2)" in r.err
    out = {x["custom_id"]: x for x in lines(tmp_path / "out.jsonl")}
    assert set(out) == {"a", "b", "3"} and out["3"]["answer"] == "echo: bare C"
    assert out["b"]["usage"]["total_tokens"] > 0 and out["b"]["error"] is None


def test_strict_stops_at_the_first_bad_line_and_sends_nothing(fake, run_cli, tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", MIXED)
    r = run_cli("batch", "run", str(src), "-o", str(tmp_path / "o.jsonl"), "--strict")
    assert r.code == 2 and "qwen: error: " in r.err and "in.jsonl:5: not JSON" in r.err and "hint: " in r.err
    assert fake.requests == [] and not (tmp_path / "o.jsonl").exists()


def test_csv_columns_and_the_missing_column(fake, run_cli, tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", 'id,text\nx1,hello csv\nx2,\nx3,"multi, comma"\n')
    out = tmp_path / "c.jsonl"
    r = run_cli("batch", "run", str(src), "-o", str(out), "--prompt-column", "text", "--id-column", "id")
    assert r.code == 0, r.err
    assert {x["custom_id"]: x["answer"] for x in lines(out)} == {
        "x1": "echo: hello csv",
        "x3": "echo: multi, comma",
    }
    assert "t.csv:3: an empty 'text'" in r.err
    r = run_cli("batch", "run", str(src), "-o", str(tmp_path / "d.jsonl"))
    assert r.code == 2 and "no prompt column (its columns: id, text)" in r.err and "--prompt-column" in r.err
    r = run_cli("batch", "run", str(src), "-o", str(tmp_path / "d.jsonl"), "--prompt-column", "body")
    assert r.code == 2 and "no column 'body'" in r.err


def test_files_dir_one_request_per_file(fake, run_cli, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    write(docs / "a.txt", "doc one")
    write(docs / "sub" / "b.md", "doc two")
    write(docs / "skip.bin", "x")
    out = tmp_path / "d.jsonl"
    r = run_cli("batch", "run", "--files", str(docs), "-o", str(out), "--think")
    assert r.code == 0, r.err
    assert {x["custom_id"]: x["answer"] for x in lines(out)} == {
        "a.txt": "echo: doc one",
        "sub/b.md": "echo: doc two",
    }
    assert all(req["json"]["enable_thinking"] is True for req in fake.requests)


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_empty_file_is_one_clear_error(run_cli, tmp_path: Path, text: str) -> None:
    src = write(tmp_path / "e.jsonl", text)
    r = run_cli("batch", "plan", str(src))
    assert r.code == 2 and r.err.startswith("qwen: error: ") and "no requests" in r.err and "hint:" in r.err


def test_plan_counts_prices_and_problems_and_sends_nothing(run_cli, tmp_path: Path) -> None:
    rows = [json.dumps({"id": f"r{i}", "prompt": "x" * 400}) for i in range(10)]
    rows.append(json.dumps({"id": "big", "prompt": "y" * 200_000}))
    rows += ["{oops", json.dumps({"id": "r1", "prompt": "again"})]
    src = write(tmp_path / "p.jsonl", "\n".join(rows) + "\n")
    r = run_cli("batch", "plan", str(src), "-m", "qwen-max", "--max-tokens", "100", "--json")
    assert r.code == 0, r.err
    p = json.loads(r.out)
    assert p["requests"] == 11 and p["models"] == {"qwen-max": 11}
    # 10 x (4 overhead + 100) + (4 + 50,000): the estimate context trimming uses
    assert p["input_tokens"] == 10 * 104 + 50_004 and p["output_tokens"] == 1_100
    # qwen-max, Beijing: ¥2.4 in / ¥9.6 out per million; the Batch API half of it
    want = (51_044 * 2.4 + 1_100 * 9.6) / 1e6
    assert p["cost"]["currency"] == "¥" and p["cost"]["realtime"] == pytest.approx(want, abs=1e-6)
    assert p["cost"]["batch"] == pytest.approx(want / 2, abs=1e-6)
    assert p["rate_limits"] == {"rpm": 600, "tpm": 1_000_000, "source": "catalogue"}
    assert p["minutes"] == pytest.approx(max(11 / 600, 52_144 / 1_000_000), abs=1e-6)
    problems = {x["line"]: x["message"] for x in p["problems"]}
    assert "not JSON" in problems[12] and "duplicate id 'r1'" in problems[13]
    assert "over qwen-max's 30,720" in problems[11]
    r = run_cli("batch", "plan", str(src), "--rpm", "60")
    assert r.code == 0 and "requests  11 (3 problem(s) below)" in r.out and "at 60 rpm" in r.out


def test_dry_run_prints_the_plan_and_sends_nothing(fake, run_cli, tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", '"one"\n"two"\n')
    r = run_cli("batch", "run", str(src), "-o", str(tmp_path / "o.jsonl"), "--dry-run")
    assert r.code == 0 and "requests  2" in r.out
    assert fake.requests == [] and not (tmp_path / "o.jsonl").exists()


def test_429s_on_a_schedule_finish_without_duplicates(fake, run_cli, tmp_path: Path) -> None:
    n = 200
    src = write(tmp_path / "in.jsonl", "".join(json.dumps(f"p{i}") + "\n" for i in range(n)))
    for _ in range(5):  # bursts of 429s among the answers
        fake.enqueue(
            error_spec(
                429, "Requests rate limit exceeded", "limit_requests", headers={"Retry-After": "0"}, repeat=4
            )
        )
        fake.enqueue({"match": "/never", "status": 200})  # a spacer that never matches: keeps order
    out = tmp_path / "o.jsonl"
    r = run_cli("batch", "run", str(src), "-o", str(out), "-j", "16")
    assert r.code == 0, r.err
    got = lines(out)
    assert sorted(x["custom_id"] for x in got) == sorted(str(i) for i in range(1, n + 1))
    assert all(x["error"] is None for x in got)
    assert "rate-limited, retried" in r.err
    prompts = sent_prompts(fake)
    assert len(prompts) == n + 20 and len(set(prompts)) == n  # each 429 once more, nothing else twice


def test_a_failed_request_is_kept_and_retry_failed_sends_only_it(fake, run_cli, tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", '"good"\n"bad"\n')
    fake.enqueue(error_spec(400, "bad input", "invalid_parameter_error", match="chat"))
    out = tmp_path / "o.jsonl"
    r = run_cli("batch", "run", str(src), "-o", str(out), "-j", "1", "--no-cache")
    assert r.code == 1 and "1 answered, 1 failed" in r.err and "--retry-failed" in r.err
    failed = [x for x in lines(out) if x["error"]]
    assert (
        failed[0]["custom_id"] == "1" and failed[0]["error"]["status"] == 400 and failed[0]["answer"] is None
    )
    fake.reset()
    r = run_cli("batch", "run", str(src), "-o", str(out), "--retry-failed", "--no-cache")
    assert r.code == 0, r.err
    assert sent_prompts(fake) == ["good"]
    assert sorted((x["custom_id"], x["error"]) for x in lines(out)) == [("1", None), ("2", None)]


def test_output_exists_refused_then_force_and_cache_costs_nothing(fake, run_cli, tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", '"one"\n"two"\n')
    out = write(tmp_path / "o.jsonl", '{"mine": true}\n')
    r = run_cli("batch", "run", str(src), "-o", str(out))
    assert r.code == 2 and "o.jsonl exists" in r.err and "--append" in r.err and "--force" in r.err
    assert out.read_text() == '{"mine": true}\n' and fake.requests == []
    assert run_cli("batch", "run", str(src), "-o", str(out), "--force").code == 0
    assert len(fake.requests) == 2
    r = run_cli("batch", "run", str(src), "-o", str(out), "--force")
    assert r.code == 0 and len(fake.requests) == 2  # the cache answered: nothing sent
    assert "0 answered, 0 failed, 2 from cache" in r.err
    assert [x["cached"] for x in lines(out)] == [True, True]
    r = run_cli("batch", "run", str(src), "-o", str(out), "--force", "--no-cache")
    assert r.code == 0 and len(fake.requests) == 4


def test_append_adds_to_an_existing_output(fake, run_cli, tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", '"one"\n')
    out = write(tmp_path / "o.jsonl", '{"mine": true}')  # no final newline
    assert run_cli("batch", "run", str(src), "-o", str(out), "--append").code == 0
    got = lines(out)
    assert got[0] == {"mine": True} and got[1]["answer"] == "echo: one"


def test_ordered_output_is_in_input_order(fake, run_cli, tmp_path: Path) -> None:
    src = write(
        tmp_path / "in.jsonl",
        "".join(json.dumps({"id": f"k{i}", "prompt": f"p{i}"}) + "\n" for i in range(30)),
    )
    for _ in range(0, 30, 3):  # some answers come late
        fake.enqueue(
            {"match": "chat", "delay_before": 0.05, "json": {"choices": [{"message": {"content": "late"}}]}}
        )
    out = tmp_path / "o.jsonl"
    assert run_cli("batch", "run", str(src), "-o", str(out), "-j", "8", "--ordered").code == 0
    assert [x["custom_id"] for x in lines(out)] == [f"k{i}" for i in range(30)]


def test_a_refused_key_stops_the_run_with_one_error(fake, run_cli, tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", "".join(json.dumps(f"p{i}") + "\n" for i in range(20)))
    fake.enqueue(error_spec(401, "Incorrect API key provided.", "invalid_api_key", repeat=100))
    r = run_cli("batch", "run", str(src), "-o", str(tmp_path / "o.jsonl"), "-j", "1")
    assert r.code == 3 and r.err.count("qwen: error: ") == 1 and "Traceback" not in r.err
    assert len(fake.requests) == 1


def test_append_and_force_together_refused(run_cli, tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", '"x"\n')
    r = run_cli("batch", "run", str(src), "-o", "o.jsonl", "--append", "--force")
    assert r.code == 2 and "give one of them" in r.err


@needs_qwen
def test_kill_9_mid_run_then_the_same_command_sends_only_the_missing(tmp_path: Path) -> None:
    n = 60
    src = write(tmp_path / "in.jsonl", "".join(json.dumps(f"p{i}") + "\n" for i in range(n)))
    out = tmp_path / "o.jsonl"
    with FakeServer() as srv:
        srv.enqueue(
            {
                "match": "chat",
                "delay_before": 0.1,
                "json": {"choices": [{"message": {"content": "ok"}}]},
                "repeat": 1000,
            }
        )
        env = clean_env(QWEN_BASE_URL=srv.base_url, DASHSCOPE_API_KEY="sk-test")
        cmd = [QWEN, "batch", "run", str(src), "-o", str(out), "-j", "4", "--no-cache"]
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while (not out.exists() or len(out.read_text().splitlines()) < 12) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        answered = {x["custom_id"] for x in lines(out)}
        assert 12 <= len(answered) < n
        first = len(srv.requests)
        srv.requests.clear()
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        again = [req["json"]["messages"][-1]["content"] for req in srv.requests]
    resent = {f"p{int(cid) - 1}" for cid in answered} & set(again)
    assert resent == set()  # nothing answered before the kill is paid for twice
    assert len(again) == n - len(answered) and len(again) <= n - first + 4
    got = lines(out)
    assert sorted(int(x["custom_id"]) for x in got) == list(range(1, n + 1))
    assert f"{len(answered)} answered before" in r.stderr


def test_the_progress_line_says_when_429s_hold_the_run_back() -> None:
    import time

    from qwen_cli.batch.local import Counts
    from qwen_cli.cli.batch_progress import status_line

    c = Counts(to_send=10)
    assert "429" not in status_line(c)
    c.rate_limited, c.paused_until = 3, time.monotonic() + 4.2
    assert "· 429 ×3, waiting 4s ·" in status_line(c)
    c.paused_until = time.monotonic() - 1  # the pause is over: only the count stays
    assert "· 429 ×3 ·" in status_line(c)


def test_a_guessed_pause_doubles_up_to_a_few_seconds_and_a_retry_after_is_honoured() -> None:
    from qwen_cli.batch.ratelimit import MAX_GUESSED_PAUSE, Limits, Pacer

    now = [100.0]
    pacer = Pacer(Limits(None, None, "none"), 16, clock=lambda: now[0])
    pauses = []
    for _ in range(8):
        pauses.append(pacer.rate_limited_by(None))
        now[0] = pacer.paused_until  # the next 429 comes when the pause is over
    assert pauses == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0] and MAX_GUESSED_PAUSE == 8.0
    assert pacer.window == 1.0
    assert pacer.rate_limited_by(30.0) == 30.0  # the server said how long
