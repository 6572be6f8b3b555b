from __future__ import annotations

import json

import pytest
from airbyte_cdk.models import (
    AirbyteGlobalState,
    AirbyteMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    StreamDescriptor,
    Type,
)

from flow_sdk.airbyte.codec import parse_line, state_payload, to_plain


def test_dataclass_messages_become_plain_dicts_with_wire_names() -> None:
    blob = AirbyteStateBlob(cursor="2024", __ab_no_cursor_state_message=True)
    msg = AirbyteMessage(
        type=Type.STATE,
        state=AirbyteStateMessage(
            type=AirbyteStateType.GLOBAL,
            global_=AirbyteGlobalState(
                shared_state=blob,
                stream_states=[
                    AirbyteStreamState(
                        stream_descriptor=StreamDescriptor(name="a"), stream_state=blob
                    )
                ],
            ),
        ),
    )
    plain = to_plain(msg)
    assert plain == {
        "type": "STATE",
        "state": {
            "type": "GLOBAL",
            "global": {
                "stream_states": [
                    {
                        "stream_descriptor": {"name": "a"},
                        "stream_state": {"cursor": "2024", "__ab_no_cursor_state_message": True},
                    }
                ],
                "shared_state": {"cursor": "2024", "__ab_no_cursor_state_message": True},
            },
        },
    }
    json.dumps(plain)


def test_pydantic_v2_models_become_plain_dicts() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Desc(pydantic.BaseModel):
        name: str
        namespace: str | None = None

    class State(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(populate_by_name=True)
        type: str
        global_: dict | None = pydantic.Field(default=None, alias="global")
        stream: Desc | None = None

    assert to_plain(State(type="GLOBAL", global_={"stream_states": []})) == {
        "type": "GLOBAL",
        "global": {"stream_states": []},
    }
    assert to_plain(State(type="STREAM", stream=Desc(name="a"))) == {
        "type": "STREAM",
        "stream": {"name": "a"},
    }


def test_pydantic_v2_state_blobs_keep_their_nulls() -> None:
    """pdv2 state blobs are models (extra fields allowed): a null the source wrote into its
    state must come back, as the CDK's own entrypoint writes it."""
    pydantic = pytest.importorskip("pydantic")

    class Blob(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="allow")

    class Stream(pydantic.BaseModel):
        name: str
        namespace: str | None = None
        stream_state: Blob | None = None

    plain = to_plain(Stream(name="a", stream_state=Blob(cursor=None, n=1)))
    assert plain == {"name": "a", "stream_state": {"cursor": None, "n": 1}}


def test_state_payload_accepts_every_spelling() -> None:
    assert state_payload({"type": "GLOBAL", "global_": {"x": 1}}) == ("GLOBAL", {"x": 1})
    assert state_payload({"global": {"x": 1}}) == ("GLOBAL", {"x": 1})
    # A pdv2 model built with `global_=` dumps the unset field beside the extra.
    assert state_payload({"type": "GLOBAL", "global": None, "global_": {"x": 1}}) == (
        "GLOBAL",
        {"x": 1},
    )
    assert state_payload({"stream": {"s": 1}}) == ("STREAM", {"s": 1})
    assert state_payload({"data": {"d": 1}}) == ("LEGACY", {"d": 1})
    assert state_payload({"type": "LEGACY", "data": {"d": 1}}) == ("LEGACY", {"d": 1})


def test_parse_line_keeps_messages_and_rejects_other_output() -> None:
    assert (
        parse_line(b'{"type": "LOG", "log": {"level": "INFO", "message": "hi"}}')["log"]["message"]
        == "hi"
    )
    assert parse_line(b"[nltk_data] Error loading punkt") is None
    assert parse_line(b'{"no": "type"}') is None
    assert parse_line(b"[1, 2]") is None
