"""Value fidelity with a real database driver: the published singer-sdk tap-postgres
(psycopg2 under SQLAlchemy) reading a real PostgreSQL on 127.0.0.1 through flow-sdk.

- As a subprocess (`flow-sdk singer-capture -- tap-postgres`), the tap serialized every value
  itself: flow-sdk must pass its JSON through exactly (`12.50` stays `12.50`), and the local
  runtime (`flow-sdk preview`, `flow-sdk run`) shows what it parsed of it.
- In process (`CaptureShim(delegate=TapPostgres)`), values the tap leaves as Python objects
  (everything inside arrays) follow flow-sdk's value rule: Decimal as an exact JSON number,
  bytes as base64, datetimes as ISO 8601 (an offset only when aware), timedelta as an
  ISO 8601 duration, NaN as null with a warning, Infinity as a failure naming the value.

The tables and what the tap writes for them are in `postgres_tap.py`."""

from __future__ import annotations

import base64
import datetime
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from postgres_tap import (
    INFINITIES,
    NANS,
    SCALARS,
    N,
    Number,
    Session,
    exact,
    iso_duration,
    open_request,
    resource,
    run_session,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # a cold run installs PostgreSQL

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


def tap_command(tap_python: Path) -> list[str]:
    return [str(tap_python.parent / "tap-postgres")]


def subprocess_shim(tap_python: Path) -> list[str]:
    return [str(BIN / "flow-sdk"), "singer-capture", "--", *tap_command(tap_python)]


def inprocess_shim(tap_python: Path) -> list[str]:
    return [str(tap_python), str(HERE / "tap_postgres_capture.py")]


def with_row_ids(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**doc, "_meta": {"op": "u", "row_id": n}} for n, doc in enumerate(docs)]


def as_parsed(value: Any) -> Any:
    """An exact expectation as a JSON parser with floats sees it (the runtime's view)."""
    if isinstance(value, Number):
        return float(value)
    if isinstance(value, dict):
        return {k: as_parsed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_parsed(v) for v in value]
    return value


# ---- the tap on its own ----


