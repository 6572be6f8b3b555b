"""DestinationKvdb: the Airbyte destination (airbyte-cdk `Destination`) over a bucket."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.destinations import Destination
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    ConnectorSpecificationSerializer,
    FailureType,
    Status,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_kvdb.bucket import Bucket, BucketError
from destination_kvdb.config import (
    ConfigError,
    KvdbBucketConfig,
    KvdbConfig,
    local_path,
    spec_document,
)
from destination_kvdb.http_bucket import KvdbBucket
from destination_kvdb.local_bucket import LocalBucket
from destination_kvdb.writer import BucketWriter

log = logging.getLogger("airbyte")


def open_bucket(config: KvdbConfig) -> Bucket:
    """The bucket the config names (raises BucketError when it cannot be opened)."""
    bucket = config.bucket
    if isinstance(bucket, KvdbBucketConfig):
        return KvdbBucket(bucket.bucket_id, bucket.secret_key, bucket.base_url)
    return LocalBucket(local_path(bucket))


def parsed(config: Mapping[str, Any]) -> KvdbConfig:
    """The typed config, or a config-error trace naming the field to fix."""
    try:
        return KvdbConfig.parse(config)
    except ConfigError as exc:
        raise AirbyteTracedException(
            message=str(exc), internal_message=str(exc), failure_type=FailureType.config_error
        ) from None


class DestinationKvdb(Destination):
    """Writes records to a KvDB.io bucket, or to a local SQLite bucket with the same model."""

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecificationSerializer.load(spec_document())

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """Write, list and delete a probe key; FAILED says exactly what is wrong."""
        try:
            settings = KvdbConfig.parse(config)
            with open_bucket(settings) as bucket:
                bucket.probe()
        except (ConfigError, BucketError) as exc:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(exc))
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def write(
        self,
        config: Mapping[str, Any],
        configured_catalog: ConfiguredAirbyteCatalog,
        input_messages: Iterable[AirbyteMessage],
    ) -> Iterator[AirbyteMessage]:
        settings = parsed(config)
        try:
            with open_bucket(settings) as bucket:
                writer = BucketWriter(bucket, configured_catalog, settings.batch_size, log)
                yield from writer.write(input_messages)
        except BucketError as exc:
            raise AirbyteTracedException(
                message=f"{exc}; states after the last one echoed were not committed",
                internal_message=str(exc),
                failure_type=(
                    FailureType.config_error if exc.config_problem else FailureType.system_error
                ),
            ) from None
