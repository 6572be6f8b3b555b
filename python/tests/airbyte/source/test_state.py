from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from flow_sdk.airbyte.source.read_loop import ReadLoop
from flow_sdk.airbyte.source.state import ShimState
from flow_sdk.capture.emitter import Emitter
from flow_sdk.errors import ConnectorError
from flow_sdk.io import ProtocolWriter
from flow_sdk.protocol.flow import CaptureBinding
from flow_sdk.protocol.merge_patch import merge_patch
from flow_sdk.protocol.state_key import encode_state_key


def b(
    stream: str, mode: str = "incremental", namespace: str | None = None, backfill: int = 0
) -> CaptureBinding:
    rc: dict[str, Any] = {"stream": stream, "syncMode": mode}
    if namespace:
        rc["namespace"] = namespace
    path = [namespace, stream] if namespace else [stream]
    return CaptureBinding(
        resourceConfig=rc,
        resourcePath=path,
        backfill=backfill,
        stateKey=encode_state_key(path, backfill),
    )


def stream_msg(name: str, blob: Any, namespace: str | None = None) -> dict[str, Any]:
    desc = {"name": name, "namespace": namespace}
    return {
        "type": "STREAM",
        "stream": {"stream_descriptor": desc, "stream_state": blob},
        "sourceStats": {"recordCount": 2.0},
    }


def test_stream_states_patch_only_their_binding_and_round_trip() -> None:
    state = ShimState([b("users"), b("orders", namespace="shop")], None)
    state.bindings[0].next_row = 7
    patch = state.on_state(stream_msg("users", {"cursor": 7, "gone": None}))
    assert patch == {
        "bindingStateV1": {
            "users": {
                "rowId": 7,
                "stream": [
                    {
                        "stream_descriptor": {"name": "users"},
                        "stream_state": {"cursor": 7, "gone": None},
                    }
                ],
            }
        }
    }
    flow = merge_patch({}, patch)
    flow = merge_patch(flow, state.on_state(stream_msg("orders", {"seq": 3}, "shop")))
    # A later blob that lost a key replaces the old one entirely.
    flow = merge_patch(flow, state.on_state(stream_msg("users", {"cursor": 9})))
    again = ShimState([b("users"), b("orders", namespace="shop")], flow)
    assert again.airbyte_input() == [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 9}},
        },
        {
            "type": "STREAM",
            "stream": {
                "stream_descriptor": {"name": "orders", "namespace": "shop"},
                "stream_state": {"seq": 3},
            },
        },
    ]
    assert again.bindings[0].next_row == 7, "incremental row ids continue"


def test_global_state_round_trips_with_shared_state_and_global_underscore() -> None:
    state = ShimState([b("a"), b("b")], None)
    state.bindings[1].next_row = 4
    msg = {
        "type": "GLOBAL",
        "global_": {
            "shared_state": {"lsn": 10},
            "stream_states": [
                {"stream_descriptor": {"name": "a"}, "stream_state": {"x": 1}},
                {"stream_descriptor": {"name": "b"}, "stream_state": {"y": 2}},
            ],
        },
    }
    flow = merge_patch({}, state.on_state(msg))
    assert flow["airbyteGlobal"] == {"sharedState": [{"lsn": 10}]}
    assert flow["bindingStateV1"]["b"]["rowId"] == 4
    # Only what changed is patched: stream b and the shared state.
    msg["global_"]["shared_state"] = {"lsn": 11}
    msg["global_"]["stream_states"][1]["stream_state"] = {"y": 3}
    patch = state.on_state(msg)
    assert set(patch["bindingStateV1"]) == {"b"} and patch["airbyteGlobal"] == {
        "sharedState": [{"lsn": 11}]
    }
    flow = merge_patch(flow, patch)
    assert ShimState([b("a"), b("b")], flow).airbyte_input() == [
        {
            "type": "GLOBAL",
            "global": {
                "stream_states": [
                    {"stream_descriptor": {"name": "a"}, "stream_state": {"x": 1}},
                    {"stream_descriptor": {"name": "b"}, "stream_state": {"y": 3}},
                ],
                "shared_state": {"lsn": 11},
            },
        }
    ]
    # A GLOBAL state without shared state still comes back as GLOBAL.
    plain = ShimState([b("a")], None)
    flow = merge_patch({}, plain.on_state({"type": "GLOBAL", "global": {"stream_states": []}}))
    assert ShimState([b("a")], flow).airbyte_input() == [
        {"type": "GLOBAL", "global": {"stream_states": []}}
    ]


