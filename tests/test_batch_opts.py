"""`qwen batch run/plan/submit --template/-p/--schema`: the bodies sent, each answer checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qwen_cli import config
from tests import test_batch
from tests.conftest import FAKE_KEY
from tests.fakebatch import FakeBatchServer
from tests.fakeserver import FakeServer, chat_completion
from tests.test_batch import lines, write

fake = test_batch.fake  # fixture: the fake server, QWEN_BASE_URL and a key set

NAME_AGE = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
TRANSLATE = """\
description = "translate"
system = "You translate into $lang."
prompt = "Translate to $lang, $tone:\\n\\n$input"
model = "qwen-vl-max"
temperature = 0.2
max_tokens = 77
[defaults]
tone = "plainly"
"""
INPUT = (
    '"good morning"\n'
    '{"id":"b","prompt":"thank you"}\n'
    '{"custom_id":"c","body":{"messages":[{"role":"user","content":"as written"}]}}\n'
)


def template(name: str, text: str) -> None:
    path = config.config_dir() / "templates" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def bodies(srv: FakeServer) -> list[dict[str, Any]]:
    return [r["json"] for r in srv.requests if "chat/completions" in r["path"]]


def by_prompt(srv: FakeServer) -> dict[str, dict[str, Any]]:
    return {b["messages"][-1]["content"]: b for b in bodies(srv)}


def test_a_template_with_variables_wraps_each_prompt(fake, run_cli, tmp_path: Path) -> None:
    template("tr", TRANSLATE)
    src = write(tmp_path / "in.jsonl", INPUT)
    r = run_cli("batch", "run", str(src), "-o", str(tmp_path / "o.jsonl"), "-T", "tr", "-p", "lang=French")
    assert r.code == 0, r.err
    sent = by_prompt(fake)
    assert set(sent) == {
        "Translate to French, plainly:\n\ngood morning",
        "Translate to French, plainly:\n\nthank you",
        "as written",  # a Batch-API line is sent as it is written
    }
    a = sent["Translate to French, plainly:\n\ngood morning"]
    assert a == {
        "model": "qwen-vl-max",
        "messages": [
            {"role": "system", "content": "You translate into French."},
            {"role": "user", "content": "Translate to French, plainly:\n\ngood morning"},
        ],
        "stream": False,
        "temperature": 0.2,
        "max_tokens": 77,
        "enable_thinking": False,
    }
    c = sent["as written"]
    assert c["messages"] == [{"role": "user", "content": "as written"}]
    assert c["model"] == "qwen-vl-max" and c["temperature"] == 0.2  # what the line leaves unset
    out = {x["custom_id"]: x["answer"] for x in lines(tmp_path / "o.jsonl")}
    assert out["1"] == "echo: Translate to French, plainly:\n\ngood morning"


def test_explicit_options_win_over_the_template(fake, run_cli, tmp_path: Path) -> None:
    template("tr", TRANSLATE)
    src = write(tmp_path / "in.jsonl", '"hi"\n')
    args = ["-T", "tr", "-p", "lang=German", "-p", "tone=warmly", "-m", "qwen-max", "-s", "Be terse."]
    r = run_cli("batch", "run", str(src), "-o", str(tmp_path / "o.jsonl"), *args, "--temperature", "0.9")
    assert r.code == 0, r.err
    (body,) = bodies(fake)
    assert body["model"] == "qwen-max" and body["temperature"] == 0.9 and body["max_tokens"] == 77
    assert body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Translate to German, warmly:\n\nhi"},
    ]


def test_schema_on_a_strict_model_and_on_a_json_object_one(fake, run_cli, tmp_path: Path) -> None:
    src = write(
        tmp_path / "in.jsonl",
        '{"id":"s","prompt":"strict one","model":"qwen-plus-latest"}\n'
        '{"id":"j","prompt":"plain one","system":"Be exact.","model":"qwen-vl-max"}\n',
    )
    r = run_cli(
        "batch", "run", str(src), "-o", str(tmp_path / "o.jsonl"), "--schema", "name, age int", "--think"
    )
    assert "structured output is asked with thinking off" in r.err
    sent = by_prompt(fake)
    strict, plain = sent["strict one"], sent["plain one"]
    assert strict["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "strict": True, "schema": NAME_AGE},
    }
    assert strict["messages"] == [{"role": "user", "content": "strict one"}]
    assert plain["response_format"] == {"type": "json_object"}
    system = plain["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("Be exact.\n\nAnswer with one JSON")
    assert json.dumps(NAME_AGE, ensure_ascii=False) in system["content"]
    assert all(b["enable_thinking"] is False and "thinking_budget" not in b for b in (strict, plain))


def test_a_valid_answer_gets_its_data(fake, run_cli, tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", json.dumps('{"name": "Ann", "age": 3}') + "\n")
    out = tmp_path / "o.jsonl"
    r = run_cli(
        "batch", "run", str(src), "-o", str(out), "-m", "qwen-plus-latest", "--schema", "name, age int"
    )
    assert r.code == 0, r.err
    (line,) = lines(out)
    assert line["data"] == {"name": "Ann", "age": 3} and line["error"] is None
    assert "repaired" not in line and len(bodies(fake)) == 1


def test_an_invalid_answer_is_repaired_once(fake, run_cli, tmp_path: Path) -> None:
    fake.enqueue(
        {
            "json": chat_completion(
                "Ann is three", usage={"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
            )
        },
        {
            "json": chat_completion(
                '{"name":"Ann","age":3}',
                usage={"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39},
            )
        },
    )
    src = write(tmp_path / "in.jsonl", '"who is Ann?"\n')
    out = tmp_path / "o.jsonl"
    r = run_cli("batch", "run", str(src), "-o", str(out), "-m", "qwen-vl-max", "--schema", "name, age int")
    assert r.code == 0, r.err
    first, repair = bodies(fake)
    assert repair["messages"][:-2] == first["messages"]
    assert repair["messages"][-2] == {"role": "assistant", "content": "Ann is three"}
    assert repair["messages"][-1]["content"].startswith(
        "Your answer does not match the required JSON Schema:\n- $:"
    )
    assert "Your answer was:\nAnn is three" in repair["messages"][-1]["content"]
    assert repair["response_format"] == first["response_format"] == {"type": "json_object"}
    (line,) = lines(out)
    assert line["data"] == {"name": "Ann", "age": 3} and line["repaired"] is True and line["error"] is None
    assert line["first_answer"] == "Ann is three"  # paid for: kept
    assert line["usage"] == {"prompt_tokens": 40, "completion_tokens": 13, "total_tokens": 53}


def test_invalid_twice_is_a_failure_line_with_the_path_and_the_raw_answer(
    fake, run_cli, tmp_path: Path
) -> None:
    fake.enqueue(
        {"json": chat_completion('{"name":"Ann","age":"three"}')},
        {"json": chat_completion('{"name":"Ann","age":"3"}')},
    )
    src = write(tmp_path / "in.jsonl", '"who is Ann?"\n')
    out = tmp_path / "o.jsonl"
    args = ["batch", "run", str(src), "-o", str(out), "-m", "qwen-plus-latest", "--schema", "name, age int"]
    r = run_cli(*args)
    assert r.code == 1 and "1 failed" in r.err and "Traceback" not in r.err
    (line,) = lines(out)
    assert line["answer"] == '{"name":"Ann","age":"3"}' and line["data"] is None
    assert line["first_answer"] == '{"name":"Ann","age":"three"}'
    assert line["error"]["code"] == "schema_mismatch" and line["error"]["path"] == "$.age"
    assert "'3' is not of type 'integer'" in line["error"]["message"]
    assert len(bodies(fake)) == 2
    fake.enqueue({"json": chat_completion('{"name":"Ann","age":3}')})
    again = run_cli(*args, "--retry-failed")  # the failed line is sent again
    assert again.code == 0, again.err
    assert [x["data"] for x in lines(out)] == [{"name": "Ann", "age": 3}]
    assert len(bodies(fake)) == 3


BAD = [
    (["-T", "nosuch"], "nosuch"),
    (["--schema", "name, age integer"], "unknown type 'integer'"),
    (["--schema", "{not json"], "not valid JSON"),
    (["-T", "shell"], "qwen batch has no shell mode"),
    (["-T", "tr"], "no value for the variable $lang"),
    (["-p", "lang=French"], "no --template was given"),
]
JSON_MODE = (["--schema", "a", "--json-mode"], "--json-mode and --schema")  # submit has no --json-mode


@pytest.mark.parametrize(
    ("command", "args", "words"),
    [(c, *bad) for c in ("run", "plan", "submit") for bad in BAD]
    + [(c, *JSON_MODE) for c in ("run", "plan")],
)
def test_a_bad_template_or_schema_sends_nothing(
    fake,
    run_cli,
    tmp_path: Path,
    command: str,
    args: list[str],
    words: str,
) -> None:
    template("tr", TRANSLATE)
    src = write(tmp_path / "in.jsonl", '"hi"\n')
    out = tmp_path / "o.jsonl"
    extra = ["-o", str(out)] if command == "run" else []
    r = run_cli("batch", command, str(src), *extra, *args)
    assert r.code == 2, r.err
    assert r.err.startswith("qwen: error: ") and words in r.err and "\nhint: " in r.err, r.err
    assert "Traceback" not in r.err and r.out == ""
    assert fake.requests == [] and not out.exists()


def test_plan_counts_what_the_template_and_schema_add(run_cli, tmp_path: Path) -> None:
    template("tr", TRANSLATE)
    src = write(tmp_path / "in.jsonl", '"good morning"\n"thank you"\n')

    def tokens(*args: str) -> int:
        r = run_cli("batch", "plan", str(src), "--json", "-m", "qwen-plus-latest", *args)
        assert r.code == 0, r.err
        return int(json.loads(r.out)["input_tokens"])

    bare = tokens()
    wrapped = tokens("-T", "tr", "-p", "lang=French")
    strict = tokens("--schema", "name, age int")  # the schema travels in response_format
    in_prompt = tokens("--schema", "name, age int", "-m", "qwen-vl-max")  # in the system prompt
    assert bare < wrapped and bare < strict < in_prompt
    r = run_cli("batch", "plan", str(src), "-T", "tr", "-p", "lang=French")
    assert r.code == 0 and "qwen-vl-max (2)" in r.out  # the template's model


def test_submit_sends_the_shaped_bodies_and_fetch_checks_the_answers(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    template("x", 'prompt = "Extract: $input"\nmodel = "qwen-plus-latest"\nschema = "name, age int"\n')
    src = write(
        tmp_path / "in.jsonl",
        '{"id":"ok","prompt":"{\\"name\\": \\"Bo\\", \\"age\\": 7}"}\n{"id":"bad","prompt":"no json here"}\n',
    )
    with FakeBatchServer() as fb:
        url = ["--base-url", fb.base_url]
        r = run_cli("batch", "submit", str(src), "-T", "x", *url)
        assert r.code == 0, r.err
        bid = r.out.strip()
        ups = [f for f in fb.files.values() if f["purpose"] == "batch"]
        (up,) = ups
        sent = {x["custom_id"]: x["body"] for x in map(json.loads, fb.file_contents[up["id"]].splitlines())}
        assert sent["bad"]["messages"] == [{"role": "user", "content": "Extract: no json here"}]
        assert sent["bad"]["response_format"]["json_schema"]["schema"] == NAME_AGE
        assert sent["ok"]["enable_thinking"] is False and sent["ok"]["model"] == "qwen-plus-latest"
        assert run_cli("batch", "wait", bid, "--interval", "0.01", *url).code == 0
        out = tmp_path / "r.jsonl"
        f = run_cli("batch", "fetch", bid, "-o", str(out), *url)
    assert f.code == 1 and "1 of 2 requests failed (bad)" in f.err, f.err
    got = {x["custom_id"]: x for x in lines(out)}
    assert got["ok"]["data"] == {"name": "Bo", "age": 7} and got["ok"]["error"] is None
    assert got["bad"]["error"]["code"] == "schema_mismatch" and got["bad"]["error"]["path"] == "$"
    assert got["bad"]["answer"] == "echo: Extract: no json here" and got["bad"]["data"] is None
