"""Flow ops-log lines: level names, %-interpolation, fields, tracebacks, masking, LOG_LEVEL."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from flow_sdk import logger as flow_logger


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOG_LEVEL", "debug")
    stream = io.StringIO()
    log = flow_logger.init_logger(stream)
    yield log, lambda: [orjson.loads(line) for line in stream.getvalue().splitlines()]
    flow_logger._secrets.clear()
    logging.getLogger().handlers.clear()


def test_message_interpolation_and_fields(lines) -> None:
    log, read = lines
    log.info("read %d records from %s", 42, "users", extra={"stream": "users", "rate": 1.5})
    (line,) = read()
    assert line["level"] == "info"
    assert line["msg"] == "read 42 records from users"
    assert line["fields"] == {"stream": "users", "rate": 1.5}
    assert line["ts"].endswith("+00:00")


def test_percent_signs_without_args_stay(lines) -> None:
    log, read = lines
    log.warning("100% done %s")
    assert read()[0]["msg"] == "100% done %s"
    assert read()[0]["level"] == "warn"


def test_traceback_is_a_field(lines) -> None:
    log, read = lines
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed")
    (line,) = read()
    assert line["level"] == "error"
    assert "ValueError: boom" in line["fields"]["traceback"]


def test_other_loggers_are_named_and_levels_map(lines) -> None:
    log, read = lines
    # Names no other test configures: a library's logger at the root's level.
    library = logging.getLogger("flow_sdk_tests.some_library")
    library.setLevel(logging.NOTSET)
    library.debug("hello")
    library.log(5, "very fine")  # below debug: filtered at LOG_LEVEL=debug
    out = read()
    assert len(out) == 1
    assert out[0] == {
        **out[0],
        "level": "debug",
        "fields": {"logger": "flow_sdk_tests.some_library"},
    }


def test_secret_values_are_masked_everywhere(lines) -> None:
    log, read = lines
    flow_logger.mask_secrets(["hunter22", "ab"])
    log.info("password is %s", "hunter22", extra={"config": {"password": "hunter22"}})
    line = read()[0]
    assert "hunter22" not in orjson.dumps(line).decode()
    assert line["msg"] == "password is **********"


def test_log_level_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warn")
    stream = io.StringIO()
    log = flow_logger.init_logger(stream)
    log.info("hidden")
    log.warning("shown")
    assert [orjson.loads(x)["msg"] for x in stream.getvalue().splitlines()] == ["shown"]
    logging.getLogger().handlers.clear()


def test_unserializable_fields_fall_back_to_strings(lines) -> None:
    log, read = lines
    log.info("odd", extra={"obj": object(), "items": {1, 2}, "n": {3: "x"}})
    fields = read()[0]["fields"]
    assert fields["items"] == [1, 2]
    assert fields["n"] == {"3": "x"}
    assert fields["obj"].startswith("<object")


def test_prints_of_a_secret_are_masked_even_split_across_writes() -> None:
    import io

    from flow_sdk.logger import MASK, RedactingWriter, mask_secrets

    mask_secrets(["hunter2-secret-value"])
    out = io.StringIO()
    writer = RedactingWriter(out)
    print("key=hunter2-", end="", file=writer)
    print("secret-value and more", file=writer)
    writer.write("tail hunter2-secret-value")
    writer.flush()
    assert out.getvalue() == f"key={MASK} and more\ntail {MASK}"
