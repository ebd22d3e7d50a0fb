"""Where a key may go: every origin of the key crossed with every origin and kind of base URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_cli import config, credentials, keypolicy
from qwen_cli.errors import ConfigError

KEY = "sk-test-stored-000000000000abcd"
OWN = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
LOOP = "http://127.0.0.1:8000/v1"
REMOTE = "https://gateway.example.com/v1"
CLEAR = "http://gateway.example.com/v1"


def store_key(provider: str = "dashscope") -> None:
    entry = {"api_key": KEY} if provider == "dashscope" else {"token": "tok-123", "cookie": "c=1"}
    credentials.update(config.config_dir(), provider, entry)


def dotenv(text: str) -> Path:
    path = Path.cwd() / ".env"
    path.write_text(text, encoding="utf-8")
    return path


def write_config(text: str) -> None:
    d = config.config_dir()
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.toml").write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- .env base URL


@pytest.mark.parametrize("var", ["QWEN_BASE_URL", "QWEN_BASE_URL_CN"])
@pytest.mark.parametrize("url", [LOOP, REMOTE, CLEAR])
def test_a_dotenv_base_url_never_gets_the_stored_key(var: str, url: str) -> None:
    store_key()
    path = dotenv(f"{var}={url}\n")
    with pytest.raises(ConfigError) as e:
        config.resolve()
    host = url.split("/")[2]
    assert str(e.value).startswith(f"{path} sets the base URL to {host}, which would receive your API key")
    assert f'allowed_hosts = ["{host}"]' in (e.value.hint or "")
    assert str(config.config_dir() / "config.toml") in (e.value.hint or "")
    assert KEY not in str(e.value) + (e.value.hint or "")


@pytest.mark.parametrize("var", ["DASHSCOPE_API_KEY", "QWEN_API_KEY"])
def test_a_dotenv_base_url_never_gets_the_key_from_the_environment(
    var: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(var, KEY)
    dotenv(f"QWEN_BASE_URL={LOOP}\n")
    with pytest.raises(ConfigError, match=r"127.0.0.1:8000, which would receive your API key"):
        config.resolve()


def test_the_dotenv_may_send_its_own_key_to_its_own_host() -> None:
    store_key()  # stored, but the .env's key ranks above it and is the one sent
    dotenv(f"DASHSCOPE_API_KEY=sk-dotenv-key-1234\nQWEN_BASE_URL={LOOP}\n")
    s = config.resolve()
    assert (s.api_key, s.source("api_key"), s.base_url) == ("sk-dotenv-key-1234", ".env", LOOP)


def test_a_dotenv_base_url_without_any_key_is_fine() -> None:
    dotenv(f"QWEN_BASE_URL={CLEAR}\n")
    s = config.resolve()
    assert (s.api_key, s.base_url) == (None, CLEAR)


@pytest.mark.parametrize("url", [OWN, "https://dashscope.aliyuncs.com/compatible-mode/v1"])
def test_a_dotenv_may_pick_dashscopes_own_hosts(url: str) -> None:
    store_key()
    dotenv(f"QWEN_BASE_URL={url}\n")
    assert config.resolve().base_url == url


def test_dashscopes_host_over_http_from_a_dotenv_is_not_its_own() -> None:
    store_key()
    dotenv("QWEN_BASE_URL=http://dashscope.aliyuncs.com/compatible-mode/v1\n")
    with pytest.raises(ConfigError, match=r"sets the base URL to dashscope.aliyuncs.com"):
        config.resolve()


def test_a_lookalike_host_is_not_dashscopes() -> None:
    store_key()
    dotenv("QWEN_BASE_URL=https://evil-aliyuncs.com/v1\n")
    with pytest.raises(ConfigError, match=r"evil-aliyuncs.com"):
        config.resolve()


@pytest.mark.parametrize(
    ("entry", "url", "ok"),
    [
        ("127.0.0.1:8000", LOOP, True),
        ("127.0.0.1", LOOP, True),  # a host without port allows every port
        ("127.0.0.1:9000", LOOP, False),  # another port: another server
        ("gateway.example.com", REMOTE, True),
        ("GATEWAY.example.com", REMOTE, True),
        ("example.com", REMOTE, False),  # no suffix matching
    ],
)
def test_allowed_hosts_in_the_config_file(entry: str, url: str, ok: bool) -> None:
    store_key()
    write_config(f'allowed_hosts = ["{entry}"]\n')
    dotenv(f"QWEN_BASE_URL={url}\n")
    if ok:
        assert config.resolve().base_url == url
    else:
        with pytest.raises(ConfigError, match="which would receive your API key"):
            config.resolve()


def test_a_dotenv_cannot_allow_a_host_itself() -> None:
    store_key()
    dotenv(f'QWEN_BASE_URL={LOOP}\nallowed_hosts=["127.0.0.1:8000"]\nQWEN_ALLOW_HTTP=1\n')
    with pytest.raises(ConfigError, match="which would receive your API key"):
        config.resolve()


@pytest.mark.parametrize("value", ['"127.0.0.1"', "[1, 2]", '[""]'])
def test_a_bad_allowed_hosts_is_a_config_error(value: str) -> None:
    store_key()
    write_config(f"allowed_hosts = {value}\n")
    with pytest.raises(ConfigError, match=r"allowed_hosts in .* must be a list of host names"):
        config.resolve()


# --------------------------------------------------------------------------- the user's own choices


def test_user_chosen_base_urls_get_the_stored_key(monkeypatch: pytest.MonkeyPatch) -> None:
    store_key()
    dotenv(f"QWEN_BASE_URL={LOOP}\n")  # outranked by each of the user's own choices below
    assert config.resolve({"base_url": REMOTE}).base_url == REMOTE
    monkeypatch.setenv("QWEN_BASE_URL", REMOTE)
    assert config.resolve().base_url == REMOTE
    monkeypatch.delenv("QWEN_BASE_URL")
    Path(".env").unlink()
    write_config(f'[base_urls]\ncn = "{REMOTE}"\n')
    assert config.resolve().base_url == REMOTE
    monkeypatch.setenv("QWEN_BASE_URL_CN", "http://localhost:9/v1")
    dotenv("QWEN_BASE_URL_CN=http://127.0.0.1:1/v1\n")  # the environment's value wins: the user's
    assert config.resolve().base_url == "http://localhost:9/v1"


def test_a_base_url_stored_by_login_gets_the_stored_key() -> None:
    credentials.update(config.config_dir(), "qwen-web", {"token": "t", "cookie": "c", "base_url": LOOP})
    s = config.resolve({"provider": "qwen-web"})
    assert (s.base_url, s.source("base_url")) == (LOOP, "credentials file")


# --------------------------------------------------------------------------- qwen-web


def test_qwen_web_token_and_cookie_follow_the_same_rule() -> None:
    store_key("qwen-web")
    dotenv(f"QWEN_PROVIDER=qwen-web\nQWEN_BASE_URL={LOOP}\n")
    with pytest.raises(ConfigError, match="would receive your token and cookie"):
        config.resolve()
    dotenv("QWEN_PROVIDER=qwen-web\nQWEN_BASE_URL=https://chat.qwen.ai\n")
    assert config.resolve().base_url == "https://chat.qwen.ai"
    dotenv("QWEN_PROVIDER=qwen-web\nQWEN_BASE_URL=https://dashscope.aliyuncs.com\n")
    with pytest.raises(ConfigError, match=r"dashscope.aliyuncs.com"):  # not qwen-web's host
        config.resolve()


def test_qwen_web_cookie_alone_from_the_dotenv_protects_the_stored_token() -> None:
    store_key("qwen-web")
    dotenv(f"QWEN_PROVIDER=qwen-web\nQWEN_COOKIE=own=1\nQWEN_BASE_URL={LOOP}\n")
    with pytest.raises(ConfigError, match="would receive your token;"):
        config.resolve()


# --------------------------------------------------------------------------- plain http


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8000/v1", "http://127.0.0.1/v1", "http://127.5.6.7:1/v1", "http://[::1]:8000/v1"],
)
def test_loopback_http_is_fine(url: str) -> None:
    store_key()
    assert config.resolve({"base_url": url}).base_url == url


@pytest.mark.parametrize("url", [CLEAR, "http://10.0.0.5:8000/v1", "http://[2001:db8::1]/v1"])
def test_http_off_loopback_needs_an_opt_in(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store_key()
    with pytest.raises(ConfigError) as e:
        config.resolve({"base_url": url})
    assert str(e.value) == (
        f"the base URL {url} (from --base-url) is plain http: your API key would cross the network in clear"
    )
    assert "QWEN_ALLOW_HTTP=1" in (e.value.hint or "")
    monkeypatch.setenv("QWEN_ALLOW_HTTP", "1")
    assert config.resolve({"base_url": url}).base_url == url


def test_http_off_loopback_without_a_key_is_fine() -> None:
    assert config.resolve({"base_url": CLEAR}).api_key is None


def test_a_dotenv_opts_in_to_http_only_for_its_own_key() -> None:
    dotenv(f"DASHSCOPE_API_KEY=sk-dotenv-key-1234\nQWEN_BASE_URL={CLEAR}\nQWEN_ALLOW_HTTP=1\n")
    assert config.resolve().base_url == CLEAR
    store_key()
    dotenv(f"QWEN_ALLOW_HTTP=1\nQWEN_BASE_URL={OWN}\n")
    with pytest.raises(ConfigError, match="plain http"):
        config.resolve({"base_url": CLEAR})


# --------------------------------------------------------------------------- malformed base URLs


@pytest.mark.parametrize(
    ("url", "what"),
    [
        ("localhost:8000/v1", "has no scheme"),
        ("example.com/v1", "has no scheme"),
        ("ftp://example.com/v1", "uses ftp://"),
        ("file:///etc/passwd", "uses file://"),
        ("http:///v1", "has no host"),
        ("http://:8000/v1", "has no host"),
        ("http://example.com:99999/v1", "is not a valid URL"),
    ],
)
def test_a_malformed_base_url_is_a_config_error_with_or_without_a_key(url: str, what: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.resolve({"base_url": url})
    assert str(e.value).startswith(f"the base URL {url!r} (from --base-url) {what}")
    assert "--base-url http://localhost:8000/v1" in (e.value.hint or "")


# --------------------------------------------------------------------------- the pure helpers


def test_origin_of_each_source() -> None:
    env = {"QWEN_BASE_URL_CN": "x", "QWEN_BASE_URL": "y"}
    assert keypolicy.origin("default", env) == keypolicy.DEFAULT
    assert keypolicy.origin(".env", env) == keypolicy.DOTENV
    assert keypolicy.origin("QWEN_BASE_URL_CN", env) == keypolicy.USER
    assert keypolicy.origin("QWEN_BASE_URL_US", env) == keypolicy.DOTENV  # not in the environment
    for source in ("flag", "QWEN_BASE_URL", "config file", "credentials file", "DASHSCOPE_API_KEY"):
        assert keypolicy.origin(source, env) == keypolicy.USER


def test_is_loopback() -> None:
    for host in ("localhost", "LOCALHOST.", "127.0.0.1", "127.255.0.9", "::1", "[::1]"):
        assert keypolicy.is_loopback(host), host
    for host in ("localhost.example.com", "10.0.0.1", "128.0.0.1", "::2", "example.com", ""):
        assert not keypolicy.is_loopback(host), host
