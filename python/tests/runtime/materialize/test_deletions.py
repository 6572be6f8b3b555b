"""Which documents the local runtime stores as deletions (`store.delete`)."""

from __future__ import annotations

from flow_sdk.protocol.flow import CollectionSpec
from flow_sdk.runtime.materialize.deletions import collection_deletes, is_deletion

CDC_SCHEMA = {
    "type": "object",
    "if": {"properties": {"_meta": {"properties": {"op": {"const": "d"}}}}},
    "then": {"reduce": {"strategy": "merge", "delete": True}},
}


def test_a_collection_declares_deletions_with_a_delete_reduction() -> None:
    assert collection_deletes(CollectionSpec(name="a/cdc", writeSchema=CDC_SCHEMA))
    assert collection_deletes(CollectionSpec(name="a/cdc", readSchema={"allOf": [CDC_SCHEMA]}))
    plain = {"type": "object", "reduce": {"strategy": "merge"}}
    assert not collection_deletes(CollectionSpec(name="a/plain", writeSchema=plain))


def test_a_deletion_is_a_document_whose_op_is_d() -> None:
    assert is_deletion({"id": 1, "_meta": {"op": "d"}})
    assert not is_deletion({"id": 1, "_meta": {"op": "u"}})
    assert not is_deletion({"id": 1, "_meta": "d"})
    assert not is_deletion(["d"])
