"""The value matrix: every class of value real sources produce, as a Python value (what an
in-process source yields) and as a JSON line literal (what a `json.dumps`-based connector
writes), with what Flow must receive — or the sentence the capture must fail with.

`expect` is the document's `v` as the runtime reads it (JSON text; numbers as doubles, as
Flow reads them), `wire` the exact JSON the connector writes when that differs (a
`Decimal`'s digits); `fails` a fragment of
the last stderr line; `warns` a fragment of the warning a documented conversion logs.
Per-mode differences (a tap or CDK that converts values itself) are in `by_mode`.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


class Color(enum.Enum):
    RED = "red"


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@dataclass(frozen=True)
class Case:
    name: str
    value: Any = None
    """The Python value an in-process source yields (None: no Python form)."""
    literal: str | None = None
    """The JSON text a plain connector writes for it (None: no JSON literal)."""
    expect: str | None = None
    wire: str | None = None
    fails: str | None = None
    warns: str | None = None
    by_mode: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def outcome(self, mode: str) -> dict[str, str | None]:
        base = {"expect": self.expect, "fails": self.fails, "warns": self.warns}
        return {**base, **self.by_mode.get(mode, {})}


CASES = [
    # ---- lossless ----
    Case("decimal", decimal.Decimal("12.50"), "12.50", expect="12.5", wire="12.50"),
    Case(
        "decimal_precise",
        decimal.Decimal("0.1000000000000000055511151231257827"),
        "0.1000000000000000055511151231257827",
        expect="0.1",
        wire="0.1000000000000000055511151231257827",
    ),
    Case("decimal_exponent", decimal.Decimal("1E+30"), "1E+30", expect="1E+30"),
    Case("uint64_max", 2**64 - 1, "18446744073709551615", expect="18446744073709551615"),
    Case("int64_min", -(2**63), "-9223372036854775808", expect="-9223372036854775808"),
    Case("bytes", b"\x00\xffab", None, expect='"AP9hYg=="'),
    Case("bytearray", bytearray(b"\x01"), None, expect='"AQ=="'),
    Case("memoryview", memoryview(b"\x00\x01"), None, expect='"AAE="'),
    Case(
        "datetime_naive",
        datetime.datetime(2024, 1, 2, 3, 4, 5, 123456),
        None,
        expect='"2024-01-02T03:04:05.123456"',
    ),
    Case(
        "datetime_aware",
        datetime.datetime(
            2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
        ),
        None,
        expect='"2024-01-02T03:04:05+02:00"',
    ),
    Case("date", datetime.date(2024, 1, 2), None, expect='"2024-01-02"'),
    Case("time_naive", datetime.time(3, 4, 5), None, expect='"03:04:05"'),
    Case(
        "time_aware",
        datetime.time(3, 4, 5, tzinfo=datetime.timezone.utc),
        None,
        expect='"03:04:05+00:00"',
    ),
    Case(
        "timedelta",
        datetime.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000),
        None,
        expect='"P1DT2H3M4.5S"',
    ),
    Case(
        "pandas_timestamp",
        pd.Timestamp("2024-01-02T03:04:05.123456789"),
        None,
        expect='"2024-01-02T03:04:05.123456789"',
    ),
    Case("pandas_nat", pd.NaT, None, expect="null"),
    Case("pandas_na", pd.NA, None, expect="null"),
    Case("numpy_int", np.int64(-5), None, expect="-5"),
    Case("numpy_float", np.float32(1.5), None, expect="1.5"),
    Case("numpy_bool", np.bool_(True), None, expect="true"),
    Case("numpy_array", np.array([1, 2, 3]), None, expect="[1,2,3]"),
    Case("set", {3, 1, 2}, None, expect="[1,2,3]"),
    Case("tuple", (1, "a"), None, expect='[1,"a"]'),
    Case("uuid", uuid.UUID(int=1), None, expect='"00000000-0000-0000-0000-000000000001"'),
    Case("enum", Color.RED, None, expect='"red"'),
    Case(
        "unicode",
        "héllo ✓ \U0001f600",
        '"h\\u00e9llo \\u2713 \\ud83d\\ude00"',
        expect='"héllo ✓ 😀"',
    ),
    # ---- documented conversions ----
    Case(
        "nan",
        float("nan"),
        "NaN",
        expect="null",
        warns="the field /v held NaN, which JSON cannot carry; emitted as null",
    ),
    Case(
        "surrogate",
        "a\ud800b",
        '"a\\ud800b"',
        expect='"a\ufffdb"',
        warns="the field /v held a lone surrogate or invalid UTF-8, which JSON cannot carry; emitted as U+FFFD",
    ),
    Case(
        "invalid_utf8",
        None,
        '"a\udcffb"',  # written with surrogateescape: the byte 0xff inside a string
        expect='"a\ufffdb"',
        warns="the field /v held a lone surrogate or invalid UTF-8, which JSON cannot carry; emitted as U+FFFD",
    ),
    # ---- failures ----
    Case(
        "infinity",
        float("inf"),
        "Infinity",
        fails="the field /v holds Infinity, which JSON documents cannot carry",
    ),
    Case(
        "minus_infinity",
        float("-inf"),
        "-Infinity",
        fails="the field /v holds -Infinity, which JSON documents cannot carry",
    ),
    Case(
        "big_int",
        2**64,
        "18446744073709551616",
        fails="the field /v holds the integer 18446744073709551616, outside the 64-bit range",
    ),
    Case(
        "big_decimal_int",
        decimal.Decimal(10**30),
        None,
        fails="the field /v holds the integer 1000000000000000000000000000000, outside the 64-bit range",
    ),
    Case(
        "overflow",
        decimal.Decimal("1E+400"),
        "1e400",
        fails="the field /v holds 1E+400, a number JSON documents cannot carry",
        by_mode={
            m: {"fails": "the field /v holds 1e400, a number JSON documents cannot carry"}
            for m in ("airbyte-plain", "singer-plain")
        },
    ),
    Case(
        "unknown_type",
        complex(1, 2),
        None,
        fails="the field /v holds a value of Python type builtins.complex, which has no JSON form",
    ),
    Case(
        "key_collision",
        {1: "int", "1": "str"},
        None,
        fails="the field /v/1 appears twice in one object",
    ),
    Case(
        "duplicate_key",
        None,
        '1,"v":2',  # the record becomes {"id":…,"case":…,"v":1,"v":2}
        fails="with the key 'v' twice in one object",
    ),
    Case(
        "too_deep",
        _deep(300),
        None,
        fails="nests deeper than 254 levels",
    ),
]

BY_NAME = {c.name: c for c in CASES}


def record(index: int, case: Case, literal: bool = False) -> Any:
    """The record of `case`: a dict (Python) or JSON text (literal)."""
    if literal:
        return f'{{"id":{index},"case":"{case.name}","v":{case.literal}}}'
    return {"id": index, "case": case.name, "v": case.value}
