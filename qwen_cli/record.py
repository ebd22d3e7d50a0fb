"""Typed records: the base of the wire types in ``types.py``, without pydantic.

Importing pydantic and building the wire models cost a short ``qwen complete`` about 0.2 s of
CPU, more than the request itself (issue 10's start-up target is 1.4x a bare httpx script).
A record does what the wire types need, no more:

- fields are declared as annotations with defaults, as in a dataclass (``structs.field()`` for a
  ``default_factory``); type checkers see the keyword-only ``__init__`` (``dataclass_transform``);
- ``Strict`` (what we send) refuses an unknown field, a missing one and a value of the wrong
  type; ``Tolerant`` (what we receive) keeps unknown fields in ``model_extra`` and converts
  each known field with the class's ``_repairs`` entry for it, else by its declared type;
- a field whose type is a record takes a dict too; ``list[...]``, ``dict[..., ...]``, unions,
  ``Literal`` and ``None`` are checked; an int is taken where a float is declared;
- ``model_validate(_json)``, ``model_dump(_json)`` (``exclude_none``), ``model_copy`` (``update``,
  ``deep``), ``model_construct``, ``model_fields`` and ``model_extra`` keep the pydantic names the rest of
  the code and the Python API's users already call.

A bad value raises :class:`ValidationError` (a ``ValueError``) naming the field's path.
Annotations are read when a class is first used, not at import.
"""

from __future__ import annotations

import copy
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Self, dataclass_transform

from qwen_cli.structs import Field, field, own_fields

Convert = Callable[[Any], Any]
Repairs = dict[str, Convert]  # field -> conversion of its raw value


