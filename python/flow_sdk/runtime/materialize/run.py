"""`flow-sdk run`, materialization side: one session that stores what each binding has not
yet read from its collection's journal, in bounded transactions.

The materialization's state file holds its connector state and each binding's read offset
(by stateKey). A transaction's offsets are recorded only after the connector answered
`startedCommit` (for the Airbyte shim: the destination echoed the state, so the records
are durable). A crash before that replays the transaction on the next run; destinations
that key records by the collection key (as destination-kvdb does) end up the same.

The spec is built as for preview (`materialize.build`), and the connector is driven through
the same session class (`materialize.session`), by its run phases: the offsets must be
recorded between `startedCommit` and `acknowledge`, which the preview's transactions send
back to back, and the next transaction is read from the journals while the connector
commits.

Backfill signals in a journal (`runtime.backfill`) go to the connector in the `flush` of the
transaction that reads them, as Flow's runtime sends them: a binding's transaction ends
before a signal that follows its documents, so a `backfillBegin` always precedes the
backfill's stores and a `backfillComplete` follows them. A binding whose journal holds a
truncation past its read offset starts reading at the truncation's begin, as Flow's readers
skip what the journal's `estuary.dev/truncated-at` label supersedes.
"""

from __future__ import annotations

from binascii import b2a_base64
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Protocol

import orjson

from flow_sdk.gc_pause import gc_paused
from flow_sdk.protocol import materialize
from flow_sdk.protocol.flow import ConnectorState, MaterializationSpec
from flow_sdk.protocol.tuple_pack import pack
from flow_sdk.runtime.backfill import control_of
from flow_sdk.runtime.catalog.load import Catalog, MaterializationDef
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.journal import DataDir, Journal, read_state, write_state
from flow_sdk.runtime.keys import Key, KeyExtractor, Pointer, pointer
from flow_sdk.runtime.launcher import ConnectorLauncher
from flow_sdk.runtime.materialize.build import (
    check_spec,
    check_validated,
    materialization_spec,
    spec_version,
    validate_request,
)
from flow_sdk.runtime.materialize.deletions import collection_deletes, is_deletion
from flow_sdk.runtime.materialize.session import (
    MaterializeSession,
    binding_fields,
    binding_keys,
)
from flow_sdk.runtime.process import FINAL_COMMIT_GRACE_SECONDS, ConnectorProcess
from flow_sdk.runtime.state import StateStore
from flow_sdk.runtime.testing_seams import crash_point

TRANSACTION_DOCUMENTS = 20_000
"""Documents per transaction at most. Flow's runtime makes a materialization transaction of
every ready document (up to `maxTxnDuration`, 5 minutes by default); bounding it keeps the
runtime's memory and a replay after a crash small, and each transaction costs the
destination a commit and two round trips that idle it (2,000 measured ~9% slower)."""
TRANSACTION_BYTES = 16 << 20
"""Journal bytes per transaction at most (at least one document): the store lines of a
transaction are held until it is sorted, so large documents make smaller transactions."""


@dataclass
class MaterializationRun:
    task: str
    documents: dict[str, int] = field(default_factory=dict)
    transactions: int = 0


@dataclass
class Cursor:
    """One binding's reading position in its collection's journal."""

    binding: int
    state_key: str
    journal: Journal
    offset: int
    end: int
    _counted: tuple[int, int, int] = (0, 0, 0)
    """(offset, end, lines) of the last `lines_ahead` count."""

    def lines_ahead(self) -> int:
        """The journal lines from the offset to the end. Only what was committed since the
        last count is read, unless the offset moved since."""
        offset, end, lines = self._counted
        if offset != self.offset or end > self.end:
            end, lines = self.offset, 0
        if end < self.end:
            lines += self.journal.count_lines(end, self.end)
        self._counted = (self.offset, self.end, lines)
        return lines


@dataclass
class PreparedMaterialization:
    """A materialization checked against its connector and applied (Spec, Validate, Apply),
    ready for its session: `flow-sdk run` prepares these while its captures run, and opens
    their sessions too (`opened`)."""

    launcher: ConnectorLauncher
    spec: MaterializationSpec
    version: str
    run_state: _RunState
    opened: OpenedSession | None = None

    def discard(self) -> None:
        """End an opened session no pass took (the run failed before it): its input ends
        and it exits, as after a transaction."""
        opened, self.opened = self.opened, None
        if opened is not None:
            opened.stop()


@dataclass
class OpenedSession:
    """A session's connector launched, opened and past its first Acknowledge."""

    proc: ConnectorProcess
    session: MaterializeSession

    def stop(self) -> int:
        """Its input ends and it exits, as after any commit (killed past the commit grace);
        its exit code."""
        with self.proc as proc:
            return proc.stop(FINAL_COMMIT_GRACE_SECONDS)


