"""The document fast path of the store phase (`Connector.stores_documents`): a plain `store`
reaches `store_document` without a validated model, anything else reaches `store` as before,
and a malformed `store` fails with the same sentence either way."""

from __future__ import annotations

import gc
import os
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flow_sdk.io import ProtocolWriter
from flow_sdk.materialize import Connector
from flow_sdk.materialize import connector as connector_module
from flow_sdk.materialize.connector import _plain_store
from flow_sdk.protocol import materialize as request
from flow_sdk.protocol.flow import Spec, SpecRequest
from flow_sdk.protocol.wire import ProtocolError

OPEN = {
    "open": {
        "materialization": {
            "name": "acmeCo/sink",
            "config": {},
            "bindings": [
                {
                    "resourceConfig": {},
                    "resourcePath": [name],
                    "collection": {"name": f"acmeCo/{name}", "key": ["/id"]},
                    "fieldSelection": {"keys": ["id"], "document": "flow_document"},
                    "stateKey": name,
                }
                for name in ("a", "b")
            ],
        },
        "version": "v1",
        "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
    }
}


class Recorder(Connector):
    """Records what each store hook received."""

    def __init__(self, documents: bool) -> None:
        self.stores_documents = documents
        self.calls: list[tuple[str, int, Any, bool]] = []

    def spec(self, spec: SpecRequest) -> Spec:
        raise AssertionError("not asked")

    def validate(self, validate: request.Validate) -> request.Validated:
        raise AssertionError("not asked")

    def store(self, store: request.Store) -> None:
        self.calls.append(("store", store.binding, store.doc, store.delete))

    def store_document(self, binding: int, doc: Any, delete: bool) -> None:
        self.calls.append(("store_document", binding, doc, delete))


def serve(connector: Recorder, stores: list[Any], *, flushed: bool = True) -> None:
    """The requests through the loop, its answers to /dev/null."""
    requests = [OPEN, {"acknowledge": {}}, {"flush": {}}] if flushed else [OPEN]
    commit = [{"startCommit": {"runtimeCheckpoint": {}}}, {"acknowledge": {}}] if flushed else []
    lines = iter([orjson.dumps(r) for r in [*requests, *stores, *commit]])
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        connector.serve(lines, ProtocolWriter(null))
    finally:
        os.close(null)


def test_plain_stores_take_the_document_hook_and_the_rest_the_validated_one() -> None:
    doc = {"id": 1, "v": "x", "nested": {"n": [1.5, None]}}
    stores = [
        {"store": {"binding": 1, "key": [1], "keyPacked": "FQE=", "values": [], "doc": doc}},
        {"store": {"doc": doc, "delete": True, "exists": True}},
        {"store": {"binding": 0, "key": [2]}},  # no document: the selected fields
        {"store": {"binding": 0, "doc": None}},
        {"store": {"binding": "1", "doc": doc}},  # a string binding: validation coerces it
        {"store": {"binding": 0, "doc": doc, "future": 1}},  # an unknown member: ignored
        {"store": {"binding": 0, "doc": doc}, "$internal": {"x": 1}},
    ]
    connector = Recorder(documents=True)
    serve(connector, stores)
    assert connector.calls == [
        ("store_document", 1, doc, False),
        ("store_document", 0, doc, True),
        ("store", 0, None, False),
        ("store", 0, None, False),
        ("store", 1, doc, False),
        ("store", 0, doc, False),
        ("store_document", 0, doc, False),
    ]
    # Without the switch every one of them is a validated `store` with the same values.
    plain = Recorder(documents=False)
    serve(plain, stores)
    assert [c[1:] for c in plain.calls] == [c[1:] for c in connector.calls]
    assert {c[0] for c in plain.calls} == {"store"}


@pytest.mark.parametrize(
    "bad",
    [
        {"store": {"binding": 2, "doc": {}}},
        {"store": {"binding": -1, "doc": {}}},
        {"store": {"binding": "x", "doc": {}}},
        {"store": {"key": "k", "doc": {}}},
        {"store": {"delete": "maybe", "doc": {}}},
        {"store": {"binding": 2}},
    ],
)
def test_a_malformed_store_fails_with_the_same_sentence_either_way(bad: dict[str, Any]) -> None:
    messages = []
    for documents in (True, False):
        with pytest.raises(ProtocolError) as caught:
            serve(Recorder(documents), [bad])
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "store" in messages[0]


def test_a_store_before_the_flush_is_out_of_turn_on_the_document_path_too() -> None:
    with pytest.raises(ProtocolError, match="store"):
        serve(Recorder(documents=True), [{"store": {"doc": {}}}], flushed=False)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
