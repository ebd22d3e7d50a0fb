"""Error bodies of any shape become one readable message; pages and odd answers are named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qwen_cli import errors as e
from qwen_cli.attachments import Problems
from qwen_cli.cli.hints import hint_for
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
    assert "--base-url" in (hint_for(err) or "")
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
    assert says in info.value.message and hint_for(info.value)


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


def _samples() -> list[e.QwenAPIError]:
    kw: dict[str, Any] = {"status_code": 429, "code": "c", "body": {"b": 1}, "request_id": "r", "hint": "h"}
    return [
        e.QwenAPIError("m", **kw),
        e.UsageError("m", hint="h"),
        e.RateLimitError("m", retry_after=7.5, **kw),
        e.StreamInterruptedError("m", partial="half an answ", **kw),
        e.StoreError("m", path="/x/qwen.db", damaged=True, hint="h"),
        e.ServerError("m", origin=e.ORIGIN_FILES_API, **kw),
        Problems([e.UsageError("one"), e.UsageError("two")]),
    ]


@pytest.mark.parametrize("err", _samples(), ids=lambda x: type(x).__name__)
def test_an_error_cannot_be_changed_once_made(err: e.QwenAPIError) -> None:
    for name in ("message", "hint", "status_code", "origin", "retry_after", "partial", "anything"):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(err, name, "changed")
    with pytest.raises(AttributeError, match="immutable"):
        del err.hint
    assert err.message != "changed" and err.hint != "changed"
    err.add_note("Python's own bookkeeping still works")  # __notes__, __cause__, __traceback__
    try:
        raise err from ValueError("cause")
    except e.QwenAPIError as raised:
        assert isinstance(raised.__cause__, ValueError) and raised.__traceback__ is not None


@pytest.mark.parametrize("err", _samples(), ids=lambda x: type(x).__name__)
def test_evolve_makes_a_new_error_with_every_other_field_kept(err: e.QwenAPIError) -> None:
    before = dict(vars(err))
    new = err.evolve(message="more said", hint="other")
    assert new is not err and type(new) is type(err) and vars(err) == before  # the original untouched
    assert (new.message, str(new), new.args, new.hint) == ("more said", "more said", ("more said",), "other")
    kept = {k: v for k, v in vars(new).items() if k not in ("message", "hint")}
    assert kept == {k: v for k, v in before.items() if k not in ("message", "hint")}
    assert new.exit_code == err.exit_code
    with pytest.raises(AttributeError):
        new.hint = "again"
    with pytest.raises(TypeError, match="no field"):
        err.evolve(hnit="typo")


@pytest.mark.parametrize(
    ("err", "hint"),
    [
        (e.NotFoundError("no such file", origin=e.ORIGIN_FILE), "run `qwen upload --list` to see the ids"),
        (
            e.NotFoundError("404", origin=e.ORIGIN_FILES_API),
            "this server has no Files API; it is a DashScope",
        ),
        (e.NotFoundError("404", origin=e.ORIGIN_TEMPORARY_UPLOAD), "this server has no temporary upload;"),
        (e.APIStatusError("AccessDenied", origin=e.ORIGIN_OBJECT_STORAGE), "try again; if it keeps failing"),
        (e.APIStatusError("403", origin=e.ORIGIN_QWEN_WEB_STORAGE), "run the upload again; its temporary"),
        (e.ServerError("503", origin=e.ORIGIN_QWEN_WEB_STORAGE), "the server failed; try again"),
        (
            e.AuthenticationError("401", origin=e.ORIGIN_QWEN_WEB),
            "the chat.qwen.ai token or cookie was refused",
        ),
        (
            e.PermissionDeniedError("captcha", code="waf_challenge", origin=e.ORIGIN_QWEN_WEB),
            "pass the check",
        ),
        (e.RateLimitError("limit", retry_after=5 * 3600.0, origin=e.ORIGIN_QWEN_WEB), "again in 5 hours;"),
        (
            e.RateLimitError("limit", retry_after=30.0, origin=e.ORIGIN_QWEN_WEB),
            "wait a minute and try again",
        ),
        (e.NotFoundError("no model"), "run `qwen models`"),
        (e.NotFoundError("404", origin=e.ORIGIN_FILE, hint="set where raised"), "set where raised"),
    ],
)
def test_server_hints_are_chosen_at_the_boundary_from_class_code_and_origin(
    err: e.QwenAPIError, hint: str
) -> None:
    assert hint in (hint_for(err) or "")