def prepare_materialization(
    catalog: Catalog,
    task: MaterializationDef,
    data: DataDir,
    console: Console,
    network: str,
    open_session: bool = False,
) -> PreparedMaterialization:
    """Spec and Validate, each checked, then Apply (each a connector launch of its own); with
    `open_session`, the session's connector is launched and opened too, so that its start-up
    (an airbyte-cdk destination's imports take ~2 s) is paid before its first store."""
    launcher = ConnectorLauncher(task, console, network)
    with launcher.planned(4 if open_session else 3):  # Spec, Validate, Apply (, the session)
        spec = _validated_spec(catalog, task, launcher)
        version = spec_version(spec)
        run_state = _RunState(data, task.name)
        request = materialize.Apply(materialization=spec, version=version)
        applied = launcher.apply(materialize.Response, request)
        if applied.state is not None:
            run_state.state.apply(applied.state)
        prepared = PreparedMaterialization(launcher, spec, version, run_state)
        if open_session:
            prepared.opened = _opened_session(launcher, spec, version, run_state)
    return prepared


def _opened_session(
    launcher: ConnectorLauncher, spec: MaterializationSpec, version: str, run_state: _RunState
) -> OpenedSession:
    proc = launcher.start(materialize.Response)
    try:
        session = MaterializeSession(proc, spec)
        session.open_run(version, run_state.state.state)
    except BaseException:
        with proc:
            proc.kill()
        raise
    return OpenedSession(proc, session)


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
    prepared: PreparedMaterialization | None = None,
) -> MaterializationRun:
    """Store every committed document each binding has not read yet. `committed` maps each
    collection to its journal's committed length, `labels` to its last truncation (see
    `capture.run.committed_journals`); `on_plan(bytes)` tells how much is unread,
    `on_commit(collection, documents, bytes)` what each transaction stored. `prepared`:
    Spec, Validate and Apply already done (else they are done first)."""
    prepared = prepared or prepare_materialization(catalog, task, data, console, network)
    storing = Storing(prepared, task.name, data, console, transaction_documents)
    on_plan(storing.unread(committed, labels or {}))
    storing.store(on_commit)
    return storing.finish()


class Storing:
    """One materialization's session over a run, in passes: `unread` moves the bindings'
    cursors up to the journals' committed lengths it is given, `store` stores what they
    have not read (transactions of at most `transaction_documents`), `finish` ends the
    session. A plain `run` makes one pass after its captures; `run --follow` makes one after
    every capture commit too. A failed pass ends the session (`abandon`)."""

    def __init__(
        self,
        prepared: PreparedMaterialization,
        task: str,
        data: DataDir,
        console: Console,
        transaction_documents: int = TRANSACTION_DOCUMENTS,
    ) -> None:
        self.prepared = prepared
        self.task = task
        self.data = data
        self.console = console
        self.limit = transaction_documents
        self.result = MaterializationRun(task)
        self._cursors: list[Cursor] | None = None
        self._opened: OpenedSession | None = None

    def unread(self, committed: dict[str, int], labels: dict[str, dict[str, Any]]) -> int:
        """Bytes the bindings have not read up to `committed`; a binding behind its
        collection's last truncation (`labels`) moves to the truncation's begin first."""
        spec = self.prepared.spec
        if self._cursors is None:
            offsets = self.prepared.run_state.offsets
            self._cursors = _cursors(spec, self.data, offsets, committed)
        for cursor in self._cursors:
            collection = spec.bindings[cursor.binding].collection.name
            cursor.end = max(cursor.end, committed.get(collection, 0))
            _skip_truncated(cursor, collection, labels.get(collection), self.task, self.console)
        return sum(max(0, c.end - c.offset) for c in self._cursors)

    def store(
        self,
        on_commit: Callable[[str, int, int], None],
        growing: frozenset[str] | None = None,
        interrupted: Callable[[], bool] | None = None,
    ) -> None:
        """Transactions until the cursors reach the lengths `unread` was given. Given the
        collections still `growing` (that may get more commits), only the transactions
        those commits cannot change (settled, see `_JournalReader`): a run storing ahead of
        its captures stores what its last pass would have. Once `interrupted()`, it ends
        after the transaction in flight (a later pass goes on from there)."""
        cursors = self._cursors or []
        if all(c.offset >= c.end for c in cursors):
            return
        prepared = self.prepared
        reader = _JournalReader(prepared.spec, cursors, self.limit, growing=growing)
        try:
            if self._opened is None:
                self._opened = self._take() or _opened_session(
                    prepared.launcher, prepared.spec, prepared.version, prepared.run_state
                )
            _store_unread(
                self._opened.session,
                reader,
                prepared.run_state,
                self.result,
                on_commit,
                interrupted,
            )
        except BaseException:
            self.abandon()
            raise

    def finish(self) -> MaterializationRun:
        """End the session (its input ends, it exits) and check its exit, also when it was
        opened early and had nothing to store."""
        opened = self._take()
        if opened is not None and opened.stop() != 0:
            raise opened.proc.failure(f"the materialization session of {self.task}")
        return self.result

    def abandon(self) -> None:
        """End the session at once after a failure of its own; what it committed is kept."""
        opened = self._take()
        if opened is not None:
            with opened.proc as proc:
                proc.kill()

    def close(self) -> None:
        """End a session that a failure elsewhere in the run left open between transactions:
        its input ends and it exits as after any commit (its exit is not checked: the run
        fails already)."""
        opened = self._take()
        if opened is not None:
            opened.stop()

    def _take(self) -> OpenedSession | None:
        """The session, this pass's or the one opened early, now this caller's to end."""
        opened = self._opened or self.prepared.opened
        self._opened = self.prepared.opened = None
        return opened


