"""The fidelity tests' data and drivers: the tables loaded into PostgreSQL, what the published
tap-postgres writes for them, and a connector run that keeps each document's JSON text, so
`12.50` and `12.5` stay different.

Where values are conformed matters: singer-sdk turns the *top-level* values of a record into
JSON-safe ones before any writer sees them (datetimes to UTC-offset text, bytes to hex,
NaN/Infinity to null), and tap-postgres conforms only the top level. Values inside arrays
reach the writer as psycopg2/SQLAlchemy objects (Decimal, bytes, datetime, timedelta):
in process, flow-sdk's value rule encodes them; as a subprocess, the tap's own JSON encoder
(simplejson) did, before flow-sdk saw a byte.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import subprocess
import threading
from dataclasses import dataclass
from typing import Any

TAP_REQUIREMENT = "meltanolabs-tap-postgres==0.10.0"
DATABASE = "fidelity"
TIMEZONE = "Asia/Kolkata"  # a half-hour offset: an aware value must keep it as written

SETUP_SQL = rf"""
CREATE DATABASE {DATABASE};
ALTER DATABASE {DATABASE} SET TimeZone = '{TIMEZONE}';
\connect {DATABASE}
CREATE TABLE scalars (
  id INT8 PRIMARY KEY,
  amount NUMERIC,
  big INT8,
  payload BYTEA,
  happened_at TIMESTAMP,
  happened_tz TIMESTAMPTZ,
  day DATE
);
INSERT INTO scalars VALUES
  (1, 12.50, 9223372036854775807, '\x00ff', '2024-01-02 03:04:05.123456',
   '2024-01-02 03:04:05.123456+02', '2024-01-02'),
  (2, 0.1, -9223372036854775808, '\x', '2024-02-29 23:59:59', '2024-02-29 23:59:59-08',
   '0001-01-01'),
  (3, 12345678901234567890.123456789, 0, '\x000102feff', '1999-12-31 23:59:59.999999',
   '1999-12-31 23:59:59.999999+00', '9999-12-31'),
  (4, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE arrays (
  id INT8 PRIMARY KEY,
  amounts NUMERIC[],
  payloads BYTEA[],
  stamps TIMESTAMP[],
  stamps_tz TIMESTAMPTZ[],
  days DATE[],
  clocks TIME[],
  spans INTERVAL[]
);
INSERT INTO arrays VALUES (
  1, '{{12.50,0.1,12345678901234567890.123456789,NULL}}', ARRAY['\x00ff'::bytea, '\x'::bytea],
  ARRAY['2024-01-02 03:04:05.123456'::timestamp], ARRAY['2024-01-02 03:04:05.123456+02'::timestamptz],
  ARRAY['2024-01-02'::date], ARRAY['13:14:15.5'::time], ARRAY['1 day 02:03:04.5'::interval, '-90 days'::interval]
);
CREATE TABLE nans (id INT8 PRIMARY KEY, amount NUMERIC, amounts NUMERIC[], ratios FLOAT8[]);
INSERT INTO nans VALUES (1, 'NaN', '{{NaN,1.5}}', '{{NaN,0.25}}');
CREATE TABLE infinities (id INT8 PRIMARY KEY, amounts NUMERIC[]);
INSERT INTO infinities VALUES (1, '{{Infinity}}');
"""


class Number(str):
    """A JSON number exactly as written: `Number("12.50")` is not `Number("12.5")`, and never
    equal to a string or a float."""

    def __eq__(self, other: object) -> bool:
        return type(other) is Number and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"Number({str.__repr__(self)})"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def exact(text: str | bytes) -> Any:
    """JSON parsed keeping every number's text (integers are exact Python ints anyway)."""
    return json.loads(text, parse_float=Number, parse_constant=_no_constant)


def N(text: str) -> Number:  # noqa: N802 - reads like a literal in the expectations
    return Number(text)


# What tap-postgres 0.10.0 (singer-sdk 0.54) writes for `scalars` and `nans`, as JSON text:
# the same in both modes, since singer-sdk conformed every value before any writer saw it.
SCALARS = [
    {
        "id": 1,
        "amount": N("12.50"),
        "big": 9223372036854775807,
        "payload": "00ff",
        "happened_at": "2024-01-02T03:04:05.123456+00:00",
        "happened_tz": "2024-01-02T06:34:05.123456+05:30",
        "day": "2024-01-02",
    },
    {
        "id": 2,
        "amount": N("0.1"),
        "big": -9223372036854775808,
        "payload": "",
        "happened_at": "2024-02-29T23:59:59.000000+00:00",
        "happened_tz": "2024-03-01T13:29:59.000000+05:30",
        "day": "0001-01-01",
    },
    {
        "id": 3,
        "amount": N("12345678901234567890.123456789"),
        "big": 0,
        "payload": "000102feff",
        "happened_at": "1999-12-31T23:59:59.999999+00:00",
        "happened_tz": "2000-01-01T05:29:59.999999+05:30",
        "day": "9999-12-31",
    },
    {
        "id": 4,
        "amount": None,
        "big": None,
        "payload": None,
        "happened_at": None,
        "happened_tz": None,
        "day": None,
    },
]

# NaN and Infinity: singer-sdk nulls them at the top level; inside arrays, the tap's simplejson
# (ignore_nan) writes null for both, while in process the value rule nulls NaN with a warning
# and fails on Infinity.
NANS = {"id": 1, "amount": None, "amounts": [None, N("1.5")], "ratios": [None, N("0.25")]}
INFINITIES = {"id": 1, "amounts": [None]}


def resource(stream: str) -> dict[str, str]:
    return {"tap_stream_id": f"public-{stream}", "replication_method": "FULL_TABLE"}


def open_request(config: dict[str, Any], streams: list[str]) -> dict[str, Any]:
    """A Flow Open of `streams` (tables of `public`), each keyed by /id."""
    bindings = [
        {
            "resourceConfig": resource(stream),
            "resourcePath": [f"public-{stream}"],
            "collection": {
                "name": f"acmeCo/{stream}",
                "key": ["/id"],
                "writeSchema": {"type": "object"},
            },
            "backfill": 0,
            "stateKey": f"public-{stream}",
        }
        for stream in streams
    ]
    return {
        "open": {
            "capture": {"name": "acmeCo/postgres", "config": config, "bindings": bindings},
            "version": "v1",
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": {},
        }
    }


@dataclass
class Session:
    """A finished connector process: exit code, stdout lines parsed exactly, stderr lines."""

    code: int
    responses: list[dict[str, Any]]
    stderr: list[str]

    def docs(self, binding: int) -> list[dict[str, Any]]:
        return [
            r["captured"]["doc"]
            for r in self.responses
            if "captured" in r and r["captured"].get("binding", 0) == binding
        ]

    @property
    def text(self) -> str:
        return "\n".join(self.stderr)

    @property
    def last_error(self) -> str:
        return json.loads(self.stderr[-1]).get("msg", "") if self.stderr else ""

    def warnings(self) -> list[str]:
        found = []
        for line in self.stderr:
            with contextlib.suppress(ValueError):
                log = json.loads(line)
                if isinstance(log, dict) and log.get("level") == "warn":
                    found.append(f"{log.get('msg')} {json.dumps(log.get('fields') or {})}")
        return found


def run_session(argv: list[str], request: dict[str, Any], timeout: float = 300) -> Session:
    """Run a connector with one request, stdin held open until it exits (a capture session
    ends when the tap's sync does), and parse its stdout with `exact`."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "LOG_LEVEL": "info"},
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    chunks: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda: chunks.__setitem__("out", proc.stdout.read())),
        threading.Thread(target=lambda: chunks.__setitem__("err", proc.stderr.read())),
    ]
    for reader in readers:
        reader.start()
    try:
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        proc.wait(timeout=60)
        for reader in readers:
            reader.join(timeout=60)
    return Session(
        proc.returncode,
        [exact(line) for line in chunks.get("out", b"").splitlines() if line.strip()],
        chunks.get("err", b"").decode(errors="replace").splitlines(),
    )


_DURATION = re.compile(
    r"(?P<sign>-)?P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>-?\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>-?\d+(?:\.\d+)?)H)?(?:(?P<minutes>-?\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>-?\d+(?:\.\d+)?)S)?)?"
)


def iso_duration(text: str) -> datetime.timedelta:
    """An ISO 8601 duration without calendar units (a timedelta has none), e.g. `P1DT2H3M4.5S`
    or `-P90D`; ValueError for anything else."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None or text in ("P", "-P") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration of days and time")
    parts = {k: float(v) for k, v in match.groupdict().items() if v and k != "sign"}
    span = datetime.timedelta(**parts)
    return -span if match["sign"] else span
