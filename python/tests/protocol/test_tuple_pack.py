"""The FoundationDB tuple codec of `keyPacked` / `valuesPacked`: doc vectors, the tuple
layer's own vectors, order preservation, and round trips."""

from __future__ import annotations

import base64
import math
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flow_sdk.protocol.tuple_pack import (
    TupleError,
    pack,
    pack_b64,
    pack_json,
    unpack,
    unpack_b64,
    unpack_json,
)


def test_vectors_from_the_protocol_notes() -> None:
    assert unpack_b64("FQE=") == [1]
    assert unpack_b64("Am5ldwA=") == ["new"]
    assert pack_b64([1]) == "FQE="
    assert pack_b64(["new"]) == "Am5ldwA="


@pytest.mark.parametrize(
    ("value", "packed"),
    [
        (None, b"\x00"),
        (b"foo\x00bar", b"\x01foo\x00\xffbar\x00"),
        ("F\u00d4O\u0000bar", b"\x02F\xc3\x94O\x00\xffbar\x00"),
        (0, b"\x14"),
        (1, b"\x15\x01"),
        (-1, b"\x13\xfe"),
        (255, b"\x15\xff"),
        (256, b"\x16\x01\x00"),
        (-256, b"\x12\xfe\xff"),
        (2**64 - 1, b"\x1c\xff\xff\xff\xff\xff\xff\xff\xff"),
        (-(2**63), b"\x0c\x7f\xff\xff\xff\xff\xff\xff\xff"),
        (2**64, b"\x1d\x09\x01" + b"\x00" * 8),
        (False, b"\x26"),
        (True, b"\x27"),
        (-42.0, b"\x21\x3f\xba\xff\xff\xff\xff\xff\xff"),
        (1.5, b"\x21\xbf\xf8\x00\x00\x00\x00\x00\x00"),
    ],
)
def test_tuple_layer_vectors(value: object, packed: bytes) -> None:
    assert pack([value]) == packed
    assert unpack(packed) == [value]


def test_nested_tuple_with_null_inside() -> None:
    packed = pack([[1, None, "a"], None])
    assert packed == b"\x05\x15\x01\x00\xff\x02a\x00\x00\x00"
    assert unpack(packed) == [[1, None, "a"], None]


def test_uuid_and_single_float() -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert unpack(pack([u])) == [u]
    assert unpack(b"\x20" + bytes([0xBF, 0xC0, 0, 0])) == [1.5]


def test_json_arrays_and_objects_travel_as_json_text() -> None:
    values = [{"a": [1, 2]}, [True, None], "x", 3, 2.5, None, False]
    packed = pack_json(values)
    assert packed.startswith(b'\x01{"a":[1,2]}\x00')
    assert unpack_json(packed) == values
    assert unpack(packed)[0] == b'{"a":[1,2]}'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x02abc", "not terminated"),
        (b"\x16\x01", "ends inside an element"),
        (b"\x99", "unknown tuple type code 0x99"),
        (b"\x05\x15\x01", "nested tuple is not terminated"),
    ],
)
def test_malformed_tuples_are_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(TupleError, match=message):
        unpack(data)


def test_bad_base64_is_a_clear_error() -> None:
    with pytest.raises(TupleError, match="not valid base64"):
        unpack_b64("not base64!")


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


class _Int(int):
    """An int that is not exactly `int`: packed by the general branch, not the shortcut."""


class _Str(str):
    """Likewise for strings."""


def _general(value: object) -> object:
    if type(value) is int:
        return _Int(value)
    if type(value) is str:
        return _Str(value)
    if isinstance(value, list):
        return [_general(item) for item in value]
    return value


@given(st.lists(st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)))
def test_pack_s_shortcut_for_ints_and_strings_packs_what_the_general_path_does(
    values: list[object],
) -> None:
    assert pack(values) == pack(_general(values))


@given(st.lists(st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)))
def test_pack_unpack_round_trip(values: list[object]) -> None:
    assert _same(unpack(pack(values)), values)


@given(st.lists(json_values, max_size=6))
def test_json_round_trip(values: list[object]) -> None:
    assert _same(unpack_b64(pack_b64(values)), values)


@given(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-(2**70), max_value=2**70),
)
def test_integer_order_is_byte_order(a: int, b: int) -> None:
    assert (a < b) == (pack([a]) < pack([b]))


@given(st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_double_order_is_byte_order(a: float, b: float) -> None:
    if a < b:
        assert pack([a]) < pack([b])


def _same(got: object, want: object) -> bool:
    """Equality that also tells -0.0 from 0.0 and treats tuples and lists alike."""
    if isinstance(want, (list, tuple)):
        return isinstance(got, list) and len(got) == len(want) and all(map(_same, got, want))
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(_same(got[k], want[k]) for k in want)
        )
    if isinstance(want, float):
        return (
            isinstance(got, float)
            and got == want
            and math.copysign(1, got) == math.copysign(1, want)
        )
    return type(got) is type(want) and got == want


def test_b64_is_standard_with_padding() -> None:
    assert pack_b64(["a"]) == base64.b64encode(b"\x02a\x00").decode()


@given(st.one_of(st.integers(), st.integers(min_value=-(1 << 70), max_value=1 << 70)))
def test_pack_s_one_integer_shortcut_packs_what_the_general_path_does(value: int) -> None:
    assert pack([value]) == pack([_Int(value)])
