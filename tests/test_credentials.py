"""The credentials file: 0600 in a 0700 directory, atomic writes, modes checked on every read."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qwen_cli import config, credentials
from qwen_cli.errors import ConfigError

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
OLD = {"dashscope": {"api_key": "sk-test-old-key-000000", "region": "cn"}}
NEW = {"dashscope": {"api_key": "sk-test-new-key-111111", "region": "intl"}}


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name != credentials.FILENAME)


@posix
def test_new_file_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    d = tmp_path / "a" / "qwen"
    path = credentials.save(d, OLD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert credentials.load(d) == OLD
    assert credentials.check(d) == []


@posix
def test_existing_open_directory_is_tightened(tmp_path: Path) -> None:
    d = tmp_path / "qwen"
    d.mkdir(mode=0o755)
    d.chmod(0o775)
    credentials.save(d, OLD)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700


@posix
def test_a_crash_mid_write_keeps_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "qwen"
    path = credentials.save(d, OLD)
    before = path.read_bytes()
    seen: dict[str, int] = {}

    def crash(fd: int) -> None:  # the new content is written, not yet renamed into place
        seen.update({p.name: stat.S_IMODE(p.stat().st_mode) for p in d.iterdir() if p.name.endswith(".tmp")})
        raise KeyboardInterrupt  # Ctrl-C at the worst moment

    monkeypatch.setattr("qwen_cli.credentials.os.fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        credentials.save(d, NEW)
    assert list(seen.values()) == [0o600]  # the temporary file existed, private from the start
    assert path.read_bytes() == before
    assert leftovers(d) == []
    assert credentials.load(d) == OLD


@posix
def test_a_killed_write_leaves_the_old_file_whole_and_the_leftover_is_swept(tmp_path: Path) -> None:
    d = tmp_path / "qwen"
    path = credentials.save(d, OLD)
    before = path.read_bytes()
    child = f"""
import os, sys
from pathlib import Path
from qwen_cli import credentials
def hang(fd):
    sys.stdout.write("WRITING\\n"); sys.stdout.flush()
    sys.stdin.read()  # blocks until killed
os.fsync = hang
credentials.save(Path({str(d)!r}), {NEW!r})
"""
    with subprocess.Popen(
        [sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "WRITING\n"  # the child is inside save(), mid-write
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert path.read_bytes() == before and credentials.load(d) == OLD
    (tmp,) = [d / n for n in leftovers(d)]
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o600  # even the leftover was never readable by others
    # A leftover younger than a minute may be another login's, in flight: the next save keeps it...
    credentials.save(d, OLD)
    assert leftovers(d) == [tmp.name]
    # ...an older one is swept, and logout sweeps them all (they may hold a key).
    old = time.time() - 2 * credentials.STALE_TMP_SECONDS
    os.utime(tmp, (old, old))
    credentials.save(d, NEW)
    assert leftovers(d) == []
    (d / ".credentials-x.tmp").write_text("{}")
    credentials.remove(d)
    assert list(d.iterdir()) == []


@posix
def test_modes_checked_on_every_read(tmp_path: Path) -> None:
    d = tmp_path / "qwen"
    path = credentials.save(d, OLD)
    path.chmod(0o644)
    (warning,) = credentials.check(d)
    assert warning == f"{path} is readable by other users (mode 644); run `chmod 600 {path}`"
    path.chmod(0o600)
    d.chmod(0o757)
    (warning,) = credentials.check(d)
    assert f"{d} can be written by other users (mode 757)" in warning and "chmod 700" in warning
    d.chmod(0o755)  # others may list the directory, but cannot replace the file: fine
    assert credentials.check(d) == []


@posix
def test_resolve_reports_the_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    path = credentials.save(config.config_dir(), OLD)
    path.chmod(0o604)
    s = config.resolve()
    assert s.api_key == "sk-test-old-key-000000"
    assert s.warnings == [f"{path} is readable by other users (mode 604); run `chmod 600 {path}`"]


def test_no_file_no_warning_no_credentials() -> None:
    assert credentials.check(config.config_dir()) == []
    assert credentials.load(config.config_dir()) == {}
    assert credentials.remove(config.config_dir()) == []


def test_broken_file_is_a_config_error_that_says_how_to_fix_it() -> None:
    d = config.config_dir()
    d.mkdir(parents=True)
    credentials.path_in(d).write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        credentials.load(d)
    assert info.value.exit_code == 2 and "qwen auth logout" in (info.value.hint or "")


def test_update_and_remove_by_provider(tmp_path: Path) -> None:
    d = tmp_path / "qwen"
    credentials.save(d, {"qwen-web": {"token": "t-1234567", "cookie": "a=1"}})
    credentials.update(d, "dashscope", NEW["dashscope"])
    assert json.loads(credentials.path_in(d).read_text()) == {
        "dashscope": {**NEW["dashscope"], "default": True},  # the last login is the default provider
        "qwen-web": {"token": "t-1234567", "cookie": "a=1"},
    }
    assert credentials.remove(d, "qwen-web") == ["qwen-web"]
    assert credentials.load(d) == {"dashscope": {**NEW["dashscope"], "default": True}}
    assert credentials.remove(d, "qwen-web") == []
    assert credentials.remove(d, "dashscope") == ["dashscope"]
    assert not credentials.path_in(d).exists()


def test_every_provider_has_its_login_fields() -> None:
    from qwen_cli.providers import PROVIDERS, provider_class

    fields = {p: provider_class(p).credentials for p in PROVIDERS}
    assert all(fields.values())
    assert [c.stored for c in fields["qwen-web"]] == ["token", "cookie"]  # what config.resolve reads