def test_legacy_state_round_trips() -> None:
    state = ShimState([b("a")], None)
    state.bindings[0].next_row = 3
    flow = merge_patch({}, state.on_state({"data": {"a": {"cursor": "2024"}}}))
    assert flow == {
        "airbyteLegacy": [{"a": {"cursor": "2024"}}],
        "bindingStateV1": {"a": {"rowId": 3}},
    }
    assert state.on_state({"type": "LEGACY", "data": {"a": {"cursor": "2024"}}}) == {}
    again = ShimState([b("a")], flow)
    assert again.airbyte_input() == [{"type": "LEGACY", "data": {"a": {"cursor": "2024"}}}]
    assert again.bindings[0].next_row == 3


def test_full_refresh_sweeps_restart_row_ids_and_forget_state() -> None:
    state = ShimState([b("events", "full_refresh")], None)
    events = state.bindings[0]
    events.next_row = 5
    flow = merge_patch({}, state.on_state(stream_msg("events", {"page": 2})))
    # Interrupted mid-sweep: the next session resumes the sweep and its row ids.
    resumed = ShimState([b("events", "full_refresh")], flow)
    assert resumed.bindings[0].next_row == 5
    assert resumed.airbyte_input()[0]["stream"]["stream_state"] == {"page": 2}
    # A completed sweep leaves nothing behind: the next sweep starts at row 0.
    flow = merge_patch(flow, resumed.sweep_complete(resumed.bindings[0]))
    assert flow == {"bindingStateV1": {}}
    # A state after the completion status (airbyte-cdk in process sends it late) is dropped.
    assert resumed.on_state(stream_msg("events", {"page": 9})) is None
    assert resumed.end_of_read() == {}
    fresh = ShimState([b("events", "full_refresh")], flow)
    assert fresh.bindings[0].next_row == 0 and fresh.airbyte_input() == []


def test_end_of_read_completes_full_refresh_sweeps_only() -> None:
    state = ShimState([b("users"), b("events", "full_refresh")], None)
    state.on_state(stream_msg("users", {"c": 1}))
    state.on_state(stream_msg("events", {"page": 1}))
    assert state.end_of_read() == {"bindingStateV1": {"events": None}}
    assert state.end_of_read() == {}


def test_backfilled_binding_starts_clean_while_others_keep_state() -> None:
    flow = {
        "bindingStateV1": {
            "users": {
                "rowId": 4,
                "stream": [{"stream_descriptor": {"name": "users"}, "stream_state": {"c": 4}}],
            },
            "orders": {
                "rowId": 2,
                "stream": [{"stream_descriptor": {"name": "orders"}, "stream_state": {"c": 2}}],
            },
        }
    }
    state = ShimState([b("users", backfill=1), b("orders")], flow)
    assert state.bindings[0].next_row == 0
    assert [m["stream"]["stream_descriptor"]["name"] for m in state.airbyte_input()] == ["orders"]


def test_flow_sdk_0_1_state_continues_and_migrates() -> None:
    # What flow-sdk 0.1.x wrote (mergePatch false): AirbyteStateMessage.dict() with nulls.
    old = {
        "bindingStateV1": {
            "users": {
                "state": {
                    "type": "STREAM",
                    "stream": {
                        "stream_descriptor": {"name": "users", "namespace": None},
                        "stream_state": {"updated_at": 40},
                    },
                    "global_": None,
                    "data": None,
                },
                "rowId": 41,
            },
            "events": {
                "state": {
                    "type": "STREAM",
                    "stream": {"stream_descriptor": {"name": "events"}, "stream_state": {"x": 1}},
                },
                "rowId": 17,
            },
        }
    }
    state = ShimState([b("users"), b("events", "full_refresh")], old)
    assert state.airbyte_input() == [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"updated_at": 40}},
        }
    ]
    assert state.bindings[0].next_row == 41 and state.bindings[1].next_row == 0
    patch = state.on_state(stream_msg("users", {"updated_at": 45}))
    assert patch["bindingStateV1"]["users"]["state"] is None, (
        "the old layout is removed on first write"
    )
    migrated = merge_patch(old, patch)["bindingStateV1"]["users"]
    assert migrated == {
        "rowId": 41,
        "stream": [{"stream_descriptor": {"name": "users"}, "stream_state": {"updated_at": 45}}],
    }


