"""The shim end to end over the Flow protocol, with the airbyte-cdk 7 test source run in
process and as a subprocess (`flow-sdk airbyte-capture -- python cdk7_source.py`)."""

from __future__ import annotations

import time

import pytest
from airbyte_shim_process import MODES, Run, binding, open_request, run_connector

SECRET = "sekrit-api-key-42"
USERS, EVENTS, ORDERS = (
    binding("users", "incremental", cursor=["updated_at"]),
    binding("events", "full_refresh"),
    binding("orders", "incremental", namespace="shop"),
)


def test_spec_discover_validate(shim: list[str]) -> None:
    config = {"count": 3, "api_key": SECRET}
    validate = {
        "validate": {
            "name": "acmeCo/cap",
            "config": config,
            "bindings": [
                {"resourceConfig": b["resourceConfig"], "collection": b["collection"]}
                for b in (USERS, ORDERS)
            ],
        }
    }
    run = run_connector(shim, [{"spec": {}}, {"discover": {"config": config}}, validate])
    assert run.code == 0, run.stderr
    spec, discovered, validated = (r[next(iter(r))] for r in run.responses)
    assert spec["protocol"] == 3032023
    assert spec["configSchema"]["properties"]["api_key"] == {
        "type": "string",
        "airbyte_secret": True,
        "secret": True,
    }
    assert spec["resourcePathPointers"] == ["/namespace", "/stream"]
    assert spec["documentationUrl"] == "https://example.com/cdk7-source"
    users, events, orders = discovered["bindings"]
    assert users["key"] == ["/id"] and users["resourceConfig"]["cursorField"] == ["updated_at"]
    assert events["key"] == ["/_meta/row_id"]
    assert orders["resourcePath"] == ["shop", "orders"] and orders["key"] == ["/order/id"]
    assert validated == {
        "bindings": [{"resourcePath": ["users"]}, {"resourcePath": ["shop", "orders"]}]
    }
    assert SECRET not in run.stderr


@pytest.mark.parametrize("shim", [MODES["inprocess"]], ids=["inprocess"])
def test_validate_errors_name_the_problem(shim: list[str]) -> None:
    failed = run_connector(
        shim, [{"validate": {"config": {"count": 1, "fail_check": True}, "bindings": []}}]
    )
    assert failed.code == 1
    assert failed.last_error.startswith("the source's connection check failed: ")
    assert "the API key was refused" in failed.last_error
    gone = binding("vanished", "full_refresh")
    missing = run_connector(
        shim,
        [
            {
                "validate": {
                    "config": {"count": 1},
                    "bindings": [
                        {"resourceConfig": gone["resourceConfig"], "collection": gone["collection"]}
                    ],
                }
            }
        ],
    )
    assert missing.code == 1
    assert (
        "no stream 'vanished' (its streams are: events, shop/orders, users)" in missing.last_error
    )


def capture(
    shim: list[str], config: dict, bindings: list[dict], state: object = None, **kw: object
) -> Run:
    run = run_connector(shim, [open_request(config, bindings, state)], **kw)
    assert run.code == 0, run.stderr[-3000:]
    assert run.responses[0] == {"opened": {}}
    assert "checkpoint" in run.responses[-1], "documents must not be left after the last checkpoint"
    return run


