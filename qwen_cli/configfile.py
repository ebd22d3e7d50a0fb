"""Writing ``config.toml`` for the user, one key at a time, keeping everything else as written.

This is a small line editor for flat TOML (top-level keys and ``[tables]`` of plain keys), not
a serializer: comments, blank lines, the order of keys and keys ``qwen`` does not know all stay
where the user put them. Every edit is checked before it replaces the file: the new text must
parse, and parse to the old settings with exactly the one change asked for; anything else (an
inline table, a dotted key, a value spread over lines) is refused with a hint to edit by hand,
rather than guessed at. The file is replaced atomically.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from qwen_cli.errors import ConfigError

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_HEADER = re.compile(r"^\s*\[")


def toml_key(key: str) -> str:
    return key if _BARE.fullmatch(key) else toml_string(key)


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """One scalar (or a list of them) as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def read(path: Path) -> tuple[str, dict[str, Any]]:
    """The file's text and its parsed contents (empty for a missing file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "", {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", hint="check its permissions") from exc
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="fix or remove that file first") from exc


def _section(lines: list[str], table: str | None) -> tuple[int, int] | None:
    """The lines [start, end) holding ``table``'s keys (the top level for ``None``)."""
    if table is None:
        end = next((i for i, ln in enumerate(lines) if _HEADER.match(ln)), len(lines))
        return 0, end
    header = re.compile(rf"^\s*\[\s*({re.escape(table)}|{re.escape(toml_string(table))})\s*\]\s*(#.*)?$")
    for i, ln in enumerate(lines):
        if header.match(ln.rstrip("\r\n")):
            end = next((j for j in range(i + 1, len(lines)) if _HEADER.match(lines[j])), len(lines))
            return i + 1, end
    return None


def _key_line(lines: list[str], start: int, end: int, key: str) -> int | None:
    pattern = re.compile(rf"^\s*({re.escape(key)}|{re.escape(toml_string(key))})\s*=")
    return next((i for i in range(start, end) if pattern.match(lines[i])), None)


def _edit(path: Path, key: str, value: Any, table: str | None) -> bool:
    """Set (or with ``value`` None remove) ``key``; whether the file changed."""
    text, before = read(path)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    line = f"{toml_key(key)} = {toml_value(value)}\n" if value is not None else None
    section = _section(lines, table)
    if section is None:
        if line is None:
            return False
        if lines and lines[-1].strip():
            lines.append("\n")
        lines += [f"[{toml_key(table or '')}]\n", line]
    else:
        start, end = section
        at = _key_line(lines, start, end, key)
        if at is not None:
            lines[at : at + 1] = [line] if line is not None else []
        elif line is None:
            return False
        else:
            last = max((i for i in range(start, end) if lines[i].strip()), default=start - 1)
            if last + 1 < len(lines) and _HEADER.match(lines[last + 1]):
                line += "\n"  # a blank line before the next table, as people write it
            lines.insert(last + 1, line)
    expected = _changed(before, key, value, table)
    new_text = "".join(lines)
    try:
        after = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        after = None
    if after != expected:
        where = f"[{table}] {key}" if table else key
        raise ConfigError(
            f"cannot change {where} in {path} without disturbing what is written there",
            hint=f"edit {path} by hand",
        )
    if after == before:
        return False
    write_text(path, new_text)
    return True


def _changed(before: dict[str, Any], key: str, value: Any, table: str | None) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(before)
    target = out if table is None else out.setdefault(table, {})
    if not isinstance(target, dict):
        target = {}
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value
    return out


def write_text(path: Path, text: str) -> None:
    """Replace the file with ``text``, atomically, keeping its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(
            f"cannot write {path}: {exc.strerror or exc}", hint="check its permissions"
        ) from exc


def set_value(path: Path, key: str, value: Any, table: str | None = None) -> bool:
    """Write ``key = value`` (in ``[table]``); whether the file changed."""
    return _edit(path, key, value, table)


def remove_value(path: Path, key: str, table: str | None = None) -> bool:
    """Drop ``key`` (from ``[table]``); whether it was there."""
    return _edit(path, key, None, table)
