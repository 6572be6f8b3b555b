"""`flow-sdk preview --fixture FILE` of a derivation: Flow's catalog rules, Validate, then one
session that feeds the fixture's source documents to the transforms that read them, one
transaction per fixture transaction (`read`* → `flush` → `startCommit`), printing the
published documents of each committed transaction (reduced by key, last write wins, in Flow's
key order: `keys`) and, with `--output-state`, state. Fixtures are read by `fixture` (either
form; a FIFO or `-` streams, each transaction running as it arrives).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from flow_sdk.protocol import derive
from flow_sdk.protocol.flow import CollectionSpec
from flow_sdk.runtime.catalog.load import Catalog
from flow_sdk.runtime.catalog.rules import check_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.derive.catalog import DerivationDef, shuffle_key
from flow_sdk.runtime.derive.session import DeriveSession
from flow_sdk.runtime.errors import ProtocolViolation, RuntimeFailure
from flow_sdk.runtime.fixture import FIXTURE_FORMS, Fixture, Readers
from flow_sdk.runtime.keys import KeyExtractor
from flow_sdk.runtime.launcher import ConnectorLauncher
from flow_sdk.runtime.schema import SchemaValidators
from flow_sdk.runtime.state import StateStore, combine_updates


@dataclass
class ValidatedDerivation:
    """A derivation after Validate: its transforms' sources, the answer, and the spec Open carries."""

    sources: dict[str, CollectionSpec]
    validated: derive.Validated
    spec: CollectionSpec


def validated_derivation(
    catalog: Catalog, task: DerivationDef, launcher: ConnectorLauncher
) -> ValidatedDerivation:
    """Validate the derivation's transforms; one Validated transform per transform."""
    transforms = task.enabled_transforms
    sources = {
        t.source: catalog.collection(t.source, f"derivation {task.name!r}").spec()
        for t in transforms
    }
    derived = task.collection.spec()
    request = {
        "connectorType": launcher.connector_type,
        "config": launcher.config,
        "collection": derived.to_wire(),
        "transforms": [_transform(t, sources[t.source]) for t in transforms],
    }
    validated = launcher.unary(derive.Response, "validate", request, "validated").validated
    if len(validated.transforms) != len(transforms):
        raise ProtocolViolation(
            "validated-transforms",
            f"the derivation validated {len(validated.transforms)} transform(s) of {len(transforms)}",
        )
    spec = derived.model_copy()
    spec.derivation = {
        "connectorType": launcher.connector_type,
        "config": launcher.config,
        "transforms": [
            {**_transform(t, sources[t.source]), "shuffleKey": shuffle_key(t, sources[t.source])}
            for t in transforms
        ],
    }
    return ValidatedDerivation(sources, validated, spec)


def preview_derivation(
    catalog: Catalog,
    task: DerivationDef,
    fixture: str | None,
    output: BinaryIO,
    *,
    initial_state: Any = None,
    output_state: bool = False,
    network: str = "bridge",
    console: Console | None = None,
) -> None:
    """Validate the derivation and run the fixture through one session."""
    if not fixture:
        raise RuntimeFailure(
            f"{task.name!r} is a derivation: preview it with --fixture FILE ({FIXTURE_FORMS})"
        )
    check_catalog(catalog)
    console = console or Console()
    launcher = ConnectorLauncher(task, console, network)  # type: ignore[arg-type]  # has name, endpoint, log_level
    transforms = task.enabled_transforms
    fixture_txns = Fixture(
        fixture,
        Readers({t.source for t in transforms}, f"transform of derivation {task.name!r}"),
    )
    with launcher.planned(2):  # Validate, the session
        derivation = validated_derivation(catalog, task, launcher)
        sources, spec = derivation.sources, derivation.spec
        derived = task.collection.spec()
        validators = SchemaValidators()
        validators.prepare(derived)
        state = StateStore(initial_state if initial_state is not None else {})
        keys = KeyExtractor(f"derived collection {derived.name}", derived.key)
        with launcher.start(derive.Response) as proc:
            session = DeriveSession(proc, transforms, sources, derived, validators, keys)
            session.open(spec, state.state)
            for pairs in fixture_txns.transactions():
                published, updates = session.transaction(pairs)
                for doc in published:
                    output.write(orjson.dumps([task.name, doc], option=orjson.OPT_APPEND_NEWLINE))
                for update in updates:
                    state.apply(update)
                if output_state:
                    output.write(
                        orjson.dumps(
                            ["connectorState", combine_updates(None, updates)],
                            option=orjson.OPT_APPEND_NEWLINE,
                        )
                    )
                output.flush()
            session.close()
    if output_state:
        output.write(
            orjson.dumps(
                ["connectorState", {"updated": state.state}], option=orjson.OPT_APPEND_NEWLINE
            )
        )
        output.flush()


def _transform(t: Any, source: CollectionSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": t.name, "collection": source.to_wire()}
    if t.lambda_config is not None:
        out["lambdaConfig"] = t.lambda_config
    if t.backfill:
        out["backfill"] = t.backfill
    return out
