"""Settings precedence: flag > env > .env > config file > credentials file > default."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from qwen_cli import config, credentials
from qwen_cli.errors import ConfigError
from qwen_cli.providers.dashscope import REGIONS


def write_config(text: str) -> None:
    d = config.config_dir()
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.toml").write_text(text, encoding="utf-8")


def test_defaults() -> None:
    s = config.resolve()
    assert (s.model, s.region, s.provider, s.api_key) == ("qwen-max", "cn", "dashscope", None)
    assert s.base_url == REGIONS["cn"] and s.source("base_url") == "default"


def test_precedence_of_every_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('model = "from-config"\nregion = "us"\ntimeout = 33\n')
    assert config.resolve().model == "from-config"
    Path(".env").write_text(
        "QWEN_MODEL=from-dotenv\nDASHSCOPE_API_KEY=sk-dotenv-key-123456\n", encoding="utf-8"
    )
    s = config.resolve()
    assert (s.model, s.source("model")) == ("from-dotenv", ".env")
    assert (s.api_key, s.source("api_key")) == ("sk-dotenv-key-123456", ".env")
    assert (s.region, s.timeout) == ("us", 33.0)
    monkeypatch.setenv("QWEN_MODEL", "from-env")
    monkeypatch.setenv("QWEN_API_KEY", "sk-qwen-api-key-123456")
    s = config.resolve()
    assert (s.model, s.source("model")) == ("from-env", "QWEN_MODEL")
    assert s.source("api_key") == "QWEN_API_KEY"
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-dashscope-key-123456")
    assert config.resolve().source("api_key") == "DASHSCOPE_API_KEY"
    s = config.resolve({"model": "from-flag"})
    assert (s.model, s.source("model")) == ("from-flag", "flag")


def test_credentials_file_is_last_for_the_key() -> None:
    credentials.save(
        config.config_dir(), {"dashscope": {"api_key": "sk-stored-key-1234567", "region": "intl"}}
    )
    s = config.resolve()
    assert (s.api_key, s.source("api_key")) == ("sk-stored-key-1234567", "credentials file")
    assert s.region == "intl" and s.base_url == REGIONS["intl"]


def test_region_base_url_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_REGION", "intl")
    monkeypatch.setenv("QWEN_BASE_URL_INTL", "http://127.0.0.1:9/v1")
    s = config.resolve()
    assert (s.base_url, s.source("base_url")) == ("http://127.0.0.1:9/v1", "QWEN_BASE_URL_INTL")
    write_config('[base_urls]\nus = "http://gw.example/us/v1"\n')
    assert config.resolve({"region": "us"}).base_url == "http://gw.example/us/v1"
    monkeypatch.setenv("QWEN_BASE_URL", "http://local:8000/v1/")
    assert config.resolve().base_url == "http://local:8000/v1"


@pytest.mark.parametrize(
    ("flags", "text"),
    [({"region": "mars"}, "unknown region 'mars'"), ({"provider": "x"}, "unknown provider")],
)
def test_bad_values(flags: dict[str, str], text: str) -> None:
    with pytest.raises(ConfigError, match=text) as info:
        config.resolve(flags)
    assert info.value.exit_code == 2


def test_bad_number_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="QWEN_TIMEOUT"):
        config.resolve()


def test_broken_config_file() -> None:
    write_config("model = \n")
    with pytest.raises(ConfigError, match=r"config\.toml"):
        config.resolve()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_credentials_written_0600_atomically() -> None:
    d = config.config_dir()
    path = credentials.save(d, {"dashscope": {"api_key": "sk-x-123456789012"}})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(d.stat().st_mode) & 0o077 == 0
    assert [p.name for p in d.iterdir()] == ["credentials.json"]  # no temporary file left
    assert credentials.insecure_mode(path) is None
    path.chmod(0o644)
    assert "chmod 600" in (credentials.insecure_mode(path) or "")
    assert credentials.remove(d, "dashscope") and not path.exists()
