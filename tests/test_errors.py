"""Error bodies of any shape become one readable message; pages and odd answers are named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qwen_cli import errors as e
from qwen_cli.providers.dashscope import DashScope

PORTAL = (
    "<!DOCTYPE html>\n<html><head><title>Hotel WiFi - Sign in</title><style>b{}</style></head>"
    "<body><form>Room number</form></body></html>"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": {"message": ["a", 1]}}, "a; 1"),
        ({"error": {"message": {"why": "x"}}}, '{"why": "x"}'),
        ({"detail": [{"loc": ["body"], "msg": "field required"}, {"msg": "bad"}]}, "field required; bad"),
        ({"message": ["only", None, "strings"]}, "only; strings"),
        ({"error": "plain"}, "plain"),
        ({"code": "X", "message": 42}, "42"),
    ],
)
def test_messages_of_any_shape_read_as_text(body: Any, message: str) -> None:
    assert e.parse_error_body(json.dumps(body).encode())[1] == message


def test_an_html_page_sent_with_200_is_named_with_a_hint() -> None:
    err = e.error_for_status(200, PORTAL.encode())
    assert isinstance(err, e.BadResponseError) and err.exit_code == 1
    assert err.message == (
        "the server sent an HTML page ('Hotel WiFi - Sign in'), not an API answer: a proxy or captive portal?"
    )
    assert err.hint and "--base-url" in err.hint
    assert "<" not in err.message


def test_an_html_error_page_keeps_its_status_class() -> None:
    err = e.error_for_status(502, b"<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>")
    assert isinstance(err, e.ServerError)
    assert err.message == "HTTP 502, an HTML page ('502 Bad Gateway nginx')"


def test_json_nested_too_deep_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        e.loads_json("[" * 100_000 + "]" * 100_000)
    assert e.parse_error_body(b"[" * 100_000)[1] == "[" * 300


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("not json at all", "not a JSON object: 'not json at all'"),
        ([1, 2], "not a JSON object: JSON list"),
        (PORTAL, "an HTML page ('Hotel WiFi - Sign in'), not an API answer"),
        ({"id": "x"}, "no readable `choices` field"),
        ({"choices": 3}, "no readable `choices` field"),
    ],
)
def test_an_unreadable_answer_is_one_bad_response_error(body: Any, says: str) -> None:
    with pytest.raises(e.BadResponseError) as info:
        DashScope(base_url="http://x/v1", api_key="k").parse_completion(body)
    assert says in info.value.message and info.value.hint


def test_model_lists_tolerate_odd_entries_and_name_an_unreadable_data_field() -> None:
    p = DashScope(base_url="http://x/v1", api_key="k")
    models = p.parse_models(
        {"data": [{"id": "a", "created": 1.5}, {"id": "b"}, {"id": 3}, {"no": "id"}, "x", {"id": ""}]}
    )
    assert [m.id for m in models] == ["a", "b"]
    assert [m.id for m in p.parse_models([{"id": "bare-list"}])] == ["bare-list"]
    for body in ({"object": "list"}, {"data": {"id": "a"}}):
        with pytest.raises(e.BadResponseError, match="`data` field is missing or not a list"):
            p.parse_models(body)
    with pytest.raises(e.BadResponseError, match="captive portal"):
        p.parse_models(PORTAL)
