"""Property-based fuzzing (hypothesis) of what reads untrusted input: the request parser of
each protocol and the state decoders of the Airbyte and Singer shims. Whatever the input,
the outcome is a parsed value or one of flow-sdk's sentence errors — never another
exception. Example counts stay modest: CI has two cores."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flow_sdk.airbyte.source.state import ShimState
from flow_sdk.errors import ConnectorError, ValidateError
from flow_sdk.protocol import capture, derive, materialize
from flow_sdk.protocol.flow import CaptureBinding
from flow_sdk.protocol.wire import ProtocolError, parse_message
from flow_sdk.singer.state import SingerState

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REQUESTS = {
    "capture": capture.Request,
    "materialize": materialize.Request,
    "derive": derive.Request,
}
WORDS = [
    "spec", "discover", "validate", "apply", "open", "acknowledge", "load", "flush", "store",
    "startCommit", "read", "reset", "capture", "materialization", "collection", "bindings",
    "config", "name", "range", "state", "keyPacked", "checkpoints", "binding", "doc",
    "stateKey", "resourceConfig", "backfill", "$internal", "bindingStateV1", "rowId", "stream",
    "stream_state", "stream_descriptor", "airbyteGlobal", "sharedState", "airbyteLegacy",
    "singerState", "bookmark", "estuary.dev/rowCounter", "things", "tap_stream_id",
]  # fmt: skip

keys = st.sampled_from(WORDS) | st.text(max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson decodes to ints
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(WORDS)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)
envelopes = st.builds(lambda variant, body: {variant: body}, st.sampled_from(WORDS), json_values)


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()  # big integers included, which orjson cannot write


def mutate(line: bytes, data: st.DataObject) -> bytes:
    """Cut, splice or flip bytes of a valid line."""
    how = data.draw(st.sampled_from(["cut", "splice", "flip"]))
    at = data.draw(st.integers(0, max(len(line) - 1, 0)))
    if how == "cut":
        return line[:at]
    if how == "splice":
        return line[:at] + data.draw(st.binary(max_size=8)) + line[at:]
    flipped = bytes([line[at] ^ data.draw(st.integers(1, 255))]) if line else b""
    return line[:at] + flipped + line[at + 1 :]


def parse_or_sentence(model: Any, line: bytes, strict: bool) -> None:
    try:
        message = parse_message(model, line, strict=strict)
    except ProtocolError as error:
        assert len(str(error)) > 10
        return
    assert message.variant in model.variants
    assert message.payload is not None


@pytest.mark.parametrize("protocol", list(REQUESTS))
@FUZZ
@given(line=st.binary(max_size=200), strict=st.booleans())
@example(line=b'{"spec":null}', strict=False)
@example(line=b'{"open":{}}', strict=False)
@example(line=b"[" * 5000, strict=False)
def test_any_bytes_parse_or_fail_with_a_sentence(protocol, line, strict):
    parse_or_sentence(REQUESTS[protocol], line, strict)


@pytest.mark.parametrize("protocol", list(REQUESTS))
@FUZZ
@given(message=envelopes, strict=st.booleans())
def test_json_shaped_like_requests_parses_or_fails_with_a_sentence(protocol, message, strict):
    parse_or_sentence(REQUESTS[protocol], encoded(message), strict)


VALID_LINES = [
    b'{"spec":{"connectorType":"LOCAL","config":{}}}',
    b'{"acknowledge":{"checkpoints":3}}',
    b'{"open":{"capture":{"name":"a/b","config":{},"bindings":[{"resourceConfig":{"stream":"x"},'
    b'"resourcePath":["x"],"stateKey":"x","collection":{"name":"a/x","key":["/id"]}}]},'
    b'"version":"v","range":{"keyEnd":4294967295,"rClockEnd":4294967295},"state":{}}}',
    b'{"load":{"binding":0,"keyPacked":"FQE="}}',
    b'{"store":{"binding":0,"keyPacked":"FQE=","valuesPacked":"Am5ldwA=","doc":{"id":1}}}',
    b'{"read":{"transform":0,"doc":{"id":1},"shuffle":{"key":[1]}}}',
]


@pytest.mark.parametrize("protocol", list(REQUESTS))
@FUZZ
@given(data=st.data(), strict=st.booleans())
def test_mutated_valid_requests_parse_or_fail_with_a_sentence(protocol, data, strict):
    line = mutate(data.draw(st.sampled_from(VALID_LINES)), data)
    parse_or_sentence(REQUESTS[protocol], line, strict)


def binding(stream: str, sync_mode: str = "incremental", key: str | None = None) -> CaptureBinding:
    return CaptureBinding.model_validate(
        {
            "resourceConfig": {"stream": stream, "syncMode": sync_mode, "tap_stream_id": stream},
            "resourcePath": [stream],
            "stateKey": key or stream,
            "collection": {"name": f"acmeCo/{stream}", "key": ["/id"]},
        }
    )


BINDINGS = [binding("things"), binding("stuff", "full_refresh")]
state_values = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={"bindingStateV1": st.dictionaries(
        st.sampled_from(["things", "stuff", "other"]), json_values, max_size=3
    ), "airbyteGlobal": json_values, "airbyteLegacy": json_values, "singerState": json_values}),
    st.fixed_dictionaries({"bindingStateV1": st.fixed_dictionaries({}, optional={
        "things": st.fixed_dictionaries({}, optional={
            "rowId": json_values, "stream": json_values, "state": json_values,
            "bookmark": json_values, "estuary.dev/rowCounter": json_values,
        })
    })}),
)  # fmt: skip


@FUZZ
@given(state=state_values)
@example(state={"bindingStateV1": []})
@example(state={"bindingStateV1": {"things": {"stream": [{"stream_descriptor": {}}]}}})
def test_airbyte_shim_state_decodes_or_fails_with_a_sentence(state):
    try:
        decoded = ShimState(BINDINGS, state)
    except ConnectorError as error:
        assert "cannot be understood" in str(error)
        return
    messages = decoded.airbyte_input()
    assert isinstance(messages, list)
    orjson.dumps(messages)  # what goes to the source is JSON


@FUZZ
@given(state=state_values)
def test_singer_shim_state_decodes_or_fails_with_a_sentence(state):
    try:
        decoded = SingerState(BINDINGS, state)
    except (ConnectorError, ValidateError) as error:
        assert len(str(error)) > 20
        return
    orjson.dumps(decoded.singer_state())
