"""Model aliases: short names for models, kept in config.toml's ``[aliases]`` table.

``qwen alias set fast qwen-flash`` writes ``fast = "qwen-flash"`` there; :func:`expand` is the
one place a name becomes a model, called where the model setting is resolved (``config.resolve``
for ``-m``, ``QWEN_MODEL`` and ``model =``; ``/model`` in a chat), so an alias works wherever a
model name does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qwen_cli.errors import ConfigError, UsageError

TABLE = "aliases"
MAX_DEPTH = 8  # an alias may name another alias; a loop is an error


def table(cfile: Mapping[str, Any], path: Path | None = None) -> dict[str, str]:
    """The aliases of a parsed config file, checked."""
    raw = cfile.get(TABLE, {})
    where = str(path) if path else "config.toml"
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: [{TABLE}] must be a table of names, got {type(raw).__name__}",
            hint=f'write it as [{TABLE}] then lines like fast = "qwen-flash"',
        )
    for name, model in raw.items():
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(
                f"{where}: alias {name!r} must name a model, got {model!r}",
                hint=f'write it as {name} = "qwen-flash" under [{TABLE}]',
            )
    return {str(k): str(v).strip() for k, v in raw.items()}


def expand(name: str, aliases: Mapping[str, str]) -> str:
    """The model ``name`` stands for: itself, or what its alias (chain) names."""
    seen = [name]
    while name in aliases:
        name = aliases[name]
        if name in seen or len(seen) > MAX_DEPTH:
            raise ConfigError(
                f"the model aliases loop: {' -> '.join([*seen, name])}",
                hint="run `qwen alias list` and `qwen alias rm NAME` to break the loop",
            )
        seen.append(name)
    return name


def load(cdir: Path) -> dict[str, str]:
    """The aliases of the config file in ``cdir``."""
    from qwen_cli.config import CONFIG_FILE, read_config_file

    return table(read_config_file(cdir), cdir / CONFIG_FILE)


def resolve_name(name: str, cdir: Path) -> str:
    """``name`` as a model, with the aliases of the config file in ``cdir``."""
    return expand(name, load(cdir))


def check_name(name: str) -> str:
    """``name`` if it can be an alias: one word, not a catalogued model's own name."""
    from qwen_cli import catalog

    name = name.strip()
    if not name or any(ch.isspace() or ch in "\"'=[]#" for ch in name):
        raise UsageError(
            f"an alias is one word without quotes, = or brackets (got {name!r})",
            hint="e.g. qwen alias set fast qwen-flash",
        )
    if name in catalog.names():
        raise UsageError(
            f"{name!r} is a model's own name: an alias would hide it",
            hint="pick another name, e.g. qwen alias set fast qwen-flash",
        )
    return name


def set_alias(cdir: Path, name: str, model: str) -> None:
    from qwen_cli import configfile
    from qwen_cli.config import CONFIG_FILE

    name = check_name(name)
    model = model.strip()
    if not model or any(ch.isspace() for ch in model):
        raise UsageError(f"not a model name: {model!r}", hint="run `qwen models` to list them")
    current = load(cdir)
    expand(model, {**current, name: model})  # refuse a loop before writing it
    configfile.set_value(cdir / CONFIG_FILE, name, model, table=TABLE)


def remove(cdir: Path, name: str) -> str:
    """Drop alias ``name``; the model it named."""
    import difflib

    from qwen_cli import configfile
    from qwen_cli.config import CONFIG_FILE

    current = load(cdir)
    if name not in current:
        close = difflib.get_close_matches(name, list(current), n=3)
        raise UsageError(
            f"no alias {name!r}" + (f"; did you mean {', '.join(close)}?" if close else ""),
            hint="run `qwen alias list` to see them",
        )
    configfile.remove_value(cdir / CONFIG_FILE, name, table=TABLE)
    return current[name]
