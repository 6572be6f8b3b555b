"""The capture combiner spills to disk past its memory and drains the same documents, in the
same order, as when everything fits: reduced by (binding, key), the latest write winning."""

from __future__ import annotations

import io
import random
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from flow_sdk.protocol.flow import CaptureBinding, CaptureSpec, CollectionSpec
from flow_sdk.runtime.capture import combiner as combiner_module
from flow_sdk.runtime.capture.combiner import Combiner, Documents
from flow_sdk.runtime.capture.session import CaptureSession, Transaction
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.keys import KeyExtractor
from flow_sdk.runtime.process import ConnectorProcess, Launch
from flow_sdk.runtime.schema import SchemaValidators

KEYS = KeyExtractor("test", ["/id", "/part"])


def writes(seed: int, count: int) -> list[tuple[tuple[int, tuple], bytes]]:
    """`count` documents over few keys (so most are rewritten), mixed key types."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        doc = {"id": rng.choice([rng.randrange(50), f"k{rng.randrange(20)}", rng.random() < 0.5])}
        doc["part"] = rng.randrange(3)
        doc["n"] = n
        out.append(((rng.randrange(3), KEYS.key(doc)), orjson.dumps(doc)))
    return out


def reference(entries: list[tuple[tuple[int, tuple], bytes]]) -> list[tuple[tuple[int, tuple], bytes]]:
    reduced = dict(entries)  # last write wins
    return sorted(reduced.items(), key=lambda entry: entry[0])


@pytest.mark.parametrize("memory", [0, 300, 5_000, 1 << 30])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spilled_or_not_the_drain_is_the_reduction_in_key_order(memory: int, seed: int) -> None:
    entries = writes(seed, 2_000)
    combiner = Combiner(memory)
    for key, doc in entries:
        combiner.add(key, doc)
    assert (combiner.spilled_runs > 0) == (memory < 1 << 30)
    assert list(combiner.drain()) == reference(entries)
    assert list(combiner.drain()) == reference(entries), "a second drain reads the runs again"
    combiner.close()
    assert combiner.spilled_runs == 0 and list(combiner.drain()) == []


@pytest.mark.parametrize(("earlier_memory", "later_memory"), [(0, 0), (1 << 30, 0), (0, 1 << 30), (2_000, 700)])
def test_a_later_group_absorbed_wins_over_everything_before_it(
    earlier_memory: int, later_memory: int
) -> None:
    first, second, third = writes(7, 600), writes(8, 600), writes(9, 600)
    transaction = Combiner(earlier_memory)
    for part in (first, second, third):  # three checkpoint groups, each absorbed in turn
        group = Combiner(later_memory)
        for key, doc in part:
            group.add(key, doc)
        transaction.absorb(group)
        assert len(group) == 0 and group.spilled_runs == 0
    assert list(transaction.drain()) == reference(first + second + third)


def test_runs_past_the_bound_are_merged_into_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(combiner_module, "MAX_RUNS", 3)
    written: list[tuple[tuple[int, tuple], bytes]] = []
    combiner, most = Combiner(0), 0
    for n, (key, doc) in enumerate(writes(6, 1_500)):
        combiner.add(key, doc)
        written.append((key, doc))
        most = max(most, combiner.spilled_runs)
        if n % 400 == 399:  # a later group, itself spilled, absorbed
            group = Combiner(0)
            for key, doc in writes(n, 50):
                group.add(key, doc)
                written.append((key, doc))
            combiner.absorb(group)
            most = max(most, combiner.spilled_runs)
    assert most == 3
    assert list(combiner.drain()) == reference(written)


def test_len_is_exact_in_memory_and_an_upper_bound_once_spilled() -> None:
    combiner = Combiner(1 << 30)
    for key, doc in writes(4, 500):
        combiner.add(key, doc)
    exact = len(reference(writes(4, 500)))
    assert len(combiner) == exact
    spilling = Combiner(0)
    for key, doc in writes(4, 500):
        spilling.add(key, doc)
    assert len(spilling) >= exact


def test_documents_name_collections_and_count_them() -> None:
    combiner = Combiner(0)
    for key, doc in writes(5, 300):
        combiner.add(key, doc)
    documents = Documents(combiner, ["a/one", "a/two", "a/three"])
    pairs = list(documents)
    expected = [(["a/one", "a/two", "a/three"][k[0]], d) for k, d in reference(writes(5, 300))]
    assert pairs == expected
    assert documents.counts() == {
        name: sum(1 for n, _ in expected if n == name) for name in ("a/one", "a/two", "a/three")
    }
    assert len(documents) == len(expected)
    documents.close()


REWRITES = r"""
import sys
sys.stdin.readline()
out = ['{"opened":{}}']
for n in range(3000):
    out.append('{"captured":{"binding":0,"doc":{"id":%d,"n":%d,"pad":"%s"}}}' % (n % 700, n, "x" * (n % 40)))
    if n % 250 == 249:
        out.append('{"checkpoint":{"state":{"updated":{"n":%d},"mergePatch":true}}}' % n)
sys.stdout.write("\n".join(out) + "\n")
"""


def one_transaction(memory: int | None) -> list[bytes]:
    """The documents of a session's one transaction (everything arrives before it is read)."""
    transactions = list(session_documents(memory))
    assert len(transactions) == 1
    return transactions[0]


def session_transactions(memory: int | None) -> Iterator[tuple[int, int]]:
    """Each transaction of the REWRITES session: its spilled runs and its documents."""
    for documents in session_documents(memory, runs=True):
        yield documents.pop(), len(documents)


def session_documents(memory: int | None, runs: bool = False) -> Iterator[list[Any]]:
    """Each transaction's documents (and, with `runs`, its spilled runs last)."""
    collection = CollectionSpec(name="acmeCo/things", key=["/id"], writeSchema={"type": "object"})
    spec = CaptureSpec(
        name="acmeCo/rewrites",
        bindings=[CaptureBinding(resourcePath=["things"], collection=collection, stateKey="t")],
    )
    console = Console(io.StringIO())
    with ConnectorProcess(Launch(argv=[sys.executable, "-c", REWRITES]), console) as proc:
        session = CaptureSession(proc, spec, SchemaValidators(), console, combiner_memory=memory)
        session.open("v1", {})
        proc.wait(timeout=30)
        while isinstance(txn := session.next_transaction(timeout=10), Transaction):
            documents: list[Any] = [doc for _, doc in txn.documents]
            if runs:
                documents.append(txn.documents.spilled_runs)
            txn.documents.close()
            yield documents


def test_a_session_spilling_at_every_document_commits_the_same_documents() -> None:
    in_memory, spilled = one_transaction(None), one_transaction(0)
    assert spilled == in_memory
    last = {orjson.loads(doc)["id"]: orjson.loads(doc)["n"] for doc in in_memory}
    assert len(last) == 700 and all(n >= 2300 for n in last.values()), "the latest write won"


def test_a_transaction_commits_before_its_combiner_would_spill() -> None:
    """Many small checkpoint groups waiting: the transaction closes at the checkpoint that
    takes its reduced documents past half the combiner's memory, not at every checkpoint and
    not after spilling. A group of 250 documents is ~80 KB by the estimate; with 5 groups'
    memory, a transaction takes 3 groups (their ~700 distinct keys are past half)."""
    transactions = list(session_transactions(400_000))
    assert all(spilled == 0 for spilled, _ in transactions)
    assert len(transactions) >= 3, transactions  # one, before: nothing closed it
    assert all(count > 250 for _, count in transactions[:-1]), transactions
