"""The capture request loop, driven as a real subprocess the way Flow's runtime drives it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from flow_sdk.testing import run_connector

CONNECTORS = Path(__file__).parent.parent / "connectors"

PROBE = {"spec": {"connectorType": "LOCAL", "config": {}}}
MISBEHAVING = CONNECTORS / "misbehaving_capture.py"


def open_request(
    count: int = 5, every: int = 2, explicit_acks: bool = False, state: dict | None = None
) -> dict:
    bindings = [
        {
            "resourceConfig": {"name": n},
            "resourcePath": [n],
            "stateKey": n,
            "collection": {"name": f"acmeCo/{n}", "key": ["/id"]},
        }
        for n in ("alpha", "beta")
    ]
    return {
        "open": {
            "capture": {
                "name": "acmeCo/counter",
                "config": {"count": count, "every": every, "explicitAcks": explicit_acks},
                "bindings": bindings,
            },
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": state or {},
        }
    }


def test_probe_spec_then_discover_then_eof(counter_capture: Path) -> None:
    done = run_connector(
        counter_capture, [PROBE, {"discover": {"connectorType": "LOCAL", "config": {"count": 1}}}]
    )
    assert done.code == 0
    assert [next(iter(r)) for r in done.stdout] == ["spec", "discovered"]
    assert done.stdout[0]["spec"]["protocol"] == 3032023
    assert [b["recommendedName"] for b in done.stdout[1]["discovered"]["bindings"]] == [
        "alpha",
        "beta",
    ]


def test_several_unary_requests_in_order(counter_capture: Path) -> None:
    validate = {
        "validate": {
            "name": "a/b",
            "config": {"count": 1},
            "bindings": [{"resourceConfig": {"name": "alpha"}}],
        }
    }
    done = run_connector(
        counter_capture, [PROBE, validate, {"apply": {"capture": {"name": "a/b"}}}, PROBE]
    )
    assert done.code == 0
    assert [next(iter(r)) for r in done.stdout] == ["spec", "validated", "applied", "spec"]
    assert done.stdout[1] == {"validated": {"bindings": [{"resourcePath": ["alpha"]}]}}
    assert done.stdout[2] == {"applied": {}}


def test_session_with_explicit_acknowledgements(counter_capture: Path) -> None:
    """Acknowledge each checkpoint after reading it, as the runtime does after a commit."""
    proc = subprocess.Popen(
        [sys.executable, str(counter_capture)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    req = open_request(explicit_acks=True)
    req["open"]["capture"]["config"]["sleep"] = 0.1  # time for acks to arrive between checkpoints
    proc.stdin.write(orjson.dumps(PROBE) + b"\n" + orjson.dumps(req) + b"\n")
    proc.stdin.flush()
    responses = []
    for line in proc.stdout:
        responses.append(orjson.loads(line))
        if "checkpoint" in responses[-1]:
            proc.stdin.write(b'{"acknowledge":{"checkpoints":1}}\n')
            proc.stdin.flush()
    proc.stdin.close()
    stderr = proc.stderr.read().decode().splitlines()
    assert proc.wait(timeout=30) == 0, stderr
    kinds = [next(iter(r)) for r in responses]
    assert kinds[:2] == ["spec", "opened"]
    assert responses[1] == {"opened": {"explicitAcknowledgements": True}}
    assert kinds[-1] == "checkpoint"
    docs = [r["captured"] for r in responses if "captured" in r]
    assert [(d.get("binding", 0), d["doc"]["id"]) for d in docs] == [
        (b, i) for b in (0, 1) for i in range(5)
    ]
    checkpoints = [r["checkpoint"]["state"] for r in responses if "checkpoint" in r]
    assert checkpoints[0] == {
        "updated": {"bindingStateV1": {"alpha": {"next": 2}}},
        "mergePatch": True,
    }
    assert len(checkpoints) == 6
    assert any('"acknowledged"' in line for line in stderr)
    assert any("a stray print goes to stderr" in line for line in stderr)


def test_session_resumes_from_state(counter_capture: Path) -> None:
    state = {"bindingStateV1": {"alpha": {"next": 5}, "beta": {"next": 3}}}
    done = run_connector(counter_capture, [PROBE, open_request(state=state)], hold_stdin=10)
    assert done.code == 0
    docs = [r["captured"] for r in done.stdout if "captured" in r]
    assert [(d.get("binding", 0), d["doc"]["id"]) for d in docs] == [(1, 3), (1, 4)]


def test_stdin_eof_mid_session_closes_the_group_and_exits_zero(counter_capture: Path) -> None:
    """Close stdin once documents flow: the connector stops at its next message, closes the
    open checkpoint group, and exits 0 long before it would have finished."""
    req = open_request(count=1000, every=1)
    req["open"]["capture"]["config"]["sleep"] = 0.01
    proc = subprocess.Popen(
        [sys.executable, str(counter_capture)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(orjson.dumps(PROBE) + b"\n" + orjson.dumps(req) + b"\n")
    proc.stdin.flush()
    responses = []
    while len([r for r in responses if "captured" in r]) < 3:
        responses.append(orjson.loads(proc.stdout.readline()))
    proc.stdin.close()
    responses += [orjson.loads(line) for line in proc.stdout]
    proc.stderr.read()
    assert proc.wait(timeout=30) == 0
    kinds = [next(iter(r)) for r in responses]
    assert kinds[-1] == "checkpoint"
    assert 3 <= kinds.count("captured") < 2000


def test_acknowledging_more_than_was_checkpointed_fails(counter_capture: Path) -> None:
    done = run_connector(
        counter_capture,
        [PROBE, open_request(count=2, every=2), {"acknowledge": {"checkpoints": 9}}],
        hold_stdin=10,
    )
    assert done.code != 0
    assert "acknowledged 9 checkpoints" in done.last_log["msg"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"this is not json\n", "not valid JSON"),
        (b'{"frobnicate":{}}\n', "no known message variant"),
        (b'{"spec":{},"discover":{}}\n', "more than one message variant"),
        (b'{"discover":{"config":{},"connectorType":7}}\n', "discover/connectorType"),
        (b'{"spec":{"connectorType":"LOC', "not valid JSON"),
        (b'{"acknowledge":{"checkpoints":1}}\n', "before any `open`"),
    ],
)
def test_malformed_input_exits_non_zero_with_a_sentence(
    counter_capture: Path, line: bytes, expected: str
) -> None:
    done = run_connector(counter_capture, [PROBE, line])
    assert done.code != 0
    assert done.last_log["level"] == "error"
    assert expected in done.last_log["msg"]
    # The probe was answered; nothing follows on stdout.
    assert [next(iter(r)) for r in done.stdout] == ["spec"]


def test_malformed_request_during_session(counter_capture: Path) -> None:
    req = open_request(count=1000, every=1)
    req["open"]["capture"]["config"]["sleep"] = 0.01
    done = run_connector(counter_capture, [PROBE, req, {"discover": {}}], hold_stdin=10)
    assert done.code != 0
    assert "expected only `acknowledge` after `open`, got `discover`" in done.last_log["msg"]


def test_dict_answers_of_0_1_x_connectors_get_protocol() -> None:
    done = run_connector(MISBEHAVING, [PROBE])
    assert done.code == 0
    assert done.stdout == [
        {
            "spec": {
                "protocol": 3032023,
                "configSchema": {"type": "object"},
                "resourceConfigSchema": {"type": "object"},
            }
        }
    ]


def test_validate_error_is_the_last_line_without_traceback() -> None:
    done = run_connector(MISBEHAVING, [PROBE, {"validate": {"name": "a/b"}}])
    assert done.code != 0
    assert done.last_log["msg"] == "the password for user 'x' was rejected; check config.password"
    assert not any("Traceback" in line for line in done.stderr)


def test_a_crash_logs_the_traceback_then_a_sentence() -> None:
    done = run_connector(MISBEHAVING, [PROBE, {"discover": {}}])
    assert done.code != 0
    assert done.last_log["msg"] == "connector failed: RuntimeError: the endpoint exploded"
    assert any("Traceback" in line for line in done.stderr[:-1])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("bad-spec", "spec/notAField: unknown key"),
        ("no-opened", "returned without emitting `opened`"),
        ("bad-binding", "binding 7 does not exist"),
        ("not-object", "must be JSON objects"),
    ],
)
def test_connector_mistakes_are_caught(mode: str, expected: str, tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        f"import sys, runpy\nsys.argv = ['x', {mode!r}]\nrunpy.run_path({str(MISBEHAVING)!r}, run_name='__main__')\n"
    )
    req = open_request() if mode != "bad-spec" else PROBE
    done = run_connector(script, [req] if mode != "bad-spec" else [PROBE], hold_stdin=5)
    assert done.code != 0
    assert expected in done.last_log["msg"]


def test_crash_mid_group_never_emits_uncheckpointed_documents(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        f"import sys, runpy\nsys.argv = ['x', 'crash-mid-group']\nrunpy.run_path({str(MISBEHAVING)!r}, run_name='__main__')\n"
    )
    done = run_connector(script, [open_request()], hold_stdin=5)
    assert done.code != 0
    assert [next(iter(r)) for r in done.stdout] == ["opened", "captured", "checkpoint"]
    assert "source failed after a document" in done.last_log["msg"]


def test_forked_workers_do_not_deadlock_on_the_protocol_stdin(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        f"import sys, runpy\nsys.argv = ['x', 'fork-worker']\nrunpy.run_path({str(MISBEHAVING)!r}, run_name='__main__')\n"
    )
    done = run_connector(script, [open_request()], hold_stdin=30, timeout=30)
    assert done.code == 0, done.stderr
    assert done.stdout[1] == {"captured": {"doc": {"a": 6}}}
    assert done.stdout[2] == {
        "checkpoint": {"state": {"updated": {"forked": True}, "mergePatch": True}}
    }


def test_returning_mid_group_closes_it_with_a_neutral_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        f"import sys, runpy\nsys.argv = ['x', 'unclosed']\nrunpy.run_path({str(MISBEHAVING)!r}, run_name='__main__')\n"
    )
    done = run_connector(script, [open_request()], hold_stdin=5)
    assert done.code == 0
    assert done.stdout[-1] == {"checkpoint": {"state": {"updated": {}, "mergePatch": True}}}
