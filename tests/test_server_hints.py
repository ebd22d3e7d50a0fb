"""What a server sent or did is stated by the core (class and ``code``, never a ``hint``); the
hint under it is chosen at the command line, by ``cli/hints.py`` (issue 9)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from qwen_cli import errors as e
from qwen_cli.cli.hints import hint_for
from qwen_cli.providers.dashscope import DashScope, not_json, unreadable
from qwen_cli.providers.dashscope_native import DashScopeNative
from qwen_cli.providers.qwen_web import no_choices
from qwen_cli.record import ValidationError
from qwen_cli.streaming import BodyDecoder
from qwen_cli.types import ModelInfo
from tests.test_client import MODES, URL, client, collect
from tests.test_errors import PORTAL

OPENAI = "check --base-url: it should point at an OpenAI-compatible API"
HTML = (
    "check --base-url; if a proxy or a network sign-in page stands in the way, open the URL "
    "in a browser or fix HTTPS_PROXY"
)


def _raised(make: Callable[[], object]) -> e.QwenAPIError:
    with pytest.raises(e.QwenAPIError) as info:
        make()
    return info.value


def _unreadable() -> e.BadResponseError:
    try:
        ModelInfo.model_validate({"id": 5})
    except ValidationError as exc:
        return unreadable(exc, {"id": 5})
    raise AssertionError("no ValidationError")


def _native() -> DashScopeNative:
    return DashScopeNative(base_url="http://x/compatible-mode/v1", api_key="k")


def _dashscope() -> DashScope:
    return DashScope(base_url="http://x/v1", api_key="k")


# Each factory in the core that makes an error about what a server sent, and the hint for it.
FACTORIES: list[tuple[str, Callable[[], e.QwenAPIError], type[e.QwenAPIError], str]] = [
    ("html 200", lambda: e.error_for_status(200, PORTAL.encode()), e.BadResponseError, HTML),
    ("html body", lambda: not_json(PORTAL.encode()), e.BadResponseError, HTML),
    ("not json", lambda: not_json(b"Internal error"), e.BadResponseError, OPENAI),
    ("json list", lambda: not_json([1, 2]), e.BadResponseError, OPENAI),
    (
        "no choices",
        lambda: _raised(lambda: _dashscope().parse_completion({"id": "x"})),
        e.BadResponseError,
        OPENAI,
    ),
    ("no data", lambda: _raised(lambda: _dashscope().parse_models({"data": 3})), e.BadResponseError, OPENAI),
    (
        "unreadable field",
        _unreadable,
        e.BadResponseError,
        "the server may not be OpenAI-compatible; run with --debug to see the answer",
    ),
    (
        "no output",
        lambda: _raised(lambda: _native().parse_completion({"request_id": "r"})),
        e.BadResponseError,
        "check --base-url: the native protocol needs DashScope (or --provider dashscope)",
    ),
    (
        "encoding not asked for",
        lambda: _raised(lambda: BodyDecoder("br", 100)),
        e.BadResponseError,
        "check --base-url: a proxy in the way may be rewriting the answer",
    ),
    (
        "corrupt compression",
        lambda: _raised(lambda: list(BodyDecoder("gzip", 100).feed(b"not gzip at all"))),
        e.BadResponseError,
        "try again; if it persists, a proxy in the way may be damaging it",
    ),
    (
        "too large",
        lambda: _raised(lambda: list(BodyDecoder(None, 3).feed(b"abcd"))),
        e.BadResponseError,
        "a compression bomb or a misbehaving server: check --base-url",
    ),
    (
        "chat.qwen.ai without choices",
        lambda: no_choices({"data": {}}),
        e.APIStatusError,
        "the site may have changed its protocol; run with --debug and report what came back",
    ),
]


@pytest.mark.parametrize(("name", "make", "cls", "hint"), FACTORIES, ids=[f[0] for f in FACTORIES])
def test_errors_about_what_a_server_sent_carry_no_hint(
    name: str, make: Callable[[], e.QwenAPIError], cls: type[e.QwenAPIError], hint: str
) -> None:
    err = make()
    assert type(err) is cls and err.code, name
    assert err.hint is None
    assert hint_for(err) == hint
    # the hint follows the error through evolve (as the client does when it adds to the message)
    assert hint_for(err.evolve(message=err.message + " (after 2 tries)")) == hint


@MODES
@respx.mock
def test_a_redirect_error_carries_no_hint_and_the_cli_gives_one(mode: str) -> None:
    respx.post(URL).mock(return_value=httpx.Response(302, headers={"location": "https://evil.example/"}))
    with pytest.raises(e.APIStatusError) as info:
        collect(mode, client())
    err = info.value
    assert type(err) is e.APIStatusError and err.code == e.CODE_REDIRECT and err.hint is None
    assert hint_for(err) == (
        "qwen never sends your key on to another address; if you trust it, use it as --base-url"
    )


def test_a_server_code_of_the_same_name_in_another_class_gets_no_borrowed_hint() -> None:
    """A 413 whose body says ``response_too_large`` is the server's refusal, not qwen's limit."""
    err = e.error_for_status(413, b'{"error": {"code": "response_too_large", "message": "big"}}')
    assert isinstance(err, e.InvalidRequestError) and err.code == e.CODE_TOO_LARGE
    assert hint_for(err) != "a compression bomb or a misbehaving server: check --base-url"


def test_a_hint_set_where_the_user_erred_still_wins() -> None:
    err = e.UsageError("bad", code=e.CODE_NOT_JSON, hint="fix the input")
    assert hint_for(err) == "fix the input"
