"""Acceptance tests of the Airbyte face, through the real `source-bigdata` CLI (modelled on
Airbyte's connector acceptance tests: spec, check, discover, full refresh, incremental,
abnormal state, and resuming from a mid-run checkpoint)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

STREAMS = ("bigdata", "users", "events")
INCREMENTAL_STREAMS = ("users", "events")
CONFIG = {"data_name": "acceptance", "record_count": 10, "seed": 7, "checkpoint_interval": 4}
FUTURE = "2999-01-01T00:00:00Z"

pytestmark = pytest.mark.slow  # every command starts a process that imports airbyte-cdk


@pytest.fixture(scope="module")
def full_read(module_cli):
    """One incremental read of every stream from no state: the reference run."""
    run = module_cli.run("read", CONFIG, module_cli.configured_catalog())
    assert run.code == 0, run.stderr
    return run


@pytest.fixture(scope="module")
def discovered(module_cli):
    run = module_cli.run("discover", CONFIG)
    assert run.code == 0, run.stderr
    (message,) = run.of_type("CATALOG")
    return {stream["name"]: stream for stream in message["catalog"]["streams"]}


def test_spec(cli):
    run = cli.run("spec")
    assert run.code == 0, run.stderr
    (message,) = run.of_type("SPEC")
    spec = message["spec"]
    assert spec["documentationUrl"] == "https://docs.bigdata.com/integrations/sources/bigdata"
    schema = spec["connectionSpecification"]
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["title"] == "Big Data Spec"
    assert schema["required"] == ["data_name"]
    data_name = schema["properties"]["data_name"]
    assert data_name["type"] == "string"
    assert data_name["pattern"] == r"^[a-z0-9_\-]+$"
    assert data_name["description"] == "Name requested from the API."
    assert {"record_count", "seed", "start_date", "checkpoint_interval"} <= set(
        schema["properties"]
    )


def test_check_accepts_a_valid_config(cli):
    run = cli.run("check", CONFIG)
    assert run.code == 0, run.stderr
    (message,) = run.of_type("CONNECTION_STATUS")
    assert message["connectionStatus"]["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("config", "mentions"),
    [
        ({"data_name": "Not Allowed!"}, "data_name"),
        ({"record_count": 5}, "data_name"),
        ({"data_name": "ok", "start_date": "2024-02-30T00:00:00Z"}, "start_date"),
    ],
)
def test_check_rejects_an_invalid_config_with_a_clear_message(cli, config, mentions):
    run = cli.run("check", config)
    assert run.code == 0, run.stderr  # Airbyte reports a bad config as a FAILED status
    (message,) = run.of_type("CONNECTION_STATUS")
    status = message["connectionStatus"]
    assert status["status"] == "FAILED"
    assert mentions in status["message"]


def test_discover(discovered):
    streams = discovered
    assert set(streams) == set(STREAMS)
    assert streams["bigdata"]["supported_sync_modes"] == ["full_refresh"]
    assert not streams["bigdata"].get("source_defined_primary_key")
    for name in INCREMENTAL_STREAMS:
        stream = streams[name]
        assert stream["supported_sync_modes"] == ["full_refresh", "incremental"]
        assert stream["source_defined_cursor"] is True
        assert stream["default_cursor_field"] == ["updated_at"]
        assert stream["source_defined_primary_key"] == [["id"]]
    for stream in streams.values():
        jsonschema.Draft7Validator.check_schema(stream["json_schema"])


def test_full_refresh_read_is_complete_valid_and_deterministic(cli, full_read, discovered):
    run = cli.run("read", CONFIG, cli.configured_catalog(incremental=False))
    assert run.code == 0, run.stderr
    for name in STREAMS:
        records = run.records[name]
        assert len(records) == CONFIG["record_count"]
        validator = jsonschema.Draft7Validator(discovered[name]["json_schema"])
        for record in records:
            validator.validate(record)
        # Same config and seed, same records (the incremental reference read included).
        assert records == full_read.records[name]
    assert [r["index"] for r in run.records["bigdata"]] == list(range(CONFIG["record_count"]))
    assert [r["id"] for r in run.records["users"]] == list(range(1, CONFIG["record_count"] + 1))
    # Nested objects and arrays, as promised.
    user, event = run.records["users"][0], run.records["events"][0]
    assert isinstance(user["address"], dict) and isinstance(user["tags"], list)
    assert isinstance(event["properties"]["device"], dict) and isinstance(event["items"], list)


def test_another_seed_gives_other_records(cli, full_read):
    run = cli.run("read", {**CONFIG, "seed": 8}, cli.configured_catalog(["events"]))
    assert run.code == 0, run.stderr
    assert len(run.records["events"]) == CONFIG["record_count"]
    assert run.records["events"] != full_read.records["events"]


def test_state_is_checkpointed_every_interval(full_read):
    interval, count = CONFIG["checkpoint_interval"], CONFIG["record_count"]
    for name in STREAMS:
        sequence = full_read.sequence(name)
        records_between = []
        pending = 0
        for kind, _ in sequence:
            if kind == "record":
                pending += 1
            else:
                records_between.append(pending)
                pending = 0
        assert pending == 0, f"{name}: records after the last state"
        expected = [interval] * (count // interval) + (
            [count % interval] if count % interval else []
        )
        assert records_between[: len(expected)] == expected
        assert all(n == 0 for n in records_between[len(expected) :])


def test_incremental_read_advances_the_cursor(full_read, cli):
    for name in INCREMENTAL_STREAMS:
        records = full_read.records[name]
        cursors = [record["updated_at"] for record in records]
        assert cursors == sorted(set(cursors)), "updated_at must be strictly increasing"
        states = [
            s["state"]["stream"]["stream_state"]["updated_at"] for s in full_read.states[name]
        ]
        assert states == sorted(states)
        assert states[-1] == cursors[-1]
    # A second read from the final states has nothing new ...
    final = [full_read.states[name][-1] for name in INCREMENTAL_STREAMS]
    state = [{k: m["state"][k] for k in ("type", "stream")} for m in final]
    again = cli.run("read", CONFIG, cli.configured_catalog(INCREMENTAL_STREAMS), state)
    assert again.code == 0, again.stderr
    assert not again.records
    # ... until more records exist: then exactly the new ones.
    grown = {**CONFIG, "record_count": CONFIG["record_count"] + 3}
    more = cli.run("read", grown, cli.configured_catalog(INCREMENTAL_STREAMS), state)
    assert more.code == 0, more.stderr
    assert [r["id"] for r in more.records["users"]] == [11, 12, 13]
    assert [r["id"] for r in more.records["events"]] == [11, 12, 13]


def test_future_state_yields_no_records(cli):
    state = [cli.stream_state(name, {"updated_at": FUTURE}) for name in INCREMENTAL_STREAMS]
    run = cli.run("read", CONFIG, cli.configured_catalog(INCREMENTAL_STREAMS), state)
    assert run.code == 0, run.stderr
    assert not run.records
    for name in INCREMENTAL_STREAMS:  # the state is kept, not rewound
        blobs = [m["state"]["stream"]["stream_state"] for m in run.states[name]]
        assert blobs == [{"updated_at": FUTURE}]


def test_resuming_from_a_mid_run_checkpoint_yields_exactly_the_remaining_records(cli, full_read):
    state: list[dict[str, Any]] = []
    remaining: dict[str, list[dict[str, Any]]] = {}
    for name in STREAMS:
        sequence = full_read.sequence(name)
        # The second checkpoint of the stream: 8 records behind it, 2 ahead.
        checkpoints = [i for i, (kind, _) in enumerate(sequence) if kind == "state"]
        at = checkpoints[1]
        state.append(cli.stream_state(name, sequence[at][1]))
        remaining[name] = [payload for kind, payload in sequence[at:] if kind == "record"]
        assert len(remaining[name]) == 2
    run = cli.run("read", CONFIG, cli.configured_catalog(), state)
    assert run.code == 0, run.stderr
    for name in STREAMS:
        assert run.records.get(name, []) == remaining[name], name


def test_a_finished_sweep_starts_a_new_one(cli, full_read):
    done = full_read.states["bigdata"][-1]["state"]["stream"]["stream_state"]
    run = cli.run(
        "read", CONFIG, cli.configured_catalog(["bigdata"]), [cli.stream_state("bigdata", done)]
    )
    assert run.code == 0, run.stderr
    assert run.records["bigdata"] == full_read.records["bigdata"]


def test_a_malformed_state_fails_the_read_with_a_clear_message(cli):
    state = [cli.stream_state("users", {"updated_at": "yesterday"})]
    run = cli.run("read", CONFIG, cli.configured_catalog(["users"]), state)
    assert run.code != 0
    errors = [
        m["trace"]["error"]["message"]
        for m in run.of_type("TRACE")
        if m["trace"]["type"] == "ERROR"
    ]
    assert any("users" in message and "yesterday" in message for message in errors), errors
