"""The value rule's properties: any JSON-representable record round-trips exactly through
every path a mode takes (the in-process encoder, and a child's stdout line written compactly
by orjson or airbyte-cdk, or `json.dumps`-style with spaces and `\\u` escapes); and the
Emitter's bytes on the wire."""

from __future__ import annotations

import json
import logging
import tempfile
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flow_sdk.capture import values
from flow_sdk.capture.emitter import Emitter
from flow_sdk.io import ProtocolWriter

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=values.INT_MIN, max_value=values.INT_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
documents = st.dictionaries(
    st.text(),
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    ),
    max_size=8,
)


class Output:
    """A ProtocolWriter on a temporary file, and what was written to it."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed when collected
        self.writer = ProtocolWriter(self.file.fileno())

    def getvalue(self) -> bytes:
        self.file.seek(0)
        return self.file.read()


def emit(doc: Any) -> bytes:
    """What the Emitter writes for `doc`: the bytes of its `captured.doc`."""
    out = Output()
    emitter = Emitter(out.writer, 1, names=["s"], log=logging.getLogger("test"))
    emitter.opened()
    emitter.captured(0, doc)
    emitter.close()
    line = out.getvalue().splitlines()[1]
    assert line.startswith(b'{"captured":{"doc":') and line.endswith(b"}}")
    return line[len(b'{"captured":{"doc":') : -2]


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same JSON types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


def child_line(doc: Any, style: str) -> bytes:
    message = {"type": "RECORD", "record": {"stream": "s", "data": doc, "emitted_at": 0}}
    if style == "orjson":
        return orjson.dumps(message) + b"\n"
    return json.dumps(message).encode() + b"\n"


@settings(max_examples=300, deadline=None)
@given(documents)
def test_in_process_documents_round_trip_exactly(doc: dict[str, Any]) -> None:
    assert same(orjson.loads(emit(doc)), doc)


@pytest.mark.parametrize("style", ["orjson", "json.dumps"])
@settings(max_examples=300, deadline=None)
@given(doc=documents)
def test_child_lines_round_trip_exactly(style: str, doc: dict[str, Any]) -> None:
    msg = values.decode_line(child_line(doc, style), "the child", lambda: "reading")
    assert msg is not None
    assert same(orjson.loads(emit(msg["record"]["data"])), doc)


def test_the_emitter_writes_a_decimal_s_digits_and_base64_bytes() -> None:
    import decimal

    doc = {"n": decimal.Decimal("12.50"), "b": b"\x00\xff", "big": 2**64 - 1}
    assert emit(doc) == b'{"n":12.50,"b":"AP8=","big":18446744073709551615}'


def test_a_nan_is_null_with_one_warning_per_field_and_a_summary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = Output()
    emitter = Emitter(out.writer, 1, names=["orders"], log=logging.getLogger("t"))
    emitter.opened()
    with caplog.at_level(logging.WARNING, logger="t"):
        for _ in range(3):
            emitter.captured(0, {"x": float("nan"), "y": [float("nan")]})
        emitter.close()
        emitter.conversions.summary()  # the capture Connector calls it as its session ends
    docs = [line for line in out.getvalue().splitlines() if line.startswith(b'{"captured"')]
    assert docs == [b'{"captured":{"doc":{"x":null,"y":[null]}}}'] * 3
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings[:2] == [
        "stream 'orders': the field /x held NaN, which JSON cannot carry; emitted as null "
        "(warned once per stream and field; counted in the session summary)",
        "stream 'orders': the field /y/0 held NaN, which JSON cannot carry; emitted as null "
        "(warned once per stream and field; counted in the session summary)",
    ]
    assert warnings[2:] == [
        "6 value(s) were converted this session (NaN → null, lone surrogates and invalid "
        "UTF-8 → U+FFFD): stream 'orders' /x: 3 NaN; stream 'orders' /y/0: 3 NaN"
    ]


def test_state_with_a_value_the_rule_would_convert_fails_instead() -> None:
    out = Output()
    emitter = Emitter(out.writer, 1)
    emitter.opened()
    with pytest.raises(
        values.ValueRejected, match=r"the checkpoint's state: the field /c holds NaN"
    ):
        emitter.checkpoint({"c": float("nan")})


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b'{"type":"RECORD","record":{"a":1,"a":2}}\n', "with the key 'a' twice in one object"),
        (b'{"type": "RECORD", "record": {"stre\n', "looks like a protocol message but is not JSON"),
    ],
)
def test_a_child_line_that_cannot_be_a_message_fails_quoting_it(line: bytes, error: str) -> None:
    with pytest.raises(values.LineRejected) as failure:
        values.decode_line(line, "the connector x", lambda: "while reading stream 'a'")
    assert error in str(failure.value)
    assert "(while reading stream 'a')" in str(failure.value)
    assert line.decode().strip()[:20] in str(failure.value)


@pytest.mark.parametrize("line", [b"hello\n", b"[1, 2]\n", b'{"no": "type"}\n', b"\n"])
def test_other_child_lines_stay_log_lines(line: bytes) -> None:
    msg = values.decode_line(line, "the connector x", lambda: "")
    assert msg is None or "type" not in msg
