"""The credentials file: the only place a key or cookie is ever stored in clear.

It lives in the config directory, is created with mode 0600 (its directory
0700), is written atomically (a temporary file renamed over it), and its mode is
checked on every read.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from qwen_cli.errors import ConfigError

FILENAME = "credentials.json"


def path_in(config_dir: Path) -> Path:
    return config_dir / FILENAME


def insecure_mode(path: Path) -> str | None:
    """A warning when ``path`` (or its directory) can be read by others, else ``None``."""
    if os.name != "posix":
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); run `chmod 600 {path}`"
    return None


def load(config_dir: Path) -> dict[str, Any]:
    """All stored credentials, by provider; ``{}`` when there are none."""
    path = path_in(config_dir)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", hint="check its permissions") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{path} is not valid JSON",
            hint="run `qwen auth logout` and `qwen auth login` to write it again",
        ) from exc
    return data if isinstance(data, dict) else {}


def save(config_dir: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` atomically with mode 0600; return the file's path."""
    config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        with contextlib.suppress(OSError):
            os.chmod(config_dir, stat.S_IMODE(config_dir.stat().st_mode) & ~0o077)
    path = path_in(config_dir)
    fd, tmp = tempfile.mkstemp(prefix=".credentials-", suffix=".tmp", dir=config_dir)
    try:
        if os.name == "posix":
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def default_provider(data: dict[str, Any]) -> str | None:
    """The provider whose entry is marked ``"default": true`` (the last one logged in to)."""
    for name, entry in data.items():
        if isinstance(entry, dict) and entry.get("default") is True:
            return name
    return None


def with_default(data: dict[str, Any], provider: str) -> dict[str, Any]:
    """``data`` with ``provider``'s entry marked default and every other entry unmarked."""
    out: dict[str, Any] = {}
    for name, entry in data.items():
        if isinstance(entry, dict):
            entry = {k: v for k, v in entry.items() if k != "default"}
            if name == provider:
                entry["default"] = True
        out[name] = entry
    return out


def remove(config_dir: Path, provider: str | None = None) -> bool:
    """Forget one provider's credentials (or all); ``True`` if anything was removed."""
    data = load(config_dir)
    if provider is None:
        if not path_in(config_dir).exists():
            return False
        path_in(config_dir).unlink()
        return True
    if provider not in data:
        return False
    del data[provider]
    if data:
        save(config_dir, data)
    else:
        path_in(config_dir).unlink()
    return True
