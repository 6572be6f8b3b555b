"""The write loop: records become set operations, sent in transactions of at most
`batch_size`; a STATE is echoed only after every record before it is committed durably,
stamped with `destinationStats.recordCount`. Only the transaction before a STATE (or the end)
asks the bucket for durability, which covers the ones before it: the state's echo is the one
promise a destination makes. Streams in `overwrite` mode lose their old keys first; in
`append_dedup` mode a record whose `_ab_cdc_deleted_at` is set deletes its key, as Airbyte's
dedup destinations hard-delete CDC deletions."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateMessage,
    AirbyteStateStats,
    AirbyteStateType,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteStream,
    FailureType,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_kvdb.bucket import (
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    Bucket,
    Operation,
    check_limits,
)
from destination_kvdb.keys import (
    RecordKeyError,
    declared_string,
    log_suffix,
    stream_prefix,
    suffix_function,
)

StreamId = tuple[str, str | None]

CDC_DELETED_AT = "_ab_cdc_deleted_at"
"""Set by CDC sources (and by flow-sdk's materialize shim for Flow deletions) on deleted rows."""


@dataclass(frozen=True)
class StreamPlan:
    """How one configured stream is written."""

    name: str
    prefix: str
    primary_key: list[list[str]]
    mode: str
    string_keys: tuple[bool, ...] = ()
    """Per key component: declared a string, so strings keep the bare form (`keys`)."""
    key_suffix: Callable[[Mapping[str, Any]], str] = field(init=False, compare=False)
    """A record's key suffix (`keys.suffix_function` of the two above)."""

    def __post_init__(self) -> None:
        key_suffix = suffix_function(self.primary_key, self.string_keys)
        object.__setattr__(self, "key_suffix", key_suffix)  # (frozen)

    @classmethod
    def of(cls, configured: ConfiguredAirbyteStream) -> StreamPlan:
        stream = configured.stream
        primary_key = configured.primary_key or stream.source_defined_primary_key or []
        mode = getattr(configured.destination_sync_mode, "value", configured.destination_sync_mode)
        label = f"{stream.namespace}.{stream.name}" if stream.namespace else stream.name
        if mode == "append_dedup" and not primary_key:
            raise AirbyteTracedException(
                message=(
                    f"stream {label!r} is configured as append_dedup but has no primary key; "
                    "give it a primary key or use append"
                ),
                failure_type=FailureType.config_error,
            )
        string_keys = tuple(declared_string(stream.json_schema, path) for path in primary_key)
        prefix = stream_prefix(stream.name, stream.namespace)
        return cls(label, prefix, primary_key, str(mode), string_keys)


class BucketWriter:
    """One `write()` into `bucket`."""

    def __init__(
        self,
        bucket: Bucket,
        catalog: ConfiguredAirbyteCatalog,
        batch_size: int,
        logger: logging.Logger,
    ) -> None:
        self.bucket = bucket
        self.batch_size = batch_size
        self.logger = logger
        self.plans: dict[StreamId, StreamPlan] = {
            (c.stream.name, c.stream.namespace or None): StreamPlan.of(c) for c in catalog.streams
        }
        self.operations: list[Operation] = []
        self.since_state: Counter[StreamId] = Counter()
        self.written: Counter[str] = Counter()
        self.transactions = 0

    def write(self, messages: Iterable[AirbyteMessage]) -> Iterator[AirbyteMessage]:
        self.truncate_overwritten()
        add, record_type = self.add, Type.RECORD
        for message in messages:
            if message.type == record_type and message.record is not None:
                add(message.record)
            elif message.type == Type.STATE and message.state is not None:
                self.flush()
                yield self.stamped(message)
        self.flush()
        for stream in list(self.since_state):
            self._take_count(stream)
        for name, count in sorted(self.written.items()):
            self.logger.info(f"wrote {count} records of stream {name} to {self.bucket.description}")

    def truncate_overwritten(self) -> None:
        """Delete every key of the streams in overwrite mode, before anything is written."""
        for plan in self.plans.values():
            if plan.mode != "overwrite":
                continue
            keys = self.bucket.keys(plan.prefix)
            for start in range(0, len(keys), self.batch_size):
                end = start + self.batch_size
                self._commit([("delete", key, None) for key in keys[start:end]], end >= len(keys))
            self.logger.info(
                f"overwrite: deleted {len(keys)} keys of stream {plan.name} "
                f"(prefix {plan.prefix!r}) from {self.bucket.description}"
            )

    def add(self, record: AirbyteRecordMessage) -> None:
        stream: StreamId = (record.stream, record.namespace or None)
        plan = self.plans.get(stream)
        if plan is None:
            raise AirbyteTracedException(
                message=(
                    f"got a record of stream {record.stream!r} (namespace {record.namespace!r}), "
                    "which is not in the configured catalog; the records were not written"
                ),
                failure_type=FailureType.system_error,
            )
        data = record.data
        if plan.primary_key:
            try:
                suffix = plan.key_suffix(data)
            except RecordKeyError as exc:
                raise AirbyteTracedException(
                    message=f"stream {plan.name!r}: {exc}, so it has no bucket key",
                    failure_type=FailureType.system_error,
                ) from None
        else:
            suffix = log_suffix(record.emitted_at)
        key = plan.prefix + suffix
        operations = self.operations
        if len(operations) >= self.batch_size:  # (held until now: a STATE may make it durable)
            self._commit(operations, durable=False)
            operations = self.operations = []
        if plan.mode == "append_dedup" and data.get(CDC_DELETED_AT) is not None:
            operations.append(("delete", key, None))
        else:
            value = orjson.dumps(data)
            if len(value) > MAX_VALUE_BYTES or len(key) > MAX_KEY_BYTES // 4:
                check_limits(plan.name, key, value)  # (the common record needs no closer look)
            operations.append(("set", key, value.decode()))
        self.since_state[stream] += 1  # (`written` catches up when a state takes the counts)
        if len(operations) >= self.batch_size and self.bucket.always_durable:
            self.flush()  # (nothing to hold it for: send it now)

    def flush(self) -> None:
        """Commit the held operations durably (with every transaction before them)."""
        operations, self.operations = self.operations, []
        self._commit(operations)

    def _commit(self, operations: list[Operation], durable: bool = True) -> None:
        if operations:
            self.bucket.transact(operations, durable)
            self.transactions += 1

    def stamped(self, message: AirbyteMessage) -> AirbyteMessage:
        """The STATE with `destinationStats.recordCount`: for a STREAM state, that stream's
        records since its previous state; for a GLOBAL (or LEGACY) state, all since the last."""
        state: AirbyteStateMessage = message.state  # type: ignore[assignment]  # checked by the caller
        if state.type == AirbyteStateType.STREAM and state.stream is not None:
            descriptor = state.stream.stream_descriptor
            count = self._take_count((descriptor.name, descriptor.namespace or None))
        else:
            count = sum(self._take_count(stream) for stream in list(self.since_state))
        state.destinationStats = AirbyteStateStats(recordCount=float(count))
        return message

    def _take_count(self, stream: StreamId) -> int:
        """The stream's records since its last state, now counted as written."""
        count = self.since_state.pop(stream, 0)
        if count:
            self.written[self.plans[stream].name] += count
        return count
