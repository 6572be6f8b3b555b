"""The Singer shim end to end over the Flow protocol, with the demo singer-sdk tap in process
and as a subprocess (`flow-sdk singer-capture -- python tap_demo.py`), against a real HTTP
API on 127.0.0.1."""

from __future__ import annotations

from conftest import API_KEY, MODES
from singer_shim_process import binding, open_request, run

USERS = binding("users", "INCREMENTAL", key=["/id"], replication_key="updated_at")
EVENTS = binding("events", "FULL_TABLE")


def validate_request(config: dict, bindings: list[dict]) -> dict:
    return {
        "validate": {
            "name": "acmeCo/singer",
            "config": config,
            "bindings": [
                {"resourceConfig": b["resourceConfig"], "collection": b["collection"]}
                for b in bindings
            ],
        }
    }


def test_spec_discover_validate(shim: list[str], config: dict, api) -> None:
    done = run(
        shim,
        [
            {"spec": {"config": {}}},
            {"discover": {"config": config}},
            validate_request(config, [USERS, EVENTS]),
        ],
    )
    assert done.code == 0, done.text
    spec, discovered, validated = (r[next(iter(r))] for r in done.responses)
    assert spec["protocol"] == 3032023
    assert spec["configSchema"]["properties"]["api_key"]["secret"] is True
    assert spec["configSchema"]["required"] == ["api_url", "api_key"]
    assert spec["resourcePathPointers"] == ["/tap_stream_id"]
    by_name = {b["recommendedName"]: b for b in discovered["bindings"]}
    users, events = by_name["users"], by_name["events"]
    assert users["key"] == ["/id"] and users["resourcePath"] == ["users"]
    assert users["resourceConfig"] == {
        "tap_stream_id": "users",
        "replication_method": "INCREMENTAL",
        "replication_key": "updated_at",
    }
    assert events["key"] == ["/_meta/row_id"]
    assert events["resourceConfig"] == {
        "tap_stream_id": "events",
        "replication_method": "FULL_TABLE",
    }
    assert events["documentSchema"]["properties"]["_meta"]["required"] == ["op", "row_id"]
    assert validated == {"bindings": [{"resourcePath": ["users"]}, {"resourcePath": ["events"]}]}
    # The dry run stopped early: 5 users are 3 pages (discover does not call the API).
    assert 1 <= sum(p.startswith("/users") for p in api.requests) < 3, api.requests
    assert API_KEY not in done.text


def test_both_modes_give_the_same_spec(config: dict) -> None:
    specs = [run(argv, [{"spec": {}}]).responses for argv in MODES.values()]
    assert specs[0] == specs[1]


def test_validate_errors_name_the_problem(shim: list[str], config: dict, api) -> None:
    refused = run(shim, [validate_request({**config, "api_key": "wrong"}, [USERS])])
    assert refused.code == 1
    assert "dry run" in refused.last_error and "401" in refused.last_error, refused.last_error
    gone = binding("vanished", "FULL_TABLE")
    missing = run(shim, [validate_request(config, [gone])])
    assert missing.code == 1
    assert "no stream 'vanished' (its streams are: events, users)" in missing.last_error
    bad = run(shim, [validate_request({"api_url": api.url}, [USERS])])
    assert bad.code == 1 and "api_key" in bad.last_error, bad.last_error


def test_capture_then_resume_from_checkpointed_state(shim: list[str], config: dict, api) -> None:
    first = run(shim, [open_request(config, [USERS, EVENTS])], session=True)
    assert first.code == 0, first.text
    assert first.responses[0] == {"opened": {}}
    assert "checkpoint" in first.responses[-1], (
        "documents must not be left after the last checkpoint"
    )
    assert [(d["id"], d["_meta"]["row_id"]) for d in first.docs(0)] == [
        (n, n - 1) for n in range(1, 6)
    ]
    assert [(d["n"], d["_meta"]["row_id"]) for d in first.docs(1)] == [(0, 0), (1, 1), (2, 2)]
    assert len(first.of("checkpoint")) >= 3, "the tap's STATE messages checkpoint during the sync"
    for cp in first.of("checkpoint"):
        assert cp["state"]["mergePatch"] is True
    state = first.reduced_state()
    users = state["bindingStateV1"]["users"]
    assert users["rowId"] == 5
    assert users["bookmark"][0]["replication_key_value"] == 105
    assert state["bindingStateV1"]["events"]["rowId"] == 0, "full-table row ids restart every sweep"

    api.add_users(2)
    api.requests.clear()
    second = run(shim, [open_request(config, [USERS, EVENTS], state)], session=True)
    assert second.code == 0, second.text
    # The bookmark is inclusive: user 5 is read again, then only the new users.
    assert [(d["id"], d["_meta"]["row_id"]) for d in second.docs(0)] == [(5, 5), (6, 6), (7, 7)]
    assert [d["_meta"]["row_id"] for d in second.docs(1)] == [0, 1, 2]
    assert any("since=105" in p for p in api.requests), api.requests
    final = second.reduced_state(state)
    assert final["bindingStateV1"]["users"]["bookmark"][0]["replication_key_value"] == 107


def test_a_backfilled_binding_starts_over(config: dict, api) -> None:
    shim = MODES["inprocess"]  # state handling is shared by both modes
    state = run(shim, [open_request(config, [USERS])], session=True).reduced_state()
    backfilled = binding(
        "users", "INCREMENTAL", key=["/id"], backfill=1, replication_key="updated_at"
    )
    again = run(shim, [open_request(config, [backfilled], state)], session=True)
    assert again.code == 0, again.text
    assert [d["id"] for d in again.docs(0)] == [1, 2, 3, 4, 5]
    assert "users.v1" in again.reduced_state(state)["bindingStateV1"]


def test_a_failing_stream_is_named_and_nothing_is_checkpointed_after_it(
    shim: list[str], config: dict, api
) -> None:
    api.fail_users = True
    failed = run(shim, [open_request(config, [EVENTS, USERS])], session=True)
    assert failed.code == 1
    assert "users" in failed.last_error and "400" in failed.last_error, failed.last_error
    assert failed.responses[0] == {"opened": {}}


def test_activate_version_of_a_full_table_sync_brackets_a_backfill(
    shim: list[str], config: dict, api
) -> None:
    """singer-sdk writes ACTIVATE_VERSION before a FULL_TABLE stream's records when asked
    (`emit_activate_version_messages`): it is the binding's `backfillBegin`, and the end of
    the sync its `backfillComplete`, before the final checkpoint. Incremental streams get
    neither."""
    activating = {**config, "emit_activate_version_messages": True}
    done = run(shim, [open_request(activating, [USERS, EVENTS])], session=True)
    assert done.code == 0, done.text
    events = [
        (variant, body.get("binding", 0))
        for r in done.responses
        for variant, body in r.items()
        if variant in ("backfillBegin", "backfillComplete", "captured")
    ]
    signals = [e for e in events if e[0] != "captured"]
    assert signals == [("backfillBegin", 1), ("backfillComplete", 1)]
    first_event = events.index(("captured", 1))
    assert events.index(("backfillBegin", 1)) < first_event, "begin precedes the sweep's records"
    last_event = max(i for i, e in enumerate(events) if e == ("captured", 1))
    assert events.index(("backfillComplete", 1)) > last_event
    after = done.responses[[next(iter(r)) for r in done.responses].index("backfillComplete") :]
    assert "checkpoint" in after[-1], "a checkpoint commits the complete"

    plain = run(shim, [open_request(config, [USERS, EVENTS])], session=True)
    assert not plain.of("backfillBegin"), "no ACTIVATE_VERSION, no backfill signals"
