"""qwen_cli.schema: reading SCHEMA (file, inline JSON, concise list), the request side, and
checking an answer (its JSON found even in a fence, each violation with its JSON path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qwen_cli import catalog, schema
from qwen_cli.errors import UsageError


@pytest.mark.parametrize(
    ("given", "properties"),
    [
        ("name", {"name": {"type": "string"}}),
        ("name, age int", {"name": {"type": "string"}, "age": {"type": "integer"}}),
        (
            "name, age int, tags list[str]: what they are",
            {
                "name": {"type": "string"},
                "age": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "what they are"},
            },
        ),
        (
            " score float , ok bool,  ids list[int] ,",
            {
                "score": {"type": "number"},
                "ok": {"type": "boolean"},
                "ids": {"type": "array", "items": {"type": "integer"}},
            },
        ),
        ("title str: the title", {"title": {"type": "string", "description": "the title"}}),
        ("notes list", {"notes": {"type": "array", "items": {"type": "string"}}}),
        # several lines: one field a line, so a description may hold commas
        (
            "name: first, then last\nage int: in years, rounded down",
            {
                "name": {"type": "string", "description": "first, then last"},
                "age": {"type": "integer", "description": "in years, rounded down"},
            },
        ),
    ],
)
def test_concise_fields(given: str, properties: dict[str, object]) -> None:
    shape = schema.parse(given)
    assert shape.schema == {"type": "object", "properties": properties, "required": list(properties)}
    assert shape.name == "answer" and not shape.multi


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("name, age integer", "unknown type 'integer' for the schema field 'age'"),
        ("tags list[dict]", "unknown type 'list[dict]'"),
        ("name, name int", "names the field 'name' twice"),
        (", ,", "names no fields"),
        ("  ", "the schema is empty"),
    ],
)
def test_concise_mistakes_are_usage_errors(given: str, words: str) -> None:
    with pytest.raises(UsageError) as e:
        schema.parse(given)
    assert words in e.value.message
    assert e.value.hint and e.value.exit_code == 2


def test_inline_json_and_file(tmp_path: Path) -> None:
    doc = {"title": "Invoice", "type": "object", "properties": {"total": {"type": "number"}}}
    inline = schema.parse(json.dumps(doc))
    assert inline.schema == doc and inline.name == "Invoice"
    f = tmp_path / "my invoice.json"
    f.write_text(json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}}), encoding="utf-8")
    from_file = schema.parse(str(f))
    assert from_file.schema["properties"] == {"n": {"type": "integer"}}
    assert from_file.name == "my_invoice"  # a name the API accepts


def test_multi_wraps_in_items() -> None:
    shape = schema.parse("name, age int", multi=True)
    inner = schema.parse("name, age int").schema
    assert shape.schema == {
        "type": "object",
        "properties": {"items": {"type": "array", "items": inner}},
        "required": ["items"],
    }
    assert shape.multi and shape.name == "answer_items"


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ('{"type": "object", "properties": ', "the inline schema is not valid JSON: Expecting value (line 1"),
        ("[1, 2]", "is a JSON list, not an object"),
        ('{"type": "strnig"}', "the schema is not valid JSON Schema: 'strnig' is not valid under"),
        ('{"type": "object", "required": "name"}', "(at $.required)"),
        ("missing.json", "schema file not found: missing.json"),
        ("./nope/s", "schema file not found"),
    ],
)
def test_bad_schemas_are_usage_errors(given: str, words: str) -> None:
    with pytest.raises(UsageError) as e:
        schema.parse(given)
    assert words in e.value.message
    assert e.value.exit_code == 2 and e.value.hint


def test_bad_schema_file(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_text('{"type": "object",}', encoding="utf-8")
    with pytest.raises(UsageError, match=r"the schema file .*s\.json is not valid JSON"):
        schema.parse(str(f))
    f.write_bytes(b"\xff\xfe{}")
    with pytest.raises(UsageError, match="cannot read the schema file"):
        schema.parse(str(f))


def test_response_format_strict_where_the_catalogue_says_so() -> None:
    shape = schema.parse("name, age int")
    strict = catalog.lookup("qwen-plus-latest")
    assert strict.json_schema
    assert schema.response_format(shape, strict) == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "strict": True, "schema": shape.schema},
    }
    assert schema.system_text(shape, strict) is None
    plain = catalog.lookup("qwen-max")
    assert not plain.json_schema
    assert schema.response_format(shape, plain) == {"type": "json_object"}
    text = schema.system_text(shape, plain)
    assert text is not None and "JSON" in text and json.dumps(shape.schema) in text


@pytest.mark.parametrize(
    "answer",
    [
        '{"name": "Ann", "age": 3}',
        '```json\n{"name": "Ann", "age": 3}\n```',
        'Here it is:\n```\n{"name": "Ann", "age": 3}\n```\nAnything else?',
        'Sure! {"name": "Ann", "age": 3} Hope it helps.',
    ],
)
def test_check_finds_the_json(answer: str) -> None:
    data, problems = schema.check(answer, schema.parse("name, age int").schema)
    assert problems == [] and data == {"name": "Ann", "age": 3}


def test_check_reports_each_violation_with_its_path() -> None:
    shape = schema.parse("name, age int", multi=True)
    answer = json.dumps({"items": [{"name": "Ann", "age": 3}, {"name": 7, "age": "old"}, {"name": "Bo"}]})
    data, problems = schema.check(answer, shape.schema)
    assert data["items"][0] == {"name": "Ann", "age": 3}
    assert [str(p) for p in problems] == [
        "$.items[1].age: 'old' is not of type 'integer'",
        "$.items[1].name: 7 is not of type 'string'",
        "$.items[2]: 'age' is a required property",
    ]


def test_check_without_json() -> None:
    _, problems = schema.check("I cannot do that.", {"type": "object"})
    assert len(problems) == 1 and problems[0].path == "$"
    assert problems[0].message == "the answer is not JSON"
    _, problems = schema.check('{"a": 1,}', {"type": "object"})
    assert problems[0].message.startswith("the answer's JSON does not parse: Expecting property name")
    _, problems = schema.check("", {"type": "object"})
    assert problems[0].message == "the answer is empty"


def test_json_path_quotes_odd_keys() -> None:
    assert schema.json_path(["a", 0, "two words", "ключ"]) == '$.a[0]["two words"]["ключ"]'


def test_repair_text_carries_the_errors_and_the_answer() -> None:
    text = schema.repair_text('{"age": "x"}', [schema.Violation("$.age", "'x' is not of type 'integer'")])
    assert "- $.age: 'x' is not of type 'integer'" in text
    assert 'Your answer was:\n{"age": "x"}\n' in text


def test_dumps_pretty_and_compact() -> None:
    data = {"name": "安", "n": [1, 2]}
    assert schema.dumps(data, pretty=False) == '{"name":"安","n":[1,2]}'
    assert schema.dumps(data, pretty=True) == '{\n  "name": "安",\n  "n": [\n    1,\n    2\n  ]\n}'
