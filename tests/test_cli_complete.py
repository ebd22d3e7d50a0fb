"""`qwen complete` through its real error boundary: stdout, stderr and exit code, separately."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest
import respx

from tests.conftest import FAKE_KEY
from tests.test_client import USAGE, chunk, sse, stream_response

CN = "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions"
LOCAL = "http://local.test/v1"
CHAT_URL = {  # each of DashScope's protocols, Beijing
    "dashscope": CN,
    "dashscope-native": "https://dashscope.aliyuncs.com/api/v1/services/aigc/text-generation/generation",
}


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    return FAKE_KEY


def answer(*pieces: str, usage: bool = True) -> httpx.Response:
    events: list[Any] = [chunk(p) for p in pieces] + [chunk("", finish="stop")]
    if usage:
        events.append(USAGE)
    return stream_response(sse(*events))


def refused_in_other_regions() -> None:
    """A refused key is tried in the other regions before the error is shown: refuse it there too."""
    for host in ("dashscope-intl", "dashscope-us"):
        respx.get(f"https://{host}.aliyuncs.com/compatible-mode/v1/models").mock(
            return_value=httpx.Response(401, json={"error": {"message": "no", "code": "invalid_api_key"}})
        )


def sent(route: respx.Route) -> dict[str, Any]:
    return json.loads(route.calls.last.request.content)


@respx.mock
def test_pipe_gets_exactly_the_answer(run_cli, key) -> None:
    route = respx.post(CN).mock(return_value=answer("# Title\n\n", "你好 **world** [bold]x[/bold]"))
    r = run_cli("complete", "hello", "-s", "be brief", "-m", "qwen-plus")
    assert r.code == 0, r.err
    assert r.out == "# Title\n\n你好 **world** [bold]x[/bold]\n"
    assert "\x1b" not in r.out and "\x1b" not in r.err
    assert "qwen-max" in r.err and "5 in" in r.err and "3 out" in r.err and "8 total" in r.err
    body = sent(route)
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert body["stream_options"] == {"include_usage": True} and body["model"] == "qwen-plus"


@respx.mock
def test_stdin_prompt_forms(run_cli, key) -> None:
    route = respx.post(CN).mock(return_value=answer("ok"))
    assert run_cli("complete", "-", stdin=b"from stdin\n").code == 0
    assert sent(route)["messages"][-1]["content"] == "from stdin\n"
    assert run_cli("complete", stdin=b"implicit stdin").code == 0
    assert sent(route)["messages"][-1]["content"] == "implicit stdin"
    assert run_cli("complete", "summarize this", stdin=b"the notes").code == 0
    assert sent(route)["messages"][-1]["content"] == "summarize this\n\nthe notes"
    assert run_cli("complete", "-", stdin=b"bad \xff\xfe utf8 \xe4\xbd").code == 0
    assert sent(route)["messages"][-1]["content"] == "bad \ufffd\ufffd utf8 \ufffd"


def test_no_prompt_is_a_usage_error(run_cli, key) -> None:
    r = run_cli("complete")
    assert r.code == 2 and r.out == ""
    assert r.err.splitlines()[0] == "qwen: error: no prompt: nothing was given"
    assert r.err.splitlines()[1].startswith("hint: ")
    assert run_cli("complete", "-", stdin=b"   \n").code == 2


def test_missing_key(run_cli) -> None:
    r = run_cli("complete", "hi")
    assert r.code == 3
    assert "no API key" in r.err and "qwen auth login" in r.err and "DASHSCOPE_API_KEY" in r.err
    assert "Traceback" not in r.err


@respx.mock
def test_401_names_the_region_and_hides_the_key(run_cli, key) -> None:
    refused_in_other_regions()
    respx.post(CN).mock(
        return_value=httpx.Response(
            401,
            json={
                "error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"},
                "request_id": "rid-9",
            },
        )
    )
    r = run_cli("complete", "hi")
    assert r.code == 3 and r.out == ""
    lines = r.err.splitlines()
    assert lines[0] == "qwen: error: Incorrect API key provided. (request id rid-9)"
    assert "region cn" in lines[1] and "--region intl" in lines[1]
    assert FAKE_KEY not in r.err


@pytest.mark.parametrize(
    ("status", "body", "code", "text"),
    [
        (
            404,
            {
                "error": {
                    "message": "The model `nope` does not exist or you do not have access to it.",
                    "code": "model_not_found",
                }
            },
            1,
            "qwen models",
        ),
        (
            429,
            {"error": {"message": "You have exceeded your current request limit.", "code": "limit_requests"}},
            4,
            "gave up after 2 retries",
        ),
        (
            400,
            {
                "error": {
                    "message": "Range of input length should be [1, 30720]",
                    "code": "invalid_parameter_error",
                }
            },
            1,
            "larger context window",
        ),
        (
            400,
            {
                "error": {
                    "message": "Input data may contain inappropriate content.",
                    "code": "data_inspection_failed",
                }
            },
            1,
            "content inspection",
        ),
        (
            500,
            {"error": {"message": "An internal error has occured", "code": "internal_error"}},
            6,
            "try again",
        ),
    ],
)
@pytest.mark.parametrize("provider", ["dashscope", "dashscope-native"])
@respx.mock
def test_api_errors_exit_codes(run_cli, key, status, body, code, text, provider) -> None:
    respx.post(CHAT_URL[provider]).mock(return_value=httpx.Response(status, json=body))
    r = run_cli("complete", "hi", "--max-retries", "2", "--provider", provider)
    assert r.code == code
    assert text in r.err and len(r.err.splitlines()) == 2 and r.out == ""


def test_connection_refused(run_cli) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_cli("complete", "hi", "--base-url", f"http://127.0.0.1:{port}/v1", "--max-retries", "0")
    assert r.code == 5
    assert "could not connect" in r.err and "hint: check --base-url" in r.err


@respx.mock
def test_timeout(run_cli) -> None:
    respx.post(LOCAL + "/chat/completions").mock(side_effect=httpx.ReadTimeout("slow"))
    r = run_cli("complete", "hi", "--base-url", LOCAL, "--timeout", "3", "--max-retries", "0")
    assert r.code == 5 and "within 3s" in r.err and "--timeout" in r.err


@respx.mock
def test_broken_stream_keeps_partial_then_errors(run_cli) -> None:
    respx.post(LOCAL + "/chat/completions").mock(
        return_value=stream_response(sse(chunk("partial ans"), done=False))
    )
    r = run_cli("complete", "hi", "--base-url", LOCAL)
    assert r.code == 6
    assert r.out == "partial ans\n"
    assert "broke off after 11 characters" in r.err and "partial answer above was kept" in r.err


@respx.mock
def test_json_output(run_cli) -> None:
    respx.post(LOCAL + "/chat/completions").mock(
        return_value=stream_response(
            sse(chunk(reasoning="hmm"), chunk("4"), chunk("", finish="stop"), USAGE),
            **{"x-request-id": "r-1"},
        )
    )
    r = run_cli("complete", "2+2", "--base-url", LOCAL, "--json", "-q")
    assert r.code == 0 and r.err == ""
    assert json.loads(r.out) == {
        "id": "chatcmpl-1",
        "model": "qwen-max",
        "content": "4",
        "reasoning": "hmm",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        "request_id": "r-1",
    }


@respx.mock
def test_no_stream_and_flags_reach_the_body(run_cli) -> None:
    route = respx.post(LOCAL + "/chat/completions").mock(
        return_value=httpx.Response(
            200, json={"choices": [{"message": {"content": '{"a": 1}'}, "finish_reason": "stop"}]}
        )
    )
    r = run_cli(
        "complete",
        "json please",
        "--base-url",
        LOCAL,
        "--no-stream",
        "--json-mode",
        "--think",
        "--search",
        "--stop",
        "END",
        "--stop",
        "FIN",
        "-t",
        "0.2",
        "--top-p",
        "0.9",
        "--max-tokens",
        "50",
        "--seed",
        "1",
    )
    assert r.code == 0 and r.out == '{"a": 1}\n'
    assert "usage not reported" in r.err
    body = sent(route)
    assert body["stream"] is False and "stream_options" not in body
    assert body["response_format"] == {"type": "json_object"}
    assert (body["enable_thinking"], body["enable_search"], body["stop"]) == (True, True, ["END", "FIN"])
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.2, 0.9, 50, 1)


@respx.mock
def test_no_think_and_quiet(run_cli) -> None:
    route = respx.post(LOCAL + "/chat/completions").mock(return_value=answer("x", usage=False))
    r = run_cli("complete", "q", "--base-url", LOCAL, "--no-think", "-q")
    assert r.code == 0 and r.out == "x\n" and r.err == ""
    assert sent(route)["enable_thinking"] is False


@respx.mock
def test_usage_missing_is_said_not_invented(run_cli) -> None:
    respx.post(LOCAL + "/chat/completions").mock(return_value=answer("x", usage=False))
    r = run_cli("complete", "q", "--base-url", LOCAL)
    assert (
        "usage not reported" in r.err and " in " not in r.err.split("usage not reported")[0].split("·", 1)[-1]
    )


@respx.mock
def test_reasoning_never_reaches_a_pipe(run_cli) -> None:
    respx.post(LOCAL + "/chat/completions").mock(
        return_value=stream_response(
            sse(chunk(reasoning="secret thoughts"), chunk("answer"), chunk("", finish="stop"))
        )
    )
    r = run_cli("complete", "q", "--base-url", LOCAL)
    assert r.out == "answer\n" and "secret thoughts" not in r.out


@respx.mock
def test_debug_shows_traceback_and_keeps_exit_code(run_cli, key) -> None:
    refused_in_other_regions()
    respx.post(CN).mock(
        return_value=httpx.Response(401, json={"error": {"message": "bad key", "code": "invalid_api_key"}})
    )
    r = run_cli("complete", "hi", "--debug")
    assert r.code == 3
    assert "Traceback" in r.err and "AuthenticationError" in r.err
    assert r.err.rstrip().splitlines()[-2] == "qwen: error: bad key"
    assert FAKE_KEY not in r.err


@respx.mock
def test_debug_log_masks_key(run_cli, key, capsys) -> None:
    respx.post(CN).mock(return_value=answer("ok"))
    r = run_cli("complete", "hi", "--debug")
    assert r.code == 0
    assert "Bearer sk-...abcd" in r.err and FAKE_KEY not in r.err and FAKE_KEY not in r.out


def test_bad_option_values_exit_2(run_cli) -> None:
    assert run_cli("complete", "x", "-t", "9").code == 2
    r = run_cli("complete", "x", "--region", "mars")
    assert r.code == 2 and "unknown region 'mars'" in r.err


def test_help_and_version(run_cli) -> None:
    r = run_cli("--help")
    assert r.code == 0 and "complete" in r.out
    r = run_cli("complete", "--help")
    assert r.code == 0 and "git diff | qwen complete -" in r.out
    version = run_cli("--version").out
    assert version.startswith("qwen ") and "qwen-cli" in version


@respx.mock
def test_stream_only_model_streams_even_with_no_stream(run_cli) -> None:
    route = respx.post(LOCAL + "/chat/completions").mock(return_value=answer("thought through"))
    r = run_cli("complete", "q", "--base-url", LOCAL, "-m", "qwq-plus", "--no-stream")
    assert r.code == 0 and r.out == "thought through\n"
    assert sent(route)["stream"] is True


@respx.mock
def test_open_source_qwen3_no_stream_turns_thinking_off(run_cli) -> None:
    route = respx.post(LOCAL + "/chat/completions").mock(
        return_value=httpx.Response(
            200, json={"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}
        )
    )
    assert run_cli("complete", "q", "--base-url", LOCAL, "-m", "qwen3-32b", "--no-stream").code == 0
    assert (sent(route)["stream"], sent(route)["enable_thinking"]) == (False, False)
    route.mock(return_value=answer("thinking streamed"))
    assert (
        run_cli("complete", "q", "--base-url", LOCAL, "-m", "qwen3-32b", "--no-stream", "--think").code == 0
    )
    assert (sent(route)["stream"], sent(route)["enable_thinking"]) == (True, True)


@respx.mock
def test_debug_logging_does_not_leak_into_the_next_run(run_cli, key) -> None:
    respx.post(CN).mock(return_value=answer("ok"))
    assert "debug: >" in run_cli("complete", "hi", "--debug").err
    r = run_cli("complete", "hi")
    assert r.code == 0 and "debug:" not in r.err
