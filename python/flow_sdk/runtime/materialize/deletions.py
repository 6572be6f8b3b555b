"""Which stored documents are deletions, so a materialization gets `store.delete`.

Flow marks a reduced document as a deletion when its collection's reduction annotations say
so (`reduce: {..., delete: true}`); CDC captures put that annotation under a condition on
`_meta/op` being `"d"`, the operation of a deleted row. The local runtime does not evaluate
reduction annotations, so it takes the same decision from the two facts together: the
collection's schema declares deletions somewhere, and the document's `/_meta/op` is `"d"`.
A collection without the annotation never deletes (its `op: d` documents are soft deletes).
"""

from __future__ import annotations

from typing import Any

from flow_sdk.protocol.flow import CollectionSpec


def collection_deletes(collection: CollectionSpec) -> bool:
    """Whether the collection's write or read schema declares deletions."""
    return declares_deletions(collection.writeSchema) or declares_deletions(collection.readSchema)


def declares_deletions(schema: Any) -> bool:
    """Whether a JSON schema has a `reduce` annotation with `delete: true` anywhere."""
    if isinstance(schema, dict):
        reduce = schema.get("reduce")
        if isinstance(reduce, dict) and reduce.get("delete") is True:
            return True
        return any(declares_deletions(v) for v in schema.values())
    if isinstance(schema, list):
        return any(declares_deletions(v) for v in schema)
    return False


def is_deletion(doc: Any) -> bool:
    """Whether a document is a deleted row (`/_meta/op` is `"d"`)."""
    meta = doc.get("_meta") if isinstance(doc, dict) else None
    return isinstance(meta, dict) and meta.get("op") == "d"
