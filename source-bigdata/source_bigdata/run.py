"""`source-bigdata spec|check|discover|read`: the Airbyte CLI, airbyte-cdk's entrypoint with
one change: a bad config is reported by field ("config.data_name is 'X' but must match ..."),
where the CDK's own schema check names only the failed pattern."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import ConnectorSpecification, FailureType
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_bigdata.config import BigdataConfig, ConfigError
from source_bigdata.source import SourceBigdata


class BigdataEntrypoint(AirbyteEntrypoint):
    """The CDK entrypoint, validating the config with the source's own readable checks."""

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        connector_config, _ = split_config(config)
        try:
            BigdataConfig.parse(connector_config)
        except ConfigError as error:
            raise AirbyteTracedException(
                message=f"Config validation error: {error}",
                internal_message=str(error),
                failure_type=FailureType.config_error,
            ) from None


def launch(args: list[str]) -> None:
    """What `airbyte_cdk.entrypoint.launch` does, with BigdataEntrypoint."""
    entrypoint = BigdataEntrypoint(SourceBigdata())
    parsed = entrypoint.parse_args(args)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed):
            print(f"{message}\n", end="")


def run() -> None:
    launch(sys.argv[1:])


if __name__ == "__main__":
    run()
