"""Small pieces of the runtime: durations, log rendering, state reduction."""

from __future__ import annotations

import pytest

from flow_sdk.protocol.flow import ConnectorState
from flow_sdk.runtime.console import parse_log_line, render
from flow_sdk.runtime.durations import format_duration, parse_duration
from flow_sdk.runtime.state import StateStore, combine_updates


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("10s", 10),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("500ms", 0.5),
        ("2days", 172800),
        ("1.5s", 1.5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "5 parsecs", "5m later"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0.25, 2.5, 90, 5400)] == [
        "250ms",
        "2.5s",
        "1m30s",
        "1h30m",
    ]


def test_json_logs_render_level_message_and_fields() -> None:
    record = parse_log_line(
        '{"level":"WARNING","msg":"slow source","fields":{"stream":"users","n":3}}'
    )
    assert (record.level, record.message, record.fields) == (
        "warn",
        "slow source",
        {"stream": "users", "n": 3},
    )
    assert render(record, "acmeCo/c") == "WARN  acmeCo/c: slow source stream=users n=3"
    other = parse_log_line('{"lvl":"error","message":"boom","ts":"2024-01-01T00:00:00Z","code":7}')
    assert (other.level, other.message, other.fields, other.ts) == (
        "error",
        "boom",
        {"code": 7},
        "2024-01-01T00:00:00Z",
    )


def test_plain_lines_are_warnings_or_errors() -> None:
    assert parse_log_line("some chatter").level == "warn"
    assert parse_log_line("Traceback: ValueError: unable to connect").level == "error"
    assert parse_log_line("{not json").level == "warn"


def test_multi_line_fields_are_indented() -> None:
    record = parse_log_line(
        '{"level":"error","msg":"failed","fields":{"traceback":"line 1\\nline 2"}}'
    )
    assert render(record, "c") == "ERROR c: failed\n    traceback:\n      line 1\n      line 2"


def test_state_merge_patch_and_replace() -> None:
    store = StateStore({"a": {"x": 1, "y": 2}, "b": 1})
    store.apply(ConnectorState(updated={"a": {"y": None, "z": 3}}, mergePatch=True))
    assert store.state == {"a": {"x": 1, "z": 3}, "b": 1}
    store.apply(ConnectorState(updated={"c": 1, "d": None}))
    assert store.state == {"c": 1}


def test_combined_updates_equal_applying_them_in_order() -> None:
    before = {"keep": 1, "k": {"old": True}}
    updates = [
        ConnectorState(updated={"a": 1, "k": None}, mergePatch=True),
        ConnectorState(updated={"k": {"new": True}, "b": 2}, mergePatch=True),
    ]
    combined = combine_updates(before, updates)
    expected = StateStore(before)
    for update in updates:
        expected.apply(update)
    result = StateStore(before)
    result.apply(ConnectorState(**combined))
    assert result.state == expected.state == {"keep": 1, "a": 1, "k": {"new": True}, "b": 2}


def test_a_replacing_update_in_a_transaction_combines_to_the_full_state() -> None:
    updates = [
        ConnectorState(updated={"a": 1}, mergePatch=True),
        ConnectorState(updated={"fresh": 1}),
        ConnectorState(updated={"more": 2}, mergePatch=True),
    ]
    assert combine_updates({"old": 1}, updates) == {"updated": {"fresh": 1, "more": 2}}
