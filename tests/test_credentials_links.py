"""Symbolic links: a key is never left behind, a directory not made for qwen keeps its mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from qwen_cli import config, credentials
from qwen_cli.errors import ConfigError

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX links and modes")
OLD = {"dashscope": {"api_key": "sk-test-old-key-000000", "region": "cn"}}
NEW = {"dashscope": {"api_key": "sk-test-new-key-111111", "region": "intl"}}
WEB = {"qwen-web": {"token": "tok-test-web-222222", "cookie": "c=1"}}


def files_holding(root: Path, secret: str) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and secret in p.read_text(errors="replace")
    )


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """A config dir whose credentials.json links to a file kept elsewhere (dotfiles style)."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    target = secrets / "qwen.json"
    credentials.save(secrets / "scratch", OLD)  # a real 0600 file with the old key...
    os.replace(secrets / "scratch" / credentials.FILENAME, target)  # ...moved to where the link points
    (secrets / "scratch").rmdir()
    d = tmp_path / "config"
    d.mkdir(mode=0o700)
    credentials.path_in(d).symlink_to(target)
    return d, target


def test_login_writes_through_the_link_and_leaves_no_old_key(
    linked: tuple[Path, Path], tmp_path: Path
) -> None:
    d, target = linked
    credentials.save(d, NEW)
    assert credentials.path_in(d).is_symlink() and credentials.path_in(d).resolve() == target
    assert credentials.load(d) == NEW
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert files_holding(tmp_path, "sk-test-old-key") == []
    assert files_holding(tmp_path, "sk-test-new-key") == [target]


def test_logout_erases_the_target_not_just_the_link(linked: tuple[Path, Path], tmp_path: Path) -> None:
    d, target = linked
    assert credentials.remove(d) == ["dashscope"]
    assert not target.exists() and not credentials.path_in(d).is_symlink()
    assert files_holding(tmp_path, "sk-test-old-key") == []
    assert credentials.load(d) == {}


def test_logout_of_one_provider_rewrites_the_target(linked: tuple[Path, Path], tmp_path: Path) -> None:
    d, target = linked
    credentials.save(d, {**OLD, **WEB})
    assert credentials.remove(d, "dashscope") == ["dashscope"]
    assert credentials.path_in(d).is_symlink() and credentials.load(d) == WEB
    assert files_holding(tmp_path, "sk-test-old-key") == []
    assert credentials.remove(d, "qwen-web") == ["qwen-web"]
    assert not target.exists() and not credentials.path_in(d).is_symlink()
    assert files_holding(tmp_path, "tok-test-web") == []


def test_a_link_to_a_missing_directory_is_one_clear_error(tmp_path: Path) -> None:
    d = tmp_path / "config"
    d.mkdir()
    credentials.path_in(d).symlink_to(tmp_path / "gone" / "qwen.json")
    with pytest.raises(ConfigError) as e:
        credentials.save(d, NEW)
    assert str(e.value).startswith(f"cannot write {credentials.path_in(d)} (a link to {tmp_path / 'gone'}")
    assert files_holding(tmp_path, "sk-test-new-key") == []


@pytest.mark.parametrize("mode", [0o755, 0o1777, 0o775])
def test_a_linked_config_directory_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    d = tmp_path / "config-link"
    d.symlink_to(shared)
    path = credentials.save(d, NEW)
    assert stat.S_IMODE(shared.stat().st_mode) == mode
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and credentials.load(d) == NEW
    if mode & 0o022:  # others may replace the file: said on every read instead
        assert any("can be written by other users" in w for w in credentials.check(d))


def test_a_shared_sticky_directory_is_not_tightened(tmp_path: Path) -> None:
    d = tmp_path / "tmp-like"
    d.mkdir()
    d.chmod(0o1777)
    credentials.save(d, NEW)
    assert stat.S_IMODE(d.stat().st_mode) == 0o1777


def test_a_directory_qwen_creates_is_0700(tmp_path: Path) -> None:
    d = tmp_path / "new" / "qwen"
    credentials.save(d, NEW)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) & 0o700 == 0o700


def test_cli_logout_through_a_link(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = config.config_dir()
    d.mkdir(parents=True)
    target = tmp_path / "elsewhere.json"
    credentials.path_in(d).symlink_to(target)
    r = run_cli("auth", "login", "--with-key-stdin", "--no-verify", stdin=b"sk-test-cli-key-3333333\n")
    assert r.code == 0, r.err
    assert credentials.path_in(d).is_symlink() and "sk-test-cli-key" in target.read_text()
    r = run_cli("auth", "logout")
    assert r.code == 0 and r.err.startswith("Removed the stored credentials for dashscope")
    assert not target.exists() and files_holding(tmp_path, "sk-test-cli-key") == []
