"""`flow-sdk run`, materialization side: one session that stores what each binding has not
yet read from its collection's journal, in bounded transactions.

The materialization's state file holds its connector state and each binding's read offset
(by stateKey). A transaction's offsets are recorded only after the connector answered
`startedCommit` (for the Airbyte shim: the destination echoed the state, so the records
are durable). A crash before that replays the transaction on the next run; destinations
that key records by the collection key (as destination-kvdb does) end up the same.

The spec is built as for preview (`materialize.build`); the session loop is its own because
the offsets must be recorded between `startedCommit` and `acknowledge`, which the preview
session (`materialize.session`) sends back to back.

Backfill signals in a journal (`runtime.backfill`) go to the connector in the `flush` of the
transaction that reads them, as Flow's runtime sends them: a binding's transaction ends
before a signal that follows its documents, so a `backfillBegin` always precedes the
backfill's stores and a `backfillComplete` follows them. A binding whose journal holds a
truncation past its read offset starts reading at the truncation's begin, as Flow's readers
skip what the journal's `estuary.dev/truncated-at` label supersedes.
"""

from __future__ import annotations

import time
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

from flow_sdk.protocol import materialize
from flow_sdk.protocol.flow import MaterializationSpec, RangeSpec
from flow_sdk.protocol.tuple_pack import pack
from flow_sdk.runtime.backfill import control_of
from flow_sdk.runtime.catalog.load import Catalog, MaterializationDef
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.journal import DataDir, Journal, read_state, write_state
from flow_sdk.runtime.keys import Key, pointer
from flow_sdk.runtime.launcher import ConnectorLauncher, read_one, request_line
from flow_sdk.runtime.materialize.build import (
    check_spec,
    check_validated,
    materialization_spec,
    spec_version,
    validate_request,
)
from flow_sdk.runtime.materialize.deletions import collection_deletes, is_deletion
from flow_sdk.runtime.materialize.session import binding_keys
from flow_sdk.runtime.process import FINAL_COMMIT_GRACE_SECONDS, ConnectorProcess
from flow_sdk.runtime.state import StateStore
from flow_sdk.runtime.testing_seams import crash_point

TRANSACTION_DOCUMENTS = 2000
"""Documents per transaction at most (bounded transactions keep replays small)."""
RESPONSE_TIMEOUT_SECONDS = 600.0


@dataclass
class MaterializationRun:
    task: str
    documents: dict[str, int] = field(default_factory=dict)
    transactions: int = 0


# ---- the session ----


@dataclass
class Cursor:
    """One binding's reading position in its collection's journal."""

    binding: int
    state_key: str
    journal: Journal
    offset: int
    end: int


def run_materialization(
    catalog: Catalog,
    task: MaterializationDef,
    data: DataDir,
    committed: dict[str, int],
    console: Console,
    on_plan: Callable[[int], None],
    on_commit: Callable[[str, int, int], None],
    transaction_documents: int = TRANSACTION_DOCUMENTS,
    labels: dict[str, dict[str, Any]] | None = None,
    network: str = "bridge",
) -> MaterializationRun:
    """Store every committed document each binding has not read yet. `committed` maps each
    collection to its journal's committed length, `labels` to its last truncation (see
    `capture.run.truncation_labels`); `on_plan(bytes)` tells how much is unread,
    `on_commit(collection, documents, bytes)` what each transaction stored."""
    launcher = ConnectorLauncher(task, console, network)
    spec_response = launcher.unary(
        materialize.Response,
        "spec",
        {"connectorType": launcher.connector_type, "config": launcher.config},
        "spec",
    ).spec
    check_spec(task, spec_response, launcher.config)
    request = validate_request(task, catalog, launcher.config, launcher.connector_type)
    validated = launcher.unary(
        materialize.Response, "validate", request.to_wire(), "validated"
    ).validated
    check_validated(request, validated)
    spec = materialization_spec(task, request, validated)
    version = spec_version(spec)

    state_path = data.state_path("materializations", task.name)
    saved = read_state(state_path)
    offsets: dict[str, int] = dict(saved.get("offsets", {}))
    state = StateStore(saved.get("connectorState", {}))
    applied = launcher.unary(
        materialize.Response,
        "apply",
        materialize.Apply(materialization=spec, version=version).to_wire(),
        "applied",
    ).applied
    if applied.state is not None:
        state.apply(applied.state)

    cursors = [
        Cursor(
            binding=i,
            state_key=b.stateKey,
            journal=data.journal(b.collection.name),
            offset=offsets.get(b.stateKey, 0),
            end=committed.get(b.collection.name, 0),
        )
        for i, b in enumerate(spec.bindings)
    ]
    for cursor in cursors:
        collection = spec.bindings[cursor.binding].collection.name
        label = (labels or {}).get(collection) or {}
        begin = label.get("offset", 0)
        if cursor.offset < begin <= cursor.end:
            console.log(
                "info",
                f"{task.name}: binding {cursor.binding} skips {begin - cursor.offset} bytes of "
                f"{collection} published before its truncation at {label.get('truncatedAt')}",
            )
            cursor.offset = begin
    result = MaterializationRun(task.name)
    on_plan(sum(max(0, c.end - c.offset) for c in cursors))
    if all(c.offset >= c.end for c in cursors):
        return result

    proc = launcher.start(materialize.Response)
    with proc:
        open_request = materialize.Open(
            materialization=spec, version=version, range=RangeSpec.full(), state=state.state
        )
        proc.send(request_line("open", open_request.to_wire() | {"state": state.state}))
        _expect(proc, "opened", "the Open")
        proc.send(request_line("acknowledge", {}))
        _expect(proc, "acknowledged", "the first Acknowledge")
        upcoming = _next_transaction(spec, cursors, transaction_documents)
        while upcoming.stores or upcoming.signals:
            txn = upcoming
            proc.send(request_line("flush", txn.signals))
            flushed = _expect(proc, "flushed", "a Flush").flushed
            if flushed.state is not None:
                state.apply(flushed.state)
            proc.send(b"".join(txn.stores))
            crash_point("stores-sent")
            proc.send(request_line("startCommit", {"runtimeCheckpoint": txn.checkpoint}))
            # Read the next transaction from the journals while the connector commits this one
            # (only the cursors move; nothing is recorded before `startedCommit`).
            upcoming = _next_transaction(spec, cursors, transaction_documents)
            started = _expect(proc, "startedCommit", "a StartCommit").startedCommit
            crash_point("commit-started")
            if started.state is not None:
                state.apply(started.state)
            offsets.update(txn.offsets)
            write_state(state_path, {"connectorState": state.state, "offsets": offsets})
            crash_point("materialization-committed")
            result.transactions += 1
            for collection, count in txn.counts.items():
                result.documents[collection] = result.documents.get(collection, 0) + count
                on_commit(collection, count, txn.read_bytes.get(collection, 0))
            proc.send(request_line("acknowledge", {}))
            acknowledged = _expect(proc, "acknowledged", "an Acknowledge").acknowledged
            if acknowledged.state is not None:
                state.apply(acknowledged.state)
                write_state(state_path, {"connectorState": state.state, "offsets": offsets})
        code = proc.stop(FINAL_COMMIT_GRACE_SECONDS)
        if code != 0:
            raise proc.failure(f"the materialization session of {task.name}")
    return result


