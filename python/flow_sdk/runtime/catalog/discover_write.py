"""`raw discover` without `--emit-raw`: discovered bindings written into the catalog files.

Like flowctl, each discovered binding becomes a capture binding with
`target: <capture prefix>/<recommendedName>`, the name normalized as Flow's discover merge
does (`normalize_recommended_name`: its catalog-name tokens, Unicode NFKC-normalized, joined
with `_`, so `some greetings!` becomes `some_greetings`), and its collection gets the
discovered `schema` and `key`. A binding the catalog already has for the same resource is kept
as written: as in Flow's discover merge, resources are told apart by their resource path, read
from the resource config with the Spec's `resourcePathPointers` (without pointers, a binding
with the same resource config or else the same target is the same one). Each existing
binding matches at most one discovered binding, so running discover again changes nothing.
Bindings that were not discovered are kept too, with a warning; an exact repeat of another
binding is dropped, with a warning.

The catalog stays the user's: files are edited in place (`catalog.edit`, ruamel.yaml round
trip), so comments, key order and layout survive. Existing bindings keep their place and
text, new ones are appended; a collection's `key` and schema are replaced only when discovery
changed them, and a file nothing changed in is not written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flow_sdk.protocol import capture
from flow_sdk.runtime.capture.build import resource_path
from flow_sdk.runtime.catalog.edit import EditedFile, block_style
from flow_sdk.runtime.catalog.load import CaptureDef, Catalog
from flow_sdk.runtime.catalog.rules import NAME_RE
from flow_sdk.runtime.console import Console


@dataclass
class Written:
    count: int
    """Specifications written: the capture and each collection."""
    directory: Path


class _Files:
    """Raw (not inlined) catalog files being edited, written back together."""

    def __init__(self) -> None:
        self.files: dict[Path, EditedFile] = {}

    def file(self, path: Path) -> EditedFile:
        if path not in self.files:
            self.files[path] = EditedFile(path)
        return self.files[path]

    def get(self, path: Path) -> Any:
        return self.file(path).data

    def save(self) -> None:
        for edited in self.files.values():
            edited.save()


def write_discovered(
    catalog: Catalog,
    task: CaptureDef,
    discovered: capture.Discovered,
    console: Console,
    pointers: Sequence[str] = (),
) -> Written:
    """Rewrite the capture's bindings and the collections they target; returns what was
    written. `pointers`: the connector Spec's `resourcePathPointers`."""
    prefix = task.name.rsplit("/", 1)[0] if "/" in task.name else task.name
    files = _Files()
    raw_capture = files.get(task.file)["captures"][task.name]
    if not raw_capture.get("bindings"):
        raw_capture["bindings"] = raw_capture.get("bindings") or []
        block_style(raw_capture["bindings"])
    raw_bindings: list[Any] = raw_capture["bindings"]
    existing = _Existing(task, list(raw_bindings), pointers, console)
    collections = 0
    added: list[dict[str, Any]] = []
    for found in discovered.bindings:
        target = f"{prefix}/{normalize_recommended_name(found.recommendedName)}"
        match = existing.claim(found, target)
        if match is not None:
            target = raw_bindings[match]["target"]
        else:
            entry: dict[str, Any] = {"resource": found.resourceConfig, "target": target}
            if found.disable:
                entry["disable"] = True
            added.append(entry)
        if _write_collection(catalog, task, files, target, found, console):
            collections += 1
    for i in existing.unclaimed():
        console.log(
            "warn",
            "a binding of the catalog was not discovered; keeping it as written",
            target=raw_bindings[i].get("target"),
        )
    for i in sorted(existing.repeats, reverse=True):
        del raw_bindings[i]
    raw_bindings.extend(added)
    files.save()
    return Written(count=1 + collections, directory=task.file.parent)


def normalize_recommended_name(name: str) -> str:
    """A recommended name as a collection name suffix, as Flow's discover merge makes it."""
    return "_".join(unicodedata.normalize("NFKC", m.group()) for m in NAME_RE.finditer(name))


class _Existing:
    """The catalog's bindings of the capture, each claimed by at most one discovered binding."""

    def __init__(
        self,
        task: CaptureDef,
        raw_bindings: list[dict[str, Any]],
        pointers: Sequence[str],
        console: Console,
    ) -> None:
        self.task = task
        self.pointers = list(pointers)
        self.claimed = [False] * len(raw_bindings)
        self.repeats: list[int] = []
        """Exact repeats of an earlier binding, to be dropped."""
        self.by_path: dict[tuple[str, ...], int] = {}
        for i, binding in enumerate(task.bindings):
            path = self.path(binding.resource)
            if path is None:
                continue
            first = self.by_path.setdefault(path, i)
            if first != i and raw_bindings[first] == raw_bindings[i]:
                self.claimed[i] = True
                self.repeats.append(i)
                console.log(
                    "warn",
                    "a binding of the catalog repeats an earlier one exactly; dropping the repeat",
                    target=raw_bindings[i].get("target"),
                    resourcePath=list(path),
                )

    def path(self, resource: Any) -> tuple[str, ...] | None:
        return resource_path(self.pointers, resource)

    def claim(self, found: capture.DiscoveredBinding, target: str) -> int | None:
        """The index of the existing binding of `found`'s resource, now claimed, or None."""
        path = self.path(found.resourceConfig)
        if path is not None:
            i = self.by_path.get(path)
            if i is None or self.claimed[i]:
                return None
            self.claimed[i] = True
            return i
        for same in (
            lambda b: b.resource == found.resourceConfig,
            lambda b: b.target == target,
        ):
            for i, binding in enumerate(self.task.bindings):
                if not self.claimed[i] and same(binding):
                    self.claimed[i] = True
                    return i
        return None

    def unclaimed(self) -> list[int]:
        return [i for i, claimed in enumerate(self.claimed) if not claimed]


def _write_collection(
    catalog: Catalog,
    task: CaptureDef,
    files: _Files,
    name: str,
    found: capture.DiscoveredBinding,
    console: Console,
) -> bool:
    existing = catalog.collections.get(name)
    if not found.key and existing is None:
        console.log(
            "warn",
            "a discovered binding has no key, so its collection was not written; add it "
            "under `collections:` with a `key`",
            collection=name,
        )
        return False
    path = existing.file if existing is not None else task.file
    doc = files.get(path)
    if not doc.get("collections"):
        doc["collections"] = doc.get("collections") or {}
        block_style(doc["collections"])
    entry = doc["collections"].setdefault(name, {})
    if found.key and list(entry.get("key") or []) != list(found.key):
        entry["key"] = list(found.key)
    field_name = "writeSchema" if "writeSchema" in entry else "schema"
    current = entry.get(field_name)
    if isinstance(current, str):
        files.file((path.parent / current).resolve()).replace(found.documentSchema)
    elif current != found.documentSchema:
        entry[field_name] = found.documentSchema
    return True
