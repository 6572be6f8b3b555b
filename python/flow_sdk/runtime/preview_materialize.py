"""`flow-sdk preview --name <materialization> --fixture FILE`: drive a materialization's
transactions from a fixture, as `flowctl preview` does, with the strictness of §3.3.

The fixture is a JSON array of transactions, each an array of `["<collection>", doc]`
pairs. Each document goes to every binding sourcing its collection, reduced by key within
its transaction (last write wins, keys compared as Flow compares them: `keys`). `--sessions` splits the transactions into sessions; the
connector state is merged across transactions and sessions. stdout carries only state lines
(`--output-state`) and the Apply description (`--output-apply`), as flowctl prints them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from flow_sdk.protocol import materialize
from flow_sdk.protocol.flow import MaterializationSpec
from flow_sdk.runtime.catalog import Catalog, MaterializationDef
from flow_sdk.runtime.depth import check_depth
from flow_sdk.runtime.driver import Driver
from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.keys import Key, KeyExtractor, KeyValueError
from flow_sdk.runtime.logs import Console
from flow_sdk.runtime.materialize_build import (
    check_spec,
    check_validated,
    materialization_spec,
    spec_version,
    validate_request,
)
from flow_sdk.runtime.materialize_session import (
    UUID_PLACEHOLDER,
    MaterializeSession,
    binding_keys,
)
from flow_sdk.runtime.preview import STOP_GRACE_SECONDS, PreviewOptions
from flow_sdk.runtime.state import StateStore, combine_updates

Fixture = list[list[tuple[str, dict[str, Any]]]]


def load_fixture(path: str | Path, keys: dict[str, list[KeyExtractor]]) -> Fixture:
    """The fixture's transactions; every pair names a collection some binding reads (`keys`:
    the key of each binding, by the collection it reads) and has a key it can be stored by."""
    collections = set(keys)
    try:
        data = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise RuntimeFailure(f"cannot read the fixture {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise RuntimeFailure(f"the fixture {path} is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise RuntimeFailure(f"the fixture {path} must be a JSON array of transactions")
    out: Fixture = []
    for t, txn in enumerate(data):
        if not isinstance(txn, list):
            raise RuntimeFailure(
                f"{path}: transaction {t} must be an array of [collection, document] pairs"
            )
        pairs = []
        for d, pair in enumerate(txn):
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and isinstance(pair[0], str)
                and isinstance(pair[1], dict)
            ):
                raise RuntimeFailure(
                    f'{path}: transaction {t}, item {d} must be ["<collection>", {{document}}]'
                )
            if pair[0] not in collections:
                raise RuntimeFailure(
                    f"{path}: transaction {t}, item {d} names collection {pair[0]!r}, which no "
                    f"binding of the materialization reads (it reads: {', '.join(sorted(collections))})"
                )
            where = f"{path}: transaction {t}, item {d}"
            check_depth(pair[1], f"{pair[0]} ({where})")
            for extractor in keys[pair[0]]:
                try:
                    extractor.values(pair[1])
                except KeyValueError as exc:
                    raise RuntimeFailure(f"{where}: {exc}") from None
            pairs.append((pair[0], pair[1]))
        out.append(pairs)
    return out


def preview_materialization(
    catalog: Catalog,
    task: MaterializationDef,
    options: PreviewOptions,
    fixture: str | None,
    output: BinaryIO | None = None,
    console: Console | None = None,
) -> int:
    """Validate, then per session Apply, Open and the fixture's transactions."""
    if not fixture:
        raise RuntimeFailure(
            f"previewing materialization {task.name!r} needs --fixture FILE (a JSON array of "
            'transactions, each an array of ["<collection>", {document}] pairs)'
        )
    out = output if output is not None else sys.stdout.buffer
    console = console or Console()
    driver = Driver(task, console, options.network)
    spec = _validated(catalog, task, driver)
    keys: dict[str, list[KeyExtractor]] = {}
    for binding in spec.bindings:
        keys.setdefault(binding.collection.name, []).append(binding_keys(binding))
    transactions = load_fixture(fixture, keys)
    version = spec_version(spec)
    state = StateStore(options.initial_state)
    stored: list[set[Key]] = [set() for _ in spec.bindings]
    sessions = list(options.sessions)
    position = 0
    for number, limit in enumerate(sessions, start=1):
        if position >= len(transactions) and number > 1:
            break
        count = len(transactions) - position if limit < 0 else limit
        batch = transactions[position : position + count]
        position += len(batch)
        _apply(driver, spec, version, number > 1, options, out, state)
        proc = driver.start(materialize.Response)
        with proc:
            session = MaterializeSession(proc, spec)
            for update in session.open(version, state.state):
                state.apply(update)
            for txn in batch:
                committed = session.transaction(_route(spec, txn), stored)
                before = (
                    orjson.loads(orjson.dumps(state.state)) if len(committed.states) > 1 else None
                )
                for update in committed.states:
                    state.apply(update)
                if options.output_state and committed.states:
                    _emit(out, ["connectorState", combine_updates(before, committed.states)])
            for update in session.close():
                state.apply(update)
            code = proc.wait(timeout=STOP_GRACE_SECONDS)
            if code != 0:
                raise proc.failure("the materialize session")
        console.log("info", f"session {number} committed {len(batch)} transaction(s)")
    if position < len(transactions):
        console.log(
            "warn",
            f"--sessions ended before the fixture: {len(transactions) - position} transaction(s) not run",
        )
    if options.output_state:
        _emit(out, ["connectorState", {"updated": state.state}])
    return 0


def _validated(catalog: Catalog, task: MaterializationDef, driver: Driver) -> MaterializationSpec:
    spec_response = driver.unary(
        materialize.Response,
        "spec",
        {"connectorType": driver.connector_type, "config": driver.config},
        "spec",
    ).spec
    check_spec(task, spec_response, driver.config)
    request = validate_request(task, catalog, driver.config, driver.connector_type)
    validated = driver.unary(
        materialize.Response, "validate", request.to_wire(), "validated"
    ).validated
    check_validated(request, validated)
    return materialization_spec(task, request, validated)


def _apply(
    driver: Driver,
    spec: MaterializationSpec,
    version: str,
    applied_before: bool,
    options: PreviewOptions,
    out: BinaryIO,
    state: StateStore,
) -> None:
    request = materialize.Apply(materialization=spec, version=version)
    if applied_before:
        request.lastMaterialization, request.lastVersion = spec, version
    applied = driver.unary(materialize.Response, "apply", request.to_wire(), "applied").applied
    if options.output_apply:
        _emit(out, ["applied.actionDescription", applied.actionDescription])
    if applied.state is not None:
        state.apply(applied.state)


def _route(
    spec: MaterializationSpec, txn: list[tuple[str, dict[str, Any]]]
) -> list[list[tuple[int, dict[str, Any]]]]:
    """Each binding's documents of one transaction, reduced by key (last write wins)."""
    out: list[list[tuple[int, dict[str, Any]]]] = []
    for i, binding in enumerate(spec.bindings):
        keys = binding_keys(binding)
        reduced: dict[Key, tuple[int, dict[str, Any]]] = {}
        for collection, doc in txn:
            if collection != binding.collection.name:
                continue
            doc = orjson.loads(orjson.dumps(doc))
            meta = doc.setdefault("_meta", {})
            if isinstance(meta, dict):
                meta.setdefault("uuid", UUID_PLACEHOLDER)
            reduced[keys.key(doc)] = (i, doc)
        out.append(list(reduced.values()))
    return out


def _emit(output: BinaryIO, value: Any) -> None:
    output.write(orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE))
    output.flush()
