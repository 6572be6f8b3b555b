"""JSON pointers (RFC 6901), written once for the whole package.

A pointer is `""` (the document itself) or `/`-separated tokens, each escaped with `~0` for
`~` and `~1` for `/`. Text before the first `/` is not a token (a caller strips a URI
fragment's `#` itself). An array index is a token of ASCII digits below the array's length.

One behaviour on a missing path: `get` returns `MISSING` (never raises, never guesses), and a
caller that wants `None` or an error says so where it calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What `get` returns where the document has no value (distinct from JSON `null`)."""


def unescape(token: str) -> str:
    """One token as written in a pointer (`~1` → `/`, then `~0` → `~`) to its plain text."""
    return token.replace("~1", "/").replace("~0", "~")


def escape(token: object) -> str:
    """One token's plain text (`str()` of it) as written in a pointer (`~` → `~0`, `/` → `~1`)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def parse(pointer: str) -> list[str]:
    """The unescaped tokens of `pointer` (`""` is the document root: no tokens)."""
    return [unescape(t) for t in pointer.split("/")[1:]] if pointer else []


def join(tokens: Iterable[object]) -> str:
    """The pointer of `tokens` (plain text each): the inverse of `parse`."""
    return "".join("/" + escape(t) for t in tokens)


def _index(token: str, array: list[Any]) -> int | None:
    if token.isascii() and token.isdigit() and int(token) < len(array):
        return int(token)
    return None


def step(node: Any, token: str) -> Any:
    """The child `token` of `node`: a mapping's member or a list's element, else `MISSING`."""
    if isinstance(node, Mapping):
        return node.get(token, MISSING)
    if isinstance(node, list) and (index := _index(token, node)) is not None:
        return node[index]
    return MISSING


def get(doc: Any, pointer: str | Iterable[str]) -> Any:
    """The value at `pointer` (text, or already parsed tokens) in `doc`, or `MISSING`."""
    tokens = parse(pointer) if isinstance(pointer, str) else pointer
    for token in tokens:
        doc = step(doc, token)
        if doc is MISSING:
            return MISSING
    return doc


def has(doc: Any, pointer: str | Iterable[str]) -> bool:
    """Whether `doc` has a value (`null` included) at `pointer`."""
    return get(doc, pointer) is not MISSING


def set_value(doc: Any, pointer: str, value: Any) -> bool:
    """Put `value` at `pointer` in `doc`, creating missing objects on its way; an existing
    value in the way is never replaced. True when set; False (nothing set) when the path runs
    through a value that is not an object or array, past an array's end, or `pointer` is `""`."""
    tokens = parse(pointer)
    if not tokens:
        return False
    for token in tokens[:-1]:
        if isinstance(doc, dict):
            doc = doc.setdefault(token, {})
        else:
            doc = step(doc, token)
            if doc is MISSING:
                return False
    if isinstance(doc, dict):
        doc[tokens[-1]] = value
        return True
    if isinstance(doc, list) and (index := _index(tokens[-1], doc)) is not None:
        doc[index] = value
        return True
    return False
