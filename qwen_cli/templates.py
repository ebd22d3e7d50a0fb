"""Templates (roles): a system prompt, a prompt with variables, a model and options, in a TOML file.

A template ``NAME`` is ``<config dir>/templates/NAME.toml``, or a built-in one shipped in
``qwen_cli/builtin_templates/`` (a user file of the same name shadows it)::

    description = "Review a diff"
    system = "You are a careful reviewer."
    prompt = "Review this change for $focus:\\n\\n$input"
    model = "qwen-plus"
    temperature = 0.2
    [defaults]
    focus = "bugs"

``$input`` is what came on stdin or as the argument; any other ``$name`` (or ``${name}``) is
given with ``-p name=value`` or falls back on ``[defaults]``; ``$$`` is a dollar sign. A file
with an unknown key or a value of the wrong type is refused, naming the file and the key.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

from qwen_cli.errors import ConfigError, UsageError
from qwen_cli.structs import field, struct

SUFFIX = ".toml"
INPUT = "input"
# key -> (type, what to write, (low, high) for numbers)
FIELDS: dict[str, tuple[type, str, tuple[float, float] | None]] = {
    "description": (str, "a string", None),
    "system": (str, "a string", None),
    "prompt": (str, "a string", None),
    "model": (str, "a string", None),
    "temperature": (float, "a number", (0.0, 2.0)),
    "top_p": (float, "a number", (0.0, 1.0)),
    "max_tokens": (int, "a whole number", (1, 2**31 - 1)),
    "think": (bool, "true or false", None),
    "search": (bool, "true or false", None),
    "schema": (str, "a string", None),
    "shell": (bool, "true or false", None),
    "code": (bool, "true or false", None),
    "extract": (bool, "true or false", None),
    "defaults": (dict, "a table of strings", None),
}
# What a template sets for the request, as the command's options of the same names.
OPTIONS = ("model", "system", "temperature", "top_p", "max_tokens", "think", "search")
# Passed through as if their flags (--shell, --code, --extract, --schema) had been given.
MODES = ("shell", "code", "extract", "schema")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_VAR = re.compile(r"\$(?:(\$)|([_A-Za-z][_A-Za-z0-9]*)|\{([_A-Za-z][_A-Za-z0-9]*)\})")

SKELETON = """\
# The template {name!r}: every key is optional; delete the # to use one.
# Use it with: qwen complete --template {name} "..."  (or -T {name}; also chat, upload --ask)
# In system and prompt, $input is stdin or the argument, $name a variable (-p name=value),
# $$ a dollar sign.

# description = "What this template is for"
# system = "You are a concise assistant."
# prompt = '''
# Do this with the text below:
#
# $input'''
# model = "qwen-plus"
# temperature = 0.7
# top_p = 0.8
# max_tokens = 2000
# think = false
# search = false

