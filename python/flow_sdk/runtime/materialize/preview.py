"""`flow-sdk preview --name <materialization> --fixture FILE`: drive a materialization's
transactions from a fixture, as `flowctl preview` does, with the strictness of §3.3.

The fixture (`fixture`: JSON lines with `{"commit": true}` markers, or the legacy array of
transactions) feeds each document to every binding sourcing its collection, reduced by key
within its transaction (last write wins, keys compared as Flow compares them: `keys`).
`--sessions` splits the transactions into sessions; a streaming fixture (a FIFO or `-`) runs
in one unbounded session, each transaction as it arrives. The connector state is merged
across transactions and sessions. stdout carries only state lines
(`--output-state`) and the Apply description (`--output-apply`), as flowctl prints them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from flow_sdk.protocol import materialize
from flow_sdk.protocol.flow import MaterializationSpec
from flow_sdk.runtime.catalog.load import Catalog, MaterializationDef
from flow_sdk.runtime.catalog.rules import check_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.document_meta import UUID_PLACEHOLDER
from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.fixture import FIXTURE_FORMS, Fixture, Readers, Transaction
from flow_sdk.runtime.keys import Key, KeyExtractor
from flow_sdk.runtime.launcher import ConnectorLauncher
from flow_sdk.runtime.materialize.build import spec_version
from flow_sdk.runtime.materialize.session import (
    Committed,
    MaterializeSession,
    binding_keys,
)
from flow_sdk.runtime.preview import PreviewOptions, emit_line
from flow_sdk.runtime.process import STOP_GRACE_SECONDS
from flow_sdk.runtime.raw import validated_materialization
from flow_sdk.runtime.state import StateStore, combine_updates


def preview_materialization(
    catalog: Catalog,
    task: MaterializationDef,
    options: PreviewOptions,
    fixture: str | None,
    output: BinaryIO | None = None,
    console: Console | None = None,
) -> int:
    """Flow's catalog rules, Validate, then per session Apply, Open and the fixture's
    transactions (one unbounded session for a streaming fixture)."""
    if not fixture:
        raise RuntimeFailure(
            f"previewing materialization {task.name!r} needs --fixture FILE ({FIXTURE_FORMS})"
        )
    check_catalog(catalog)
    out = output if output is not None else sys.stdout.buffer
    console = console or Console()
    launcher = ConnectorLauncher(task, console, options.network)
    reads = {b.source for b in task.enabled_bindings}
    fixture_txns = Fixture(fixture, Readers(reads, f"binding of materialization {task.name!r}"))
    with launcher.planned(4):  # Spec, Validate, the first Apply and session
        _, _, spec = validated_materialization(catalog, task, launcher)
        keys: dict[str, list[KeyExtractor]] = {}
        for binding in spec.bindings:
            keys.setdefault(binding.collection.name, []).append(binding_keys(binding))
        fixture_txns.check_keys(keys)
        run = _Sessions(launcher, spec, options, out, console)
        if fixture_txns.streaming:
            if options.sessions != [-1]:
                console.log(
                    "warn",
                    "a streaming fixture runs in one unbounded session; --sessions is ignored",
                )
            run.session(1, fixture_txns.transactions())
        else:
            batches = list(fixture_txns.transactions())
            position = 0
            for number, limit in enumerate(options.sessions, start=1):
                if position >= len(batches) and number > 1:
                    break
                count = len(batches) - position if limit < 0 else limit
                run.session(number, iter(batches[position : position + count]))
                position += count
            if position < len(batches):
                console.log(
                    "warn",
                    f"--sessions ended before the fixture: {len(batches) - position} "
                    "transaction(s) not run",
                )
    if options.output_state:
        emit_line(out, ["connectorState", {"updated": run.state.state}])
    return 0


class _Sessions:
    """The sessions of one preview, carrying connector state and stored keys between them."""

    def __init__(
        self,
        launcher: ConnectorLauncher,
        spec: MaterializationSpec,
        options: PreviewOptions,
        out: BinaryIO,
        console: Console,
    ) -> None:
        self.launcher = launcher
        self.spec = spec
        self.options = options
        self.out = out
        self.console = console
        self.version = spec_version(spec)
        self.state = StateStore(options.initial_state)
        self.stored: list[set[Key]] = [set() for _ in spec.bindings]

    def session(self, number: int, transactions: Iterator[Transaction]) -> None:
        """Apply, Open, then each transaction as `transactions` yields it."""
        _apply(
            self.launcher, self.spec, self.version, number > 1, self.options, self.out, self.state
        )
        committed_count = 0
        with self.launcher.start(materialize.Response) as proc:
            session = MaterializeSession(proc, self.spec)
            for update in session.open(self.version, self.state.state):
                self.state.apply(update)
            for txn in transactions:
                self._commit(session.transaction(_route(self.spec, txn), self.stored))
                committed_count += 1
            for update in session.close():
                self.state.apply(update)
            code = proc.wait(timeout=STOP_GRACE_SECONDS)
            if code != 0:
                raise proc.failure("the materialize session")
        self.console.log("info", f"session {number} committed {committed_count} transaction(s)")

    def _commit(self, committed: Committed) -> None:
        before = None
        if len(committed.states) > 1:
            before = orjson.loads(orjson.dumps(self.state.state))
        for update in committed.states:
            self.state.apply(update)
        if self.options.output_state and committed.states:
            emit_line(self.out, ["connectorState", combine_updates(before, committed.states)])


def _apply(
    launcher: ConnectorLauncher,
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
    applied = launcher.apply(materialize.Response, request)
    if options.output_apply:
        emit_line(out, ["applied.actionDescription", applied.actionDescription])
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
