"""Singer state ↔ Flow state: bookmarks per stateKey, patches of only what moved, and the
layout of flow-sdk 0.1.x's Singer shim read and rewritten."""

from __future__ import annotations

import pytest
from singer_shim_process import binding

from flow_sdk.errors import ConnectorError
from flow_sdk.protocol.flow import CaptureBinding
from flow_sdk.singer.state import SingerState


def bindings(*specs: dict) -> list[CaptureBinding]:
    return [CaptureBinding.model_validate(b) for b in specs]


USERS = binding("users", "INCREMENTAL", key=["/id"])
EVENTS = binding("events", "FULL_TABLE")


def test_only_moved_bookmarks_are_patched_with_their_row_counter() -> None:
    state = SingerState(bindings(USERS, EVENTS), {})
    state.by_stream["users"].next_row = 3
    tap_state = {"bookmarks": {"users": {"replication_key_value": 3}}, "currently_syncing": "users"}
    assert state.on_state(tap_state) == {
        "bindingStateV1": {"users": {"rowId": 3, "bookmark": [{"replication_key_value": 3}]}},
        "singerState": [{"currently_syncing": "users"}],
    }
    tap_state["bookmarks"]["users"]["replication_key_value"] = 4  # the tap mutates its state
    assert (
        state.on_state(
            {"bookmarks": {"users": {"replication_key_value": 3}}, "currently_syncing": "users"}
        )
        is None
    )
    assert state.on_state({"bookmarks": {"users": {"replication_key_value": 3}}}) == {
        "singerState": None
    }


def test_state_is_restored_by_state_key_and_a_backfill_starts_clean() -> None:
    saved = {"bindingStateV1": {"users": {"rowId": 7, "bookmark": [{"replication_key_value": 9}]}}}
    state = SingerState(bindings(USERS), saved)
    assert state.singer_state() == {"bookmarks": {"users": {"replication_key_value": 9}}}
    assert state.by_stream["users"].next_row == 7
    backfilled = SingerState(bindings(binding("users", "INCREMENTAL", backfill=1)), saved)
    assert backfilled.singer_state() == {}


def test_full_table_row_ids_restart_after_the_sync() -> None:
    state = SingerState(bindings(EVENTS), {})
    state.by_stream["events"].next_row = 2
    assert state.on_state({"bookmarks": {"events": {"version": 1}}}) == {
        "bindingStateV1": {"events": {"rowId": 2, "bookmark": [{"version": 1}]}}
    }
    assert state.end_of_sync() == {"bindingStateV1": {"events": {"rowId": 0}}}


def test_the_layout_of_flow_sdk_0_1_is_read_and_rewritten() -> None:
    old = {"bindingStateV1": {"users": {"replication_key_value": 5, "estuary.dev/rowCounter": 6}}}
    state = SingerState(bindings(USERS, EVENTS), old)
    assert state.migrated
    assert state.singer_state() == {"bookmarks": {"users": {"replication_key_value": 5}}}
    assert state.full_state() == {
        "bindingStateV1": {
            "users": {"rowId": 6, "bookmark": [{"replication_key_value": 5}]},
            "events": {"rowId": 0},
        }
    }


@pytest.mark.parametrize(
    "bad",
    [
        [1],
        {"rowIds": {}},
        {"bindingStateV1": []},
        {"bindingStateV1": {"users": {"rowId": -1}}},
        {"singerState": {}},
    ],
)
def test_unreadable_state_is_an_error_saying_what_to_do(bad: object) -> None:
    with pytest.raises(ConnectorError, match="cannot be understood: .* reset the capture's state"):
        SingerState(bindings(USERS), bad)
