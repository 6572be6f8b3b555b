"""`flow-sdk preview --fixture FILE` of a derivation: Flow's catalog rules, Validate, then one
session that feeds the fixture's source documents to the transforms that read them, one
transaction per fixture transaction (`read`* → `flush` → `startCommit`), printing the
published documents of each committed transaction (reduced by key, last write wins, in Flow's
key order: `keys`) and, with `--output-state`, state. Fixtures are read by `fixture` (either
form; a FIFO or `-` streams, each transaction running as it arrives).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from flow_sdk.protocol import derive
from flow_sdk.protocol.flow import CollectionSpec
from flow_sdk.runtime.catalog.load import Catalog
from flow_sdk.runtime.catalog.rules import check_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.depth import nesting, too_deep
from flow_sdk.runtime.derive.catalog import DerivationDef, shuffle_key
from flow_sdk.runtime.document_meta import UUID_PLACEHOLDER
from flow_sdk.runtime.errors import ProtocolViolation, RuntimeFailure
from flow_sdk.runtime.fixture import FIXTURE_FORMS, Fixture, Readers
from flow_sdk.runtime.keys import Key, KeyExtractor, KeyValueError, pointer
from flow_sdk.runtime.launcher import ConnectorLauncher, read_one, request_line
from flow_sdk.runtime.process import EOF, ConnectorProcess
from flow_sdk.runtime.schema import MAX_DOCUMENT_BYTES, SchemaValidators, size_problem
from flow_sdk.runtime.state import StateStore, combine_updates
from flow_sdk.runtime.strict import MessageTooDeep, parse_response

FULL_RANGE = {"keyEnd": 4294967295, "rClockEnd": 4294967295}


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
    derivation = validated_derivation(catalog, task, launcher)
    sources, spec = derivation.sources, derivation.spec
    derived = task.collection.spec()
    validators = SchemaValidators()
    validators.prepare(derived)
    state = StateStore(initial_state if initial_state is not None else {})
    keys = KeyExtractor(f"derived collection {derived.name}", derived.key)
    with launcher.start(derive.Response) as proc:
        proc.send(
            request_line(
                "open",
                {
                    "collection": spec.to_wire(),
                    "version": "preview",
                    "range": FULL_RANGE,
                    "state": state.state,
                },
            )
        )
        read_one(proc, derive.Response, "opened", "the open request")
        clock = 0
        for pairs in fixture_txns.transactions():
            for source, doc in pairs:
                for index, t in enumerate(transforms):
                    if t.source != source:
                        continue
                    clock += 1
                    key = [pointer(p).get(doc) for p in shuffle_key(t, sources[source])]
                    read = {
                        "transform": index,
                        "uuid": {"node": "1", "clock": str(clock)},
                        "shuffle": {"key": key},
                        "doc": doc,
                    }
                    proc.send(request_line("read", read))
            proc.send(request_line("flush", {}))
            published = _until(proc, "flushed", validators, derived, keys)
            proc.send(
                request_line("startCommit", {"runtimeCheckpoint": {"committed": time.time()}})
            )
            committed = read_one(
                proc, derive.Response, "startedCommit", "the startCommit request"
            ).startedCommit
            for doc in _reduced(published):
                output.write(orjson.dumps([task.name, doc], option=orjson.OPT_APPEND_NEWLINE))
            updates = [committed.state] if committed.state is not None else []
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
        proc.close_stdin()
        if proc.next_line(30) is not EOF:
            raise ProtocolViolation(
                "derive-eof", "the derivation wrote more after its last transaction"
            )
        if proc.wait(30) != 0:
            raise proc.failure("the derivation session")
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


def _until(
    proc: ConnectorProcess,
    answer: str,
    validators: SchemaValidators,
    derived: CollectionSpec,
    keys: KeyExtractor,
) -> list[tuple[Key, Any]]:
    """Published documents (checked against the derived schema) with their keys, up to the
    `answer` response."""
    published = []
    while True:
        line = proc.next_line()
        if line is EOF:
            if proc.wait() != 0:
                raise proc.failure("the derivation session")
            raise ProtocolViolation("derive-eof", f"the derivation exited before `{answer}`")
        assert isinstance(line, bytes)
        try:
            response = parse_response(derive.Response, line)
        except MessageTooDeep as exc:
            published_doc = exc.data.get("published") if isinstance(exc.data, dict) else None
            levels = nesting(published_doc.get("doc")) if isinstance(published_doc, dict) else None
            where = f"derived collection {derived.name}"
            raise ProtocolViolation("document-depth", too_deep(where, levels), line) from None
        if response.variant == answer:
            return published
        if response.variant != "published":
            raise ProtocolViolation(
                "response-variant",
                f"expected `published` or `{answer}`, got `{response.variant}`",
                line,
            )
        doc = response.published.doc
        if not isinstance(doc, dict):
            raise ProtocolViolation(
                "published-object", "published documents must be JSON objects", line
            )
        doc = {**doc, "_meta": {**(doc.get("_meta") or {}), "uuid": UUID_PLACEHOLDER}}
        if len(line) > MAX_DOCUMENT_BYTES and (too_big := size_problem(len(orjson.dumps(doc)))):
            raise ProtocolViolation("document-size", f"a published document: {too_big}", line)
        if (problem := validators.problem(derived, doc)) is not None:
            raise ProtocolViolation(
                "published-schema",
                f"a published document does not match the schema of {derived.name!r}: {problem}",
                line,
            )
        try:
            key = keys.key(doc)
        except KeyValueError as exc:
            raise ProtocolViolation("published-key", str(exc), line) from None
        published.append((key, doc))


def _reduced(published: list[tuple[Key, Any]]) -> list[Any]:
    """One document per key (the last), in key order, as Flow's combiner drains them."""
    by_key = dict(published)
    return [by_key[key] for key in sorted(by_key)]
