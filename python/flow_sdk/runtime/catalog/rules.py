"""Flow's catalog rules, checked before any connector runs (`raw validate`, `preview`, `run`).

The rules and their wording are those of Flow's build (`crates/validation`: `collection.rs`,
`schema.rs` `Schema::walk_ptr`, `errors.rs`): names are catalog names; a collection schema
is an object schema whose `format`s Flow knows; each key location is declared by the schema
(not merely allowed), able to exist, of one keyable type family (boolean, integer, number or
string, optionally null), not reduced other than by last-write-wins, and typed alike in the
read and write schemas; projections name locations that can exist (partitions: keyable
ones) and do not re-map another location's canonical field. As in current Flow, a key may
be optional (`/_meta/row_id` under an optional `_meta`). Each problem names its file and
catalog location, as `file: collections.<name>.key[0]: <Flow's message>`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flow_sdk.runtime.catalog.formats import KNOWN as KNOWN_FORMATS
from flow_sdk.runtime.catalog.load import Catalog, CollectionDef
from flow_sdk.runtime.catalog.shape import NULL, OBJECT, Exists, Shape, describe_types, is_keyable
from flow_sdk.runtime.catalog.shape_inference import Inference, subschemas
from flow_sdk.runtime.derive.catalog import DerivationDef, derivations
from flow_sdk.runtime.errors import CatalogError

_TOKEN = r"[\w.\-]+"
TOKEN_RE = re.compile(_TOKEN)
NAME_RE = re.compile(f"{_TOKEN}(?:/{_TOKEN})*")
"""Flow's catalog names: tokens of letters, numbers, `-`, `_` or `.`, joined by `/`."""
POINTER_RE = re.compile(r"(?:/(?:[^/~]|~[01])+)*")
UUID_DATE_TIME = "/_meta/uuid/date-time"
IMPLICIT_FIELDS = {
    "flow_document": "",
    "flow_published_at": "/_meta/uuid",
    "_meta/flow_truncated": "/_meta/flow_truncated",
}
FLOW_REFS = ("flow://write-schema", "flow://relaxed-write-schema")


@dataclass
class Located:
    """A schema's inferred shape and its URL, as Flow names it in errors."""

    shape: Shape
    url: str


def check_catalog(catalog: Catalog) -> None:
    """Raise a CatalogError listing every rule of Flow's the catalog breaks."""
    problems = catalog_problems(catalog)
    if len(problems) == 1:
        raise CatalogError(problems[0])
    if problems:
        listed = "\n  ".join(problems)
        raise CatalogError(f"the catalog breaks {len(problems)} of Flow's rules:\n  {listed}")


def catalog_problems(catalog: Catalog) -> list[str]:
    """Every problem Flow's build would report, one sentence each."""
    out: list[str] = []
    for kind, tasks in (
        ("capture", catalog.captures),
        ("materialization", catalog.materializations),
    ):
        for name, task in sorted(tasks.items()):
            if problem := name_problem(kind, name):
                out.append(f"{task.file}: {kind}s.{name}: {problem}")
    reads: dict[str, Located] = {}
    for _, collection in sorted(catalog.collections.items()):
        out.extend(_collection(collection, reads))
    for derivation in derivations(catalog).values():
        out.extend(_derivation(derivation, reads))
    return out


def name_problem(entity: str, name: str, pattern: re.Pattern[str] = NAME_RE) -> str | None:
    """Flow's `NameEmpty` / `NameRegex` for a catalog name."""
    if not name:
        return f"{entity} name cannot be empty"
    found = pattern.search(name)
    unmatched = name if found is None else name[: found.start()] + name[found.end() :]
    if unmatched:
        return f"{name} cannot be used as name for {entity} ({_debug(unmatched)} is invalid)"
    return None


def walk_ptr(read: Located, write: Located | None, ptr: str, is_key: bool) -> str | None:
    """Flow's `Schema::walk_ptr`: why `ptr` cannot be used (as a key, when `is_key`), or None."""
    if ptr and not ptr.startswith("/"):
        return f"{ptr} is not a valid JSON pointer (missing leading '/' slash)"
    found = POINTER_RE.match(ptr)
    unmatched = ptr[found.end() :] if found is not None else ptr
    if unmatched:
        return f"{ptr} is not a valid JSON pointer ({_debug(unmatched)} is invalid)"
    read_shape, read_exists = read.shape.locate(ptr)
    if problem := _existence(ptr, read_exists, read.url):
        return problem
    if not is_key:
        return None
    if not is_keyable(read_shape.types):
        return (
            f"location {ptr} accepts {describe_types(read_shape.types)} in schema {read.url}, "
            "but locations used as keys may only be null-able integers, strings, or booleans"
        )
    if read_shape.reduction not in (None, "lastWriteWins"):
        return (
            f"location {ptr} has a reduction strategy, which is disallowed because the "
            "location is used as a key"
        )
    if write is not None:
        write_shape, write_exists = write.shape.locate(ptr)
        if problem := _existence(ptr, write_exists, write.url):
            return problem
        read_types, write_types = read_shape.types & ~NULL, write_shape.types & ~NULL
        if read_types != write_types:
            return (
                f"location {ptr} is {describe_types(read_types)} in readSchema {read.url}, but "
                f"{describe_types(write_types)} in writeSchema {write.url}. Types of keyed "
                "locations must be the same in read and write schemas."
            )
    return None


