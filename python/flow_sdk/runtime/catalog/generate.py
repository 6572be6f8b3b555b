"""`flow-sdk generate`: stub config files for a catalog's missing config references, as
`flowctl generate` writes them.

A task whose endpoint `config`, or a binding whose `resource`, names a file that does not
exist yet gets that file, filled from the connector's Spec: a property's `default`, else its
first `const`/`enum` value, else an empty value of its type; objects hold their required
properties only, arrays their `minItems` items. A resource config's `resourcePathPointers`
(or a field marked `x-collection-name`) take the trailing components of the binding's
collection name, so `acmeCo/my-task/my-collection` with pointers `[/schema, /stream]` gives
`{schema: my-task, stream: my-collection}`. Where a schema offers alternatives (`oneOf`,
`anyOf`) the first one is stubbed. Existing files are never touched; derivations' config and
lambda files are not generated (flowctl writes those from its own templates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flow_sdk import json_pointer
from flow_sdk.protocol import capture, materialize
from flow_sdk.runtime.catalog.load import (
    CaptureDef,
    Endpoint,
    MaterializationDef,
    read_document,
    resolve_reference,
)
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import CatalogError
from flow_sdk.runtime.launcher import ConnectorLauncher

MAX_STUB_DEPTH = 32
"""Recursive schemas stop being stubbed this deep (a `$ref` cycle through required fields)."""


@dataclass
class Missing:
    """One task's config files that do not exist yet."""

    kind: str
    """`capture` or `materialization`."""
    name: str
    endpoint: Endpoint
    file: Path
    config: Path | None = None
    resources: list[tuple[Path, str]] = field(default_factory=list)
    """(file, collection name) of each binding whose resource file is missing."""


def generate(source: str | Path, console: Console, network: str = "bridge") -> list[Path]:
    """Write a stub for every missing config file of the catalog; returns the files written."""
    written: list[Path] = []
    for missing in _missing_files(Path(source).resolve()):
        spec = _spec(missing, console, network)
        config_schema = spec.configSchema or {}
        resource_schema = spec.resourceConfigSchema or {}
        pointers = list(spec.resourcePathPointers or [])
        if missing.config is not None:
            _write(missing.config, stub_config(config_schema))
            written.append(missing.config)
        for path, collection in missing.resources:
            _write(path, stub_config(resource_schema, collection, pointers))
            written.append(path)
    return written


# ---- finding what is missing ----


def _missing_files(root: Path) -> list[Missing]:
    found: list[Missing] = []
    seen: set[Path] = set()
    pending = [root]
    while pending:
        path = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        data = read_document(path) or {}
        if not isinstance(data, dict):
            raise CatalogError(f"{path}: a catalog file holds a mapping")
        for i, ref in enumerate(data.get("import") or []):
            pending.append(resolve_reference(path, ref, f"import[{i}]"))
        for kind, section, target in (
            ("capture", "captures", "target"),
            ("materialization", "materializations", "source"),
        ):
            for name, task in (data.get(section) or {}).items():
                missing = _missing_of(path, kind, name, task, target)
                if missing is not None:
                    found.append(missing)
    return found


def _missing_of(path: Path, kind: str, name: str, task: Any, target: str) -> Missing | None:
    where = f"{kind}s.{name}"
    endpoint = (task or {}).get("endpoint") or {}
    if len(endpoint) != 1:
        raise CatalogError(f"{path}: {where}.endpoint: give one of `local` or `connector`")
    variant, body = next(iter(endpoint.items()))
    missing = Missing(kind, name, _endpoint(variant, body or {}, f"{path}: {where}"), path)
    config = (body or {}).get("config")
    if isinstance(config, str):
        config_path = resolve_reference(path, config, f"{where}.endpoint.{variant}.config")
        if not config_path.exists():
            missing.config = config_path
    for i, binding in enumerate(task.get("bindings") or []):
        resource = binding.get("resource")
        if not isinstance(resource, str):
            continue
        resource_path = resolve_reference(path, resource, f"{where}.bindings[{i}].resource")
        if not resource_path.exists():
            collection = binding.get(target)
            if isinstance(collection, dict):  # a materialization's `source: {name: ...}`
                collection = collection.get("name")
            missing.resources.append((resource_path, str(collection or "")))
    if missing.config is None and not missing.resources:
        return None
    return missing


def _endpoint(variant: str, body: dict[str, Any], where: str) -> Endpoint:
    if variant == "connector":
        return Endpoint(config={}, image=str(body.get("image", "")), where=where)
    if variant == "local":
        return Endpoint(
            config={},
            command=list(body.get("command") or []),
            env=dict(body.get("env") or {}),
            where=where,
        )
    raise CatalogError(f"{where}.endpoint: `{variant}` connectors cannot be asked for a Spec")


