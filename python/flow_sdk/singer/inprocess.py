"""A singer-sdk (Meltano SDK) tap run in this process, through singer-sdk's public API only.

Each request builds a new tap, `TapClass(config=..., catalog=..., state=...,
message_writer=...)`: the message writer is singer-sdk's public output seam, so every message
the tap writes (records, state, schemas, batches) comes to the shim as an object instead of a
line on stdout. Discovery is `tap.catalog_dict`, the validation dry run is
`tap.run_sync_dry_run`, and a sync is `tap.sync_all()`.
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import Message, RecordMessage
from singer_sdk.singerlib.encoding import GenericSingerWriter

from flow_sdk.errors import ValidateError
from flow_sdk.singer.read_loop import SingerReadLoop

TapFactory = Callable[..., Tap]


class LoopWriter(GenericSingerWriter[str, Message]):
    """Hands every message the tap writes to a read loop: records on the fast path, the
    rest as plain dicts."""

    def __init__(self, loop: SingerReadLoop) -> None:
        self._record = loop.record_keyed
        self._message = loop.message

    def serialize_message(self, message: Message) -> str:
        return orjson.dumps(message.to_dict(), default=str).decode()

    def write_message(self, message: Message) -> None:
        if type(message) is RecordMessage:
            self._record(message.stream, message.record)
        else:
            self._message(message.to_dict())


class DryRunWriter(GenericSingerWriter[str, Message]):
    """Counts what a validation dry run wrote; nothing of it reaches the runtime."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.records: dict[str, int] = {}

    def serialize_message(self, message: Message) -> str:
        return repr(message)

    def write_message(self, message: Message) -> None:
        if type(message) is RecordMessage:
            self.records[message.stream] = self.records.get(message.stream, 0) + 1


class InProcessTap:
    """Adapts a singer-sdk Tap class (or instance, or a factory taking the Tap keywords) to
    the shim's delegate interface."""

    is_singer_delegate = True

    def __init__(self, tap: type[Tap] | Tap | TapFactory, config_schema: Any = None) -> None:
        if isinstance(tap, Tap):
            tap = type(tap)
        if isinstance(tap, type) and not issubclass(tap, Tap):
            raise TypeError(f"the Singer CaptureShim needs a singer-sdk Tap, not {tap.__name__}")
        if not isinstance(tap, type) and not _accepts_message_writer(tap):
            raise TypeError(
                "the Singer CaptureShim's delegate factory must accept the `message_writer` "
                "keyword and pass it to the Tap (or pass the Tap class itself)"
            )
        self.factory: TapFactory = tap
        self.name = getattr(tap, "name", None) or getattr(tap, "__name__", "singer tap")
        self._config_schema = config_schema
        self.log = logging.getLogger("flow")

    def config_schema(self) -> dict[str, Any]:
        if self._config_schema is not None:
            return copy.deepcopy(dict(self._config_schema))
        schema = getattr(self.factory, "config_jsonschema", None)
        if not isinstance(schema, Mapping):
            return {"type": "object"}
        schema = copy.deepcopy(dict(schema))
        if isinstance(self.factory, type):  # the settings the tap's own `--about` shows
            self.factory.append_builtin_config(schema)
        return schema

    def _tap(self, config: Mapping[str, Any], writer: GenericSingerWriter, **kw: Any) -> Tap:
        try:
            return self.factory(config=dict(config), message_writer=writer, **kw)
        except ConfigValidationError as exc:
            details = "; ".join(exc.errors) or str(exc)
            raise ValidateError(f"the tap's config is invalid: {details}") from None

    def discover(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return self._tap(config, DryRunWriter(self.log)).catalog_dict

    def dry_run(self, config: Mapping[str, Any], catalog: dict[str, Any]) -> dict[str, int]:
        """Read at most one record of each stream `catalog` selects; records per stream."""
        writer = DryRunWriter(self.log)
        tap = self._tap(config, writer, catalog=catalog)
        selected = [s for s in tap.streams.values() if s.selected]
        tap.run_sync_dry_run(dry_run_record_limit=1, streams=selected)
        return writer.records

    def sync(
        self,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        state: dict[str, Any],
        loop: SingerReadLoop,
    ) -> None:
        tap = self._tap(config, LoopWriter(loop), catalog=catalog, state=state)
        tap.sync_all()


def _accepts_message_writer(factory: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "message_writer" or p.kind is p.VAR_KEYWORD for p in params)
