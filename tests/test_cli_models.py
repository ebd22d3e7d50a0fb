"""`qwen models` and `qwen models show`: online, cached, offline, refreshed, filtered, as JSON."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator

import pytest

from qwen_cli import config, modelcache
from tests.fakeserver import MODEL_IDS, FakeServer
from tests.regionservers import KEYS, Regions, region_servers

CN = KEYS["cn"]
REFUSED = "http://127.0.0.1:9/compatible-mode/v1"  # nothing listens on port 9


@pytest.fixture
def regions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Regions]:
    with region_servers(monkeypatch) as r:
        monkeypatch.setenv("DASHSCOPE_API_KEY", CN)
        monkeypatch.setenv("QWEN_MAX_RETRIES", "0")
        yield r


def cache_of(url: str) -> modelcache.ModelList | None:
    return modelcache.load(config.cache_dir(), "dashscope", url, max_age=None)


def test_online_list_in_a_pipe_is_tsv_with_prices_of_the_region(run_cli, regions: Regions) -> None:
    r = run_cli("models")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == len(MODEL_IDS)
    assert lines == sorted(lines)
    assert "qwen-max\t32768\t8192\tsearch\t2.40\t9.60" in lines
    assert "qwen-vl-max\t131072\t8192\tvision\t1.60\t4.00" in lines
    assert "qwq-plus\t131072\t8192\tthinking,stream-only\t1.60\t4.00" in lines
    url = regions.servers["cn"].base_url
    assert r.err == (
        f"qwen: 7 models from GET {url}/models, just now. "
        "Prices: list prices per million tokens, approximate.\n"
    )
    (req,) = regions.requests("cn")
    assert (req["method"], req["path"]) == ("GET", "/compatible-mode/v1/models")
    cached = cache_of(url)
    assert cached is not None and sorted(cached.ids) == sorted(MODEL_IDS)


def test_prices_in_dollars_outside_beijing(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEYS["intl"])
    r = run_cli("models", "-r", "intl")
    assert r.code == 0, r.err
    assert "qwen-max\t32768\t8192\tsearch\t1.60\t6.40" in r.out.splitlines()
    data = json.loads(run_cli("models", "-r", "intl", "--json").out)
    assert data["price_region"] == "intl"
    qwen_max = next(m for m in data["models"] if m["id"] == "qwen-max")
    assert qwen_max["price"] == {"input": 1.6, "output": 6.4, "currency": "USD"}


def test_second_run_uses_the_cache_and_says_so(run_cli, regions: Regions) -> None:
    first = run_cli("models")
    r = run_cli("models")
    assert r.code == 0 and r.out == first.out
    assert len(regions.requests("cn")) == 1
    assert "from the cache, fetched just now from" in r.err


def test_refresh_fetches_again(run_cli, regions: Regions) -> None:
    run_cli("models")
    r = run_cli("models", "--refresh")
    assert r.code == 0 and len(regions.requests("cn")) == 2
    assert "from GET " in r.err


def test_cache_older_than_a_day_is_refetched(run_cli, regions: Regions) -> None:
    url = regions.servers["cn"].base_url
    modelcache.save(config.cache_dir(), "dashscope", url, ["old-model"], now=time.time() - 25 * 3600)
    r = run_cli("models")
    assert r.code == 0 and len(regions.requests("cn")) == 1
    assert "old-model" not in r.out


def test_network_failure_shows_the_cache_with_a_stale_note(run_cli, regions: Regions, monkeypatch) -> None:
    modelcache.save(
        config.cache_dir(), "dashscope", REFUSED, ["qwen-max", "qwen-vl-max"], now=time.time() - 3 * 86400
    )
    monkeypatch.setenv("QWEN_BASE_URL_CN", REFUSED)
    r = run_cli("models")
    assert r.code == 0
    assert [ln.split("\t")[0] for ln in r.out.splitlines()] == ["qwen-max", "qwen-vl-max"]
    warning = r.err.splitlines()[0]
    assert warning.startswith(
        f"qwen: warning: could not fetch the model list (could not connect to {REFUSED}"
    )
    assert warning.endswith(
        f"showing the cache, fetched 3 days ago from {REFUSED}/models instead; it may be stale"
    )


def test_network_failure_without_cache_shows_the_catalogue(run_cli, regions: Regions, monkeypatch) -> None:
    from qwen_cli import catalog

    monkeypatch.setenv("QWEN_BASE_URL_CN", REFUSED)
    r = run_cli("models", "--json")
    assert r.code == 0
    data = json.loads(r.out)
    assert (data["source"], data["stale"]) == ("catalogue", True)
    assert sorted(m["id"] for m in data["models"]) == sorted(catalog.names())
    assert "showing the catalogue shipped with qwen" in r.err and "it may be stale" in r.err


def test_server_error_falls_back_too(run_cli, regions: Regions) -> None:
    regions.servers["cn"].enqueue({"match": "/models", "status": 503, "json": {"error": {"message": "busy"}}})
    r = run_cli("models")
    assert r.code == 0 and "could not fetch the model list (busy)" in r.err


def test_401_is_an_auth_error_even_with_a_cache(run_cli, regions: Regions, monkeypatch) -> None:
    url = regions.servers["cn"].base_url
    modelcache.save(config.cache_dir(), "dashscope", url, ["qwen-max"], now=time.time() - 3 * 86400)
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEYS["intl"])
    r = run_cli("models")
    assert r.code == 3 and r.out == ""
    assert r.err.startswith("qwen: error: Incorrect API key provided.")
    assert "qwen auth status" in r.err
    assert KEYS["intl"] not in r.err


def test_missing_key_is_an_auth_error(run_cli, monkeypatch) -> None:
    r = run_cli("models")
    assert r.code == 3 and "no API key" in r.err and "qwen auth login" in r.err


def test_offline_makes_no_request(run_cli, regions: Regions) -> None:
    r = run_cli("models", "--offline")
    assert r.code == 0 and regions.count() == {"cn": 0, "intl": 0, "us": 0}
    assert "offline: showing the catalogue shipped with qwen" in r.err
    run_cli("models")
    r = run_cli("models", "--offline")
    assert "offline: showing the cache, fetched just now" in r.err
    assert len(r.out.splitlines()) == len(MODEL_IDS)


def test_filters(run_cli, regions: Regions) -> None:
    catalogue = run_cli("models", "--offline", "--vision", "--thinking").out.splitlines()
    assert {ln.split("\t")[0] for ln in catalogue} == {"qwen3-vl-plus", "qwen3-vl-flash", "qvq-max"}
    vision = run_cli("models", "--vision")
    assert [ln.split("\t")[0] for ln in vision.out.splitlines()] == ["qwen-vl-max"]
    assert "1 model (--vision) from" in vision.err
    thinking = run_cli("models", "--thinking").out.splitlines()
    assert [ln.split("\t")[0] for ln in thinking] == [
        "qwen-plus",
        "qwen-turbo",
        "qwen3-235b-a22b",
        "qwq-plus",
    ]
    both = run_cli("models", "--vision", "--thinking")
    assert both.code == 0 and both.out == "" and "no models match --vision --thinking" in both.err


def test_json_has_the_same_data(run_cli, regions: Regions) -> None:
    r = run_cli("models", "--json", "--vision")
    assert r.code == 0 and r.err == ""
    data = json.loads(r.out)
    url = regions.servers["cn"].base_url
    assert data["source"] == "api" and data["base_url"] == url and data["stale"] is False
    assert data["price_region"] == "cn" and data["fetched_at"].endswith("+00:00")
    assert data["models"] == [
        {
            "id": "qwen-vl-max",
            "known": True,
            "context": 131_072,
            "max_input": 129_024,
            "max_output": 8_192,
            "capabilities": ["vision"],
            "price": {"input": 1.6, "output": 4.0, "currency": "CNY"},
            "notes": None,
        }
    ]


def test_unknown_models_from_the_server_are_listed_without_guesses(run_cli, monkeypatch) -> None:
    with FakeServer() as srv:
        srv.enqueue(
            {
                "match": "/models",
                "json": {"object": "list", "data": [{"id": "Qwen/Qwen3-8B"}, {"id": "my-lora"}]},
            }
        )
        monkeypatch.setenv("QWEN_BASE_URL", srv.base_url)
        r = run_cli("models")
    assert r.code == 0, r.err
    # a custom server: no list prices
    assert r.out.splitlines() == ["Qwen/Qwen3-8B\t131072\t8192\tthinking\t\t", "my-lora\t\t\t\t\t"]
    assert "Prices" not in r.err


def test_table_on_a_terminal(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    r = run_cli("models", "--no-color")
    assert r.code == 0 and r.err == ""
    lines = r.out.splitlines()
    assert lines[0].split() == ["model", "context", "max", "out", "capabilities", "in", "¥/M", "out", "¥/M"]
    row = next(ln for ln in lines if ln.startswith("qwen-max "))
    assert row.split() == ["qwen-max", "32,768", "8,192", "search", "2.40", "9.60"]
    assert f"7 models from GET {regions.servers['cn'].base_url}/models, just now." in " ".join(lines[-3:])
    assert "\x1b" not in r.out


def test_show_a_listed_model(run_cli, regions: Regions) -> None:
    r = run_cli("models", "show", "qwen-plus")
    assert r.code == 0, r.err
    url = regions.servers["cn"].base_url
    assert r.out.splitlines() == [
        "qwen-plus",
        "  context       131,072 tokens (129,024 of them input)",
        "  max output    16,384 tokens",
        "  capabilities  thinking, search",
        "  price         ¥0.80 input, ¥2.00 output per million tokens",
        f"  your account  listed in GET {url}/models, just now",
    ]


def test_show_a_catalogue_model_the_account_lacks(run_cli, regions: Regions) -> None:
    r = run_cli("models", "show", "qwen3-max")
    assert r.code == 0
    assert "  your account  not listed in GET " in r.out
    r = run_cli("models", "show", "qwen-long")
    assert "  your account  listed in the cache" in r.out and "  notes         Beijing region only" in r.out


def test_show_an_unknown_model(run_cli, regions: Regions) -> None:
    r = run_cli("models", "show", "no-such-model", "--offline")  # no list yet to check against
    assert r.code == 0
    assert "catalogue     not listed: qwen assumes 32,768 tokens of context and 8,192 of output" in r.out
    assert "your account  unknown (showing the catalogue shipped with qwen" in r.out
    r = run_cli("models", "show", "no-such-model")
    assert r.code == 1 and r.out == ""
    assert r.err.splitlines()[0].startswith(
        "qwen: error: unknown model 'no-such-model': not in the catalogue"
    )
    assert r.err.splitlines()[1] == "hint: run `qwen models` to see the models your key can use"


def test_show_json(run_cli, regions: Regions) -> None:
    data = json.loads(run_cli("models", "show", "qwq-plus", "--json").out)
    assert data["id"] == "qwq-plus" and data["available"] is True
    assert data["capabilities"] == ["thinking", "stream-only"]
    assert data["list"]["source"] == "api"
    data = json.loads(run_cli("models", "show", "qwen-max", "--json", "--offline").out)
    assert data["available"] is True and data["list"]["source"] == "cache"