class PassProgress(Protocol):
    """Where a last pass reports its progress: the run's bars, or (`run --follow`) the pipe
    to them."""

    def start(self, description: str, total: int | None = None, unit: str = " docs") -> None: ...

    def advance(self, amount: int, note: str = "") -> None: ...

    def finish(self) -> None: ...


def store_committed(
    storings: dict[str, Storing],
    committed: tuple[dict[str, int], dict[str, dict[str, Any]]],
    progress: PassProgress,
    into: list[MaterializationRun],
) -> None:
    """The run's last pass: each session stores what the captures `committed` (lengths and
    truncations) and ends; its result is appended to `into` as soon as it is known."""
    lengths, labels = committed
    for name, storing in storings.items():
        progress.start(f"materialize {name}", total=storing.unread(lengths, labels), unit="B")

        def stored(collection: str, documents: int, read: int) -> None:
            progress.advance(read, f"{collection.rsplit('/', 1)[-1]} +{documents}")

        storing.store(stored)
        into.append(storing.finish())
        progress.finish()


def _store_unread(
    session: MaterializeSession,
    reader: _JournalReader,
    run_state: _RunState,
    result: MaterializationRun,
    on_commit: Callable[[str, int, int], None],
    interrupted: Callable[[], bool] | None = None,
) -> None:
    """Transactions until the journals are read up to their committed lengths (or until
    `interrupted()`): the offsets of each recorded once the connector answered
    `startedCommit`, then acknowledged."""
    upcoming = reader.next_transaction()
    while upcoming.stores or upcoming.signals:
        txn = upcoming
        run_state.apply(session.run_flush(txn.signals))
        session.send_stores(txn.stores)
        crash_point("stores-sent")
        session.start_commit(txn.checkpoint)
        # Read the next transaction from the journals while the connector commits this one
        # (only the cursors move; nothing is recorded before `startedCommit`).
        upcoming = _nothing() if interrupted and interrupted() else reader.next_transaction()
        started = session.await_started_commit()
        crash_point("commit-started")
        run_state.apply(started)
        run_state.record(txn.offsets)
        crash_point("materialization-committed")
        result.transactions += 1
        for collection, count in txn.counts.items():
            result.documents[collection] = result.documents.get(collection, 0) + count
            on_commit(collection, count, txn.read_bytes.get(collection, 0))
        acknowledged = session.run_acknowledge()
        if acknowledged is not None:
            run_state.apply(acknowledged)
            run_state.save()


def _validated_spec(
    catalog: Catalog, task: MaterializationDef, launcher: ConnectorLauncher
) -> MaterializationSpec:
    """Spec and Validate, each checked, and the spec the session opens with."""
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
    return materialization_spec(task, request, validated)


class _RunState:
    """The materialization's state file: its connector state and each binding's read offset
    (by stateKey)."""

    def __init__(self, data: DataDir, task: str) -> None:
        self.path = data.state_path("materializations", task)
        saved = read_state(self.path)
        self.offsets: dict[str, int] = dict(saved.get("offsets", {}))
        self.state = StateStore(saved.get("connectorState", {}))

    def apply(self, update: ConnectorState | None) -> None:
        if update is not None:
            self.state.apply(update)

    def record(self, offsets: dict[str, int]) -> None:
        """A transaction committed: its offsets, with the connector state, in the file."""
        self.offsets.update(offsets)
        self.save()

    def save(self) -> None:
        write_state(self.path, {"connectorState": self.state.state, "offsets": self.offsets})


