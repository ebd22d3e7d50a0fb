"""Structs (structs.py): what a dataclass gives, defined without compiling anything."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from qwen_cli.structs import FrozenInstanceError, asdict, field, field_names, replace, struct


@struct
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    note: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)
    LIMIT: ClassVar[int] = 3


@struct(frozen=True)
class Frozen:
    name: str
    inner: Point | None = None


def test_init_by_position_and_name_with_defaults() -> None:
    p = Point(1, tags=["a"])
    assert (p.x, p.y, p.tags, p.note) == (1, 0, ["a"], "")
    assert Point(1).tags is not Point(1).tags  # a fresh list each
    assert Point.y == 0 and Point.LIMIT == 3 and field_names(Point) == ("x", "y", "tags", "note", "secret")
    assert Point.__match_args__ == ("x", "y", "tags", "note", "secret")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        ((), {}, "missing the argument 'x'"),
        ((1,), {"x": 2}, "a second value for argument 'x'"),
        ((1,), {"z": 2}, "an unexpected argument 'z'"),
        ((1, 2, [], "", "", 6), {}, "takes 5 positional arguments, 6 given"),
    ],
)
def test_bad_arguments_are_a_type_error(args: tuple[Any, ...], kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(TypeError, match=words):
        Point(*args, **kwargs)


def test_repr_and_eq_leave_out_what_the_fields_say() -> None:
    assert repr(Point(1, secret="s")) == "Point(x=1, y=0, tags=[], note='')"
    assert Point(1, note="a") == Point(1, note="b") != Point(2)
    assert Point(1) != Frozen("p")
    with pytest.raises(TypeError):
        hash(Point(1))  # mutable: unhashable, as a dataclass is


def test_frozen_refuses_changes_and_hashes() -> None:
    f = Frozen("a")
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'name'"):
        f.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del f.name
    assert hash(Frozen("a")) == hash(Frozen("a")) and len({Frozen("a"), Frozen("a"), Frozen("b")}) == 2


def test_replace_asdict_and_post_init() -> None:
    calls: list[int] = []

    @struct
    class Counted:
        n: int

        def __post_init__(self) -> None:
            calls.append(self.n)

    c = replace(Counted(1), n=2)
    assert c.n == 2 and calls == [1, 2]
    with pytest.raises(TypeError, match="no field 'm'"):
        replace(c, m=3)  # type: ignore[call-arg]
    nested = Frozen("a", Point(1, tags=["t"]))
    assert asdict(nested) == {"name": "a", "inner": {"x": 1, "y": 0, "tags": ["t"], "note": "", "secret": ""}}
    assert asdict([nested])[0]["inner"]["tags"] == ["t"]


def test_inheritance_and_own_methods() -> None:
    @struct
    class Base:
        a: int = 1

    @struct
    class Child(Base):
        b: int = 2

        def __repr__(self) -> str:
            return "mine"

    assert field_names(Child) == ("a", "b") and Child(5, 6).a == 5 and repr(Child()) == "mine"


def test_a_mutable_default_is_refused() -> None:
    with pytest.raises(TypeError, match="default_factory"):

        @struct
        class Bad:
            items: list[int] = []  # noqa: RUF012
