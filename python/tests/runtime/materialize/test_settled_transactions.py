"""A default `flow-sdk run` stores ahead of its captures, transaction by transaction, only
what its last pass would have stored: the transactions a reader takes from growing journals
(after every commit, settled ones only, then the rest once the captures ended) are exactly
those it takes from the finished journals in one go. Real journal files; the reader is the
run's own."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flow_sdk.protocol.flow import (
    CollectionSpec,
    FieldSelection,
    MaterializationBinding,
    MaterializationSpec,
    Projection,
)
from flow_sdk.runtime.backfill import control_line
from flow_sdk.runtime.journal import Journal
from flow_sdk.runtime.materialize.run import Cursor, _JournalReader, _Transaction

COLLECTIONS = ("acmeCo/c0", "acmeCo/c1")

Commit = tuple[str, list[bytes]]
"""A capture commit: the collection and the journal lines it appends."""


def spec(collections: list[str]) -> MaterializationSpec:
    """A binding per entry of `collections` (one may be read by two), keyed by `/id`, the
    document selected."""
    projections = [Projection(ptr="/id", field="id"), Projection(ptr="", field="flow_document")]
    return MaterializationSpec(
        name="acmeCo/sink",
        bindings=[
            MaterializationBinding(
                resourcePath=[f"table{i}"],
                stateKey=f"table{i}",
                journalReadSuffix=f"materialize/acmeCo/sink/table{i}",
                collection=CollectionSpec(name=name, key=["/id"], projections=projections),
                fieldSelection=FieldSelection(keys=["id"], document="flow_document"),
            )
            for i, name in enumerate(collections)
        ],
    )


def document(key: int, serial: int) -> bytes:
    return orjson.dumps({"id": key, "serial": serial, "pad": "x" * (serial % 7)}) + b"\n"


class Journals:
    """One journal file per collection in `root`, and the cursors of `spec`'s bindings."""

    def __init__(self, root: Path, spec: MaterializationSpec) -> None:
        self.journals = {
            name: Journal(root / f"{name.replace('/', '_')}.jsonl") for name in COLLECTIONS
        }
        self.lengths = dict.fromkeys(COLLECTIONS, 0)
        self.cursors = [
            Cursor(i, b.stateKey, self.journals[b.collection.name], 0, 0)
            for i, b in enumerate(spec.bindings)
        ]
        self.spec = spec

    def commit(self, collection: str, lines: list[bytes]) -> None:
        self.lengths[collection] = self.journals[collection].append(lines)
        for cursor in self.cursors:
            cursor.end = self.lengths[self.spec.bindings[cursor.binding].collection.name]


def read_all(reader: _JournalReader) -> list[_Transaction]:
    """Transactions until the reader has none (as `_store_unread` loops)."""
    taken = []
    while (txn := reader.next_transaction()).stores or txn.signals:
        taken.append(txn)
    return taken


def store_ahead(
    root: Path,
    spec: MaterializationSpec,
    commits: list[Commit],
    one_capture: bool,
    limit: int,
    max_bytes: int | None,
) -> tuple[list[_Transaction], int]:
    """The run's passes: after each commit the settled transactions (as `Storing.store`
    takes them given the growing collections), then the last pass. Returns every
    transaction, and how many were taken before the last pass."""
    journals = Journals(root / "ahead", spec)
    taken: list[_Transaction] = []
    for collection, lines in commits:
        journals.commit(collection, lines)
        growing = frozenset(
            COLLECTIONS if one_capture or collection == COLLECTIONS[0] else COLLECTIONS[1:]
        )
        if all(c.offset >= c.end for c in journals.cursors):
            continue
        taken += read_all(_JournalReader(spec, journals.cursors, limit, max_bytes, growing=growing))
    ahead = len(taken)
    taken += read_all(_JournalReader(spec, journals.cursors, limit, max_bytes))
    return taken, ahead


def after(
    root: Path, spec: MaterializationSpec, commits: list[Commit], limit: int, max_bytes: int | None
) -> list[_Transaction]:
    """The last pass alone, over the finished journals."""
    journals = Journals(root / "after", spec)
    for collection, lines in commits:
        journals.commit(collection, lines)
    return read_all(_JournalReader(spec, journals.cursors, limit, max_bytes))


def line() -> st.SearchStrategy[bytes]:
    signal = st.sampled_from(["backfillBegin", "backfillComplete"]).map(
        lambda variant: control_line(variant, "2026-12-02T00:00:00Z")
    )
    doc = st.tuples(st.integers(0, 12), st.integers(0, 10_000)).map(lambda ks: document(*ks))
    return st.one_of(doc, doc, doc, doc, signal)