def test_estuary_cdk_shim_state_continues() -> None:
    # estuary-cdk's ResourceState: rowId plus the state message as a dict ({} before any).
    old = {
        "bindingStateV1": {
            "users": {
                "rowId": 12,
                "state": {
                    "type": "STREAM",
                    "stream": {
                        "stream_descriptor": {"name": "users"},
                        "stream_state": {"updated_at": 12},
                    },
                    "sourceStats": None,
                },
            },
            "orders": {"rowId": 0, "state": {}},
        }
    }
    state = ShimState([b("users"), b("orders")], old)
    assert state.airbyte_input() == [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"updated_at": 12}},
        }
    ]
    assert state.bindings[0].next_row == 12


@pytest.mark.parametrize(
    "bad, why",
    [
        ([1, 2], "it is a list"),
        ({"cursor": 5}, "keys 'cursor'"),
        ({"bindingStateV1": {"users": "x"}}, "is not an object"),
        ({"bindingStateV1": {"users": {"rowId": -1}}}, "rowId -1"),
        ({"bindingStateV1": {"users": {"blob": {}}}}, "unknown keys 'blob'"),
        (
            {"bindingStateV1": {"users": {"stream": {"stream_state": {}}}}},
            "not \\[<AirbyteStreamState>\\]",
        ),
        (
            {"bindingStateV1": {"users": {"state": {"type": "GLOBAL", "global": {}}}}},
            "GLOBAL Airbyte state",
        ),
        ({"airbyteLegacy": {"a": 1}}, "one-element list"),
    ],
)
def test_state_that_cannot_be_understood_is_a_clear_error(bad: Any, why: str) -> None:
    with pytest.raises(ConnectorError, match=why) as err:
        ShimState([b("users")], bad)
    assert "--discard-state" in str(err.value)


def test_discard_ignores_any_state() -> None:
    assert ShimState([b("users")], {"cursor": 5}, discard=True).airbyte_input() == []


def test_state_for_an_unbound_stream_is_ignored() -> None:
    assert ShimState([b("users")], None).on_state(stream_msg("other", {})) is None


def test_unknown_state_type_is_an_error() -> None:
    with pytest.raises(ConnectorError, match="unknown type 'PER_PARTITION'"):
        ShimState([b("users")], None).on_state({"type": "PER_PARTITION"})


def test_a_finished_sweeps_state_resumes_at_row_zero() -> None:
    """A session killed between a sweep's final state and its completion status leaves the
    CDK's sweep-done marker: the next session sweeps again from row 0, not after the old rows."""
    state = ShimState([b("events", "full_refresh")], None)
    state.bindings[0].next_row = 7
    done = {"__ab_full_refresh_sync_complete": True}
    state.on_state(stream_msg("events", {"page": 3}))
    patch = state.on_state(stream_msg("events", done))
    assert patch == {"bindingStateV1": {"events": None}}, "the done-marker is never handed back"
    assert state.bindings[0].next_row == 0
    # and a state saved before this fix, with the old row counter, resumes at 0 as well
    old = {
        "bindingStateV1": {
            "events": {
                "rowId": 7,
                "stream": [{"stream_descriptor": {"name": "events"}, "stream_state": done}],
            }
        }
    }
    resumed = ShimState([b("events", "full_refresh")], old)
    assert resumed.bindings[0].next_row == 0 and resumed.airbyte_input() == []


def test_states_and_statuses_reach_the_binding_of_their_namespace(tmp_path: Path) -> None:
    a, b_ = b("users", "full_refresh", "tenant_a"), b("users", "full_refresh", "tenant_b")
    state = ShimState([a, b_], None)
    with open(tmp_path / "out", "wb") as out:
        emit = Emitter(ProtocolWriter(out.fileno()), 2)
        emit.opened()
        loop = ReadLoop(emit, state, logging.getLogger("flow"))
        loop.record("tenant_a", "users", {"id": 1})
        loop.record("tenant_b", "users", {"id": 1})
        loop.record("tenant_b", "users", {"id": 2})
        loop.message({"type": "STATE", "state": stream_msg("users", {"page": 2}, "tenant_a")})
        loop.message({"type": "STATE", "state": stream_msg("users", {"page": 5}, "tenant_b")})
        status = {"stream_descriptor": {"name": "users", "namespace": "tenant_b"}}
        status["status"] = "RUNNING"
        loop.message({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "stream_status": status}})
        status["status"] = "COMPLETE"
        loop.message({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "stream_status": status}})
        emit.checkpoint(state.end_of_read())
    lines = [orjson.loads(line) for line in (tmp_path / "out").read_bytes().splitlines()]
    docs = [(line["captured"].get("binding", 0), line["captured"]["doc"]) for line in lines[1:4]]
    assert docs == [
        (0, {"id": 1, "_meta": {"op": "u", "row_id": 0}}),
        (1, {"id": 1, "_meta": {"op": "u", "row_id": 0}}),
        (1, {"id": 2, "_meta": {"op": "u", "row_id": 1}}),
    ]
    patches = [line["checkpoint"]["state"]["updated"] for line in lines[4:]]
    assert patches[0]["bindingStateV1"]["tenant_a%2Fusers"]["rowId"] == 1
    assert patches[1]["bindingStateV1"]["tenant_b%2Fusers"]["stream"] == [
        {
            "stream_descriptor": {"name": "users", "namespace": "tenant_b"},
            "stream_state": {"page": 5},
        }
    ]
    # tenant_b's sweep completed (its state goes); tenant_a's only at the end of the read.
    assert patches[2:] == [
        {"bindingStateV1": {"tenant_b%2Fusers": None}},
        {"bindingStateV1": {"tenant_a%2Fusers": None}},
    ]


