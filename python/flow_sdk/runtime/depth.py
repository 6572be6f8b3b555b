"""How deeply documents may nest in the local runtime, and the errors past that.

Every message the runtime reads or writes goes through orjson, which encodes at most
`MESSAGE_DEPTH` levels of objects and arrays; the runtime's own envelopes around a document
(`{"captured": {"doc": …}}`, `{"store": {"doc": …}}`, `["collection", …]`) take two, so a
document may nest `DOCUMENT_DEPTH` levels (the document object itself is level 1). Past that
a document is refused with a sentence, never half-written.
"""

from __future__ import annotations

from typing import Any

from flow_sdk.runtime.errors import RuntimeFailure

MESSAGE_DEPTH = 254
"""orjson's encoding limit (levels of objects and arrays)."""
DOCUMENT_DEPTH = MESSAGE_DEPTH - 2
PARSE_DEPTH = 1024
"""orjson's parsing limit; a deeper message cannot even be read."""


class DocumentTooDeep(RuntimeFailure):
    """A document nests more levels than the runtime can encode."""


def nesting(value: Any, stop: int = PARSE_DEPTH + 1) -> int:
    """Levels of objects and arrays in `value` (a scalar is 0), counted up to `stop`."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest >= stop:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def too_deep(where: str, levels: int | None) -> str:
    """The sentence for a document of `where` nested `levels` deep (None: past parsing)."""
    how = f"{levels} levels" if levels is not None else f"more than {PARSE_DEPTH} levels"
    return (
        f"a document of {where} nests {how} deep, but the local runtime handles documents "
        f"nested at most {DOCUMENT_DEPTH} levels (objects and arrays)"
    )


def check_depth(doc: Any, where: str) -> None:
    """Refuse a document of `where` (fixtures, say) nested deeper than `DOCUMENT_DEPTH`."""
    levels = nesting(doc, DOCUMENT_DEPTH + 1)
    if levels > DOCUMENT_DEPTH:
        raise DocumentTooDeep(too_deep(where, nesting(doc)))
