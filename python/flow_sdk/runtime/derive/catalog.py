"""Derivations of a catalog: collections with a `derive` stanza run by a local connector.

    collections:
      acmeCo/balances:
        schema: ..., key: [/account]
        derive:
          using: {local: {command: [python, derive.py], config: {}}}   # or connector: {image, config}
          transforms: [{name: fromTransfers, source: acmeCo/transfers, shuffle: any}]
          shards: {logLevel: info}

The catalog loader keeps collections' schemas and keys; this module reads their `derive`
stanzas from the same files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flow_sdk.protocol.flow import CollectionSpec
from flow_sdk.runtime.catalog.load import Catalog, CollectionDef, Endpoint, read_document
from flow_sdk.runtime.errors import CatalogError


@dataclass
class TransformDef:
    name: str
    source: str
    shuffle: Any = "any"
    lambda_config: Any = None
    backfill: int = 0
    disable: bool = False


@dataclass
class DerivationDef:
    """A derived collection and the connector that derives it (what `ConnectorLauncher` needs)."""

    name: str
    collection: CollectionDef
    endpoint: Endpoint
    transforms: list[TransformDef] = field(default_factory=list)
    log_level: str = "info"

    @property
    def enabled_transforms(self) -> list[TransformDef]:
        return [t for t in self.transforms if not t.disable]


def derivations(catalog: Catalog) -> dict[str, DerivationDef]:
    """Every derivation of the catalog and its imports, by collection name."""
    out: dict[str, DerivationDef] = {}
    for path in catalog.files:
        document = read_document(path)
        collections = document.get("collections") if isinstance(document, dict) else None
        for name, spec in (collections or {}).items():
            if isinstance(spec, dict) and "derive" in spec:
                out[name] = _derivation(path, name, spec["derive"], catalog.collections[name])
    return out


def derivation_named(catalog: Catalog, name: str | None) -> DerivationDef | None:
    """The derivation `name` names, or the only task of a catalog that has nothing else."""
    found = derivations(catalog)
    if name is not None:
        return found.get(name)
    if len(found) == 1 and not catalog.captures and not catalog.materializations:
        return next(iter(found.values()))
    return None


def _derivation(path: Path, name: str, derive: Any, collection: CollectionDef) -> DerivationDef:
    where = f"{path}: collections.{name}.derive"
    if not isinstance(derive, dict) or not isinstance(derive.get("using"), dict):
        raise CatalogError(f"{where}: give `using` (local or connector) and `transforms`")
    using = derive["using"]
    if len(using) != 1 or next(iter(using)) not in ("local", "connector"):
        raise CatalogError(
            f"{where}.using: the local runtime runs `local: {{command, config}}` or "
            f"`connector: {{image, config}}` derivations, not {', '.join(using) or 'nothing'}"
        )
    kind, body = next(iter(using.items()))
    config = body.get("config", {})
    if isinstance(config, str):
        config = read_document((path.parent / config).resolve(), f"{where}.using.{kind}.config")
    endpoint = Endpoint(
        config=config,
        command=list(body.get("command") or []),
        image=body.get("image", "") if kind == "connector" else "",
        env=dict(body.get("env") or {}),
        where=f"{where}.using.{kind}",
        config_where=f"{where}.using.{kind}.config",
        file=path,
    )
    if kind == "local" and not endpoint.command:
        raise CatalogError(f"{where}.using.local: `command` is required")
    transforms = []
    for i, t in enumerate(derive.get("transforms") or []):
        source = t.get("source")
        source = source.get("name") if isinstance(source, dict) else source
        if not isinstance(t.get("name"), str) or not isinstance(source, str):
            raise CatalogError(f"{where}.transforms[{i}]: give a `name` and a `source` collection")
        transforms.append(
            TransformDef(
                name=t["name"],
                source=source,
                shuffle=t.get("shuffle", "any"),
                lambda_config=t.get("lambda"),
                backfill=int(t.get("backfill", 0)),
                disable=bool(t.get("disable", False)),
            )
        )
    if not transforms:
        raise CatalogError(f"{where}: a derivation needs at least one transform")
    log_level = (derive.get("shards") or {}).get("logLevel", "info")
    return DerivationDef(name, collection, endpoint, transforms, log_level)


def shuffle_key(transform: TransformDef, source: CollectionSpec) -> list[str]:
    """The pointers documents of `transform` are shuffled on: `shuffle: {key: [...]}`, else
    the source collection's key."""
    shuffle = transform.shuffle
    if isinstance(shuffle, dict) and isinstance(shuffle.get("key"), list):
        return list(shuffle["key"])
    return list(source.key)
