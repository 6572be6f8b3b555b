"""The shim's checkpointed state: a Singer tap's bookmarks kept per binding, keyed by stateKey.

Singer keys bookmarks by `tap_stream_id`; Flow keys binding state by `stateKey`, which changes
when a binding is backfilled. Layout (what a checkpoint merge-patches)::

    {"bindingStateV1": {<stateKey>: {"rowId": <next row id>, "bookmark": [<bookmark>]}},
     "singerState": [<the tap state's other keys, e.g. currently_syncing>]}

Bookmarks sit in one-element lists so a merge patch replaces them whole: a bookmark that lost
a key (or holds a null) comes back exactly as the tap wrote it. A STATE message patches only
the bindings whose bookmark moved (with their row counter). Also read: flow-sdk 0.1.x's layout
(`{"bindingStateV1": {<stateKey>: {<bookmark...>, "estuary.dev/rowCounter": N}}}`), rewritten
in the new layout by one replacing checkpoint at the start of the session.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from flow_sdk.capture.binding_state import BindingStateLoader, BoundStream
from flow_sdk.errors import ConnectorError
from flow_sdk.protocol.flow import CaptureBinding
from flow_sdk.singer.catalog import FULL_TABLE, resource_stream

OLD_ROW_COUNTER = "estuary.dev/rowCounter"
_ENTRY_KEYS = frozenset({"rowId", "bookmark"})
log = logging.getLogger("flow")


def _copy(value: Any) -> Any:
    """A deep copy of JSON data (the tap keeps mutating the state it hands out)."""
    return orjson.loads(orjson.dumps(value))


class BindingState(BoundStream):
    """One binding's stream, row counter and the bookmark last saved for it."""

    __slots__ = ("full_table", "bookmark")

    def __init__(self, index: int, binding: CaptureBinding) -> None:
        config = binding.resourceConfig or {}
        stream = resource_stream(config)
        super().__init__(index, binding.stateKey, stream, stream)
        self.full_table = config.get("replication_method") == FULL_TABLE
        self.bookmark: Any = None
        """The bookmark last saved for this binding (None: none yet)."""


class SingerState(BindingStateLoader[BindingState]):
    """Singer state in, Flow checkpoints out. Methods return the RFC 7396 merge patch of only
    what changed, or None when nothing did."""

    top_keys = frozenset({"bindingStateV1", "singerState"})
    writers = "this shim or flow-sdk 0.1.x's Singer shim"
    remedy = (
        "To re-capture every binding from scratch, reset the capture's state (or backfill "
        "its bindings)."
    )

    def __init__(self, bindings: Sequence[CaptureBinding], state: Any) -> None:
        self.bindings = [BindingState(i, b) for i, b in enumerate(bindings)]
        self.by_stream = {b.stream: b for b in self.bindings}
        self.rest: dict[str, Any] = {}
        """The tap state's keys other than `bookmarks`, as last saved."""
        self.migrated = False
        """Whether the Open's state was in flow-sdk 0.1.x's layout (see `full_state`)."""
        self.load(state)

    # ---- reading the Open's state ----

    def load_shared(self, state: Mapping[str, Any]) -> None:
        if (rest := state.get("singerState")) is not None:
            if not (isinstance(rest, list) and len(rest) == 1 and isinstance(rest[0], Mapping)):
                raise self.unreadable("`singerState` is not a one-element list holding an object")
            self.rest = dict(rest[0])

    def load_entry(self, b: BindingState, entry: Mapping[str, Any], where: str) -> None:
        if set(entry) <= _ENTRY_KEYS:
            row = entry.get("rowId", 0)
            bookmark = entry.get("bookmark")
            if bookmark is not None:
                if not (isinstance(bookmark, list) and len(bookmark) == 1):
                    raise self.unreadable(f"{where} has a `bookmark` that is not [<bookmark>]")
                b.bookmark = bookmark[0]
        else:  # flow-sdk 0.1.x: the bookmark itself, with the row counter inside
            bookmark = dict(entry)
            row = bookmark.pop(OLD_ROW_COUNTER, None) or 0
            b.bookmark = bookmark
            self.migrated = True
        b.next_row = b.saved_row = self.row_id(row, where)

    def singer_state(self) -> dict[str, Any]:
        """The state to start the tap with: `{"bookmarks": {<tap_stream_id>: ...}, ...}`."""
        bookmarks = {b.stream: _copy(b.bookmark) for b in self.bindings if b.bookmark is not None}
        out = _copy(self.rest)
        if bookmarks:
            out["bookmarks"] = bookmarks
        return out

    def full_state(self) -> dict[str, Any]:
        """The whole state in this shim's layout, to replace a migrated one."""
        entries = {b.state_key: self._entry(b) for b in self.bindings}
        out: dict[str, Any] = {"bindingStateV1": entries}
        if self.rest:
            out["singerState"] = [self.rest]
        return out

    # ---- checkpoints ----

    def on_state(self, value: Any) -> dict[str, Any] | None:
        """The checkpoint patch for a STATE message's `value` (the tap's whole state)."""
        if not isinstance(value, Mapping):
            raise ConnectorError(
                f"the tap wrote a STATE message whose value is a {type(value).__name__}, not an object"
            )
        bookmarks = value.get("bookmarks") or {}
        if not isinstance(bookmarks, Mapping):
            raise ConnectorError("the tap wrote a STATE message whose `bookmarks` is not an object")
        entries: dict[str, Any] = {}
        for b in self.bindings:
            bookmark = bookmarks.get(b.stream)
            moved = bookmark is not None and bookmark != b.bookmark
            if moved:
                b.bookmark = _copy(bookmark)
            if moved:  # the row counter is saved with the bookmark its rows are read up to
                entries[b.state_key] = self._entry(b)
                b.saved_row = b.next_row
        patch: dict[str, Any] = {}
        if entries:
            patch["bindingStateV1"] = entries
        rest = {k: v for k, v in value.items() if k != "bookmarks"}
        if rest != self.rest:
            self.rest = _copy(rest)
            patch["singerState"] = [self.rest] if rest else None
        return patch or None

    def end_of_sync(self) -> dict[str, Any]:
        """The patch of the final checkpoint: FULL_TABLE sweeps are complete, so their row ids
        restart at the next sync and a re-read rewrites the same keys."""
        entries = {}
        for b in self.bindings:
            if b.full_table:
                b.next_row = 0
                if b.saved_row != 0:
                    entries[b.state_key] = {"rowId": 0}
                    b.saved_row = 0
        return {"bindingStateV1": entries} if entries else {}

    @staticmethod
    def _entry(b: BindingState) -> dict[str, Any]:
        entry: dict[str, Any] = {"rowId": b.next_row}
        if b.bookmark is not None:
            entry["bookmark"] = [b.bookmark]
        return entry

