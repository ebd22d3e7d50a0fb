"""The shipped catalogue: what the rest of the tool asks about a model, and the footer's cost."""

from __future__ import annotations

import httpx
import pytest
import respx

from qwen_cli import catalog
from tests.conftest import FAKE_KEY
from tests.test_client import USAGE, chunk, sse, stream_response


def test_known_model() -> None:
    m = catalog.lookup("qwen-plus")
    assert (m.known, m.context, m.input_limit, m.max_output) == (True, 131_072, 129_024, 16_384)
    assert m.capabilities == ["thinking", "search"]
    assert m.price("cn") == (0.8, 2.0, "CNY", "¥")
    assert m.price("intl") == m.price("us") == (0.4, 1.2, "USD", "$")


def test_snapshots_and_paths_share_their_family() -> None:
    m = catalog.lookup("qwen-plus-2025-04-28")
    assert m.id == "qwen-plus-2025-04-28" and m.known and m.context == 131_072
    assert catalog.lookup("qwen-max-0919").input_limit == 30_720
    assert catalog.lookup("Qwen/Qwen3-8B").thinking_default  # a local server's name for it


def test_unknown_models_get_defaults_plus_what_the_name_says() -> None:
    m = catalog.lookup("my-finetune")
    assert (m.known, m.context, m.input_limit, m.max_output) == (False, 32_768, 32_768, 8_192)
    assert m.capabilities == [] and m.price("cn") is None
    assert catalog.lookup("qwen2.5-vl-72b-instruct").vision
    t = catalog.lookup("qwen3-235b-a22b-thinking-2507")
    assert not t.known and t.thinking and t.stream_only


def test_helpers_for_chat_trimming_and_uploads() -> None:
    assert catalog.context_window("qwen-turbo") == 1_000_000
    assert catalog.context_window("unknown-model") == catalog.DEFAULT_CONTEXT
    assert catalog.supports_vision("qwen-vl-max") and not catalog.supports_vision("qwen-max")
    assert catalog.lookup("qwq-plus").stream_only


def test_as_dict_for_json() -> None:
    assert catalog.lookup("qwen-long").as_dict("cn") == {
        "id": "qwen-long",
        "known": True,
        "context": 10_000_000,
        "max_input": 10_000_000,
        "max_output": 8_192,
        "capabilities": ["documents"],
        "price": {"input": 0.5, "output": 2.0, "currency": "CNY"},
        "notes": "Beijing region only",
    }
    assert catalog.lookup("qwen-long").as_dict("intl")["price"] is None  # no USD list price
    d = catalog.lookup("x-model").as_dict("cn")
    assert (d["known"], d["context"], d["max_output"], d["price"]) == (False, None, None, None)


def test_catalogue_is_consistent() -> None:
    names = catalog.names()
    assert len(names) == len(set(names)) and "qwen-max" in names
    for m in catalog.all_models():
        assert m.known and m.max_output < m.context and m.input_limit <= m.context
        assert set(m.capabilities) <= set(catalog.CAPABILITIES)
        assert not m.thinking_default or m.thinking


@pytest.mark.parametrize(
    ("region", "expected"),
    [("cn", "~¥0.0034"), ("intl", "~$0.0022"), ("us", "~$0.0022")],
)
def test_cost_by_region(region: str, expected: str) -> None:
    assert catalog.cost("qwen-max", 1000, 100, region) == expected


def test_cost_edges() -> None:
    assert catalog.cost("qwen-max", 1, 0, "cn") == "<¥0.0001"
    assert catalog.cost("qwen-max", 1_000_000, 0, "cn") == "~¥2.40"
    assert catalog.cost("unknown", 1000, 1000, "cn") is None
    assert catalog.cost("qwen-long", 1000, 1000, "intl") is None


@pytest.mark.parametrize(
    ("region", "host", "cost"),
    [
        ("cn", "https://dashscope.aliyuncs.com", "<¥0.0001"),
        ("intl", "https://dashscope-intl.aliyuncs.com", "<$0.0001"),
    ],
)
@respx.mock
def test_footer_cost_follows_the_region(run_cli, monkeypatch, region: str, host: str, cost: str) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    respx.post(f"{host}/compatible-mode/v1/chat/completions").mock(
        return_value=stream_response(sse(chunk("hi"), chunk("", finish="stop"), USAGE))
    )
    r = run_cli("complete", "hi", "-r", region)
    assert r.code == 0, r.err
    assert r.err.rstrip().endswith(cost)


@respx.mock
def test_footer_has_no_cost_for_unknown_models_or_other_servers(run_cli, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    events = [chunk("hi"), chunk("", finish="stop"), dict(USAGE)]
    for ev in events:
        ev["model"] = "my-finetune"  # the model that answered, as the server names it
    respx.post("https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions").mock(
        return_value=stream_response(sse(*events))
    )
    r = run_cli("complete", "hi", "-m", "my-finetune")
    assert "my-finetune ·" in r.err
    assert r.code == 0 and "¥" not in r.err and "$" not in r.err
    respx.post("http://local.test/v1/chat/completions").mock(
        return_value=httpx.Response(
            200, json={"choices": [{"message": {"content": "x"}}], "usage": USAGE["usage"]}
        )
    )
    monkeypatch.setenv("QWEN_ALLOW_HTTP", "1")  # a key over plain http off loopback: opted in
    r = run_cli("complete", "hi", "--base-url", "http://local.test/v1", "--no-stream")
    assert r.code == 0 and "¥" not in r.err and "$" not in r.err


def test_function_calling_and_strict_schemas_are_known_per_model() -> None:
    assert catalog.lookup("qwen-plus").tools and catalog.lookup("qwen3-8b").tools
    assert not catalog.lookup("qwen-mt-turbo").tools and not catalog.lookup("qwen-vl-ocr").tools
    assert catalog.lookup("my-local-model").tools  # an unknown model is offered tools
    assert catalog.lookup("qwen-plus-latest").json_schema
    assert not catalog.lookup("qwen-plus").json_schema and not catalog.lookup("qwen-max").json_schema