# Values for variables not given with -p:
# [defaults]
# lang = "English"
"""


@struct(frozen=True)
class Template:
    name: str
    path: Path
    builtin: bool
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return str(self.values.get("description", ""))

    @property
    def model(self) -> str | None:
        got = self.values.get("model")
        return str(got) if got is not None else None

    @property
    def prompt(self) -> str | None:
        got = self.values.get("prompt")
        return str(got) if got is not None else None

    @property
    def defaults(self) -> dict[str, str]:
        return dict(self.values.get("defaults", {}))

    def options(self) -> dict[str, Any]:
        """What it sets among :data:`OPTIONS` (the system prompt unrendered)."""
        return {k: self.values[k] for k in OPTIONS if k in self.values}

    def modes(self) -> dict[str, Any]:
        return {k: self.values[k] for k in MODES if k in self.values}

    def variables(self) -> list[str]:
        """The variables its system prompt and prompt use, ``input`` included."""
        names: dict[str, None] = {}
        for text in (self.values.get("system"), self.values.get("prompt")):
            names.update(dict.fromkeys(variables(text or "")))
        return list(names)

    def render_system(self, params: dict[str, str]) -> str | None:
        """The system prompt with its variables filled in (``-p`` values, then ``[defaults]``)."""
        system = self.values.get("system")
        if system is None:
            return None
        values = {**self.defaults, **params}
        need = [v for v in variables(system) if v not in values]
        if INPUT in need:
            raise ConfigError(
                f"{self.path}: $input belongs in the prompt, not the system prompt",
                hint=f"move it: qwen templates edit {self.name}",
            )
        if need:
            raise missing(self.name, need)
        return render(system, values)

    def render_prompt(self, input_text: str | None, params: dict[str, str]) -> str | None:
        """The prompt with ``$input`` and the variables filled in.

        A template without ``$input`` in its prompt gets the input after the prompt; one
        without a prompt sends the input as it is."""
        prompt = self.prompt
        if prompt is None:
            return input_text
        values = {**self.defaults, **params}
        if input_text is not None:
            values[INPUT] = input_text
        need = [v for v in variables(prompt) if v not in values]
        if need:
            raise missing(self.name, sorted(need, key=lambda v: v != INPUT))
        text = render(prompt, values)
        if INPUT not in variables(prompt) and input_text:
            text = f"{text}\n\n{input_text}" if text else input_text
        return text


def missing(name: str, need: list[str]) -> UsageError:
    if need[0] == INPUT:
        return UsageError(
            f"template {name!r} needs an input ($input) and none was given",
            hint=f"give it as the argument or on stdin: ... | qwen complete --template {name} - "
            "(qwen upload: --ask)",
        )
    plural = "variables" if len(need) > 1 else "variable"
    given = " ".join(f"-p {v}=VALUE" for v in need)
    return UsageError(
        f"template {name!r}: no value for the {plural} {', '.join('$' + v for v in need)}",
        hint=f"give it with {given}",
    )


def variables(text: str) -> list[str]:
    """The ``$name`` / ``${name}`` variables of ``text``, in order, once each."""
    found = (m.group(2) or m.group(3) for m in _VAR.finditer(text))
    return list(dict.fromkeys(v for v in found if v))


def render(text: str, values: dict[str, str]) -> str:
    """``text`` with its variables replaced (a ``$`` not followed by a name stays as it is)."""

    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        return values[m.group(2) or m.group(3)]

    return _VAR.sub(one, text)


def user_dir(cdir: Path) -> Path:
    return cdir / "templates"


def builtin_dir() -> Path:
    return Path(__file__).with_name("builtin_templates")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name.endswith(SUFFIX):
        raise UsageError(
            f"not a template name: {name!r}",
            hint="a name is letters, digits, -, _ and . (not first), e.g. review or alt-text",
        )
    return name


def parse(text: str, path: Path) -> dict[str, Any]:
    """A template file's values, checked: a ConfigError names the file and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}", hint=f"fix it: qwen templates edit {path.stem}"
        ) from exc
    for key, value in data.items():
        if key not in FIELDS:
            close = difflib.get_close_matches(key, list(FIELDS), n=1)
            guess = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{path}: unknown key {key!r}{guess}",
                hint=f"a template knows: {', '.join(FIELDS)}",
            )
        kind, words, bounds = FIELDS[key]
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
            data[key] = value
        if ok and kind is dict:
            ok = all(isinstance(v, str) for v in value.values())
        if not ok:
            raise ConfigError(
                f"{path}: {key} must be {words}, got {value!r}",
                hint=f"fix it: qwen templates edit {path.stem}",
            )
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            low, high = (f"{b:g}" for b in bounds)
            raise ConfigError(
                f"{path}: {key} must be between {low} and {high}, got {value!r}",
                hint=f"fix it: qwen templates edit {path.stem}",
            )
    return data


def load(path: Path, *, builtin: bool = False) -> Template:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="check the file") from exc
    return Template(path.stem, path, builtin, parse(text, path))


def user_path(name: str, cdir: Path) -> Path:
    return user_dir(cdir) / f"{check_name(name)}{SUFFIX}"


def builtin_path(name: str) -> Path | None:
    path = builtin_dir() / f"{name}{SUFFIX}"
    return path if path.is_file() else None


def names(cdir: Path) -> dict[str, bool]:
    """Every template's name and whether it is a built-in one (a user file shadows it)."""
    found = {p.stem: True for p in sorted(builtin_dir().glob(f"*{SUFFIX}"))}
    udir = user_dir(cdir)
    if udir.is_dir():
        found.update({p.stem: False for p in udir.glob(f"*{SUFFIX}") if _NAME.fullmatch(p.stem)})
    return dict(sorted(found.items()))


def find(name: str, cdir: Path) -> Template:
    """The template ``name``: the user's, else the built-in one; an unknown name lists close ones."""
    path = user_path(name, cdir)
    if path.is_file():
        return load(path)
    builtin = builtin_path(name)
    if builtin is not None:
        return load(builtin, builtin=True)
    known = list(names(cdir))
    close = difflib.get_close_matches(name, known, n=3)
    raise UsageError(
        f"no template {name!r}" + (f"; did you mean {', '.join(close)}?" if close else ""),
        hint=f"`qwen templates list` shows them; `qwen templates edit {name}` creates it",
    )


def dump(values: dict[str, Any]) -> str:
    """A template's values as TOML, multi-line strings kept readable."""
    from qwen_cli.configfile import toml_key, toml_value

    lines = []
    for key, value in values.items():
        if isinstance(value, dict):
            continue
        if isinstance(value, str) and "\n" in value and _literal_ok(value):
            lines.append(f"{key} = '''\n{value}'''")
        else:
            lines.append(f"{key} = {toml_value(value)}")
    for key, value in values.items():
        if isinstance(value, dict) and value:
            lines += ["", f"[{key}]", *(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())]
    return "\n".join(lines) + "\n"


def _literal_ok(text: str) -> bool:
    return (
        "'''" not in text and not text.endswith("'") and all(ch in "\n\t" or ord(ch) >= 0x20 for ch in text)
    )


def save(name: str, cdir: Path, values: dict[str, Any]) -> Path:
    """Write a new template ``name``; an existing one of the user's is never overwritten."""
    path = user_path(name, cdir)
    if path.exists():
        raise UsageError(
            f"template {name!r} exists already ({path})",
            hint=f"pick another name, or `qwen templates rm {name}` first",
        )
    text = dump(values)
    parse(text, path)  # what we write reads back
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
