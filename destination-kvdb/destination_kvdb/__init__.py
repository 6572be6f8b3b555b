"""destination-kvdb: an Airbyte destination writing records to a KvDB.io bucket or a local
SQLite bucket, and the same destination as an Estuary Flow materialization."""

import flow_sdk.airbyte  # noqa: F401  # first: it makes airbyte-cdk's import ~0.8 s cheaper
from destination_kvdb.destination import DestinationKvdb

__all__ = ["DestinationKvdb"]