def _cursors(
    spec: MaterializationSpec, data: DataDir, offsets: dict[str, int], committed: dict[str, int]
) -> list[Cursor]:
    """Each binding's unread part of its journal."""
    return [
        Cursor(
            binding=i,
            state_key=b.stateKey,
            journal=data.journal(b.collection.name),
            offset=offsets.get(b.stateKey, 0),
            end=committed.get(b.collection.name, 0),
        )
        for i, b in enumerate(spec.bindings)
    ]


def _skip_truncated(
    cursor: Cursor, collection: str, label: dict[str, Any] | None, task: str, console: Console
) -> None:
    """A binding behind its collection's last truncation skips to the truncation's begin,
    as Flow's readers skip what the `estuary.dev/truncated-at` label supersedes."""
    begin = (label or {}).get("offset", 0)
    if cursor.offset < begin <= cursor.end:
        console.log(
            "info",
            f"{task}: binding {cursor.binding} skips {begin - cursor.offset} bytes of "
            f"{collection} published before its truncation at {(label or {}).get('truncatedAt')}",
        )
        cursor.offset = begin


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


def _fills(cursor: Cursor, lines: int, room: int) -> bool:
    """Whether a binding's committed part holds `lines` lines or `room` bytes past its cursor."""
    return cursor.end - cursor.offset >= room or cursor.lines_ahead() >= lines


def _nothing() -> _Transaction:
    """No transaction (none left, or none settled yet)."""
    return _Transaction([], {}, {}, {}, {}, {})


@dataclass
class _StoreLines:
    """How one binding's documents become `store` request lines."""

    index: int
    keys: KeyExtractor
    values: list[Pointer]
    with_doc: bool
    deletes: bool

    @classmethod
    def of(cls, spec: MaterializationSpec, index: int) -> _StoreLines:
        binding = spec.bindings[index]
        pointers = {p.field: pointer(p.ptr) for p in binding.collection.projections}
        return cls(
            index=index,
            keys=binding_keys(binding),
            values=[pointers[f] for f in binding.fieldSelection.values],
            with_doc=bool(binding.fieldSelection.document),
            deletes=collection_deletes(binding.collection),
        )

    def line(self, doc: Any, raw: bytes) -> tuple[Key, bytes]:
        """The document's key as Flow compares it, and its `store` line. `raw` is the
        document's journal line (its JSON and a newline), spliced in as the store's `doc`
        rather than encoded again: the same value, and the same bytes orjson would write."""
        key, comparable_key = self.keys.values_and_key(doc)
        values = [ptr.get(doc) for ptr in self.values]
        # orjson's encoding of {"store": {...}} open before its `}}`, member by member.
        head = b'{"store":{"binding":%d,"key":%b,"keyPacked":"%b","values":%b' % (
            self.index,
            orjson.dumps(key),
            b2a_base64(pack(key), newline=False),
            orjson.dumps(values),
        )
        tail = b',"delete":true}}\n' if self.deletes and is_deletion(doc) else b"}}\n"
        if self.with_doc:
            return comparable_key, b"".join((head, b',"doc":', raw[:-1], tail))
        return comparable_key, head + tail


