"""`flow-sdk run`, capture side: one capture's session into its collections' journals.

Each committed transaction is appended to the journals (fsynced), then the capture's state
file records the connector state together with every journal's new length (atomic rename).
A crash between the two leaves journal bytes no state counts: the next run truncates them
and the connector, resuming from the recorded state, captures them again.

Backfill signals are journal entries of their own (`backfill.py`): a begin is written before
the transaction's documents and stamps the collection's truncation boundary (`truncatedAt`,
kept in the state file as Flow keeps it in the journal's `estuary.dev/truncated-at` label,
with the begin's offset); a complete after them, carrying the boundary of its begin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any

from flow_sdk.gc_pause import gc_paused
from flow_sdk.protocol import capture
from flow_sdk.protocol.flow import CaptureSpec
from flow_sdk.runtime.backfill import control_line, now_timestamp
from flow_sdk.runtime.capture.build import spec_version
from flow_sdk.runtime.capture.config_updates import ConfigInbox
from flow_sdk.runtime.capture.session import (
    EXITED,
    CaptureSession,
    SessionEnded,
    Timeouts,
    Transaction,
)
from flow_sdk.runtime.catalog.load import CaptureDef, Catalog
from flow_sdk.runtime.catalog.sops import unseal
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.journal import DataDir, Journal, read_state, write_state
from flow_sdk.runtime.launcher import ConnectorLauncher
from flow_sdk.runtime.process import STOP_GRACE_SECONDS
from flow_sdk.runtime.raw import validated_capture
from flow_sdk.runtime.schema import SchemaValidators
from flow_sdk.runtime.state import StateStore
from flow_sdk.runtime.testing_seams import crash_point


@dataclass
class CaptureRun:
    """What one capture committed during this run."""

    task: str
    documents: dict[str, int] = field(default_factory=dict)
    transactions: int = 0
    dropped_bytes: int = 0
    """Uncommitted journal bytes of an interrupted earlier run, truncated before starting."""


def committed_lengths(data: DataDir, task: str) -> dict[str, int]:
    """Each journal's committed length, as the capture `task`'s state file records it."""
    return committed_journals(data, task)[0]


def committed_journals(
    data: DataDir, task: str
) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """Each journal's committed length, and each collection's last truncation (`truncatedAt`
    and the journal offset of its begin), from one read of the capture `task`'s state file."""
    state = read_state(data.state_path("captures", task))
    return dict(state.get("journals", {})), dict(state.get("labels", {}))


def catalog_committed_journals(
    catalog: Catalog, data: DataDir
) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """`committed_journals` of every capture of the catalog together: each collection's
    committed journal length and last truncation."""
    lengths: dict[str, int] = {}
    labels: dict[str, dict[str, Any]] = {}
    for name in catalog.captures:
        journal_lengths, truncations = committed_journals(data, name)
        lengths.update(journal_lengths)
        labels.update(truncations)
    return lengths, labels


def run_capture(
    catalog: Catalog,
    task: CaptureDef,
    data: DataDir,
    console: Console,
    on_commit: Callable[[Transaction], None],
    timeouts: Timeouts | None = None,
    network: str = "bridge",
) -> CaptureRun:
    """Validate, Apply and run one session of `task` until its connector exits (or the
    `timeouts` end it), committing every transaction to the data directory."""
    timeouts = timeouts or Timeouts()
    launcher = _launcher_with_config_updates(task, data, console, network)
    with launcher.planned(4):  # Spec, Validate, Apply, the session
        _, _, spec = validated_capture(catalog, task, launcher)
        spec.config = launcher.config  # its check may have rotated a token
        validators = SchemaValidators()
        for binding in spec.bindings:
            validators.prepare(binding.collection)
        journals = _CaptureJournals(data, task.name, spec)
        journals.drop_uncommitted(console)
        version = spec_version(spec)
        applied = launcher.apply(capture.Response, capture.Apply(capture=spec, version=version))
        if applied.state is not None:
            journals.state.apply(applied.state)

        try:
            proc = launcher.start(capture.Response)
            with proc:
                session = CaptureSession(
                    proc,
                    spec,
                    validators,
                    console,
                    journals.backfilling(),
                    journals.tracks_backfills(),
                )
                session.open(version, journals.state.state)
                _commit_transactions(session, journals, on_commit, timeouts, console, task.name)
        finally:
            launcher.take_config_update()  # the next run opens with it, as after a republish
    return journals.result


