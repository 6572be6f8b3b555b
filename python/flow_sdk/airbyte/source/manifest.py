"""Manifest-only (declarative, low-code) Airbyte sources: a `manifest.yaml` and an optional
`components.py`, run in process by airbyte-cdk 6/7's `ConcurrentDeclarativeSource` or as a
subprocess by the CDK's `source-declarative-manifest` runner.

`ConcurrentDeclarativeSource` takes the config, catalog and state in its constructor (its
streams' cursors start from the constructor's state; on CDK 7 its `read()` ignores its
`state` argument), so one prebuilt instance cannot resume: `declarative_factory` builds a
new one for every request instead.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Union

from flow_sdk.errors import ConnectorError

Manifest = Union[str, "os.PathLike[str]", Mapping[str, Any]]
SourceFactory = Callable[[Any, Any, Any], Any]
"""`(config, catalog, state) -> Source`: builds the airbyte-cdk source of one request.
`config` is the endpoint config (None for Spec), `catalog` the CDK's
`ConfiguredAirbyteCatalog` and `state` its list of `AirbyteStateMessage` (both None except
for a read)."""

UNSAFE_CODE_ENV = "AIRBYTE_ENABLE_UNSAFE_CODE"
"""The CDK runs a `--components-path` file only when this is `true`."""
COMPONENTS_MODULES = ("components", "source_declarative_manifest.components")
"""Where manifests' `class_name`s look for custom components (the CDK's own names)."""


def load_manifest(manifest: Manifest) -> dict[str, Any]:
    """The manifest as a dict, from a YAML file path or a mapping."""
    if isinstance(manifest, Mapping):
        return dict(manifest)
    import yaml

    path = Path(manifest)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConnectorError(
            f"cannot read the manifest {str(path)!r}: {exc.strerror or exc}"
        ) from None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ConnectorError(f"the manifest {str(path)!r} is not YAML: {problem}{where}") from None
    if not isinstance(value, dict):
        raise ConnectorError(
            f"the manifest {str(path)!r} must be a YAML mapping, not {type(value).__name__}"
        )
    return value


def register_components(path: str | os.PathLike[str]) -> ModuleType:
    """Import `components.py` under the module names manifests refer to, as the CDK's
    runner does with `--components-path`."""
    file = Path(path)
    if not file.is_file():
        raise ConnectorError(f"the components file {str(file)!r} does not exist")
    spec = importlib.util.spec_from_file_location(COMPONENTS_MODULES[0], file)
    if spec is None or spec.loader is None:
        raise ConnectorError(f"cannot import the components file {str(file)!r}")
    module = importlib.util.module_from_spec(spec)
    for name in COMPONENTS_MODULES:  # registered first: dataclasses look their module up
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def declarative_factory(
    manifest: Manifest, components: str | os.PathLike[str] | None = None
) -> SourceFactory:
    """A source factory building the manifest's declarative source per request, with that
    request's config, catalog and state."""
    source_config = load_manifest(manifest)
    if components is not None:
        register_components(components)

    def build(config: Any, catalog: Any, state: Any) -> Any:
        try:
            from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
                ConcurrentDeclarativeSource,
            )
        except ImportError:  # airbyte-cdk before 6: no concurrent declarative source
            from airbyte_cdk.sources.declarative.manifest_declarative_source import (
                ManifestDeclarativeSource,
            )

            return ManifestDeclarativeSource(source_config=source_config)
        return ConcurrentDeclarativeSource(
            catalog=catalog, config=config, state=state, source_config=source_config
        )

    build.__name__ = manifest_name(manifest, source_config)
    return build


def manifest_name(manifest: Manifest, source_config: Mapping[str, Any]) -> str:
    """What logs call the source: the manifest's file, else its spec's title."""
    if not isinstance(manifest, Mapping):
        return Path(manifest).name
    spec = source_config.get("spec") or {}
    title = (spec.get("connection_specification") or {}).get("title")
    return str(title) if title else "declarative manifest"


def manifest_spec(source_config: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The Airbyte ConnectorSpecification (as a dict) of the manifest's `spec` section. The
    CDK's runner answers `spec` with its own generic spec (the manifest goes in the config),
    so subprocess mode reads the connector's spec from the manifest itself."""
    spec = _resolved(source_config.get("spec"), source_config, where, ())
    if not isinstance(spec, Mapping) or not isinstance(
        spec.get("connection_specification"), Mapping
    ):
        raise ConnectorError(
            f"the manifest {where} has no `spec` with a `connection_specification` object"
        )
    out: dict[str, Any] = {"connectionSpecification": dict(spec["connection_specification"])}
    if spec.get("documentation_url"):
        out["documentationUrl"] = spec["documentation_url"]
    if spec.get("advanced_auth"):
        out["advanced_auth"] = dict(spec["advanced_auth"])
    return out


def _resolved(node: Any, root: Mapping[str, Any], where: str, seen: tuple[str, ...]) -> Any:
    """`node` with the manifest's references replaced as the CDK replaces them: a string
    `"#/a/b"` by the node at that path, a `$ref` mapping by its target merged with its own
    other keys."""
    if isinstance(node, str) and node.startswith("#/"):
        return _resolved(_target(node, root, where, seen), root, where, (*seen, node))
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = _resolved(_target(ref, root, where, seen), root, where, (*seen, ref))
            if not isinstance(target, Mapping):
                raise ConnectorError(f"the manifest {where}'s `$ref: {ref}` is not an object")
            out.update(target)
        out.update((k, _resolved(v, root, where, seen)) for k, v in node.items() if k != "$ref")
        return out
    if isinstance(node, list):
        return [_resolved(v, root, where, seen) for v in node]
    return node


def _target(ref: str, root: Mapping[str, Any], where: str, seen: tuple[str, ...]) -> Any:
    if ref in seen:
        raise ConnectorError(f"the manifest {where} refers to {ref!r} in a cycle")
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        if not isinstance(node, Mapping) or part not in node:
            raise ConnectorError(f"the manifest {where} refers to {ref!r}, which it lacks")
        node = node[part]
    return node


def default_runner() -> list[str]:
    """The CDK's `source-declarative-manifest` entry point of this environment."""
    beside = Path(sys.executable).with_name("source-declarative-manifest")
    found = str(beside) if beside.exists() else shutil.which("source-declarative-manifest")
    if found is None:
        raise ConnectorError(
            "no `source-declarative-manifest` runner was found (install airbyte-cdk, or give "
            "the runner command after `--`)"
        )
    return [found]


def runner_args(manifest: str, components: str | None) -> list[str]:
    """The runner's own arguments after `check` / `discover` / `read`."""
    args = ["--manifest-path", os.path.abspath(manifest)]
    if components is not None:
        args += ["--components-path", os.path.abspath(components)]
    return args