class _JournalReader:
    """Reads the bindings' journals from their cursors, a bounded transaction at a time.

    Given the collections still `growing`, it reads only a *settled* transaction: one that
    ends where a read of longer journals would end it too (its document or byte budget is
    spent, or a backfill signal ends it) before a binding of a growing collection runs out
    of committed lines. Journals only grow, so the run's last pass would read exactly that
    transaction; an unsettled one is not returned, and its cursors are put back."""

    def __init__(
        self,
        spec: MaterializationSpec,
        cursors: list[Cursor],
        limit: int,
        max_bytes: int | None = None,
        growing: frozenset[str] | None = None,
    ) -> None:
        self.spec = spec
        self.cursors = cursors
        self.limit = limit
        self.max_bytes = max(1, TRANSACTION_BYTES if max_bytes is None else max_bytes)
        self.growing = growing
        """Collections that may get more commits (None: read whatever is committed)."""

    def may_settle(self) -> bool:
        """Cheaply, before reading: whether the committed lines could hold a settled
        transaction: a budget's worth of lines before a binding of a growing collection runs
        out (one that a signal ends early waits for more commits)."""
        lines, room = self.limit, self.max_bytes
        for cursor in self.cursors:
            if _fills(cursor, lines, room):
                return True
            if self._grows(cursor):
                return False
            lines, room = lines - cursor.lines_ahead(), room - (cursor.end - cursor.offset)
        return True

    def _runs_out(self, cursor: Cursor, lines: int, room: int) -> bool:
        """Whether a growing binding's committed lines cannot fill the budget left (so its
        read would make the transaction unsettled, unless a signal ends it: that one waits)."""
        return self._grows(cursor) and not _fills(cursor, lines, room)

    def _grows(self, cursor: Cursor) -> bool:
        growing = self.growing
        return growing is None or self.spec.bindings[cursor.binding].collection.name in growing

    def next_transaction(self) -> _Transaction:
        """The next transaction's `store` request lines, reduced by key (last write wins) as
        Flow combines delta-updates documents within a transaction, in Flow's key order; and
        the `flush` request with the backfill signals read. Empty when there is none (or,
        given `growing`, no settled one)."""
        if self.growing is not None and not self.may_settle():
            return _nothing()
        offsets = [cursor.offset for cursor in self.cursors]
        with gc_paused():  # thousands of keys and lines are held until the sort
            txn = self._next_transaction()
        if txn is None:  # (not settled: put back)
            for cursor, offset in zip(self.cursors, offsets, strict=True):
                cursor.offset = offset
            return _nothing()
        return txn

    def _next_transaction(self) -> _Transaction | None:
        """The next transaction, or None for one that is not settled (given `growing`)."""
        reduced: dict[tuple[int, Key], bytes] = {}
        # (binding, key) → store line; sorted, that is the order Flow's combiner stores in
        counts: dict[str, int] = {}
        read_bytes: dict[str, int] = {}
        signals: dict[str, list[dict[str, Any]]] = {}
        taken = taken_bytes = 0
        settled = True
        for cursor in self.cursors:
            if taken >= self.limit or taken_bytes >= self.max_bytes:
                break
            collection = self.spec.bindings[cursor.binding].collection.name
            start = cursor.offset
            budget = (self.limit - taken, self.max_bytes - taken_bytes)
            if self.growing is not None and self._runs_out(cursor, *budget):
                return None  # (not parsed only to be put back)
            documents, ran_out = self._read(cursor, budget, reduced, signals)
            taken += documents
            taken_bytes += cursor.offset - start
            if ran_out and taken < self.limit and taken_bytes < self.max_bytes:
                settled = settled and not self._grows(cursor)  # (else it may get more)
            counts[collection] = counts.get(collection, 0) + documents
            read_bytes[collection] = read_bytes.get(collection, 0) + cursor.offset - start
        if self.growing is not None and not settled:
            return None
        ordered = [line for _, line in sorted(reduced.items(), key=itemgetter(0))]
        return _Transaction(
            stores=ordered,
            counts={k: v for k, v in counts.items() if v},
            read_bytes=read_bytes,
            signals=signals,
            offsets={c.state_key: c.offset for c in self.cursors},
            checkpoint=self._checkpoint(),
        )

    def _read(
        self,
        cursor: Cursor,
        budget: tuple[int, int],
        reduced: dict[tuple[int, Key], bytes],
        signals: dict[str, list[dict[str, Any]]],
    ) -> tuple[int, bool]:
        """Read one binding's documents (up to `budget`: lines, bytes) into `reduced`, and the
        backfill signals before them into `signals`; the number of documents read, and
        whether the read ran out of committed lines (rather than ending at a signal or
        the budget)."""
        lines, end = cursor.journal.read(cursor.offset, cursor.end, *budget)
        stores = _StoreLines.of(self.spec, cursor.binding)
        loads = orjson.loads
        documents = 0
        for line in lines:
            control = control_of(line)
            if control is not None:
                if documents:  # the signal opens the binding's next transaction
                    return documents, False
                variant, truncated_at = control
                signal = binding_fields(cursor.binding) | {"truncatedAt": truncated_at}
                signals.setdefault(variant, []).append(signal)
                cursor.offset += len(line)
                if variant == "backfillComplete":
                    return documents, False  # what follows is the next transaction's
                continue
            cursor.offset += len(line)
            documents += 1
            comparable_key, store = stores.line(loads(line), line)
            reduced[(cursor.binding, comparable_key)] = store
        assert cursor.offset <= end
        return documents, end >= cursor.end

    def _checkpoint(self) -> dict[str, Any]:
        """The `runtimeCheckpoint` of a StartCommit: each journal read through its cursor."""
        bindings = self.spec.bindings
        return {
            "sources": {
                f"{bindings[c.binding].collection.name};{bindings[c.binding].journalReadSuffix}": {
                    "readThrough": str(c.offset)
                }
                for c in self.cursors
            }
        }