def test_capture_then_resume_from_checkpointed_state(shim: list[str]) -> None:
    config = {"count": 5, "every": 2, "api_key": SECRET, "log_secret": True}
    first = capture(shim, config, [USERS, EVENTS, ORDERS])
    users = first.docs(0)
    assert [(d["id"], d["_meta"]["row_id"]) for d in users] == [(n, n - 1) for n in range(1, 6)]
    assert [d["_meta"]["row_id"] for d in first.docs(1)] == [0, 1, 2, 3, 4]
    assert [d["order"]["id"] for d in first.docs(2)] == [1, 2, 3, 4, 5]
    # Checkpoints patch only the binding whose state changed.
    for cp in first.of("checkpoint"):
        assert len(cp["state"]["updated"].get("bindingStateV1", {})) <= 1
    state = first.reduced_state()
    assert state["bindingStateV1"]["users"] == {
        "rowId": 5,
        "stream": [{"stream_descriptor": {"name": "users"}, "stream_state": {"updated_at": 5}}],
    }
    assert "events" not in state["bindingStateV1"], "a completed full-refresh sweep leaves no state"
    assert SECRET not in first.stderr and "connecting with key" in first.stderr

    config["count"] = 7
    second = capture(shim, config, [USERS, EVENTS, ORDERS], state)
    assert [(d["id"], d["_meta"]["row_id"]) for d in second.docs(0)] == [(6, 5), (7, 6)], (
        "no re-capture"
    )
    assert [d["_meta"]["row_id"] for d in second.docs(1)] == list(range(7)), (
        "full refresh restarts its row ids"
    )
    assert [d["order"]["id"] for d in second.docs(2)] == [6, 7]


@pytest.mark.parametrize("shim", [MODES["inprocess"]], ids=["inprocess"])
def test_flow_sdk_0_1_state_continues_incrementally(shim: list[str]) -> None:
    old = {
        "bindingStateV1": {
            "users": {
                "state": {
                    "type": "STREAM",
                    "stream": {
                        "stream_descriptor": {"name": "users", "namespace": None},
                        "stream_state": {"updated_at": 3},
                    },
                    "global_": None,
                    "data": None,
                },
                "rowId": 4,
            }
        }
    }
    run = capture(shim, {"count": 5, "every": 10}, [USERS], old)
    assert [(d["id"], d["_meta"]["row_id"]) for d in run.docs()] == [(4, 4), (5, 5)]
    assert run.reduced_state(old)["bindingStateV1"]["users"] == {
        "rowId": 6,
        "stream": [{"stream_descriptor": {"name": "users"}, "stream_state": {"updated_at": 5}}],
    }


@pytest.mark.parametrize("shim", [MODES["inprocess"]], ids=["inprocess"])
def test_unreadable_state_is_an_error_unless_discarded(shim: list[str]) -> None:
    bad = {"cursor": "2024-01-01"}
    run = run_connector(shim, [open_request({"count": 2}, [USERS], bad)])
    assert run.code == 1
    assert run.last_error.startswith(
        "the capture's checkpointed state cannot be understood: it has keys 'cursor'"
    )
    assert run.of("captured") == []
    discarded = capture(
        shim, {"count": 2}, [USERS], bad, env={"FLOW_SDK_AIRBYTE_DISCARD_STATE": "1"}
    )
    assert discarded.responses[1] == {"checkpoint": {"state": {"updated": {}}}}, (
        "state replaced, not patched"
    )
    assert [d["id"] for d in discarded.docs()] == [1, 2]


def test_source_failure_exits_non_zero_naming_the_stream(shim: list[str]) -> None:
    run = run_connector(
        shim, [open_request({"count": 9, "every": 2, "fail_after": 3}, [USERS, EVENTS])]
    )
    assert run.code == 1
    assert "stream 'users'" in run.last_error and "users API broke at record 4" in run.last_error, (
        run.last_error
    )
    # Documents after the last checkpoint never reach the runtime, and users' state stays
    # where it was checkpointed: record 3 is read again next time (with the same row id).
    assert "checkpoint" in run.responses[-1]
    assert [d["id"] for d in run.docs(0)] == [1, 2]
    users = run.reduced_state()["bindingStateV1"]["users"]
    assert users["rowId"] == 2 and users["stream"][0]["stream_state"] == {"updated_at": 2}


