"""The record generator and the config, in process: determinism, cursor exactness, and the
config errors that reach users."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from source_bigdata.config import BigdataConfig, ConfigError
from source_bigdata.generate import MAKERS, TimestampFormatter, epoch_seconds
from source_bigdata.streams import STREAM_TYPES, IncrementalGeneratedStream

START = epoch_seconds(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))


def config(**overrides) -> BigdataConfig:
    return BigdataConfig.parse({"data_name": "unit", **overrides})


@pytest.mark.parametrize("stream", sorted(MAKERS))
def test_records_are_a_pure_function_of_seed_stream_and_index(stream):
    maker = MAKERS[stream](42, START, 100, "unit")
    again = MAKERS[stream](42, START, 100, "unit")
    other_seed = MAKERS[stream](43, START, 100, "unit")
    whole = list(maker.records(0, 100))
    assert whole == list(again.records(0, 100))
    assert whole[37:61] == list(again.records(37, 61)), "a sweep can start anywhere"
    assert whole != list(other_seed.records(0, 100))


def test_streams_of_one_seed_differ():
    users = MAKERS["users"](1, START, 10, "unit").records(0, 10)
    events = MAKERS["events"](1, START, 10, "unit").records(0, 10)
    assert [u["updated_at"] for u in users] != [e["updated_at"] for e in events]


@given(st.integers(min_value=0, max_value=100 * 365 * 86400))
def test_timestamps_match_the_standard_library(seconds):
    expected = datetime.datetime.fromtimestamp(START + seconds, tz=datetime.timezone.utc)
    assert TimestampFormatter()(START + seconds) == expected.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "stream_type", [t for t in STREAM_TYPES if issubclass(t, IncrementalGeneratedStream)]
)
@given(index=st.integers(min_value=0, max_value=10**7), fraction=st.integers(0, 999_999))
def test_the_cursor_names_an_exact_position(stream_type, index, fraction):
    stream = stream_type(config(record_count=10**7))
    cursor = stream.maker.updated_at(index)
    assert stream.first_index_after(cursor) == index + 1
    assert stream.first_index_after(cursor.replace("Z", "+00:00")) == index + 1
    # Anything strictly between two records resumes after the earlier one.
    between = cursor.replace("Z", f".{fraction:06d}Z")
    assert stream.first_index_after(between) == index + 1


def test_a_cursor_before_the_first_record_resumes_at_the_start():
    stream = STREAM_TYPES[1](config())
    assert stream.first_index_after("2023-12-31T23:59:59Z") == 0


def test_defaults_fill_the_config():
    parsed = config()
    assert parsed.record_count == 1000
    assert parsed.seed == 0
    assert parsed.checkpoint_interval == 1000
    assert parsed.start_date == datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data_name": "UPPER"}, "config.data_name is 'UPPER' but must match ^[a-z0-9_\\-]+$"),
        ({"record_count": -1}, "config.record_count is -1 but must be at least 0"),
        ({"record_count": 10**9}, "config.record_count is 1000000000 but must be at most"),
        ({"seed": "x"}, "config.seed is 'x' but must be of type integer"),
        ({"seed": 2**32}, "config.seed is 4294967296 but must be at most"),
        ({"checkpoint_interval": 0}, "config.checkpoint_interval is 0 but must be at least 1"),
        ({"start_date": "2024-01-01"}, "config.start_date is '2024-01-01' but must match"),
        ({"start_date": "2024-02-30T00:00:00Z"}, "is not a real date and time"),
        ({"start_date": "2300-01-01T00:00:00Z"}, "config.start_date is '2300-01-01T00:00:00Z'"),
    ],
)
def test_bad_config_values_are_rejected_by_name(overrides, message):
    with pytest.raises(ConfigError) as raised:
        config(**overrides)
    assert message in str(raised.value)


def test_a_missing_data_name_says_what_to_add():
    with pytest.raises(ConfigError, match="config.data_name is required"):
        BigdataConfig.parse({})