@dataclass
class _Transaction:
    """One transaction read from the journals, ready to send."""

    stores: list[bytes]
    """`store` request lines, reduced by key and in Flow's key order."""
    counts: dict[str, int]
    """Documents read per collection."""
    read_bytes: dict[str, int]
    signals: dict[str, Any]
    """The `flush` request: backfill signals read."""
    offsets: dict[str, int]
    """Each binding's read offset (by stateKey) once this transaction commits."""
    checkpoint: dict[str, Any]
    """The `runtimeCheckpoint` of its StartCommit."""


def _next_transaction(spec: MaterializationSpec, cursors: list[Cursor], limit: int) -> _Transaction:
    """The next transaction's `store` request lines, reduced by key (last write wins) as
    Flow combines delta-updates documents within a transaction, in Flow's key order; and
    the `flush` request with the backfill signals read."""
    reduced: dict[tuple[int, Key], bytes] = {}
    # (binding, key) → store line; sorted, that is the order Flow's combiner stores in
    counts: dict[str, int] = {}
    read_bytes: dict[str, int] = {}
    signals: dict[str, list[dict[str, Any]]] = {}
    taken = 0
    loads, dumps, option = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for cursor in cursors:
        if taken >= limit:
            break
        collection = spec.bindings[cursor.binding].collection.name
        start = cursor.offset
        lines, end = cursor.journal.read(cursor.offset, cursor.end, limit - taken)
        binding = spec.bindings[cursor.binding]
        keys = binding_keys(binding)
        pointers = {p.field: pointer(p.ptr) for p in binding.collection.projections}
        values = [pointers[f] for f in binding.fieldSelection.values]
        with_doc = bool(binding.fieldSelection.document)
        deletes = collection_deletes(binding.collection)
        index = cursor.binding
        documents = 0
        for line in lines:
            control = control_of(line)
            if control is not None:
                if documents:  # the signal opens the binding's next transaction
                    break
                variant, truncated_at = control
                signal = _binding_fields(cursor.binding) | {"truncatedAt": truncated_at}
                signals.setdefault(variant, []).append(signal)
                cursor.offset += len(line)
                if variant == "backfillComplete":
                    break  # what follows a completed backfill is the next transaction's
                continue
            cursor.offset += len(line)
            documents += 1
            doc = loads(line)
            key, comparable_key = keys.values_and_key(doc)
            store: dict[str, Any] = {
                "binding": index,
                "key": key,
                "keyPacked": b64encode(pack(key)).decode(),
                "values": [ptr.get(doc) for ptr in values],
            }
            if with_doc:
                store["doc"] = doc
            if deletes and is_deletion(doc):
                store["delete"] = True
            reduced[(index, comparable_key)] = dumps({"store": store}, option=option)
        assert cursor.offset <= end
        taken += documents
        counts[collection] = counts.get(collection, 0) + documents
        read_bytes[collection] = read_bytes.get(collection, 0) + cursor.offset - start
    ordered = [line for _, line in sorted(reduced.items(), key=itemgetter(0))]
    checkpoint = {
        "sources": {
            f"{spec.bindings[c.binding].collection.name};"
            f"{spec.bindings[c.binding].journalReadSuffix}": {"readThrough": str(c.offset)}
            for c in cursors
        }
    }
    return _Transaction(
        stores=ordered,
        counts={k: v for k, v in counts.items() if v},
        read_bytes=read_bytes,
        signals=signals,
        offsets={c.state_key: c.offset for c in cursors},
        checkpoint=checkpoint,
    )


def _binding_fields(index: int) -> dict[str, Any]:
    return {"binding": index} if index else {}


def _expect(proc: ConnectorProcess, variant: str, what: str) -> materialize.Response:
    deadline = time.monotonic() + RESPONSE_TIMEOUT_SECONDS
    while not proc.wait_line(min(0.5, max(0.0, deadline - time.monotonic()))):
        proc.check_stdin()
        if time.monotonic() >= deadline:
            break
    return read_one(proc, materialize.Response, variant, what)