def test_states_and_statuses_without_a_namespace_fail_when_it_is_ambiguous() -> None:
    def ambiguous(what: str) -> str:
        return (
            f"the source wrote {what} of stream 'users' without a namespace, but the capture "
            "binds 'users' in 2 namespaces ('tenant_a', none), so it cannot tell which binding "
            "it belongs to; bind only one of them, or make the source set the namespace on its "
            "messages"
        )

    state = ShimState([b("users", namespace="tenant_a"), b("users")], None)
    with pytest.raises(ConnectorError) as err:
        state.on_state(stream_msg("users", {"cursor": 1}))
    assert str(err.value) == ambiguous("a STREAM state")
    glob = {"type": "GLOBAL", "global": {"stream_states": [stream_msg("users", {})["stream"]]}}
    with pytest.raises(ConnectorError) as err:
        state.on_state(glob)
    assert str(err.value) == ambiguous("a GLOBAL state")
    with pytest.raises(ConnectorError) as err:
        state.binding_of(None, "users", "a stream status")
    assert str(err.value) == ambiguous("a stream status")
    # With a namespace, each finds its own binding; a stream bound once needs none.
    assert state.binding_of("tenant_a", "users") is state.bindings[0]
    assert state.on_state(stream_msg("users", {"c": 1}, "tenant_a")) is not None
    assert ShimState([b("users", namespace="x")], None).binding_of(None, "users") is not None


def test_a_resumed_sweep_completes_the_backfill_an_earlier_session_began(tmp_path: Path) -> None:
    """A full-refresh sweep resumed from its mid-sweep state was begun by the session that
    started it: this one sends no `backfillBegin` for it, only the `backfillComplete`; a
    sweep that starts afresh gets its begin before anything else."""
    mid_sweep = {
        "bindingStateV1": {
            "events": {
                "rowId": 2,
                "stream": [{"stream_descriptor": {"name": "events"}, "stream_state": {"page": 2}}],
            }
        }
    }
    state = ShimState([b("events", "full_refresh"), b("logs", "full_refresh")], mid_sweep)
    with open(tmp_path / "out", "wb") as out:
        emit = Emitter(ProtocolWriter(out.fileno()), 2)
        emit.opened()
        loop = ReadLoop(emit, state, logging.getLogger("flow"))
        loop.begin()
        loop.record(None, "events", {"id": 3})
        status = {"stream_descriptor": {"name": "events"}, "status": "COMPLETE"}
        loop.message({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "stream_status": status}})
        loop.record(None, "logs", {"id": 1})
        loop.finish()
    lines = [orjson.loads(line) for line in (tmp_path / "out").read_bytes().splitlines()]
    assert lines == [
        {"opened": {}},
        {"backfillBegin": {"binding": 1}},
        {"captured": {"doc": {"id": 3, "_meta": {"op": "u", "row_id": 2}}}},
        {"backfillComplete": {}},
        {
            "checkpoint": {
                "state": {"updated": {"bindingStateV1": {"events": None}}, "mergePatch": True}
            }
        },
        {"captured": {"binding": 1, "doc": {"id": 1, "_meta": {"op": "u", "row_id": 0}}}},
        {"backfillComplete": {"binding": 1}},
        {"checkpoint": {"state": {"updated": {}, "mergePatch": True}}},
    ]
