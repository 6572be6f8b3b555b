"""destination-kvdb: an Airbyte destination writing records to a KvDB.io bucket or a local
SQLite bucket, and the same destination as an Estuary Flow materialization."""

from destination_kvdb.destination import DestinationKvdb

__all__ = ["DestinationKvdb"]