@settings(max_examples=300, deadline=None)
@given(
    bindings=st.lists(st.sampled_from(COLLECTIONS), min_size=1, max_size=3),
    commits=st.lists(
        st.tuples(st.sampled_from(COLLECTIONS), st.lists(line(), min_size=1, max_size=9)),
        max_size=14,
    ),
    one_capture=st.booleans(),
    limit=st.integers(1, 7),
    max_bytes=st.sampled_from([None, 1, 90, 400]),
)
def test_storing_ahead_takes_exactly_the_transactions_of_the_last_pass(
    bindings: list[str], commits: list[Commit], one_capture: bool, limit: int, max_bytes: int | None
) -> None:
    if not one_capture:  # two captures, one after the other: c0's commits, then c1's
        commits = sorted(commits, key=lambda commit: COLLECTIONS.index(commit[0]))
    materialization = spec(bindings)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        ahead, _ = store_ahead(root, materialization, commits, one_capture, limit, max_bytes)
        assert ahead == after(root, materialization, commits, limit, max_bytes)


def test_a_growing_journal_is_stored_a_settled_transaction_at_a_time(tmp_path: Path) -> None:
    """Ten commits of three documents, transactions of four: each is taken once its fourth
    document is committed, and the last, short one only at the last pass."""
    commits = [(COLLECTIONS[0], [document(3 * c + i, c) for i in range(3)]) for c in range(10)]
    materialization = spec([COLLECTIONS[0]])
    taken, ahead = store_ahead(tmp_path, materialization, commits, True, 4, None)
    assert [sum(t.counts.values()) for t in taken] == [4] * 7 + [2]
    assert ahead == 7


def test_a_binding_whose_collection_may_grow_holds_back_the_bindings_after_it(
    tmp_path: Path,
) -> None:
    """Both collections from one capture: a transaction that runs out of c0 and goes on
    into c1 could get more of c0 from a later commit, so it waits for the last pass; with
    c0's capture finished (two captures), c1 is stored ahead."""
    commits = [(COLLECTIONS[0], [document(1, 1), document(2, 2)])]
    commits += [(COLLECTIONS[1], [document(10 + c, c) for c in range(3)]) for _ in range(4)]
    materialization = spec(list(COLLECTIONS))
    _, ahead_one_capture = store_ahead(tmp_path / "one", materialization, commits, True, 3, None)
    assert ahead_one_capture == 0
    taken, ahead = store_ahead(tmp_path / "two", materialization, commits, False, 3, None)
    assert ahead >= 3
    assert taken == after(tmp_path, materialization, commits, 3, None)


def test_lines_ahead_counts_only_what_was_committed_since(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "c.jsonl")
    end = journal.append([document(i, i) for i in range(5)])
    cursor = Cursor(0, "k", journal, 0, end)
    assert cursor.lines_ahead() == 5
    cursor.end = journal.append([document(i, i) for i in range(3)])
    assert cursor.lines_ahead() == 8
    cursor.offset = len(document(0, 0)) + len(document(1, 1))  # two lines read
    assert cursor.lines_ahead() == 6
    assert journal.count_lines(0, cursor.end) == 8


def test_a_growing_binding_that_cannot_fill_the_budget_is_not_read_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal ends c0's part of a transaction at once (c0 is done growing, and holds more
    than a budget behind the signal); the transaction goes on into c1, which grows a
    document a commit. Until c1 could fill it, it is not settled, and c1 is not read at all
    (else every commit would parse c1's documents again only to put them back)."""
    reads: list[str] = []
    real_read = Journal.read

    def counted(self: Journal, offset: int, end: int, *budget: int | None) -> Any:
        reads.append(self.path.name)
        return real_read(self, offset, end, *budget)

    monkeypatch.setattr(Journal, "read", counted)
    complete = control_line("backfillComplete", "2026-12-02T00:00:00Z")
    commits = [(COLLECTIONS[0], [complete, *(document(k, k) for k in range(25))])]
    commits += [(COLLECTIONS[1], [document(100 + k, k)]) for k in range(12)]
    materialization = spec(list(COLLECTIONS))
    taken, ahead = store_ahead(tmp_path, materialization, commits, False, 20, None)
    assert ahead == 0
    assert reads.count("acmeCo_c1.jsonl") <= 3  # the last pass's three transactions only
    assert taken == after(tmp_path, materialization, commits, 20, None)
