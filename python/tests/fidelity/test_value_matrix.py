"""The value matrix: every value class × every way a connector runs, through `flow-sdk preview`
and `flow-sdk run` into destination-kvdb — the exact document and bucket row, or the exact
failure sentence as the last stderr line.

Modes: an airbyte-cdk 7 source in process and as a subprocess (the CDK serializes values
itself, so what it cannot write fails in the CDK), a `json.dumps`-style Airbyte connector, a
singer-sdk tap in process, and a literal-printing Singer tap as a subprocess.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from value_cases import CASES, Case

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
FLOW_SDK = str(BIN / "flow-sdk")
SCRIPT = str(HERE / "value_connectors.py")
PY = sys.executable

MODES: dict[str, list[str]] = {
    "airbyte-flow": [PY, SCRIPT, "airbyte-flow"],
    "airbyte-cdk": [FLOW_SDK, "airbyte-capture", "--", PY, SCRIPT, "airbyte-cdk"],
    "airbyte-plain": [FLOW_SDK, "airbyte-capture", "--", PY, SCRIPT, "airbyte-plain"],
    "singer-flow": [PY, SCRIPT, "singer-flow"],
    "singer-plain": [FLOW_SDK, "singer-capture", "--", PY, SCRIPT, "singer-plain"],
}
PYTHON_MODES = ("airbyte-flow", "airbyte-cdk", "singer-flow")
META = {"type": "object", "properties": {"row_id": {"type": "integer"}}, "required": ["row_id"]}

# What a mode's own serializer does before the shim sees a value (`None`: the case is not
# run in that mode). airbyte-cdk 7 writes records with orjson and falls back to json.dumps:
# values neither can write crash the source; NaN it writes as null itself.
CDK_CRASH = "A record returned from the API failed to be serialized to JSON"
CDK_CANNOT_WRITE = {
    "decimal_precise",
    "decimal_exponent",
    "big_decimal_int",
    "overflow",
    "bytearray",
    "memoryview",
    "timedelta",
    "time_aware",
    "pandas_timestamp",
    "pandas_nat",
    "pandas_na",
    "numpy_int",
    "numpy_float",
    "numpy_bool",
    "numpy_array",
    "set",
    "unknown_type",
    "key_collision",
    "too_deep",
}
"""Values airbyte-cdk 7 cannot serialize as a subprocess (it crashes, as `decimal` and
`bytes` show); not run there, to keep the suite short."""
MODE_OUTCOMES: dict[str, dict[str, dict[str, str | None]]] = {
    "airbyte-cdk": {
        "decimal": {"fails": CDK_CRASH, "expect": None},
        "bytes": {"fails": CDK_CRASH, "expect": None},
        # the CDK's orjson writes non-finite floats as null itself: the shim cannot know
        "nan": {"expect": "null", "warns": None},
        "infinity": {"expect": "null", "fails": None},
        "minus_infinity": {"expect": "null", "fails": None},
    },
}

# singer-sdk conforms each record to its stream's schema before the shim sees it, in process
# and as a subprocess alike: bytes → hex, naive datetimes → UTC, timedelta → a datetime
# since the epoch, NaT → "NaT", non-finite numbers → null (without a word). The shim passes
# what the tap wrote; it cannot see what the tap changed.
SDK_CONFORMED = "EmptySchemaTypeError: Could not detect type from empty type_dict"
MODE_OUTCOMES["singer-flow"] = {
    "bytes": {"expect": '"00ff6162"'},
    "datetime_naive": {"expect": '"2024-01-02T03:04:05.123456+00:00"'},
    "datetime_aware": {"expect": '"2024-01-02T03:04:05.000000+02:00"'},
    "timedelta": {"expect": '"1970-01-02T02:03:04.500000+00:00"'},
    "pandas_timestamp": {"expect": '"2024-01-02T03:04:05.123456+00:00"'},
    "pandas_nat": {"expect": '"NaT"'},
    "nan": {"warns": None},
    "infinity": {"expect": "null", "fails": None},
    "minus_infinity": {"expect": "null", "fails": None},
    "overflow": {"expect": "null", "fails": None},
    "too_deep": {"fails": SDK_CONFORMED},
}


def outcome(case: Case, mode: str) -> dict[str, str | None] | None:
    """What `mode` must produce for `case`, or None when the mode has no such value."""
    has_form = case.value is not None if mode in PYTHON_MODES else case.literal is not None
    if case.name == "pandas_nat" or case.name == "pandas_na":
        has_form = mode in PYTHON_MODES
    if not has_form or (mode == "airbyte-cdk" and case.name in CDK_CANNOT_WRITE):
        return None
    result = case.outcome(mode)
    override = MODE_OUTCOMES.get(mode, {}).get(case.name)
    if override is not None:
        result = {**result, **override}
    return result


def catalog(tmp_path: Path, mode: str, names: list[str], bucket: Path | None = None) -> Path:
    singer = mode.startswith("singer")
    resource = (
        {"tap_stream_id": "values", "replication_method": "FULL_TABLE"}
        if singer
        else {"stream": "values", "syncMode": "full_refresh"}
    )
    spec: dict[str, Any] = {
        "captures": {
            "acmeCo/values-capture": {
                "endpoint": {"local": {"command": MODES[mode], "config": {"cases": names}}},
                "bindings": [{"resource": resource, "target": "acmeCo/values"}],
            }
        },
        "collections": {
            "acmeCo/values": {
                "key": ["/id"],
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "case": {"type": "string"},
                        "v": {},
                        "_meta": META,
                    },
                    "required": ["id", "case"],
                },
            }
        },
    }
    if bucket is not None:
        spec["materializations"] = {
            "acmeCo/values-kvdb": {
                "endpoint": {
                    "local": {
                        "command": [PY, "-m", "destination_kvdb"],
                        "config": {"bucket": {"bucket_type": "local", "path": str(bucket)}},
                    }
                },
                "bindings": [{"resource": {"stream": "values"}, "source": "acmeCo/values"}],
            }
        }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def flow_sdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [FLOW_SDK, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=240
    )


def exact(text: str) -> Any:
    """JSON text → Python with numbers kept exact (Decimal), so 1 and 1.0 stay apart."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def last_error(stderr: str) -> str:
    """The runtime's last stderr line: `flow-sdk: error: <task> failed …: <the connector's
    own last words>`."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    assert lines[-1].startswith("flow-sdk: error: acmeCo/values-capture failed"), lines[-1]
    return lines[-1]


def passing(mode: str) -> list[Case]:
    return [c for c in CASES if (o := outcome(c, mode)) and o["expect"] is not None]


def failing(mode: str) -> list[tuple[str, Case]]:
    return [(mode, c) for c in CASES if (o := outcome(c, mode)) and o["fails"] is not None]


def expected_doc(index: int, case: Case, mode: str) -> dict[str, Any]:
    result = outcome(case, mode)
    assert result is not None and result["expect"] is not None
    return {"id": index, "case": case.name, "v": exact(result["expect"])}


@pytest.mark.parametrize("mode", list(MODES))
def test_values_arrive_exactly_through_preview(mode: str, tmp_path: Path) -> None:
    cases = passing(mode)
    path = catalog(tmp_path, mode, [c.name for c in cases])
    run = flow_sdk("preview", "--source", str(path), "--sessions", "1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    docs = [exact(line)[1] for line in run.stdout.splitlines() if line.strip()]
    for doc in docs:
        doc.pop("_meta")
    want = [expected_doc(i, c, mode) for i, c in enumerate(cases)]
    assert docs == want
    for case in cases:
        warning = outcome(case, mode)["warns"]  # type: ignore[index]
        if warning is not None:
            assert warning in run.stderr, (case.name, run.stderr[-2000:])
    if any(outcome(c, mode)["warns"] for c in cases):  # type: ignore[index]
        assert "value(s) were converted this session" in run.stderr


@pytest.mark.parametrize("mode", list(MODES))
def test_values_land_exactly_in_destination_kvdb(mode: str, tmp_path: Path) -> None:
    cases = passing(mode)
    bucket = tmp_path / "bucket.sqlite"
    path = catalog(tmp_path, mode, [c.name for c in cases], bucket)
    run = flow_sdk("run", "--source", str(path), "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    with sqlite3.connect(bucket) as db:
        rows = [exact(v) for (v,) in db.execute("SELECT value FROM kv")]
    for row in rows:
        row.pop("_meta")
    rows.sort(key=lambda r: r["id"])
    assert rows == [expected_doc(i, c, mode) for i, c in enumerate(cases)]


@pytest.mark.parametrize(
    ("mode", "case"),
    [pytest.param(m, c, id=f"{m}-{c.name}") for m in MODES for m, c in failing(m)],
)
def test_values_the_rule_cannot_carry_fail_naming_stream_and_field(
    mode: str, case: Case, tmp_path: Path
) -> None:
    path = catalog(tmp_path, mode, [case.name])
    run = flow_sdk("preview", "--source", str(path), "--sessions", "1", cwd=tmp_path)
    assert run.returncode != 0, run.stdout[-2000:]
    message = last_error(run.stderr)
    fails = outcome(case, mode)["fails"]  # type: ignore[index]
    assert fails in message, message
    if fails not in (CDK_CRASH, SDK_CONFORMED):
        assert "stream 'values'" in message, message
    assert not [line for line in run.stdout.splitlines() if '"case"' in line]


def open_request(mode: str, names: list[str]) -> bytes:
    singer = mode.startswith("singer")
    resource = (
        {"tap_stream_id": "values", "replication_method": "FULL_TABLE"}
        if singer
        else {"stream": "values", "syncMode": "full_refresh"}
    )
    binding = {
        "resourceConfig": resource,
        "resourcePath": ["values"],
        "collection": {"name": "acmeCo/values", "key": ["/id"], "writeSchema": {"type": "object"}},
        "stateKey": "values",
    }
    request = {
        "open": {
            "capture": {"name": "acmeCo/values", "config": {"cases": names}, "bindings": [binding]},
            "version": "v1",
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": {},
        }
    }
    return json.dumps(request).encode() + b"\n"


def session(mode: str, names: list[str]) -> tuple[int, bytes, str]:
    """One capture session of `mode`'s connector, stdin held open as the runtime holds it
    until the connector ends; its exit code, stdout bytes and stderr text."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            MODES[mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(open_request(mode, names))
        proc.stdin.flush()
        stdout = proc.stdout.read()
        code = proc.wait(timeout=240)
        proc.stdin.close()
        err.seek(0)
        return code, stdout, err.read().decode()


@pytest.mark.parametrize("mode", ["airbyte-flow", "airbyte-plain", "singer-flow", "singer-plain"])
def test_decimal_digits_reach_the_wire_exactly(mode: str) -> None:
    """Flow reads numbers as doubles, but what the shim writes keeps every digit the source
    gave (a `Decimal`, or the literal a connector printed)."""
    cases = [c for c in CASES if c.wire is not None]
    code, stdout, stderr = session(mode, [c.name for c in cases])
    assert code == 0, stderr[-3000:]
    captured = [line for line in stdout.splitlines() if line.startswith(b'{"captured"')]
    assert len(captured) == len(cases)
    for line, case in zip(captured, cases, strict=True):
        assert f'"v":{case.wire},'.encode() in line, line
