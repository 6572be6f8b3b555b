"""Loading the checkpointed state every capture adapter keeps per binding: the frame
`{"bindingStateV1": {<stateKey>: <entry>}, <the adapter's own keys>}` is checked here, the
entries and the other keys by each adapter (`airbyte.source.state`, `singer.state`), whose
layouts differ. State that cannot be understood is an error, never a silent re-capture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from flow_sdk.errors import ConnectorError

BINDING_STATE = "bindingStateV1"


class BoundStream:
    """One binding's stream and row counter, as every adapter keeps them (the record path
    reads `index` and `next_row`); adapters add their state layout's fields."""

    __slots__ = ("index", "state_key", "stream", "label", "next_row", "saved_row")

    def __init__(self, index: int, state_key: str, stream: str, label: str) -> None:
        self.index = index
        self.state_key = state_key
        self.stream = stream
        self.label = label
        """The stream as errors name it."""
        self.next_row = 0
        """The row id the next record of this binding gets."""
        self.saved_row = 0
        """The row counter as the checkpointed state last saved it."""


class KeyedBinding(Protocol):
    """A binding's read-time state, as state loading needs it."""

    state_key: str
    label: str


B = TypeVar("B", bound=KeyedBinding)


class BindingStateLoader(Generic[B]):
    """The Open's state, checked and handed on entry by entry. Subclasses name their
    `top_keys` and `writers`, and load what is theirs in `load_shared` and `load_entry`."""

    top_keys: ClassVar[frozenset[str]]
    """Every top-level key the adapter writes (`bindingStateV1` included)."""
    writers: ClassVar[str]
    """Who may have written the state, for the error: `this shim or ...`."""
    remedy: ClassVar[str]
    """What the user can do about state that cannot be understood."""

    bindings: Sequence[B]

    def load(self, state: Any) -> None:
        """Load the Open's `state` (None or `{}`: nothing checkpointed yet)."""
        if state is None or state == {}:
            return
        if not isinstance(state, Mapping):
            raise self.unreadable(f"it is a {type(state).__name__}, not an object")
        if unknown := sorted(set(state) - self.top_keys):
            raise self.unreadable(
                f"it has keys {', '.join(map(repr, unknown))} this shim never writes"
            )
        entries = state.get(BINDING_STATE, {})
        if not isinstance(entries, Mapping):
            raise self.unreadable(f"`{BINDING_STATE}` is not an object")
        self.load_shared(state)
        for b in self.bindings:
            if (entry := entries.get(b.state_key)) is not None:
                where = f"the entry of binding {b.state_key!r} (stream {b.label!r})"
                if not isinstance(entry, Mapping):
                    raise self.unreadable(f"{where} is not an object")
                self.load_entry(b, entry, where)

    def load_shared(self, state: Mapping[str, Any]) -> None:
        """The adapter's keys other than `bindingStateV1`. Default: none."""

    def load_entry(self, b: B, entry: Mapping[str, Any], where: str) -> None:
        """One bound binding's entry; `where` names it for errors."""
        raise NotImplementedError

    def row_id(self, row: Any, where: str) -> int:
        """A saved row counter, which must be a non-negative integer."""
        if not isinstance(row, int) or isinstance(row, bool) or row < 0:
            raise self.unreadable(f"{where} has rowId {row!r}, not a non-negative integer")
        return row

    def unreadable(self, why: str) -> ConnectorError:
        return unreadable_state(why, self.writers, self.remedy)


def unreadable_state(why: str, writers: str, remedy: str) -> ConnectorError:
    """The error for checkpointed state that cannot be understood: `why`, who may have
    written the state, and what the user can do."""
    return ConnectorError(
        f"the capture's checkpointed state cannot be understood: {why}. It was not written "
        f"by {writers}. {remedy}"
    )
