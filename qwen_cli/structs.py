"""Plain data classes that cost nothing to define: ``@struct`` and ``@struct(frozen=True)``.

``dataclasses`` compiles every generated method from source text when a class is defined:
about 1.4 ms a class here, and a short ``qwen complete`` defines some forty of them before it
sends anything (0.05 s of CPU, a sixth of what a bare httpx script spends on the whole
request). A struct gets the same methods made from closures instead:

- ``__init__`` taking the fields by position or by name, defaults and ``field(default_factory=)``
  applied, then ``__post_init__`` if the class has one;
- ``__repr__`` and ``__eq__`` over the fields (``field(repr=False)``, ``field(compare=False)``
  leave one out), ``__match_args__``;
- ``frozen=True``: assigning or deleting an attribute raises :class:`FrozenInstanceError`,
  and the instance hashes by its fields; otherwise it is unhashable, as a dataclass is.

Fields of a struct base come first. ``replace``, ``field_names`` and ``asdict`` stand in for
their ``dataclasses`` namesakes. Type checkers see a dataclass (``dataclass_transform``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")

_MISSING: Any = object()


class FrozenInstanceError(AttributeError):
    """An attribute of a frozen struct was assigned or deleted."""


class Field:
    """One field's default (a value, a factory, or neither) and whether repr and eq show it."""

    __slots__ = ("annotation", "compare", "default", "factory", "name", "repr")

    def __init__(
        self,
        default: Any = _MISSING,
        factory: Callable[[], Any] | None = None,
        *,
        repr: bool = True,
        compare: bool = True,
    ) -> None:
        self.default = default
        self.factory = factory
        self.repr = repr
        self.compare = compare
        self.name = ""
        self.annotation = ""  # as written in the class (a string under `from __future__ import annotations`)

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.factory is None

    def value(self) -> Any:
        return self.factory() if self.factory is not None else self.default


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """A field's options, as ``dataclasses.field`` takes them."""
    return Field(default, default_factory, repr=repr, compare=compare)


@overload
def struct(cls: type[T], /) -> type[T]: ...
@overload
def struct(*, frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def struct(cls: type[T] | None = None, /, *, frozen: bool = False) -> Any:
    """Make ``cls`` a struct (see the module's docstring)."""

    def make(c: type[T]) -> type[T]:
        return _build(c, frozen)

    return make if cls is None else make(cls)


def own_fields(cls: type, *, private: bool = True) -> list[Field]:
    """The fields ``cls`` itself declares (not its bases'), in order: each annotation but
    ``ClassVar`` ones (and, with ``private=False``, but names starting with ``_``), with its
    default. A ``field(...)`` default is replaced on the class by its plain default, as a
    dataclass does; a mutable default is refused."""
    out = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063 - no inspect
        text = annotation if isinstance(annotation, str) else repr(annotation)
        if text.startswith(("ClassVar", "typing.ClassVar")) or (not private and name.startswith("_")):
            continue
        value = cls.__dict__.get(name, _MISSING)
        f = value if isinstance(value, Field) else Field(value)
        if isinstance(f.default, (list, dict, set)):
            raise TypeError(f"{cls.__name__}.{name}: a mutable default needs field(default_factory=...)")
        f.name, f.annotation = name, text
        if isinstance(value, Field):
            if f.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        out.append(f)
    return out


def _build(cls: type[T], frozen: bool) -> type[T]:
    fields: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        fields.update(getattr(base, "__struct_fields__", {}))
    for f in own_fields(cls):
        fields[f.name] = f
    names = tuple(fields)
    items = tuple(fields.values())
    shown = tuple(f.name for f in items if f.repr)
    compared = tuple(f.name for f in items if f.compare)
    post_init = getattr(cls, "__post_init__", None)
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{qualname}() takes {len(names)} positional arguments, {len(args)} given")
        d = self.__dict__
        for f, value in zip(items, args, strict=False):
            d[f.name] = value
        for key, value in kwargs.items():
            if key not in fields or key in d:
                why = "an unexpected" if key not in fields else "a second value for"
                raise TypeError(f"{qualname}() got {why} argument {key!r}")
            d[key] = value
        if len(d) < len(names):
            for f in items:
                if f.name not in d:
                    if f.required:
                        raise TypeError(f"{qualname}() is missing the argument {f.name!r}")
                    d[f.name] = f.value()
        if post_init is not None:
            post_init(self)

    def __repr__(self: Any) -> str:
        return f"{qualname}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in compared)

    own = cls.__dict__
    for name, method in (("__init__", __init__), ("__repr__", __repr__), ("__eq__", __eq__)):
        if name not in own:  # a method the class writes itself is kept, as a dataclass keeps it
            setattr(cls, name, method)
    cls.__match_args__ = names  # type: ignore[attr-defined, misc]
    cls.__struct_fields__ = fields  # type: ignore[attr-defined]
    if frozen:

        def __setattr__(self: Any, name: str, value: Any) -> None:
            raise FrozenInstanceError(f"cannot assign to field {name!r} of a frozen {qualname}")

        def __delattr__(self: Any, name: str) -> None:
            raise FrozenInstanceError(f"cannot delete field {name!r} of a frozen {qualname}")

        def __hash__(self: Any) -> int:
            return hash(tuple(getattr(self, n) for n in compared))

        cls.__setattr__ = __setattr__  # type: ignore[method-assign, assignment]
        cls.__delattr__ = __delattr__  # type: ignore[method-assign, assignment]
        if own.get("__hash__") is None:
            cls.__hash__ = __hash__  # type: ignore[method-assign, assignment]
    elif own.get("__hash__") is None:
        cls.__hash__ = None  # type: ignore[assignment]
    return cls


def field_names(cls_or_obj: Any) -> tuple[str, ...]:
    """The names of a struct's fields, in order."""
    return tuple(cls_or_obj.__struct_fields__)


def replace(obj: T, /, **changes: Any) -> T:
    """A new struct like ``obj`` with ``changes`` (``__post_init__`` runs again)."""
    fields = obj.__struct_fields__  # type: ignore[attr-defined]
    for key in changes:
        if key not in fields:
            raise TypeError(f"{type(obj).__qualname__} has no field {key!r}")
    values = {n: getattr(obj, n) for n in fields}
    values.update(changes)
    return type(obj)(**values)


def asdict(obj: Any) -> Any:
    """A struct as plain data, recursively (lists, tuples and dicts of structs included)."""
    if hasattr(type(obj), "__struct_fields__"):
        return {n: asdict(getattr(obj, n)) for n in obj.__struct_fields__}
    if isinstance(obj, list | tuple):
        return type(obj)(asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: asdict(v) for k, v in obj.items()}
    return obj