class ValidationError(ValueError):
    """Data that does not fit a record; ``loc`` is the path of the bad field."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        self.message = message
        self.loc = loc
        where = ".".join(str(p) for p in loc)
        super().__init__(f"{where}: {message}" if where else message)

    def under(self, *outer: str | int) -> ValidationError:
        return ValidationError(self.message, (*outer, *self.loc))


@dataclass_transform(kw_only_default=True, field_specifiers=(field,))
class Record:
    """The common base; use :class:`Strict` or :class:`Tolerant`."""

    model_fields: ClassVar[dict[str, Field]] = {}
    _extra_allowed: ClassVar[bool] = False
    # field -> conversion of the raw value, used instead of the declared type (Tolerant)
    _repairs: ClassVar[Repairs] = {}
    _converters: ClassVar[dict[str, Convert] | None] = None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        fields = dict(cls.model_fields)
        for f in own_fields(cls, private=False):
            fields[f.name] = f
        cls.model_fields = fields
        cls._converters = None

    # ------------------------------------------------------------------ building

    def __init__(self, **data: Any) -> None:
        cls = type(self)
        conv = cls._converters if cls._converters is not None else cls._build_converters()
        values = self.__dict__
        extra: dict[str, Any] | None = {} if cls._extra_allowed else None
        for key, value in data.items():
            c = conv.get(key)
            if c is None:
                if extra is None:
                    raise ValidationError("unknown field", (key,))
                extra[key] = value
                continue
            try:
                values[key] = c(value)
            except ValidationError as exc:
                raise exc.under(key) from None
        if len(values) < len(conv):
            for name, info in cls.model_fields.items():
                if name not in values:
                    if info.required:
                        raise ValidationError("field required", (name,))
                    values[name] = info.value()
        values["_extra"] = extra
        self._check()

    def _check(self) -> None:
        """Rules across fields, after they are set; raise :class:`ValidationError`."""

    @classmethod
    def _build_converters(cls) -> dict[str, Convert]:
        module = sys.modules[cls.__module__].__dict__
        conv: dict[str, Convert] = {}
        for name, info in cls.model_fields.items():
            repair = cls._repairs.get(name)
            conv[name] = repair if repair is not None else converter(eval(info.annotation, module))
        cls._converters = conv
        return conv

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        """``data`` (a dict, or already one of these records) as a record; raises ValidationError."""
        if isinstance(data, cls):
            return data
        data = cls._input(data)
        if not isinstance(data, Mapping):
            raise ValidationError(f"expected an object, got {type(data).__name__}")
        try:
            return cls(**data)
        except TypeError:  # a key that is not text (checked only then: this runs for every chunk)
            if all(isinstance(k, str) for k in data):
                raise
            raise ValidationError("field names must be text") from None

    @classmethod
    def _input(cls, data: Any) -> Any:
        """The raw value before it is read as this record (Delta takes bare text)."""
        return data

    @classmethod
    def model_construct(cls, **values: Any) -> Self:
        """A record of ``values`` as they are, unchecked; missing fields get their defaults."""
        obj = cls.__new__(cls)
        for name, info in cls.model_fields.items():
            obj.__dict__[name] = values.pop(name) if name in values else info.value()
        obj.__dict__["_extra"] = values or ({} if cls._extra_allowed else None)
        return obj

    # ------------------------------------------------------------------ reading

    @property
    def model_extra(self) -> dict[str, Any] | None:
        """The fields this record does not declare (``None`` on a strict record)."""
        extra: dict[str, Any] | None = self.__dict__.get("_extra")
        return extra

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False) -> dict[str, Any]:
        """The record as plain data, unknown fields included (``mode`` is accepted for
        pydantic's callers: the wire types hold JSON values already)."""
        out: dict[str, Any] = {}
        for name in self.model_fields:
            value = self.__dict__[name]
            if value is None and exclude_none:
                continue
            out[name] = _dump(value, exclude_none)
        for name, value in (self.model_extra or {}).items():
            if value is None and exclude_none:
                continue
            out[name] = _dump(value, exclude_none)
        return out

    def model_dump_json(self, *, indent: int | None = None, exclude_none: bool = False) -> str:
        """The record as JSON text (non-ASCII kept as it is)."""
        import json

        return json.dumps(self.model_dump(exclude_none=exclude_none), ensure_ascii=False, indent=indent)

    @classmethod
    def model_validate_json(cls, text: str | bytes) -> Self:
        """A record read from JSON text; text that is not JSON raises ValidationError too."""
        import json

        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"not JSON: {exc}") from None
        return cls.model_validate(data)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy, with ``update``'s values set as they are (unchecked, as pydantic does)."""
        obj = copy.deepcopy(self) if deep else copy.copy(self)
        if not deep and obj.__dict__.get("_extra") is not None:
            obj.__dict__["_extra"] = dict(obj.__dict__["_extra"])
        for name, value in (update or {}).items():
            if name in self.model_fields:
                obj.__dict__[name] = value
            elif obj.__dict__.get("_extra") is not None:
                obj.__dict__["_extra"][name] = value
            else:
                raise ValidationError("unknown field", (name,))
        return obj

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` of each field, then of each unknown one (as pydantic iterates)."""
        for name in self.model_fields:
            yield name, self.__dict__[name]
        yield from (self.model_extra or {}).items()

    def _values(self) -> tuple[Any, ...]:
        return (*(self.__dict__[n] for n in self.model_fields), self.model_extra or None)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = [f"{n}={self.__dict__[n]!r}" for n in self.model_fields]
        shown += [f"{n}={v!r}" for n, v in (self.model_extra or {}).items()]
        return f"{type(self).__name__}({', '.join(shown)})"


class Strict(Record):
    """What we send: an unknown field, a missing one or a value of the wrong type is refused."""


class Tolerant(Record):
    """What we receive: unknown fields are kept (``model_extra``); ``_repairs`` makes a known
    field readable whatever its shape."""

    _extra_allowed = True


def _dump(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, Record):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, list):
        return [_dump(v, exclude_none) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v, exclude_none) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------- converters from types


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _fail(expected: str, value: Any) -> ValidationError:
    return ValidationError(f"expected {expected}, got {type(value).__name__}")


def converter(tp: Any) -> Convert:
    """The check (and conversion) of a value declared as ``tp``."""
    if tp is Any or tp is object:
        return _same
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union(args)
    if origin is typing.Literal:
        return _literal(args)
    if origin is list:
        return _list(converter(args[0]) if args else _same)
    if origin is dict:
        return _dict(converter(args[1]) if len(args) == 2 else _same)
    if tp is type(None):
        return _none
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp.model_validate
    simple = _SIMPLE.get(tp)
    if simple is not None:
        return simple
    if isinstance(tp, type):
        return _instance(tp)
    raise TypeError(f"no converter for {tp!r}")


def _same(value: Any) -> Any:
    return value


def _none(value: Any) -> None:
    if value is not None:
        raise _fail("null", value)


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _fail("text", value)


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _fail("a whole number", value)


def _float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _fail("a number", value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _fail("true or false", value)


_SIMPLE: dict[Any, Convert] = {str: _str, int: _int, float: _float, bool: _bool}


def _instance(tp: type) -> Convert:
    def check(value: Any) -> Any:
        if isinstance(value, tp):
            return value
        raise _fail(_name(tp), value)

    return check


def _union(members: tuple[Any, ...]) -> Convert:
    optional = type(None) in members
    convs = [converter(m) for m in members if m is not type(None)]
    names = [_name(m) for m in members if m is not type(None)]
    expected = " or ".join(names + (["null"] if optional else []))

    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        deepest: ValidationError | None = None
        for c in convs:
            try:
                return c(value)
            except ValidationError as exc:  # the member that got furthest says what is wrong
                if deepest is None or len(exc.loc) > len(deepest.loc) or len(convs) == 1:
                    deepest = exc
        if deepest is not None and (deepest.loc or len(convs) == 1):
            raise deepest
        raise _fail(expected, value)

    return check


def _literal(allowed: tuple[Any, ...]) -> Convert:
    def check(value: Any) -> Any:
        if value in allowed and isinstance(value, str | int | bool):
            return value
        raise ValidationError(f"expected one of {', '.join(map(repr, allowed))}, got {value!r}")

    return check


def _list(item: Convert) -> Convert:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise _fail("a list", value)
        out = []
        for i, v in enumerate(value):
            try:
                out.append(item(v))
            except ValidationError as exc:
                raise exc.under(i) from None
        return out

    return check


def _dict(item: Convert) -> Convert:
    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise _fail("an object", value)
        if item is _same:
            return dict(value)
        out = {}
        for k, v in value.items():
            try:
                out[k] = item(v)
            except ValidationError as exc:
                raise exc.under(k) from None
        return out

    return check
