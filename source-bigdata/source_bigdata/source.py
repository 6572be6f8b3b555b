"""SourceBigdata: the Airbyte source (airbyte-cdk AbstractSource) over the generated streams."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.models import (
    ConnectorSpecification,
    ConnectorSpecificationSerializer,
    FailureType,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_bigdata.config import BigdataConfig, ConfigError, spec_document
from source_bigdata.streams import STREAM_TYPES


class SourceBigdata(AbstractSource):
    """A deterministic synthetic data source built for volume: same config, same records."""

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecificationSerializer.load(spec_document())

    def check_connection(
        self, logger: logging.Logger, config: Mapping[str, Any]
    ) -> tuple[bool, Any]:
        """There is no remote system: the check is that the config makes sense."""
        try:
            BigdataConfig.parse(config)
        except ConfigError as error:
            return False, str(error)
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        try:
            parsed = BigdataConfig.parse(config)
        except ConfigError as error:
            raise AirbyteTracedException(
                message=str(error), failure_type=FailureType.config_error
            ) from None
        return [stream_type(parsed) for stream_type in STREAM_TYPES]


SourceBigData = SourceBigdata  # the spelling of flow-sdk 0.1's docs
