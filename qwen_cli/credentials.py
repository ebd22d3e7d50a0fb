"""The credentials file: the only place a key or cookie is ever stored in clear.

It lives in the config directory and holds one object per provider::

    {"dashscope": {"api_key": "sk-...", "region": "intl"},
     "qwen-web": {"token": "...", "cookie": "..."}}

It is created with mode 0600 (its directory 0700), written atomically (a
temporary file in the same directory, flushed, then renamed over it, so an
interrupted write leaves the old file whole), and the modes of file and
directory are checked on every read (:func:`check`).

When ``credentials.json`` is a symbolic link, it is written and erased through
to the file it points to (the link stays): replacing the link would leave the
old key behind in its target. Only a directory qwen creates, or a plain one of
the user's own that is not shared (no symbolic link, no sticky bit), is
tightened to 0700: never a directory the user made for something else.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

from qwen_cli.errors import ConfigError

FILENAME = "credentials.json"
_TMP_PREFIX = ".credentials-"
_TMP_SUFFIX = ".tmp"
STALE_TMP_SECONDS = 60.0
# The fields each provider stores are its own description: ``Provider.credentials``.


def path_in(config_dir: Path) -> Path:
    return config_dir / FILENAME


def insecure_mode(path: Path) -> str | None:
    """A warning when the file ``path`` can be read or written by others, else ``None``."""
    if os.name != "posix":
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); run `chmod 600 {path}`"
    return None


def insecure_dir(config_dir: Path) -> str | None:
    """A warning when others could replace files in ``config_dir`` (group/world writable)."""
    if os.name != "posix":
        return None
    try:
        mode = config_dir.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (
            f"{config_dir} can be written by other users (mode {stat.S_IMODE(mode):o}), who could "
            f"replace your credentials; run `chmod 700 {config_dir}`"
        )
    return None


def check(config_dir: Path) -> list[str]:
    """Warnings about the modes of the credentials file and its directory (empty when safe)."""
    path = path_in(config_dir)
    if not path.exists():
        return []
    dirs = dict.fromkeys((config_dir, real_path(config_dir).parent))  # and the linked file's own
    return [w for w in (insecure_mode(path), *(insecure_dir(d) for d in dirs)) if w]


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


def _temp_files(config_dir: Path) -> list[Path]:
    try:
        return [p for p in config_dir.iterdir() if p.name.startswith(_TMP_PREFIX) and p.suffix == _TMP_SUFFIX]
    except OSError:
        return []


def sweep(config_dir: Path, older_than: float = 0.0) -> int:
    """Delete temporary files a killed write left behind (they may hold a key); return how many."""
    now = time.time()
    n = 0
    for p in _temp_files(config_dir):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime >= older_than:
                p.unlink()
                n += 1
    return n


def real_path(config_dir: Path) -> Path:
    """The file that holds the credentials: ``credentials.json``, or the file it links to."""
    path = path_in(config_dir)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _own_dir(d: Path) -> bool:
    """A directory qwen may tighten: a real one (no link), the user's, not a shared sticky one."""
    try:
        st = d.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & stat.S_ISVTX


def _make_dir(config_dir: Path) -> None:
    existed = config_dir.exists() or config_dir.is_symlink()
    config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix" and (not existed or _own_dir(config_dir)):
        with contextlib.suppress(OSError):
            os.chmod(config_dir, stat.S_IMODE(config_dir.stat().st_mode) & ~0o077)


def save(config_dir: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` atomically with mode 0600 (through a symbolic link); return the file's path."""
    path = path_in(config_dir)
    try:
        _make_dir(config_dir)
        real = real_path(config_dir)
        sweep(real.parent, older_than=STALE_TMP_SECONDS)
        import tempfile  # only when writing: reading the file is every command's path

        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX, dir=real.parent)
    except OSError as exc:
        where = f" (a link to {real_path(config_dir)})" if path.is_symlink() else ""
        raise ConfigError(
            f"cannot write {path}{where}: {exc.strerror or exc}",
            hint="check that the directory exists and is yours, or remove the link",
        ) from exc
    try:
        if os.name == "posix":
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, real)
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


def update(config_dir: Path, provider: str, values: dict[str, Any], *, make_default: bool = True) -> Path:
    """Replace one provider's entry, keeping the others; the last login becomes the default."""
    data = load(config_dir)
    data[provider] = values
    return save(config_dir, with_default(data, provider) if make_default else data)


def remove(config_dir: Path, provider: str | None = None) -> list[str]:
    """Forget one provider's credentials (or all); return the providers removed."""
    sweep(config_dir)
    real = real_path(config_dir)
    if real != path_in(config_dir):
        sweep(real.parent)
    if not real.exists():
        return []
    data = load(config_dir)
    if provider is None:
        _erase(config_dir)
        return sorted(data)
    if provider not in data:
        return []
    del data[provider]
    if data:
        save(config_dir, data)
    else:
        _erase(config_dir)
    return [provider]


def _erase(config_dir: Path) -> None:
    """Delete the credentials file: the file a link points to, then the link."""
    path = path_in(config_dir)
    real_path(config_dir).unlink()
    if path.is_symlink():
        path.unlink()
