"""One rule for "which DashScope region does this base URL stand for": config decides it once, and
the footer's cost, `/usage`, the no-key check and the 401 diagnosis all follow it. Providers
describe themselves; nothing outside providers/ asks for a provider's name."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from qwen_cli import catalog, config, errors
from qwen_cli.client import Qwen
from qwen_cli.providers import PROVIDERS, provider_class, region_of
from qwen_cli.providers.dashscope import REGION_TABLE, REGIONS
from tests.chatkit import lines
from tests.fakeserver import FakeServer, chat_stream_events
from tests.regionservers import KEYS, Regions, region_servers

USER = [{"role": "user", "content": "hi"}]
# enough tokens for a cost above the "<¥0.0001" floor: 100k in, 5k out of qwen-max
BIG = {"prompt_tokens": 100_000, "completion_tokens": 5_000, "total_tokens": 105_000}


@pytest.fixture
def regions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Regions]:
    with region_servers(monkeypatch) as r:
        monkeypatch.setenv("QWEN_MAX_RETRIES", "0")
        yield r


def big_answer(text: str = "priced") -> dict[str, object]:
    return {"sse": chat_stream_events([text], usage=BIG)}


# ------------------------------------------------------------------------------- the rule


def test_region_of_defaults_overrides_and_other_servers() -> None:
    gateway = {"cn": "http://127.0.0.1:8000/compatible-mode/v1"}
    assert region_of(REGION_TABLE, REGIONS["intl"]) == "intl"
    assert region_of(REGION_TABLE, REGIONS["us"] + "/") == "us"
    assert region_of(REGION_TABLE, "https://dashscope.aliyuncs.com/api/v1") == "cn"  # same host
    assert region_of(REGION_TABLE, "http://127.0.0.1:8000/compatible-mode/v1/", gateway) == "cn"
    assert region_of(REGION_TABLE, "http://127.0.0.1:8001/compatible-mode/v1", gateway) is None
    assert region_of(REGION_TABLE, "http://localhost:8000/v1") is None
    assert region_of({}, REGIONS["cn"]) is None  # a provider without regions


@pytest.mark.parametrize(
    ("env", "flags", "region", "required"),
    [
        ({}, {}, "cn", True),
        ({"QWEN_REGION": "us"}, {}, "us", True),
        ({"QWEN_BASE_URL_CN": "http://gw.test/v1/"}, {}, "cn", True),
        ({"QWEN_BASE_URL_INTL": "http://gw.test/v1"}, {"region": "intl"}, "intl", True),
        ({"QWEN_BASE_URL": "http://local.test/v1"}, {}, None, False),
        ({}, {"base_url": "http://local.test/v1"}, None, False),
        ({}, {"base_url": REGIONS["intl"]}, "intl", True),  # the URL says which region, not --region
        ({"QWEN_BASE_URL_CN": "http://gw.test/v1"}, {"base_url": "http://gw.test/v1"}, "cn", True),
        ({"QWEN_BASE_URL_CN": "http://gw.test/v1"}, {"base_url": REGIONS["cn"]}, "cn", True),
        ({"QWEN_PROVIDER": "qwen-web"}, {}, None, True),
    ],
)
def test_config_resolves_the_region_once(
    env: dict[str, str], flags: dict[str, str], region, required
) -> None:
    s = config.resolve(flags, env={**env, "QWEN_CONFIG_DIR": "/nonexistent/qwen"})
    assert (s.dashscope_region, s.key_required) == (region, required)


def test_base_urls_table_in_the_config_file_is_a_region(isolated_env: Path) -> None:
    cdir = isolated_env / "config"
    cdir.mkdir()
    (cdir / "config.toml").write_text('[base_urls]\nus = "http://gw.test/us/v1"\n', encoding="utf-8")
    s = config.resolve({"region": "us"})
    assert (s.base_url, s.source("base_url"), s.dashscope_region) == (
        "http://gw.test/us/v1",
        "config file",
        "us",
    )


def test_every_provider_describes_itself() -> None:
    for name in PROVIDERS:
        cls = provider_class(name)
        assert cls.name == name and cls.credentials and cls.default_model and cls.default_base_url
        assert cls.login_hint and cls.capabilities.model_list in ("server", "catalogue")
        assert (cls.default_region in cls.regions) if cls.regions else cls.default_region is None
        for c in cls.credentials:
            assert c.env and c.stored and c.label
    dashscope, web = provider_class("dashscope"), provider_class("qwen-web")
    assert dashscope.own_host("dashscope-intl.aliyuncs.com") and not dashscope.own_host("chat.qwen.ai")
    assert web.own_host("chat.qwen.ai") and not web.own_host("evil.example")
    # each region's currency is the catalogue's for that region
    for region, r in provider_class("dashscope").regions.items():
        assert r.currency == catalog.CURRENCIES[region][0]


def test_an_unknown_provider_is_one_config_error() -> None:
    with pytest.raises(errors.ConfigError, match="unknown provider 'nope'") as info:
        provider_class("nope")
    assert "dashscope" in (info.value.hint or "")


def test_no_provider_name_is_compared_outside_providers() -> None:
    root = Path(__file__).resolve().parent.parent
    grep = subprocess.run(
        ["git", "grep", "-nE", "provider(\\.name)? ?[!=]= ?['\"]", "--", "qwen_cli", ":!qwen_cli/providers"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if grep.returncode > 1:
        pytest.skip("not a git checkout")
    assert grep.stdout == ""


# ------------------------------------------------------------------------------- the client


@pytest.mark.parametrize(
    ("kw", "refused"),
    [
        ({"base_url": REGIONS["us"]}, True),  # a region's URL: the provider requires a key
        ({"region": "intl"}, True),
        ({"base_url": "http://local.test/v1"}, False),  # another server may take none
        ({"base_url": "http://local.test/v1", "key_required": True}, True),  # config said so
        ({"base_url": REGIONS["cn"], "key_required": False}, False),
    ],
)
def test_the_client_refuses_to_send_without_a_required_key(kw: dict[str, object], refused: bool) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().mock(
            return_value=httpx.Response(200, json={"choices": [{"message": {"content": "hi"}}]})
        )
        client = Qwen(None, **kw)  # type: ignore[arg-type]
        if refused:
            with pytest.raises(errors.AuthenticationError) as info:
                client.chat.create(USER)
            assert info.value.message == "no API key" and info.value.exit_code == 3
            assert "qwen auth login" in (info.value.hint or "")
        else:
            assert client.chat.create(USER).content == "hi"
        assert route.called is not refused


# ------------------------------------------------------------------------------- as a user


def test_a_gateway_for_cn_prices_the_footer_in_yuan(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEYS["cn"])
    regions.servers["cn"].enqueue(big_answer())
    r = run_cli("complete", "hi")
    assert r.code == 0, r.err
    assert r.out == "priced\n"
    expected = catalog.cost("qwen-max", 100_000, 5_000, "cn")
    assert expected is not None and expected.startswith("~¥")
    assert expected in r.err.splitlines()[-1]


def test_another_server_is_not_priced(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEYS["cn"])
    with FakeServer() as other:
        other.enqueue(big_answer())
        r = run_cli("complete", "hi", "--base-url", other.base_url)
    assert r.code == 0, r.err
    assert r.out == "priced\n" and "105000 total" in r.err
    assert "¥" not in r.err and "$" not in r.err


def test_usage_in_chat_shows_the_cost_through_a_gateway(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEYS["cn"])
    regions.servers["cn"].enqueue(big_answer())
    r = run_cli("chat", stdin=lines("hi", "/usage"))
    assert r.code == 0, r.err
    usage_line = r.err.splitlines()[-1]  # /usage: on stderr when stdout is not a terminal
    amount = (100_000 * 2.4 + 5_000 * 9.6) / 1_000_000  # qwen-max's list price in cn
    assert usage_line == f"1 turn · 100,000 in · 5,000 out · 105,000 total · ~¥{amount:.4f}"


@pytest.mark.parametrize("command", [["complete", "hi"], ["chat"]])
def test_no_key_through_a_gateway_fails_before_sending(run_cli, regions: Regions, command: list[str]) -> None:
    r = run_cli(*command, stdin=lines("hi"))
    assert r.code == 3 and r.out == ""
    assert r.err.splitlines()[0] == "qwen: error: no API key"
    assert r.err.splitlines()[1] == "hint: run `qwen auth login` or set DASHSCOPE_API_KEY"
    assert regions.count() == {"cn": 0, "intl": 0, "us": 0}


def test_complete_diagnoses_a_key_from_another_region_as_auth_status_does(
    run_cli, regions: Regions, monkeypatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEYS["intl"])
    status = run_cli("auth", "status")
    complete = run_cli("complete", "hi")
    assert status.code == complete.code == 3 and complete.out == ""
    expected = [
        "qwen: error: this key belongs to region intl (Singapore), not cn (China (Beijing))",
        "hint: switch with --region intl (or QWEN_REGION=intl), "
        "or store it for that region: qwen auth login --region intl",
    ]
    assert complete.err.splitlines() == expected
    assert status.err.splitlines() == expected
    for r in (status, complete):
        assert KEYS["intl"] not in r.err + r.out and KEYS["intl"][:-4] not in r.err + r.out
    chats = [q for q in regions.requests("cn") if q["path"].endswith("/chat/completions")]
    assert len(chats) == 1  # asked once, then diagnosed with GET /models elsewhere
    assert [q["path"] for q in regions.requests("intl")][-1].endswith("/models")


def test_a_key_refused_everywhere_keeps_the_servers_message(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-nowhere-0000-9999")
    r = run_cli("complete", "hi")
    assert r.code == 3
    first, hint = r.err.splitlines()[:2]
    assert first.startswith("qwen: error: ") and "belongs to region" not in first
    assert hint.startswith("hint: DashScope keys are bound to a region and this request used region cn")
    assert {r: n > 0 for r, n in regions.count().items()} == {"cn": True, "intl": True, "us": True}


def test_another_server_refusing_the_key_is_not_probed(run_cli, regions: Regions, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEYS["intl"])
    url = regions.servers["cn"].base_url
    monkeypatch.delenv("QWEN_BASE_URL_CN")
    r = run_cli("complete", "hi", "--base-url", url)
    assert r.code == 3
    assert r.err.splitlines()[1] == f"hint: check the key for {url}, or run `qwen auth status`"
    assert regions.count()["intl"] == 0 and regions.count()["us"] == 0
