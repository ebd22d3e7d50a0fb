"""A 3xx is never followed (it would carry the key along) and is named, sync and async."""

from __future__ import annotations

import httpx
import pytest
import respx

from qwen_cli.cli.hints import hint_for
from qwen_cli.errors import APIStatusError
from tests.conftest import FAKE_KEY
from tests.test_client import BASE, MODES, URL, client, collect, create


@MODES
@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("https://evil.example/v1/chat/completions", "https://evil.example/v1/chat/completions"),
        ("/elsewhere/chat", "http://fake.test/elsewhere/chat"),  # relative: resolved against the request
    ],
)
@pytest.mark.parametrize("status", [301, 302, 307, 308])
@respx.mock
def test_redirect_is_an_error_naming_the_target(mode: str, location: str, shown: str, status: int) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(status, headers={"location": location}))
    elsewhere = respx.route(host="evil.example").mock(return_value=httpx.Response(200))
    with pytest.raises(APIStatusError) as e:
        collect(mode, client())
    assert str(e.value) == f"the server redirected to {shown}; not followed"
    assert e.value.status_code == status and e.value.exit_code == 1
    assert "--base-url" in (hint_for(e.value) or "")
    assert route.call_count == 1 and elsewhere.call_count == 0  # not retried, not followed
    assert route.calls.last.request.headers["authorization"] == f"Bearer {FAKE_KEY}"


@MODES
@respx.mock
def test_redirect_without_location_on_a_whole_answer(mode: str) -> None:
    respx.post(URL).mock(return_value=httpx.Response(303))
    with pytest.raises(
        APIStatusError, match=r"^the server answered 303 \(a redirect\) without saying where to"
    ):
        create(mode, client())


@respx.mock
def test_models_list_redirect_is_named_too() -> None:
    respx.get(BASE + "/models").mock(
        return_value=httpx.Response(302, headers={"location": "https://x.example/"})
    )
    with pytest.raises(APIStatusError, match=r"redirected to https://x.example/; not followed"):
        client().models.list()
