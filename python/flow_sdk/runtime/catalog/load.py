"""Loading a Flow catalog (`test.flow.yaml`): captures, collections, materializations.

Files are YAML or JSON; `import` pulls in more files, and a string where a config, a
resource or a schema belongs is a file reference relative to the file that holds it (Flow
inlines it at build time). Every problem is an error naming the file and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from flow_sdk import json_pointer
from flow_sdk.protocol.flow import CollectionSpec
from flow_sdk.runtime.catalog.file_schema import CATALOG
from flow_sdk.runtime.durations import parse_duration
from flow_sdk.runtime.errors import CatalogError

DEFAULT_INTERVAL_SECONDS = 300.0
UUID_PTR = "/_meta/uuid"
_VALIDATOR = Draft202012Validator(CATALOG)


@dataclass
class Endpoint:
    """A task's connector: a local `command` or an `image`, and its (still sealed) config."""

    config: Any
    command: list[str] = field(default_factory=list)
    image: str = ""
    env: dict[str, str] = field(default_factory=dict)
    where: str = ""
    """`file: field` of the endpoint, for messages."""
    config_where: str = ""
    """`file: field` of its config, naming the referenced file when there is one."""
    file: Path | None = None
    """The catalog file that defines the endpoint (its `.env` is beside it)."""


@dataclass
class CaptureBindingDef:
    resource: Any
    target: str
    disable: bool = False
    backfill: int = 0


@dataclass
class CaptureDef:
    name: str
    endpoint: Endpoint
    bindings: list[CaptureBindingDef]
    file: Path
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    log_level: str = "info"
    disable: bool = False

    @property
    def enabled_bindings(self) -> list[CaptureBindingDef]:
        """The bindings Flow sends in Validate and Open: disabled ones are left out."""
        return [b for b in self.bindings if not b.disable]


@dataclass
class CollectionDef:
    name: str
    key: list[str]
    write_schema: Any
    file: Path
    read_schema: Any = None
    projections: dict[str, Any] = field(default_factory=dict)
    write_schema_url: str = ""
    """Where the (write) schema is, as Flow names it in errors: a file, or `?ptr=` into one."""
    read_schema_url: str = ""

    def spec(self) -> CollectionSpec:
        """The collection as a task's binding carries it."""
        return CollectionSpec(
            name=self.name,
            writeSchema=self.write_schema,
            readSchema=self.read_schema,
            key=list(self.key),
            uuidPtr=UUID_PTR,
        )


@dataclass
class MaterializationBindingDef:
    resource: Any
    source: str
    fields: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    backfill: int = 0
    disable: bool = False
    source_options: dict[str, Any] = field(default_factory=dict)
    """`partitions`, `notBefore`, `notAfter` when `source` was given as an object."""


@dataclass
class MaterializationDef:
    name: str
    endpoint: Endpoint
    bindings: list[MaterializationBindingDef]
    file: Path
    log_level: str = "info"
    disable: bool = False

    @property
    def enabled_bindings(self) -> list[MaterializationBindingDef]:
        return [b for b in self.bindings if not b.disable]


@dataclass
class Catalog:
    """All tasks and collections of a catalog file and its imports."""

    root: Path
    files: list[Path] = field(default_factory=list)
    captures: dict[str, CaptureDef] = field(default_factory=dict)
    collections: dict[str, CollectionDef] = field(default_factory=dict)
    materializations: dict[str, MaterializationDef] = field(default_factory=dict)

    def capture(self, name: str | None) -> CaptureDef:
        """The capture called `name`, or the only one when `name` is None."""
        return self._pick(self.captures, name, "capture", "--capture")

    def materialization(self, name: str | None) -> MaterializationDef:
        return self._pick(self.materializations, name, "materialization", "--name")

    def task(self, name: str | None) -> CaptureDef | MaterializationDef:
        """The capture or materialization called `name`, or the only task when None."""
        tasks: dict[str, CaptureDef | MaterializationDef] = {
            **self.captures,
            **self.materializations,
        }
        return self._pick(tasks, name, "task", "--name")

    def collection(self, name: str, used_by: str) -> CollectionDef:
        try:
            return self.collections[name]
        except KeyError:
            raise CatalogError(
                f"{used_by} names the collection {name!r}, which no file of {self.root} defines; "
                f"add it under `collections:` (defined: {_listing(self.collections)})"
            ) from None

    def _pick(self, tasks: dict[str, Any], name: str | None, kind: str, flag: str) -> Any:
        if name is not None:
            if name not in tasks:
                raise CatalogError(
                    f"{self.root} has no {kind} named {name!r} (it has: {_listing(tasks)})"
                )
            return tasks[name]
        if len(tasks) == 1:
            return next(iter(tasks.values()))
        if not tasks:
            raise CatalogError(f"{self.root} (with its imports) defines no {kind}")
        raise CatalogError(
            f"{self.root} defines {len(tasks)} {kind}s ({_listing(tasks)}); choose one with {flag}"
        )