def _spec(missing: Missing, console: Console, network: str) -> Any:
    """The connector's Spec (asked with an empty config: the config is what is missing)."""
    if missing.kind == "capture":
        task: Any = CaptureDef(missing.name, missing.endpoint, [], missing.file)
        response: Any = capture.Response
    else:
        task = MaterializationDef(missing.name, missing.endpoint, [], missing.file)
        response = materialize.Response
    launcher = ConnectorLauncher(task, console, network)
    payload = {"connectorType": launcher.connector_type, "config": {}}
    return launcher.unary(response, "spec", payload, "spec").spec


def _write(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(value, indent=2) + "\n")
    else:
        path.write_text(yaml.safe_dump(value, sort_keys=False, allow_unicode=True))


# ---- stubs ----


def stub_config(
    schema: Any, collection: str | None = None, pointers: list[str] | None = None
) -> Any:
    """The stub document of `schema` (see the module docstring); `collection` and its
    resource path `pointers` fill a resource config's path."""
    names = _pointer_values(collection, pointers or [])
    stub = _Stubber(schema, collection).stub(schema, "", 0, names)
    if isinstance(stub, dict):
        for pointer, value in names.items():
            _set_pointer(stub, pointer, value)
    return stub


def _pointer_values(collection: str | None, pointers: list[str]) -> dict[str, str]:
    """Each pointer gets one trailing component of the collection name, in order."""
    if not collection or not pointers:
        return {}
    tokens = collection.split("/")[1:] or [collection]
    tokens = [""] * (len(pointers) - len(tokens)) + tokens[-len(pointers) :]
    return dict(zip(pointers, tokens, strict=True))


class _Stubber:
    def __init__(self, root: Any, collection: str | None) -> None:
        self.root = root
        self.collection = collection

    def stub(self, schema: Any, pointer: str, depth: int, names: dict[str, str]) -> Any:
        schema = self._resolved(schema)
        if not isinstance(schema, dict) or depth > MAX_STUB_DEPTH:
            return None
        if pointer in names:
            return names[pointer]
        if "default" in schema:
            return schema["default"]
        for alternative in ("oneOf", "anyOf"):
            options = schema.get(alternative)
            if isinstance(options, list) and options:
                parts = [*(schema.get("allOf") or []), options[0]]
                schema = {**_without(schema, alternative), "allOf": parts}
        schema = self._merged_all_of(schema)
        if "default" in schema:
            return schema["default"]
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        types = _types(schema)
        if "object" in types:
            properties = schema.get("properties") or {}
            out: dict[str, Any] = {}
            for prop in schema.get("required") or []:
                child = f"{pointer}/{json_pointer.escape(prop)}"
                out[prop] = self.stub(properties.get(prop, {}), child, depth + 1, names)
            return out
        if "array" in types:
            items = schema.get("items")
            count = int(schema.get("minItems") or 0)
            if isinstance(items, list):
                return [self.stub(item, pointer, depth + 1, names) for item in items[:count]]
            return [self.stub(items or {}, pointer, depth + 1, names) for _ in range(count)]
        if schema.get("x-collection-name") is True and self.collection:
            return self.collection.rsplit("/", 1)[-1]
        for kind, empty in (("string", ""), ("integer", 0), ("boolean", False), ("number", 0.0)):
            if kind in types:
                return empty
        return None

    def _resolved(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 64:
            target = self._target(schema["$ref"])
            schema = {**_without(schema, "$ref"), **target} if isinstance(target, dict) else {}
            seen += 1
        return schema

    def _target(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return {}
        node = self.root
        for token in [json_pointer.unescape(t) for t in ref[1:].split("/") if t]:
            node = node.get(token) if isinstance(node, dict) else None
        return node

    def _merged_all_of(self, schema: dict[str, Any]) -> dict[str, Any]:
        parts = schema.get("allOf")
        if not isinstance(parts, list):
            return schema
        merged = _without(schema, "allOf")
        for part in (self._resolved(p) for p in parts):
            if not isinstance(part, dict):
                continue
            merged.setdefault("properties", {}).update(part.get("properties") or {})
            merged["required"] = [*(merged.get("required") or []), *(part.get("required") or [])]
            for key, value in part.items():
                merged.setdefault(key, value)
        return merged


def _without(schema: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}


def _types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return {"object"} if "properties" in schema or "required" in schema else set()


def _set_pointer(doc: dict[str, Any], pointer: str, value: Any) -> None:
    """Set `pointer` in `doc`, creating the objects on its way."""
    tokens = json_pointer.parse(pointer)
    node = doc
    for token in tokens[:-1]:
        child = node.get(token)
        if not isinstance(child, dict):
            child = node[token] = {}
        node = child
    if tokens:
        node[tokens[-1]] = value
