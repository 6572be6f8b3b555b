"""The Airbyte streams: `bigdata` (full refresh, resumable, no primary key) and the
incremental `users` and `events` (primary key `id`, cursor `updated_at`). Each checkpoints
every `checkpoint_interval` records, and each resumes from a checkpoint exactly."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from functools import cache
from importlib import resources
from typing import Any

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams import CheckpointMixin, Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_bigdata.config import BigdataConfig
from source_bigdata.generate import (
    BigdataRecords,
    EventRecords,
    RecordMaker,
    UserRecords,
)

# What the CDK writes (and the platform may hand back) once a full refresh sweep is done.
SWEEP_DONE_STATES = (
    {"__ab_full_refresh_sync_complete": True},
    {"__ab_no_cursor_state_message": True},
)


@cache
def load_schema(stream: str) -> dict[str, Any]:
    """The stream's JSON schema, shipped as `schemas/<stream>.json` in the package."""
    text = resources.files("source_bigdata").joinpath("schemas", f"{stream}.json").read_text()
    return json.loads(text)


def state_error(stream: str, message: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=f"The {stream} stream's state {message}; reset the stream or fix its state.",
        failure_type=FailureType.config_error,
    )


class GeneratedStream(Stream):
    """A stream whose records come from a RecordMaker; the config is shared by all streams."""

    maker_type: type[RecordMaker] = RecordMaker

    def __init__(self, config: BigdataConfig) -> None:
        self.config = config
        self.maker = self.maker_type(
            config.seed, config.start_seconds, config.record_count, config.data_name
        )
        # Our own copy: the CDK looks the schema up per record, and callers may annotate it.
        self._schema = copy.deepcopy(load_schema(self.name))

    @property
    def name(self) -> str:
        return self.maker_type.stream

    def get_json_schema(self) -> Mapping[str, Any]:
        return self._schema


class BigdataStream(GeneratedStream, CheckpointMixin):
    """Full refresh without a primary key. A resumable sweep: each page of
    `checkpoint_interval` records is followed by a state `{"next_index": n}`; a state from a
    finished sweep (or none) starts a new sweep from index 0."""

    maker_type = BigdataRecords
    primary_key = None

    def __init__(self, config: BigdataConfig) -> None:
        super().__init__(config)
        self._next_index = 0
        self._done = False

    @property
    def state(self) -> MutableMapping[str, Any]:
        if self._done:
            return dict(SWEEP_DONE_STATES[0])
        return {"next_index": self._next_index} if self._next_index else {}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._done = False
        self._next_index = 0
        if not value or value in SWEEP_DONE_STATES:
            return
        next_index = value.get("next_index")
        if not isinstance(next_index, int) or isinstance(next_index, bool) or next_index < 0:
            raise state_error(self.name, f"{dict(value)!r} has no non-negative integer next_index")
        self._next_index = next_index

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        """One page per call: the CDK calls again with the state until the sweep is done."""
        start = self._next_index
        stop = min(start + self.config.checkpoint_interval, self.config.record_count)
        yield from self.maker.records(start, stop)
        self._next_index = max(stop, start)
        self._done = self._next_index >= self.config.record_count


class IncrementalGeneratedStream(GeneratedStream, CheckpointMixin):
    """Records with a strictly increasing `updated_at`, so the cursor names an exact
    position: the state `{"updated_at": t}` resumes at the first record after t.
    (CheckpointMixin is what airbyte-cdk 7 calls IncrementalMixin, now a deprecated alias.)"""

    primary_key = "id"
    cursor_field = "updated_at"

    def __init__(self, config: BigdataConfig) -> None:
        super().__init__(config)
        self._cursor: str | None = None
        self._first_index = 0

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {"updated_at": self._cursor} if self._cursor else {}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor, self._first_index = None, 0
        if not value:
            return
        cursor = value.get("updated_at")
        if not isinstance(cursor, str):
            raise state_error(self.name, f"{dict(value)!r} has no updated_at string")
        self._first_index = self.first_index_after(cursor)
        self._cursor = cursor

    def first_index_after(self, cursor: str) -> int:
        """Index of the first record whose updated_at is later than `cursor`."""
        try:
            moment = datetime.datetime.fromisoformat(cursor.replace("Z", "+00:00"))
        except ValueError:
            raise state_error(
                self.name, f"has updated_at {cursor!r}, which is not an ISO 8601 timestamp"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        elapsed = moment - self.config.start_date
        if elapsed < datetime.timedelta(0):
            return 0
        whole_seconds = elapsed // datetime.timedelta(seconds=1)
        return whole_seconds // self.maker.step_seconds + 1

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        """One slice per checkpoint: the CDK emits the state after each slice."""
        start = self._first_index if sync_mode == SyncMode.incremental else 0
        return self._slices(start)

    def _slices(self, start: int) -> Iterator[Mapping[str, Any]]:
        interval, count = self.config.checkpoint_interval, self.config.record_count
        for low in range(start, count, interval):
            yield {"start": low, "stop": min(low + interval, count)}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        if not stream_slice:
            return
        for record in self.maker.records(stream_slice["start"], stream_slice["stop"]):
            self._cursor = record["updated_at"]
            yield record


class UsersStream(IncrementalGeneratedStream):
    maker_type = UserRecords


class EventsStream(IncrementalGeneratedStream):
    maker_type = EventRecords


STREAM_TYPES: tuple[type[GeneratedStream], ...] = (BigdataStream, UsersStream, EventsStream)