def _existence(ptr: str, exists: Exists, url: str) -> str | None:
    if exists is Exists.IMPLICIT:
        return f"location {ptr} is unknown in schema {url}"
    if exists is Exists.CANNOT:
        return f"location {ptr} is prohibited from ever existing by the schema {url}"
    return None


def _collection(collection: CollectionDef, reads: dict[str, Located]) -> list[str]:
    where = f"{collection.file}: collections.{collection.name}"
    out = []
    if problem := name_problem("collection", collection.name):
        out.append(f"{where}: {problem}")
    write_field = "writeSchema" if collection.read_schema is not None else "schema"
    problems = _schema(
        collection.write_schema, collection.write_schema_url, f"{where}.{write_field}"
    )
    write = Located(Inference(collection.write_schema).shape(), collection.write_schema_url)
    read = None
    if collection.read_schema is not None:
        refs = {ref: collection.write_schema for ref in FLOW_REFS}
        problems += _schema(
            collection.read_schema, collection.read_schema_url, f"{where}.readSchema"
        )
        read = Located(Inference(collection.read_schema, refs).shape(), collection.read_schema_url)
    for located, field_name in ((write, write_field), (read, "readSchema")):
        if located is not None and located.shape.types != OBJECT:
            problems.append(
                f"{where}.{field_name}: collection schema {located.url} must have type 'object'"
            )
    if problems:
        return out + problems  # further problems would be spurious
    effective = read or write
    reads[collection.name] = effective
    for i, ptr in enumerate(collection.key):
        if problem := walk_ptr(effective, write if read else None, ptr, True):
            out.append(f"{where}.key[{i}]: {problem}")
    out.extend(_projections(collection, effective, write if read else None, where))
    return out


def _schema(schema: Any, url: str, where: str) -> list[str]:
    """Unknown `format`s, which fail Flow's schema build."""
    out = []
    for at, sub in subschemas(schema):
        name = sub.get("format")
        if isinstance(name, str) and name not in KNOWN_FORMATS:
            out.append(
                f"{where}: {url} uses `format: {name}` at {at or '/'}, which Flow's validator "
                f"does not know (it knows: {', '.join(sorted(KNOWN_FORMATS))})"
            )
    return out


def _projections(
    collection: CollectionDef, read: Located, write: Located | None, where: str
) -> list[str]:
    canonical = dict(IMPLICIT_FIELDS)
    for ptr in collection.key:
        canonical.setdefault(ptr[1:], ptr)
    for ptr, pattern, _ in read.shape.locations():
        if not pattern and ptr[1:] != "flow_document":
            canonical.setdefault(ptr[1:], ptr)
    out = []
    for field_name, projection in sorted(collection.projections.items()):
        at = f"{where}.projections.{field_name}"
        if isinstance(projection, dict):
            ptr, partition = projection.get("location", ""), bool(projection.get("partition"))
        else:
            ptr, partition = str(projection), False
        if partition and (problem := name_problem("partition", field_name, TOKEN_RE)):
            out.append(f"{at}: {problem}")
        if ptr == UUID_DATE_TIME and not partition:
            continue
        if ptr and (problem := walk_ptr(read, write, ptr, partition)):
            out.append(f"{at}: {problem}")
        elif field_name in canonical and canonical[field_name] != ptr:
            out.append(
                f"{at}: projection {field_name} is the canonical field name of location "
                f"{_debug(canonical[field_name])}, and cannot re-map it to {_debug(ptr)}"
            )
    return out


def _derivation(derivation: DerivationDef, reads: dict[str, Located]) -> list[str]:
    collection = derivation.collection
    where = f"{collection.file}: collections.{collection.name}.derive"
    out = []
    for i, transform in enumerate(derivation.transforms):
        at = f"{where}.transforms[{i}]"
        if problem := name_problem("transform", transform.name, TOKEN_RE):
            out.append(f"{at}: {problem}")
        shuffle = transform.shuffle
        source = reads.get(transform.source)
        if source is None or not isinstance(shuffle, dict):
            continue
        keys = shuffle.get("key") if isinstance(shuffle.get("key"), list) else []
        if "key" in shuffle and not keys:
            out.append(f"{at}.shuffle.key: transform {transform.name} shuffle key cannot be empty")
        for j, ptr in enumerate(keys):
            if problem := walk_ptr(source, None, str(ptr), True):
                out.append(f"{at}.shuffle.key[{j}]: {problem}")
    return out


def _debug(text: str) -> str:
    """A string quoted as Rust's `{:?}` quotes it in Flow's messages."""
    return json.dumps(text, ensure_ascii=False)