def test_the_tap_itself_writes_these_values(tap_python: Path, tap_config, tmp_path: Path) -> None:
    """The baseline every other test compares with: tap-postgres's own RECORD lines."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config))
    tap = tap_command(tap_python)
    found = subprocess.run(
        [*tap, "--config", str(config), "--discover"],
        capture_output=True,
        timeout=300,
        check=True,
    )
    catalog = json.loads(found.stdout)
    wanted = {"public-scalars", "public-nans", "public-infinities"}
    catalog["streams"] = [s for s in catalog["streams"] if s["tap_stream_id"] in wanted]
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    synced = subprocess.run(
        [*tap, "--config", str(config), "--catalog", str(tmp_path / "catalog.json")],
        capture_output=True,
        timeout=300,
        check=True,
    )
    records: dict[str, list[Any]] = {}
    for line in synced.stdout.splitlines():
        message = exact(line)
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    assert records == {
        "public-scalars": SCALARS,
        "public-nans": [NANS],
        "public-infinities": [INFINITIES],
    }


# ---- as a subprocess: the tap's JSON ----


def test_subprocess_passes_the_taps_json_through_exactly(tap_python: Path, tap_config) -> None:
    streams = ["scalars", "nans", "infinities"]
    session = run_session(subprocess_shim(tap_python), open_request(tap_config, streams))
    assert session.code == 0, session.text[-3000:]
    assert session.docs(0) == with_row_ids(SCALARS)
    assert session.docs(1) == with_row_ids([NANS])
    assert session.docs(2) == with_row_ids([INFINITIES])


def test_subprocess_a_value_the_tap_cannot_encode_fails_the_session(
    tap_python: Path, tap_config
) -> None:
    """The tap's simplejson cannot write bytes that are not UTF-8 (a bytea[] holding 0xff):
    the tap dies before its first record, and the session fails saying so; nothing of the
    stream is captured."""
    session = run_session(subprocess_shim(tap_python), open_request(tap_config, ["arrays"]))
    assert session.code != 0
    assert session.docs(0) == []
    error = session.last_error
    assert error.startswith("the Singer tap failed"), error
    assert "exited with code 1" in error, error
    assert "UnicodeDecodeError" in session.text  # the tap's traceback, forwarded as logs


def test_subprocess_through_flow_sdk_preview(tap_python: Path, tap_config, tmp_path) -> None:
    """The documents as the runtime parsed them: numbers become float or int (as in Flow),
    so `12.50` shows as `12.5`; 64-bit integers and every string survive unchanged."""
    catalog = write_catalog(tmp_path, subprocess_shim(tap_python), tap_config)
    done = subprocess.run(
        [str(BIN / "flow-sdk"), "preview", "--source", str(catalog), "--sessions", "-1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    documents: dict[str, list[Any]] = {}
    for line in done.stdout.splitlines():
        collection, doc = json.loads(line)
        documents.setdefault(collection, []).append(doc)
    for docs in documents.values():
        for n, doc in enumerate(docs):
            assert doc.pop("_meta")["row_id"] == n
    assert documents == {
        "acmeCo/scalars": as_parsed(SCALARS),
        "acmeCo/nans": [as_parsed(NANS)],
        "acmeCo/infinities": [as_parsed(INFINITIES)],
    }
    assert documents["acmeCo/scalars"][2]["amount"] == 1.2345678901234567e19  # f64, as Flow's
    assert '"amount":12.5,' in done.stdout


def test_subprocess_through_flow_sdk_run_into_destination_kvdb(
    tap_python: Path, tap_config, tmp_path: Path
) -> None:
    """The whole pipeline: captured into journals, materialized by the Airbyte destination
    into its local bucket, each row under `<stream>/<id>`."""
    bucket = tmp_path / "bucket.sqlite"
    catalog = write_catalog(tmp_path, subprocess_shim(tap_python), tap_config, bucket)
    done = subprocess.run(
        [str(BIN / "flow-sdk"), "run", "--source", str(catalog), "--data-dir", "data"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with sqlite3.connect(bucket) as db:
        stored = {key: json.loads(value) for key, value in db.execute("SELECT key, value FROM kv")}
    for value in stored.values():
        value.pop("_meta")
    expected = {f"scalars/{row['id']}": as_parsed(row) for row in SCALARS}
    expected |= {"nans/1": as_parsed(NANS), "infinities/1": as_parsed(INFINITIES)}
    assert stored == expected


# ---- in process: flow-sdk's value rule ----


@pytest.fixture(scope="module")
def inprocess(tap_python: Path, tap_config) -> Session:
    """One in-process session of scalars (binding 0), arrays (1) and nans (2)."""
    streams = ["scalars", "arrays", "nans"]
    return run_session(inprocess_shim(tap_python), open_request(tap_config, streams))


def test_inprocess_top_level_values_match_the_taps_own_json(inprocess: Session) -> None:
    """singer-sdk conformed these before the shim saw them, except Decimal, which the rule
    writes with its digits: the same JSON text as the tap writes itself."""
    assert inprocess.code == 0, inprocess.text[-3000:]
    assert inprocess.docs(0) == with_row_ids(SCALARS)


def test_inprocess_values_inside_arrays_follow_the_value_rule(inprocess: Session) -> None:
    assert inprocess.code == 0, inprocess.text[-3000:]
    (doc,) = inprocess.docs(1)
    spans = doc.pop("spans")
    assert doc == {
        "id": 1,
        "amounts": [N("12.50"), N("0.1"), N("12345678901234567890.123456789"), None],
        "payloads": [base64.b64encode(b"\x00\xff").decode(), ""],
        "stamps": ["2024-01-02T03:04:05.123456"],  # naive: no offset invented
        "stamps_tz": ["2024-01-02T06:34:05.123456+05:30"],
        "days": ["2024-01-02"],
        "clocks": ["13:14:15.500000"],
        "_meta": {"op": "u", "row_id": 0},
    }
    assert doc["payloads"][0] == "AP8="
    assert [iso_duration(span) for span in spans] == [
        datetime.timedelta(days=1, hours=2, minutes=3, seconds=4.5),
        datetime.timedelta(days=-90),
    ], spans


def test_inprocess_nan_becomes_null_with_a_warning_naming_stream_and_field(
    inprocess: Session,
) -> None:
    assert inprocess.code == 0, inprocess.text[-3000:]
    assert inprocess.docs(2) == with_row_ids([NANS])
    warnings = [w for w in inprocess.warnings() if "public-nans" in w]
    for field in ("amounts", "ratios"):
        assert any(field in w for w in warnings), (field, inprocess.warnings())


def test_inprocess_infinity_fails_naming_stream_field_and_value(
    tap_python: Path, tap_config
) -> None:
    session = run_session(inprocess_shim(tap_python), open_request(tap_config, ["infinities"]))
    assert session.code != 0
    assert session.docs(0) == []
    error = session.last_error
    assert "public-infinities" in error and "amounts" in error, error
    assert "infinity" in error.lower(), error


# ---- catalogs ----


def write_catalog(
    directory: Path, command: list[str], config: dict[str, Any], bucket: Path | None = None
) -> Path:
    """A catalog capturing scalars, nans and infinities (and materializing them into a local
    KvDB bucket when `bucket` is given)."""
    meta = {"type": "object", "properties": {"row_id": {"type": "integer"}}}
    stamp = {"type": ["string", "null"], "format": "date-time"}
    number = {"type": ["number", "null"]}
    numbers = {"type": ["array", "null"], "items": {"type": ["number", "null"]}}
    schemas = {
        "scalars": {
            "id": {"type": "integer"},
            "amount": number,
            "big": {"type": ["integer", "null"]},
            "payload": {"type": ["string", "null"]},
            "happened_at": stamp,
            "happened_tz": stamp,
            "day": {"type": ["string", "null"], "format": "date"},
        },
        "nans": {
            "id": {"type": "integer"},
            "amount": number,
            "amounts": numbers,
            "ratios": numbers,
        },
        "infinities": {"id": {"type": "integer"}, "amounts": numbers},
    }
    catalog: dict[str, Any] = {
        "captures": {
            "acmeCo/postgres": {
                "endpoint": {"local": {"command": command, "config": config}},
                "bindings": [
                    {"resource": resource(name), "target": f"acmeCo/{name}"} for name in schemas
                ],
                "interval": "1h",
            }
        },
        "collections": {
            f"acmeCo/{name}": {
                "key": ["/id"],
                "schema": {
                    "type": "object",
                    "properties": {**properties, "_meta": meta},
                    "required": ["id"],
                },
            }
            for name, properties in schemas.items()
        },
    }
    if bucket is not None:
        catalog["materializations"] = {
            "acmeCo/kvdb": {
                "endpoint": {
                    "local": {
                        "command": [str(BIN / "python"), "-m", "destination_kvdb"],
                        "config": {"bucket": {"bucket_type": "local", "path": str(bucket)}},
                    }
                },
                "bindings": [
                    {"resource": {"stream": name}, "source": f"acmeCo/{name}"} for name in schemas
                ],
            }
        }
    path = directory / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path
