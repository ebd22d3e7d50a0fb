"""Option values converted without pydantic, so a command starts fast.

typer (0.29) converts every parameter's value, even an option left out, through a pydantic
``TypeAdapter`` it builds on first use: importing pydantic and building one adapter per option
was about 0.2 s of every command's start. Our options are only str, int, float, bool and lists
of them; :func:`lighten` gives each parameter of a built command a converter that handles
those values directly and hands anything else, and every value it would refuse, to typer's own
converter, so what is accepted and every error message stay typer's.
"""

from __future__ import annotations

import re
from typing import Any, get_args, get_origin

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SIMPLE = (str, int, float, bool)
_REFUSED = object()


class _Light:
    """Stands in for typer's runtime converter of one parameter (``coerce(value, param, ctx)``)."""

    def __init__(self, annotation: Any, info: Any) -> None:
        self.is_list = get_origin(annotation) is list
        self.leaf = get_args(annotation)[0] if self.is_list else annotation
        self.low = getattr(info, "min", None)
        self.high = getattr(info, "max", None)
        self._typer: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if param.multiple or param.nargs == -1 else None
        if self.is_list and isinstance(value, (list, tuple)):
            items = [self._leaf(item) for item in value]
            if _REFUSED not in items:
                return items
        elif not self.is_list:
            done = self._leaf(value)
            if done is not _REFUSED:
                return done
        return self._slow(param).coerce(value, param=param, ctx=ctx)

    def _leaf(self, value: Any) -> Any:
        leaf = self.leaf
        if leaf is str:
            return value if isinstance(value, str) else _REFUSED
        if leaf is bool:
            return value if isinstance(value, bool) else _REFUSED
        if isinstance(value, bool):
            return _REFUSED
        if isinstance(value, str):
            if leaf is int and _INT.fullmatch(value):
                number: int | float = int(value)
            elif leaf is float and _FLOAT.fullmatch(value):
                number = float(value)
            else:
                return _REFUSED
        elif isinstance(value, int) and leaf in (int, float):
            number = leaf(value)
        elif isinstance(value, float) and leaf is float:
            number = value
        else:
            return _REFUSED
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            return _REFUSED  # typer words the range error
        return number

    def _slow(self, param: Any) -> Any:
        if self._typer is None:
            from typer._coercion import build_runtime_param

            self._typer = build_runtime_param(param.type_descriptor)
        return self._typer


def _light_for(param: Any) -> _Light | None:
    desc = getattr(param, "type_descriptor", None)
    if desc is None or getattr(param, "_runtime_param", _REFUSED) is not None:
        return None  # not a typer parameter of the shape we know: typer converts it
    info = desc.parameter_info
    if info.parser is not None or info.clamp or desc.file_annotation is not None:
        return None
    annotation = desc.annotation
    leaf = get_args(annotation)[0] if get_origin(annotation) is list else annotation
    if leaf not in _SIMPLE or (get_origin(annotation) not in (None, list)):
        return None
    return _Light(annotation, info)


def _lighten_param(param: Any) -> Any:
    light = _light_for(param)
    if light is not None:
        param._runtime_param = light
    return param


def lighten(command: Any) -> Any:
    """Give every parameter of ``command`` (and of its subcommands) the light converter."""
    for param in getattr(command, "params", ()):
        _lighten_param(param)
    for sub in getattr(command, "commands", {}).values():
        lighten(sub)
    make_help = getattr(command, "get_help_option", None)
    if make_help is not None:  # the --help option is made when a context asks for it

        def get_help_option(ctx: Any) -> Any:
            option = make_help(ctx)
            return None if option is None else _lighten_param(option)

        command.get_help_option = get_help_option
    return command