def _listing(names: dict[str, Any]) -> str:
    return ", ".join(sorted(names)) or "none"


def load_catalog(path: str | Path) -> Catalog:
    """Load `path` and everything it imports."""
    root = Path(path).resolve()
    catalog = Catalog(root=root)
    _load_file(root, catalog, importer=None)
    return catalog


def read_document(path: Path, referenced_from: str | None = None) -> Any:
    """Parse a YAML or JSON file; a missing or malformed file is a CatalogError."""
    where = f" (referenced by {referenced_from})" if referenced_from else ""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CatalogError(f"file {path} does not exist{where}") from None
    except OSError as exc:
        raise CatalogError(f"cannot read {path}{where}: {exc.strerror or exc}") from None
    try:
        if path.suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path} is not valid {_format_of(path)}{where}: {exc}") from None


def _format_of(path: Path) -> str:
    return "JSON" if path.suffix == ".json" else "YAML"


def _load_file(path: Path, catalog: Catalog, importer: str | None) -> None:
    if path in catalog.files:
        return
    catalog.files.append(path)
    data = read_document(path, importer)
    if data is None:
        data = {}
    error = best_match(_VALIDATOR.iter_errors(data))
    if error is not None:
        raise CatalogError(f"{path}: {_describe(error)}")
    for i, ref in enumerate(data.get("import", [])):
        _load_file(resolve_reference(path, ref, f"import[{i}]"), catalog, f"{path}: import[{i}]")
    for name, spec in data.get("collections", {}).items():
        _add(catalog.collections, name, _collection(path, name, spec), "collection")
    for name, spec in data.get("captures", {}).items():
        _add(catalog.captures, name, _capture(path, name, spec), "capture")
    for name, spec in data.get("materializations", {}).items():
        _add(catalog.materializations, name, _materialization(path, name, spec), "materialization")


def _add(into: dict[str, Any], name: str, value: Any, kind: str) -> None:
    if name in into:
        raise CatalogError(
            f"the {kind} {name!r} is defined twice: in {into[name].file} and {value.file}"
        )
    into[name] = value


def resolve_reference(base: Path, ref: str, field_path: str) -> Path:
    """The local file a catalog reference names, relative to the file `base` holding it."""
    parsed = urlparse(ref)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:
        raise CatalogError(
            f"{base}: {field_path}: {ref!r} is a remote URL; the local runtime reads local files only"
        )
    return (base.parent / ref).resolve()


def _inline(base: Path, value: Any, field_path: str) -> Any:
    """A file reference (a string) replaced by the file's content; other values unchanged."""
    if not isinstance(value, str):
        return value
    return read_document(resolve_reference(base, value, field_path), f"{base}: {field_path}")


def _endpoint(path: Path, spec: dict[str, Any], field_path: str) -> Endpoint:
    kind, body = next(iter(spec.items()))
    where = f"{field_path}.{kind}"
    raw_config = body["config"]
    config = _inline(path, raw_config, f"{where}.config")
    config_where = f"{path}: {where}.config"
    if isinstance(raw_config, str):
        config_where += f" (file {resolve_reference(path, raw_config, where)})"
    if kind == "connector":
        return Endpoint(
            config=config,
            image=body["image"],
            where=f"{path}: {where}",
            config_where=config_where,
            file=path,
        )
    if body.get("protobuf"):
        raise CatalogError(
            f"{path}: {where}.protobuf: the local runtime speaks JSON lines only; remove `protobuf: true`"
        )
    return Endpoint(
        config=config,
        command=list(body["command"]),
        env=dict(body.get("env", {})),
        where=f"{path}: {where}",
        config_where=config_where,
        file=path,
    )


def _shards(path: Path, spec: dict[str, Any], field_path: str) -> tuple[str, bool]:
    shards = spec.get("shards", {})
    for key in ("minTxnDuration", "maxTxnDuration"):
        if key in shards:
            _duration(path, shards[key], f"{field_path}.shards.{key}")
    return shards.get("logLevel", "info"), bool(shards.get("disable", False))


