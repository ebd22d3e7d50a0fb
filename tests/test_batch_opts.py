"""`qwen batch` with --template/-p and --schema: the bodies sent, the checked answers, the repair
request and the failure line, against the fake server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qwen_cli import config
from tests.fakeserver import FakeServer, chat_completion

SCHEMA_ARGS = ["--schema", "name, age int"]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def chats(srv: FakeServer) -> list[dict[str, Any]]:
    return [r["json"] for r in srv.requests if "chat/completions" in r["path"]]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with FakeServer() as srv:
        monkeypatch.setenv("QWEN_BASE_URL", srv.base_url)
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
        yield srv


def prompts(tmp_path: Path, *texts: str) -> Path:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "prompt": t}) + "\n" for i, t in enumerate(texts)))
    return src


def template(name: str, text: str) -> None:
    d = config.config_dir() / "templates"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.toml").write_text(text, encoding="utf-8")


def test_a_template_wraps_every_prompt_and_fills_what_was_not_given(fake, run_cli, tmp_path: Path) -> None:
    template("triage", 'system = "Label $kind tickets."\nprompt = "Ticket: $input"\ntemperature = 0.1\n')
    src = prompts(tmp_path, "printer on fire", "no coffee")
    out = tmp_path / "out.jsonl"
    r = run_cli(
        "batch", "run", str(src), "-o", str(out), "-j", "1", "-T", "triage", "-p", "kind=office", "-t", "0.7"
    )
    assert r.code == 0, r.err
    bodies = chats(fake)
    assert [b["messages"] for b in bodies] == [
        [
            {"role": "system", "content": "Label office tickets."},
            {"role": "user", "content": "Ticket: printer on fire"},
        ],
        [
            {"role": "system", "content": "Label office tickets."},
            {"role": "user", "content": "Ticket: no coffee"},
        ],
    ]
    assert all(b["temperature"] == 0.7 for b in bodies)  # the command line wins over the template
    assert {x["custom_id"]: x["answer"] for x in lines(out)} == {
        "r0": "echo: Ticket: printer on fire",
        "r1": "echo: Ticket: no coffee",
    }


def test_a_valid_answer_is_kept_as_data(fake, run_cli, tmp_path: Path) -> None:
    fake.enqueue({"match": "/chat/completions", "json": chat_completion('{"name": "Ann", "age": 3}')})
    out = tmp_path / "out.jsonl"
    r = run_cli("batch", "run", str(prompts(tmp_path, "Ann is 3")), "-o", str(out), *SCHEMA_ARGS)
    assert r.code == 0, r.err
    (body,) = chats(fake)
    assert body["response_format"] == {"type": "json_object"} and body["enable_thinking"] is False
    assert body["messages"][0]["role"] == "system" and "JSON" in body["messages"][0]["content"]
    assert '"age"' in body["messages"][0]["content"]  # the schema is in the prompt for json_object
    (line,) = lines(out)
    assert line["data"] == {"name": "Ann", "age": 3} and line["error"] is None


def test_an_invalid_answer_gets_one_repair_request(fake, run_cli, tmp_path: Path) -> None:
    fake.enqueue(
        {"match": "/chat/completions", "json": chat_completion('{"name": "Ann"}')},
        {"match": "/chat/completions", "json": chat_completion('{"name": "Ann", "age": 3}')},
    )
    out = tmp_path / "out.jsonl"
    r = run_cli("batch", "run", str(prompts(tmp_path, "Ann is 3")), "-o", str(out), *SCHEMA_ARGS)
    assert r.code == 0, r.err
    first, second = chats(fake)
    assert second["messages"][: len(first["messages"])] == first["messages"]
    assert second["messages"][-2] == {"role": "assistant", "content": '{"name": "Ann"}'}
    assert "age" in second["messages"][-1]["content"] and second["messages"][-1]["role"] == "user"
    (line,) = lines(out)
    assert line["data"] == {"name": "Ann", "age": 3}
    assert line["usage"]["total_tokens"] > 0


def test_invalid_twice_is_a_failed_line_that_keeps_the_answer(fake, run_cli, tmp_path: Path) -> None:
    fake.enqueue(
        {"match": "/chat/completions", "json": chat_completion('{"name": "Ann"}')},
        {"match": "/chat/completions", "json": chat_completion('{"name": "Ann", "age": "three"}')},
    )
    out = tmp_path / "out.jsonl"
    r = run_cli("batch", "run", str(prompts(tmp_path, "Ann is 3")), "-o", str(out), *SCHEMA_ARGS)
    assert r.code == 1
    (line,) = lines(out)
    assert line["answer"] == '{"name": "Ann", "age": "three"}'  # paid for: kept
    assert line["error"]["code"] == "schema_mismatch" and line["error"]["path"] == "$.age"
    assert "--retry-failed" in r.err


def test_a_templates_schema_shapes_the_batch(fake, run_cli, tmp_path: Path) -> None:
    template("person", 'schema = "name, age int"\n')
    fake.enqueue({"match": "/chat/completions", "json": chat_completion('{"name": "Bo", "age": 9}')})
    out = tmp_path / "out.jsonl"
    r = run_cli("batch", "run", str(prompts(tmp_path, "Bo is 9")), "-o", str(out), "-T", "person")
    assert r.code == 0, r.err
    assert lines(out)[0]["data"] == {"name": "Bo", "age": 9}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-T", "nosuch"], "nosuch"),
        (["-T", "shell"], "--shell"),
        (["--schema", "{not json"], "schema"),
        (["-p", "x=1"], "-p"),
    ],
)
def test_bad_shaping_is_refused_before_anything_is_sent(fake, run_cli, tmp_path: Path, args, words) -> None:
    r = run_cli("batch", "run", str(prompts(tmp_path, "x")), "-o", str(tmp_path / "o.jsonl"), *args)
    assert r.code == 2 and r.err.startswith("qwen: error: ") and "\nhint: " in r.err and words in r.err
    assert chats(fake) == []


def test_plan_counts_the_template_and_schema_in_the_tokens(fake, run_cli, tmp_path: Path) -> None:
    src = prompts(tmp_path, "Ann is 3")
    plain = json.loads(run_cli("batch", "plan", str(src), "--json").out)
    template("long", 'system = "' + "Be precise. " * 50 + '"\n')
    shaped = json.loads(run_cli("batch", "plan", str(src), "--json", "-T", "long", *SCHEMA_ARGS).out)
    assert shaped["input_tokens"] > plain["input_tokens"] + 50
    assert chats(fake) == []