MEMBER = st.sampled_from(
    ["binding", "key", "keyPacked", "values", "valuesPacked", "doc", "exists", "delete", "x"]
)


@settings(deadline=None)  # (a worker's first model validation may be slow under load)
@given(st.dictionaries(MEMBER, JSON))
def test_validation_would_change_nothing_of_a_plain_store(payload: dict[str, Any]) -> None:
    """Whatever `_plain_store` accepts, `request.Store` validates to exactly its values over
    the defaults: the document hook sees what `store` would."""
    if not _plain_store(payload):
        return
    store = request.Store.model_validate(payload)
    assert store.model_fields_set == set(payload)
    for name, value in payload.items():
        got = getattr(store, name)
        assert got == value and type(got) is type(value), name
    assert store.doc is payload["doc"]


def test_a_known_shape_with_another_type_takes_the_full_check(monkeypatch) -> None:
    """A store shaped like one seen before (the one-comparison path) is plain only with the
    same member types: a boolean binding, a null or non-object `doc` are looked at in full."""
    monkeypatch.setattr(connector_module, "_PLAIN_SHAPES", {})
    assert _plain_store({"binding": 0, "key": [1], "doc": {"id": 1}})
    assert list(connector_module._PLAIN_SHAPES) == [("binding", "key", "doc")]
    assert not _plain_store({"binding": True, "key": [1], "doc": {"id": 1}})
    assert not _plain_store({"binding": 0, "key": "1", "doc": {"id": 1}})
    assert not _plain_store({"binding": 0, "key": [1], "doc": None})
    assert _plain_store({"binding": 0, "key": [1], "doc": [1]})  # plain, checked in full
    assert list(connector_module._PLAIN_SHAPES) == [("binding", "key", "doc")]


def test_the_known_shapes_are_bounded(monkeypatch) -> None:
    monkeypatch.setattr(connector_module, "_PLAIN_SHAPES", {})
    names = ["binding", "key", "keyPacked", "values", "valuesPacked", "exists", "delete"]
    kinds = {"binding": 0, "key": [], "keyPacked": "", "values": [], "valuesPacked": ""}
    for mask in range(1, 1 << len(names)):
        members = [n for i, n in enumerate(names) if mask >> i & 1]
        payload = {n: kinds.get(n, False) for n in members} | {"doc": {}}
        assert _plain_store(payload)
    assert len(connector_module._PLAIN_SHAPES) == connector_module._MAX_SHAPES


class CollectorWatcher(Recorder):
    """Records, at each hook, whether the cyclic collector is on."""

    def __init__(self) -> None:
        super().__init__(documents=True)
        self.enabled: list[tuple[str, bool]] = []

    def store_document(self, binding: int, doc: Any, delete: bool) -> None:
        self.enabled.append(("store", gc.isenabled()))

    def flush(self, flush: request.Flush) -> None:
        self.enabled.append(("flush", gc.isenabled()))

    def start_commit(self, start_commit: request.StartCommit) -> None:
        self.enabled.append(("startCommit", gc.isenabled()))

    def acknowledge(self, acknowledge: request.Acknowledge) -> None:
        self.enabled.append(("acknowledge", gc.isenabled()))


def test_the_collector_is_paused_from_the_stores_through_their_commit() -> None:
    """Paused after `flushed` until `startCommit`'s hook has returned (a destination writes
    the stores then: see gc_pause.py), on again for everything else, and after a failure."""
    assert gc.isenabled()
    connector = CollectorWatcher()
    serve(connector, [{"store": {"binding": 0, "doc": {"id": i}}} for i in range(3)])
    assert connector.enabled == [
        ("acknowledge", True),
        ("flush", True),
        ("store", False),
        ("store", False),
        ("store", False),
        ("startCommit", False),
        ("acknowledge", True),
    ]
    assert gc.isenabled()
    with pytest.raises(ProtocolError):
        serve(CollectorWatcher(), [{"store": {"binding": 7, "doc": {}}}])
    assert gc.isenabled()


def test_a_long_store_phase_makes_young_passes(monkeypatch) -> None:
    """Paused, the collector still passes over the young objects every `STORES_PER_PASS`
    stores, so a connector's cyclic garbage is held for that many stores at most."""
    monkeypatch.setattr(connector_module, "STORES_PER_PASS", 4)
    passes: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start" and not gc.isenabled():
            passes.append(info["generation"])

    gc.callbacks.append(record)
    try:
        serve(Recorder(documents=True), [{"store": {"doc": {"id": i}}} for i in range(9)])
    finally:
        gc.callbacks.remove(record)
    assert passes == [0, 0]
