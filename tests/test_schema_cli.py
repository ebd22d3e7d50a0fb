"""`qwen complete --schema` through the real error boundary, against the fake server: the
request bodies (strict json_schema vs json_object), the repair turn, invalid twice, what stdout
and stderr get, bad schemas, stdin, and what the store keeps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qwen_cli import schema
from tests import chatkit
from tests.chatkit import bodies, only_conversation
from tests.e2e import QWEN, clean_env, needs_qwen
from tests.fakeserver import FakeServer, FakeServerProcess, chat_stream_events

srv = chatkit.srv  # fixture

NAME_AGE = schema.parse("name, age int").schema
NAME_AGE_JSON = json.dumps(NAME_AGE, ensure_ascii=False)
INSTRUCTION = (
    "Answer with one JSON document only, no prose and no code fences. "
    "It must be valid against this JSON Schema:\n" + NAME_AGE_JSON
)


def says(*pieces: str, model: str = "qwen-max") -> dict[str, Any]:
    return {"sse": chat_stream_events(list(pieces), model=model)}


def test_json_object_model_pipe_gets_exactly_the_compact_json(run_cli, srv: FakeServer) -> None:
    srv.enqueue(says('{\n  "name": "Ann",', '\n  "age": 3\n}'))
    r = run_cli("complete", "--schema", "name, age int", "Ann is 3")
    assert r.code == 0, r.err
    assert r.out == '{"name":"Ann","age":3}\n'
    assert "qwen-max" in r.err  # the footer, on stderr
    (body,) = bodies(srv)
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"] == [
        {"role": "system", "content": INSTRUCTION},
        {"role": "user", "content": "Ann is 3"},
    ]
    assert "enable_thinking" not in body  # qwen-max does not think: nothing to turn off
    conv_id, (ex,) = only_conversation()
    assert ex.user.options["schema"] == NAME_AGE and ex.answer is not None
    assert ex.answer.options["schema"] == NAME_AGE and "response_format" not in ex.answer.options
    from tests.chatkit import store

    with store() as s:
        assert s.get(conv_id).system is None  # the instruction belonged to the turn only


def test_strict_model_gets_json_schema_and_thinking_off(run_cli, srv: FakeServer) -> None:
    srv.enqueue(says('{"name": "Ann", "age": 3}', model="qwen-plus-latest"))
    r = run_cli(
        "complete", "-m", "qwen-plus-latest", "--think", "-s", "be exact", "--schema", "name, age int", "x"
    )
    assert r.code == 0, r.err
    assert r.out == '{"name":"Ann","age":3}\n'
    (body,) = bodies(srv)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "strict": True, "schema": NAME_AGE},
    }
    assert body["messages"] == [{"role": "system", "content": "be exact"}, {"role": "user", "content": "x"}]
    assert body["enable_thinking"] is False
    assert "structured output is asked with thinking off" in r.err


def test_thinking_by_default_model_is_told_not_to(run_cli, srv: FakeServer) -> None:
    srv.enqueue(says('{"name": "A", "age": 1}', model="qwen3-8b"))
    r = run_cli("complete", "-m", "qwen3-8b", "--schema", "name, age int", "x")
    assert r.code == 0, r.err
    assert bodies(srv)[0]["enable_thinking"] is False
    assert "thinking off" in r.err


def test_invalid_answer_gets_one_repair_turn(run_cli, srv: FakeServer) -> None:
    bad = '```json\n{"name": "Ann", "age": "three"}\n```'
    srv.enqueue(says(bad), says('{"name": "Ann", "age": 3}'))
    r = run_cli("complete", "--schema", "name, age int", "Ann is three")
    assert r.code == 0, r.err
    assert r.out == '{"name":"Ann","age":3}\n'
    assert "$.age: 'three' is not of type 'integer'" in r.err and "correct it, once" in r.err
    first, second = bodies(srv)
    repair = (
        "Your answer does not match the required JSON Schema:\n"
        "- $.age: 'three' is not of type 'integer'\n\n"
        f"Your answer was:\n{bad}\n\n"
        "Reply with the corrected JSON document only."
    )
    assert second["messages"] == [
        {"role": "system", "content": INSTRUCTION},
        {"role": "user", "content": "Ann is three"},
        {"role": "assistant", "content": bad},
        {"role": "user", "content": repair},
    ]
    assert second["model"] == first["model"] == "qwen-max"
    assert second["response_format"] == {"type": "json_object"}
    _, exs = only_conversation()
    assert [e.answer.content for e in exs if e.answer] == [bad, '{"name": "Ann", "age": 3}']


def test_invalid_twice_exits_1_with_the_path_and_the_raw_answer(run_cli, srv: FakeServer) -> None:
    srv.enqueue(says('{"name": "Ann"}'), says("Sorry, \x1b[2Jno idea"))
    r = run_cli("complete", "--schema", "name, age int", "who?")
    assert r.code == 1
    assert r.out == ""
    lines = r.err.splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("qwen: error:"))
    assert lines[error].startswith(
        "qwen: error: the answer does not match the schema, even after one correction: "
        "$: the answer is not JSON (request id "
    )
    assert lines[error + 1].startswith("hint: the raw answer is above and kept in the history")
    assert "the model's last answer (not valid against the schema):" in r.err
    assert "Sorry, \x1b[2Jno idea" in r.err  # a pipe: the raw text as it came
    assert len(bodies(srv)) == 2  # one repair, no more
    _, exs = only_conversation()
    assert [e.answer.content for e in exs if e.answer] == ['{"name": "Ann"}', "Sorry, \x1b[2Jno idea"]


def test_multi_wraps_the_schema_in_items(run_cli, srv: FakeServer) -> None:
    srv.enqueue(says('{"items": [{"name": "A", "age": 1}, {"name": "B", "age": 2}]}'))
    r = run_cli("complete", "--schema-multi", "name, age int", "everyone")
    assert r.code == 0, r.err
    assert json.loads(r.out) == {"items": [{"name": "A", "age": 1}, {"name": "B", "age": 2}]}
    assert json.dumps(schema.wrap_multi(NAME_AGE)) in bodies(srv)[0]["messages"][0]["content"]


def test_stdin_with_a_schema_file(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    f = tmp_path / "invoice.json"
    f.write_text(
        json.dumps({"type": "object", "properties": {"total": {"type": "number"}}}), encoding="utf-8"
    )
    srv.enqueue(says('{"total": 12.5}', model="qwen-plus-latest"))
    r = run_cli(
        "complete", "-", "-m", "qwen-plus-latest", "--schema", str(f), stdin=b"Invoice 7\nTotal: 12.50\n"
    )
    assert r.code == 0, r.err
    assert r.out == '{"total":12.5}\n'
    body = bodies(srv)[0]
    assert body["messages"] == [{"role": "user", "content": "Invoice 7\nTotal: 12.50\n"}]
    assert body["response_format"]["json_schema"]["name"] == "invoice"


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ('{"type": "object",', "qwen: error: the inline schema is not valid JSON"),
        ('{"type": "objekt"}', "qwen: error: the schema is not valid JSON Schema: 'objekt' is not valid"),
        ("nope.json", "qwen: error: schema file not found: nope.json"),
        ("name, age number", "qwen: error: unknown type 'number' for the schema field 'age'"),
    ],
)
def test_bad_schema_exit_2_before_anything_is_sent(run_cli, srv: FakeServer, given: str, words: str) -> None:
    r = run_cli("complete", "--schema", given, "hi")
    assert r.code == 2 and r.out == ""
    first, second = r.err.splitlines()
    assert first.startswith(words) and second.startswith("hint: ")
    assert "Traceback" not in r.err and bodies(srv) == []


def test_invalid_schema_file_exit_2(run_cli, srv: FakeServer, tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_text('{"type": "object", "properties": {"a": {"type": 5}}}', encoding="utf-8")
    r = run_cli("complete", "--schema", str(f), "hi")
    assert r.code == 2
    assert r.err.startswith("qwen: error: the schema is not valid JSON Schema: 5 is not valid under")
    assert "(at $.properties.a.type)" in r.err and "\nhint: " in r.err and bodies(srv) == []


def test_schema_refuses_json_and_both_forms(run_cli, srv: FakeServer) -> None:
    r = run_cli("complete", "--schema", "a", "--json", "hi")
    assert r.code == 2 and "--schema already prints JSON" in r.err
    r = run_cli("complete", "--schema", "a", "--schema-multi", "a", "hi")
    assert r.code == 2 and "give --schema or --schema-multi, not both" in r.err
    assert bodies(srv) == []


def test_no_log_keeps_nothing_but_still_checks(run_cli, srv: FakeServer) -> None:
    srv.enqueue(says('{"name": "A", "age": "x"}'), says('{"name": "A", "age": 1}'))
    r = run_cli("complete", "--no-log", "--schema", "name, age int", "x")
    assert r.code == 0 and r.out == '{"name":"A","age":1}\n'
    assert len(bodies(srv)) == 2


def _loaded_after(args: list[str]) -> set[str]:
    code = (
        "import contextlib, io, sys\n"
        "from qwen_cli.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main({args!r})\n"
        "print(rc, ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    rc, loaded = p.stdout.split(" ", 1)
    return {f"rc={rc}", *loaded.split()}


def test_jsonschema_is_imported_only_with_schema() -> None:
    assert "jsonschema" not in _loaded_after(["--help"])
    with FakeServerProcess() as fake:
        env = {"QWEN_BASE_URL": fake.base_url, "DASHSCOPE_API_KEY": "sk-x"}
        import os

        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            plain = _loaded_after(["complete", "hi", "-q"])
            fake.enqueue({"sse": chat_stream_events(['{"a": "b"}'])})
            structured = _loaded_after(["complete", "hi", "-q", "--schema", "a"])
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    assert "rc=0" in plain and "jsonschema" not in plain
    assert "rc=0" in structured and "jsonschema" in structured  # the probe does see it when used


@needs_qwen
def test_installed_qwen_in_a_pipe(tmp_path: Path) -> None:
    with FakeServerProcess() as fake:
        fake.enqueue(
            {"sse": chat_stream_events(['{"name": "Ann", "age": "3"}'])},
            {"sse": chat_stream_events(['{"name": "安", "age": 3}'])},
        )
        env = clean_env(DASHSCOPE_API_KEY="sk-e2e", QWEN_BASE_URL=fake.base_url)
        p = subprocess.run(
            [QWEN, "complete", "-", "--schema", "name, age int"],
            input=b"Ann is 3",
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert p.returncode == 0, p.stderr
        assert p.stdout == '{"name":"安","age":3}\n'.encode()
        err = p.stderr.decode()
        assert "$.age: '3' is not of type 'integer'" in err and "\x1b" not in err
        sent = [r["json"] for r in fake.requests() if r["path"].endswith("/chat/completions")]
        assert [b["response_format"] for b in sent] == [{"type": "json_object"}] * 2
        assert sent[1]["messages"][-1]["content"].startswith("Your answer does not match")


def test_history_export_data(run_cli, srv: FakeServer) -> None:
    srv.enqueue(
        says('{"name": "A", "age": 1}'),
        says('{"name": "B", "age": "two"}'),  # invalid, then repaired
        says('```json\n{"name": "B", "age": 2}\n```'),
        says("nope"),  # invalid twice: nothing to export
        says("still nope"),
    )
    assert run_cli("complete", "--schema", "name, age int", "a").code == 0
    assert run_cli("complete", "plain text", "-q").code == 0
    assert run_cli("complete", "--schema", "name, age int", "b").code == 0
    assert run_cli("complete", "--schema", "name, age int", "c").code == 1
    r = run_cli("history", "export", "--data")
    assert r.code == 0, r.err
    assert r.out == '{"name":"A","age":1}\n{"name":"B","age":2}\n'
    from tests.chatkit import store

    with store() as s:
        second = sorted(s.recent(None), key=lambda c: c.created_at)[2]
    one = run_cli("history", "export", second.id[:8], "--data")
    assert (one.code, one.out) == (0, '{"name":"B","age":2}\n')
    missing = run_cli("history", "export")
    assert missing.code == 2 and missing.err.startswith("qwen: error: which conversation? give its ID")


def test_native_protocol_sends_it_inside_parameters(run_cli, srv: FakeServer) -> None:
    from tests.fakeserver import native_stream_events

    srv.enqueue({"sse": native_stream_events(['{"name": "A", "age": 1}']), "done": False})
    r = run_cli(
        "complete",
        "--provider",
        "dashscope-native",
        "-m",
        "qwen-plus-latest",
        "--schema",
        "name, age int",
        "x",
    )
    assert r.code == 0, r.err
    assert r.out == '{"name":"A","age":1}\n'
    (body,) = bodies(srv)
    assert body["parameters"]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "strict": True, "schema": NAME_AGE},
    }
    assert body["parameters"]["enable_thinking"] is False
    assert "json_mode" not in body["parameters"]