def _commit_transactions(
    session: CaptureSession,
    journals: _CaptureJournals,
    on_commit: Callable[[Transaction], None],
    timeouts: Timeouts,
    console: Console,
    name: str,
) -> None:
    """Commit the open session's transactions until its connector exits or the `timeouts`
    end it."""
    proc = session.proc
    while True:
        txn = session.next_transaction_within(timeouts)
        if txn is EXITED:
            if proc.wait() != 0:
                raise proc.failure(f"the capture session of {name}")
            return
        if isinstance(txn, SessionEnded):
            console.log("info", f"{name}: ending the session: {txn.reason}")
            proc.stop(STOP_GRACE_SECONDS)
            return
        try:
            with gc_paused():  # the drain sorts and holds the whole transaction
                journals.commit(txn)
            on_commit(txn)
        finally:
            txn.documents.close()
        session.acknowledge(txn.checkpoints)


def _launcher_with_config_updates(
    task: CaptureDef, data: DataDir, console: Console, network: str
) -> ConnectorLauncher:
    """The task's launcher, whose processes leave config updates in the data directory (and
    with the one an interrupted run left already taken)."""
    launcher = ConnectorLauncher(task, console, network)
    store = data.state_path("configs", task.name)
    endpoint = task.endpoint
    launcher.config_inbox = ConfigInbox(  # tied to the resolved config: a new `$env` value wins
        store.with_name(f".{store.name}.update"),
        launcher.config,
        console,
        task.name,
        store,
        template=unseal(endpoint.config, endpoint.config_where),
        catalog_file=endpoint.file,
    )
    launcher.take_config_update()  # one an interrupted run left
    return launcher


class _CaptureJournals:
    """A capture's collection journals and its state file: what it committed, and each
    transaction appended and committed (journals fsynced, then the state file replaced)."""

    def __init__(self, data: DataDir, task: str, spec: CaptureSpec) -> None:
        self.task = task
        self.state_path = data.state_path("captures", task)
        self.saved = read_state(self.state_path)
        self.lengths: dict[str, int] = dict(self.saved.get("journals", {}))
        self.names = [b.collection.name for b in spec.bindings]
        self.journals: dict[str, Journal] = {
            b.collection.name: data.journal(b.collection.name) for b in spec.bindings
        }
        self.result = CaptureRun(task)
        self.backfills: dict[str, str] = dict(self.saved.get("backfills", {}))
        """Collections whose backfill began and has not completed → its truncatedAt."""
        self.labels: dict[str, dict[str, Any]] = dict(self.saved.get("labels", {}))
        self.state = StateStore(self.saved.get("connectorState", {}))

    def drop_uncommitted(self, console: Console) -> None:
        """Truncate each journal to its committed length (an interrupted run's tail)."""
        for name, journal in self.journals.items():
            self.result.dropped_bytes += journal.truncate(self.lengths.get(name, 0))
            self.lengths.setdefault(name, journal.size)
        if self.result.dropped_bytes:
            console.log(
                "info",
                f"{self.task}: dropped {self.result.dropped_bytes} uncommitted journal bytes "
                "of an interrupted run; the connector captures them again from its committed "
                "state",
            )

    def backfilling(self) -> set[int]:
        """Bindings whose backfill began and has not completed."""
        return {i for i, name in enumerate(self.names) if name in self.backfills}

    def tracks_backfills(self) -> bool:
        """False for a state file from before flow-sdk tracked backfills (it may have begun
        one untracked)."""
        return "backfills" in self.saved or not self.saved.get("connectorState")

    def commit(self, txn: Transaction) -> None:
        """Append the transaction's journal lines, then record it in the state file. The
        documents stream from the combiner to the journals, one run of a collection at a time."""
        documents_of = self.result.documents
        begun = sorted({self.names[i] for i in txn.backfill_begin})
        truncated_at = now_timestamp() if begun else ""
        for collection in begun:  # before the documents, as Flow publishes them
            self.backfills[collection] = truncated_at
            self.labels[collection] = {
                "truncatedAt": truncated_at,
                "offset": self.lengths[collection],
            }
            self._append(collection, [control_line("backfillBegin", truncated_at)])
        for collection, documents in groupby(txn.documents, key=itemgetter(0)):
            self._append(collection, (doc + b"\n" for _, doc in documents))
        for collection in sorted({self.names[i] for i in txn.backfill_complete}):
            complete = control_line("backfillComplete", self.backfills.pop(collection))
            self._append(collection, [complete])
        for collection in begun:
            documents_of.setdefault(collection, 0)
        for collection, count in txn.documents.counts().items():
            documents_of[collection] = documents_of.get(collection, 0) + count
        crash_point("capture-appended")
        for update in txn.states:
            self.state.apply(update)
        committed: dict[str, Any] = {
            "connectorState": self.state.state,
            "journals": self.lengths,
            "backfills": self.backfills,
        }
        if self.labels:
            committed["labels"] = self.labels
        write_state(self.state_path, committed)
        crash_point("capture-committed")
        self.result.transactions += 1

    def _append(self, collection: str, lines: Iterable[bytes]) -> None:
        self.lengths[collection] = self.journals[collection].append(lines)