def test_stdin_eof_stops_at_a_message_boundary(shim: list[str]) -> None:
    import concurrent.futures
    import os
    import subprocess

    import orjson
    from airbyte_shim_process import HERE

    env = dict(os.environ, PYTHONPATH=str(HERE))
    proc = subprocess.Popen(
        shim,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=HERE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    errors = concurrent.futures.ThreadPoolExecutor(1).submit(proc.stderr.read)
    proc.stdin.write(
        orjson.dumps(open_request({"count": 100000, "every": 5, "sleep": 0.01}, [USERS])) + b"\n"
    )
    proc.stdin.flush()
    assert orjson.loads(proc.stdout.readline()) == {"opened": {}}
    under_way = [orjson.loads(proc.stdout.readline())]
    started = time.monotonic()
    proc.stdin.close()
    out = proc.stdout.read()  # the rest, including what readline() buffered
    proc.wait(timeout=30)
    err = errors.result()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert time.monotonic() - started < 5, "must stop promptly"
    responses = under_way + [orjson.loads(line) for line in out.splitlines()]
    assert "checkpoint" in responses[-1], "the open group is closed by a checkpoint"


@pytest.mark.parametrize("mode", ["inprocess", "subprocess"])
def test_control_message_becomes_a_config_update_event(mode: str) -> None:
    """The CDK prints CONTROL straight to stdout; in process that print is intercepted
    (never a stderr text line), the rotated secret is masked before anything logs it, and
    the event carries the whole config as the (loopback) encryption service sealed it."""
    from oauth_servers import EncryptionService, serving

    sealer = EncryptionService()
    with serving(sealer) as url:
        run = capture(
            MODES[mode],
            {"count": 1, "api_key": SECRET, "control": True},
            [USERS],
            env={"ENCRYPTION_URL": f"{url}/v1/encrypt-config"},
        )
    events = [
        line for line in run.logs if line.get("fields", {}).get("eventType") == "configUpdate"
    ]
    assert events, run.stderr[-2000:]
    assert events[0]["fields"]["config"]["api_key_sops"].startswith("ENC[")
    assert events[0]["fields"]["config"]["count"] == 1
    assert sealer.requests[0]["config"]["api_key"] == "rotated-key-12345"
    assert run.reduced_state()["flowSdkConfigOverlay"]["/api_key"]["value"] == "rotated-key-12345"
    assert "rotated-key-12345" not in run.stderr
    assert '"type": "CONTROL"' not in run.stderr and '"type":"CONTROL"' not in run.stderr


def test_subprocess_that_cannot_start_or_exits_non_zero() -> None:
    import sys

    missing = run_connector(
        [sys.executable, "-m", "flow_sdk.airbyte.source.capture_cli", "--", "/nonexistent/source-x"],
        [{"spec": {}}],
    )
    assert (
        missing.code == 1
        and "cannot start the Airbyte connector '/nonexistent/source-x'" in missing.last_error
    )
    crash = run_connector(
        [
            sys.executable,
            "-m",
            "flow_sdk.airbyte.source.capture_cli",
            "--",
            sys.executable,
            "-c",
            "import sys; print('bad things', file=sys.stderr); sys.exit(3)",
        ],
        [{"spec": {}}],
    )
    assert crash.code == 1
    assert (
        crash.last_error
        == "Airbyte `spec` of python3.11 failed: the connector exited with code 3; its last stderr line: bad things"
        or ("exited with code 3" in crash.last_error and "bad things" in crash.last_error)
    )


def test_a_full_refresh_sweep_is_a_backfill(shim: list[str]) -> None:
    """`backfillBegin` of the full-refresh binding before its first record, and
    `backfillComplete` after its last, followed by the checkpoint that commits it;
    incremental bindings get neither."""
    config = {"count": 3, "every": 2, "api_key": SECRET}
    done = capture(shim, config, [USERS, EVENTS])
    events = [
        (variant, body.get("binding", 0))
        for r in done.responses
        for variant, body in r.items()
        if variant in ("backfillBegin", "backfillComplete", "captured", "checkpoint")
    ]
    signals = [e for e in events if e[0].startswith("backfill")]
    assert signals == [("backfillBegin", 1), ("backfillComplete", 1)]
    begin, complete = events.index(signals[0]), events.index(signals[1])
    sweep = [i for i, e in enumerate(events) if e == ("captured", 1)]
    assert len(sweep) == 3 and begin < sweep[0] and complete > sweep[-1]
    assert ("checkpoint", 0) in events[complete:], "a checkpoint commits the complete"
