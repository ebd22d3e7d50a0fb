"""Records (record.py): strict on what we send, tolerant on what we receive, pydantic's names."""

from __future__ import annotations

import copy
from typing import Any, ClassVar, Literal

import pytest

from qwen_cli.record import Record, Repairs, Strict, Tolerant, ValidationError
from qwen_cli.structs import field


class Inner(Strict):
    url: str


class Out(Strict):
    kind: Literal["a", "b"] = "a"
    name: str
    count: int | None = None
    ratio: float | None = None
    flag: bool = False
    tags: list[str] = field(default_factory=list)
    meta: dict[str, Any] | None = None
    inner: Inner | None = None
    either: str | list[Inner] = ""
    _private: ClassVar[int] = 3


def _count(v: Any) -> int | None:
    return v if isinstance(v, int) and v >= 0 else None


class Part(Tolerant):
    text: str | None = None
    _repairs: ClassVar[Repairs] = {"text": lambda v: v if isinstance(v, str) else None}


class In(Tolerant):
    id: str
    n: int = 0
    parts: list[Part] = field(default_factory=list)
    anything: Any = None
    _repairs: ClassVar[Repairs] = {"n": lambda v: _count(v) or 0}


def error_of(make: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        make()
    return info.value


def test_strict_builds_with_defaults_and_converts_nested_dicts() -> None:
    o = Out(name="x", ratio=1, inner={"url": "u"}, either=[{"url": "v"}])  # type: ignore[arg-type]
    assert o.kind == "a" and o.tags == [] and o.meta is None and o.flag is False
    assert o.ratio == 1.0 and isinstance(o.ratio, float)
    assert o.inner == Inner(url="u") and o.either == [Inner(url="v")]
    assert Out(name="y").tags is not Out(name="z").tags  # a fresh list each


@pytest.mark.parametrize(
    ("kw", "loc", "words"),
    [
        ({"name": "x", "nope": 1}, ("nope",), "unknown field"),
        ({}, ("name",), "field required"),
        ({"name": 5}, ("name",), "expected text, got int"),
        ({"name": "x", "kind": "c"}, ("kind",), "expected one of 'a', 'b', got 'c'"),
        ({"name": "x", "count": True}, ("count",), "expected a whole number, got bool"),
        ({"name": "x", "count": 1.5}, ("count",), "expected a whole number, got float"),
        ({"name": "x", "flag": 1}, ("flag",), "expected true or false, got int"),
        ({"name": "x", "tags": ["a", 2]}, ("tags", 1), "expected text, got int"),
        ({"name": "x", "tags": "a"}, ("tags",), "expected a list, got str"),
        ({"name": "x", "meta": {1: 2}}, ("meta",), "expected an object, got dict"),
        ({"name": "x", "inner": {"url": 1}}, ("inner", "url"), "expected text, got int"),
        ({"name": "x", "either": [{"url": "u", "x": 1}]}, ("either", 0, "x"), "unknown field"),
        ({"name": "x", "either": 3}, ("either",), "expected str or list, got int"),
    ],
)
def test_strict_refuses_and_names_the_path(kw: dict[str, Any], loc: tuple[Any, ...], words: str) -> None:
    err = error_of(lambda: Out(**kw))
    assert (err.loc, err.message) == (loc, words)
    assert str(err) == ".".join(map(str, loc)) + ": " + words
    assert isinstance(err, ValueError)


def test_tolerant_keeps_unknown_fields_and_repairs_what_it_reads() -> None:
    r = In.model_validate({"id": "i", "n": -4, "parts": [{"text": 5, "x": 1}], "extra": {"a": 1}})
    assert r.n == 0 and r.parts == [Part(text=None, x=1)]  # type: ignore[call-arg]
    assert r.model_extra == {"extra": {"a": 1}} and r.parts[0].model_extra == {"x": 1}
    assert r.model_dump() == {
        "id": "i",
        "n": 0,
        "parts": [{"text": None, "x": 1}],
        "anything": None,
        "extra": {"a": 1},
    }
    assert r.model_dump(exclude_none=True) == {"id": "i", "n": 0, "parts": [{"x": 1}], "extra": {"a": 1}}
    assert error_of(lambda: In.model_validate({"n": 1})).loc == ("id",)  # no repair: its type holds
    assert error_of(lambda: In.model_validate({"id": 1})).loc == ("id",)


def test_model_validate_takes_a_record_or_a_mapping_only() -> None:
    r = In(id="i")
    assert In.model_validate(r) is r
    assert "expected an object, got list" in str(error_of(lambda: In.model_validate([1])))
    assert "field names must be text" in str(error_of(lambda: In.model_validate({1: 2})))


def test_copy_update_is_unchecked_and_deep_copies_deeply() -> None:
    o = Out(name="x", tags=["a"])
    shallow = o.model_copy(update={"name": "y"})
    assert (shallow.name, o.name) == ("y", "x") and shallow.tags is o.tags
    deep = o.model_copy(deep=True)
    assert deep == o and deep.tags is not o.tags
    assert error_of(lambda: o.model_copy(update={"nope": 1})).loc == ("nope",)
    t = In(id="i", z=1).model_copy(update={"z": 2, "w": 3})  # type: ignore[call-arg]
    assert t.model_extra == {"z": 2, "w": 3}
    assert copy.deepcopy(t) == t


def test_construct_equality_iteration_and_repr() -> None:
    c = Out.model_construct(name=5)
    assert c.name == 5 and c.tags == []  # unchecked, defaults filled
    assert Out(name="x") == Out(name="x") != Out(name="y")
    assert In(id="i") != In(id="i", q=1)  # type: ignore[call-arg]
    assert Out(name="x") != Inner(url="x")
    assert dict(In(id="i", q=1)) == {"id": "i", "n": 0, "parts": [], "anything": None, "q": 1}  # type: ignore[call-arg]
    assert repr(Inner(url="u")) == "Inner(url='u')"
    assert list(Out.model_fields)[:3] == ["kind", "name", "count"]
    with pytest.raises(TypeError):
        hash(Inner(url="u"))


def test_cross_field_rules_run_after_the_fields() -> None:
    class Pair(Strict):
        low: int = 0
        high: int = 0

        def _check(self) -> None:
            if self.low > self.high:
                raise ValidationError("low above high")

    assert Pair(low=1, high=2).high == 2
    assert str(error_of(lambda: Pair(low=3))) == "low above high"


def test_a_mutable_default_is_refused_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="default_factory"):

        class Bad(Record):
            items: list[int] = []  # noqa: RUF012


def test_inherited_fields_come_first() -> None:
    class Base(Tolerant):
        a: int = 1

    class Child(Base):
        b: int = 2

    assert list(Child.model_fields) == ["a", "b"] and Child(b=3).model_dump() == {"a": 1, "b": 3}


def test_json_in_and_out() -> None:
    r = In.model_validate_json('{"id": "名", "parts": [{"text": "t"}], "x": null}')
    assert r.model_dump_json(exclude_none=True) == '{"id": "名", "n": 0, "parts": [{"text": "t"}]}'
    assert In.model_validate_json(r.model_dump_json()) == r
    assert "not JSON" in str(error_of(lambda: In.model_validate_json("{")))
