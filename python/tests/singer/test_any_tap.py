"""Any Singer tap executable behind `flow-sdk singer-capture`: a hand-written tap (raw_tap.py)
with metadata-only replication settings, a slash in a key property, BATCH files,
ACTIVATE_VERSION, an unknown message type and stray stdout text."""

from __future__ import annotations

import sys

from conftest import HERE
from singer_shim_process import binding, open_request, run

RAW = [
    sys.executable,
    "-m",
    "flow_sdk.cli",
    "singer-capture",
    "--",
    sys.executable,
    str(HERE / "raw_tap.py"),
]
ITEMS = binding("items", "INCREMENTAL", key=["/sku~1code"])
BATCHED = binding("batched", "FULL_TABLE")


def test_spec_and_discover_of_a_tap_without_about() -> None:
    done = run(RAW, [{"spec": {}}, {"discover": {"config": {"count": 1}}}])
    assert done.code == 0, done.text
    spec, discovered = (r[next(iter(r))] for r in done.responses)
    assert spec["configSchema"] == {"type": "object"}
    assert "Pass --config-schema FILE" in done.text
    items, batched = discovered["bindings"]
    assert items["key"] == ["/sku~1code"]
    assert items["resourceConfig"] == {
        "tap_stream_id": "items",
        "replication_method": "INCREMENTAL",
        "replication_key": "n",
    }
    assert (
        batched["key"] == ["/_meta/row_id"]
        and batched["resourceConfig"]["replication_method"] == "FULL_TABLE"
    )


def test_capture_batches_unknown_messages_and_resume() -> None:
    first = run(RAW, [open_request({"count": 5}, [ITEMS, BATCHED])], session=True)
    assert first.code == 0, first.text
    assert [d["n"] for d in first.docs(0)] == [1, 2, 3, 4, 5]
    assert first.docs(1) == [{"v": v, "_meta": {"op": "u", "row_id": v}} for v in range(3)]
    assert "unexpected Singer message of type 'FOO'; ignored" in first.text
    assert "this line is not a Singer message" in first.text
    state = first.reduced_state()
    assert state["bindingStateV1"]["items"] == {"rowId": 5, "bookmark": [{"n": 5}]}
    assert "singerState" not in state, "currently_syncing was set, then cleared"

    second = run(RAW, [open_request({"count": 7}, [ITEMS], state)], session=True)
    assert second.code == 0, second.text
    assert [(d["n"], d["_meta"]["row_id"]) for d in second.docs(0)] == [(6, 5), (7, 6)]


def test_a_tap_that_exits_badly_is_named_and_its_last_state_kept() -> None:
    failed = run(RAW, [open_request({"count": 9, "fail_at": 5}, [ITEMS])], session=True)
    assert failed.code == 1
    assert failed.last_error.startswith("the Singer tap failed while reading stream 'items'"), (
        failed.last_error
    )
    assert (
        "exited with code 3" in failed.last_error and "the upstream went away" in failed.last_error
    )
    assert failed.reduced_state()["bindingStateV1"]["items"]["bookmark"] == [{"n": 4}]
    assert "captured" not in failed.responses[-1], (
        "record 5 was emitted after the last checkpoint and is not flushed"
    )


def test_schema_messages_become_sourced_schemas_when_asked() -> None:
    argv = [*RAW[:4], "--sourced-schemas", *RAW[4:]]
    done = run(argv, [open_request({"count": 2}, [ITEMS, BATCHED])], session=True)
    assert done.code == 0, done.text
    variants = [next(iter(r)) for r in done.responses]
    sourced = done.of("sourcedSchema")
    assert [s.get("binding", 0) for s in sourced] == [0]
    schema = sourced[0]["documentSchema"]
    assert schema["properties"]["n"] == {"type": "integer"}
    assert schema["properties"]["_meta"]["required"] == ["op", "row_id"]
    first = variants.index("sourcedSchema")
    assert variants[first + 1] == "checkpoint", "a sourced schema applies at the next checkpoint"
    assert "Reading stream 'items' (1 of 2 streams started)" in done.text