def _duration(path: Path, text: str, field_path: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise CatalogError(f"{path}: {field_path}: {exc}") from None


def _capture(path: Path, name: str, spec: dict[str, Any]) -> CaptureDef:
    field_path = f"captures.{name}"
    bindings = [
        CaptureBindingDef(
            resource=_inline(path, b["resource"], f"{field_path}.bindings[{i}].resource"),
            target=b["target"],
            disable=bool(b.get("disable", False)),
            backfill=int(b.get("backfill", 0)),
        )
        for i, b in enumerate(spec.get("bindings", []))
    ]
    interval = DEFAULT_INTERVAL_SECONDS
    if "interval" in spec:
        interval = _duration(path, spec["interval"], f"{field_path}.interval")
    log_level, disable = _shards(path, spec, field_path)
    return CaptureDef(
        name=name,
        endpoint=_endpoint(path, spec["endpoint"], f"{field_path}.endpoint"),
        bindings=bindings,
        file=path,
        interval_seconds=interval,
        log_level=log_level,
        disable=disable,
    )


def _collection(path: Path, name: str, spec: dict[str, Any]) -> CollectionDef:
    field_path = f"collections.{name}"
    has_schema, has_write = "schema" in spec, "writeSchema" in spec
    if has_schema == has_write or (has_write and "readSchema" not in spec):
        raise CatalogError(
            f"{path}: {field_path}: give either `schema`, or both `writeSchema` and `readSchema`"
        )
    write_field = "schema" if has_schema else "writeSchema"
    write = _inline(path, spec[write_field], f"{field_path}.{write_field}")
    read = None if has_schema else _inline(path, spec["readSchema"], f"{field_path}.readSchema")
    return CollectionDef(
        name=name,
        key=list(spec["key"]),
        write_schema=write,
        read_schema=read,
        file=path,
        projections=dict(spec.get("projections", {})),
        write_schema_url=_schema_url(path, name, write_field, spec[write_field]),
        read_schema_url=_schema_url(path, name, "readSchema", spec.get("readSchema")),
    )


def _schema_url(path: Path, collection: str, field_name: str, value: Any) -> str:
    """A schema's URL as Flow's errors show it: its file, or the catalog file `?ptr=` it."""
    if isinstance(value, str):
        return resolve_reference(path, value, field_name).as_uri()
    return f"{path.as_uri()}?ptr=/collections/{json_pointer.escape(collection)}/{field_name}"


def _materialization(path: Path, name: str, spec: dict[str, Any]) -> MaterializationDef:
    field_path = f"materializations.{name}"
    bindings = []
    for i, b in enumerate(spec.get("bindings", [])):
        source = b["source"]
        options: dict[str, Any] = {}
        if isinstance(source, dict):
            options = {k: v for k, v in source.items() if k != "name"}
            source = source["name"]
        bindings.append(
            MaterializationBindingDef(
                resource=_inline(path, b["resource"], f"{field_path}.bindings[{i}].resource"),
                source=source,
                fields=dict(b.get("fields", {})),
                priority=int(b.get("priority", 0)),
                backfill=int(b.get("backfill", 0)),
                disable=bool(b.get("disable", False)),
                source_options=options,
            )
        )
    log_level, disable = _shards(path, spec, field_path)
    return MaterializationDef(
        name=name,
        endpoint=_endpoint(path, spec["endpoint"], f"{field_path}.endpoint"),
        bindings=bindings,
        file=path,
        log_level=log_level,
        disable=disable,
    )


def _describe(error: ValidationError) -> str:
    """`field.path: what is wrong` for the most relevant schema error."""
    where = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in error.absolute_path)
    where = where.replace(".[", "[") or "(top level)"
    instance, schema = error.instance, error.schema
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {})
        unknown = [k for k in instance if k not in known]
        expected = ", ".join(known)
        return f"{where}: unknown key {unknown[0]!r} (expected one of: {expected})"
    if error.validator == "required":
        return (
            f"{where}: {error.message.replace('is a required property', 'is missing (required)')}"
        )
    if error.validator in ("maxProperties", "minProperties") and "local" in schema.get(
        "properties", {}
    ):
        return f"{where}: give exactly one of `local` or `connector`"
    if error.validator == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return f"{where}: must be {wanted}, not {_json_type(instance)} ({json.dumps(instance, default=str)[:80]})"
    return f"{where}: {error.message}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
