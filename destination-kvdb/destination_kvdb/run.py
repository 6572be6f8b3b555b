"""`destination-kvdb spec|check|write`: the Airbyte CLI, airbyte-cdk's `Destination.run` with
three changes: a bad config is reported by field before the CDK's own schema check (which names
only the failed pattern), an input line that is not JSON fails the write instead of being
skipped, and each echoed STATE reaches stdout at once (the commit confirmation)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

import orjson
from airbyte_cdk.exception_handler import init_uncaught_exception_handler
from airbyte_cdk.logger import PRINT_BUFFER, init_logger
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteMessageSerializer,
    FailureType,
    Status,
    Type,
)
from airbyte_cdk.utils.airbyte_secrets_utils import get_secrets, update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_kvdb.config import ConfigError, KvdbConfig
from destination_kvdb.destination import DestinationKvdb


class DestinationKvdbCli(DestinationKvdb):
    """The destination as its CLI runs it."""

    def _parse_input_stream(self, input_stream: io.TextIOWrapper) -> Iterator[AirbyteMessage]:
        """The CDK logs and skips a line that is not JSON (losing a record silently); here it
        fails the write, and nothing after the last echoed state counts as committed.
        (Overrides the CDK's private hook: it is the only seam for reading stdin.)"""
        for number, line in enumerate(input_stream, start=1):
            if not line.strip():
                continue
            try:
                yield AirbyteMessageSerializer.load(orjson.loads(line))
            except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
                raise AirbyteTracedException(
                    message=(
                        f"input line {number} is not an Airbyte message ({exc}): "
                        f"{line[:200]!r}; the destination stopped there"
                    ),
                    failure_type=FailureType.system_error,
                ) from None


def readable_config_failure(destination: DestinationKvdb, args: list[str]) -> str | None:
    """For check and write: the first config problem as a sentence, or None."""
    parsed = destination.parse_args(args)
    if parsed.command not in ("check", "write"):
        return None
    config = destination.read_config(config_path=parsed.config)
    spec = destination.spec(init_logger("airbyte"))
    update_secrets(get_secrets(spec.connectionSpecification, config))
    try:
        KvdbConfig.parse(config)
    except ConfigError as exc:
        return str(exc)
    return None


def launch(args: list[str]) -> None:
    logger = init_logger("airbyte")
    init_uncaught_exception_handler(logger)
    destination = DestinationKvdbCli()
    problem = readable_config_failure(destination, args)
    with PRINT_BUFFER:
        if problem is not None:
            if destination.parse_args(args).command == "check":
                status = AirbyteConnectionStatus(status=Status.FAILED, message=problem)
                emit(AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status))
                return
            raise AirbyteTracedException(
                message=problem, internal_message=problem, failure_type=FailureType.config_error
            )
        for message in destination.run_cmd(destination.parse_args(args)):
            emit(message)


def emit(message: AirbyteMessage) -> None:
    sys.stdout.write(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode() + "\n")
    if message.type != Type.LOG:
        PRINT_BUFFER.flush()


def run() -> None:
    launch(sys.argv[1:])


if __name__ == "__main__":
    run()
