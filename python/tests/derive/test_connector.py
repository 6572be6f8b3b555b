"""The derive request loop as a real process: the example derivation (balances) through
spec, validate, open, transactions of reads, flush and startCommit, its state across
sessions, and out-of-turn or malformed input ending it with one readable error."""

from __future__ import annotations

from pathlib import Path

import pytest

from flow_sdk.testing import run_connector

EXAMPLE = Path(__file__).parents[2] / "examples" / "derive_balances.py"
TRANSFERS = {
    "name": "acmeCo/transfers",
    "key": ["/id"],
    "writeSchema": {
        "type": "object",
        "properties": {"id": {}, "sender": {}, "recipient": {}, "amount": {}},
    },
}
BALANCES = {
    "name": "acmeCo/balances",
    "key": ["/account"],
    "writeSchema": {"type": "object"},
    "derivation": {
        "connectorType": "LOCAL",
        "config": {},
        "transforms": [{"name": "fromTransfers", "collection": TRANSFERS}],
    },
}


def open_(state: object = None) -> dict:
    return {
        "open": {
            "collection": BALANCES,
            "version": "v1",
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": state or {},
        }
    }


def read(doc_id: int, sender: str, recipient: str, amount: float, transform: int = 0) -> dict:
    doc = {"id": doc_id, "sender": sender, "recipient": recipient, "amount": amount}
    return {
        "read": {
            "transform": transform,
            "uuid": {"node": "1", "clock": str(doc_id)},
            "shuffle": {"key": [doc_id], "hash": 7},
            "doc": doc,
        }
    }


FLUSH, COMMIT = {"flush": {}}, {"startCommit": {"runtimeCheckpoint": {}}}


def test_spec_and_validate() -> None:
    validate = {
        "validate": {
            "connectorType": "LOCAL",
            "config": {},
            "collection": BALANCES,
            "transforms": [{"name": "fromTransfers", "collection": TRANSFERS}],
        }
    }
    done = run_connector(EXAMPLE, [{"spec": {"connectorType": "LOCAL", "config": {}}}, validate])
    assert done.code == 0, done.stderr
    assert done.stdout[0]["spec"]["protocol"] == 3032023
    assert done.stdout[1] == {"validated": {"transforms": [{}]}}
    wrong = {"name": "acmeCo/other", "writeSchema": {"type": "object", "properties": {"x": {}}}}
    bad = run_connector(
        EXAMPLE,
        [
            {
                "validate": {
                    "collection": BALANCES,
                    "transforms": [{"name": "t", "collection": wrong}],
                }
            }
        ],
    )
    assert bad.code == 1 and bad.stdout == []
    assert "whose documents have no sender, recipient, amount" in bad.last_log["msg"]


def test_transactions_publish_and_commit_state_then_resume() -> None:
    done = run_connector(
        EXAMPLE,
        [
            open_(),
            read(1, "alice", "bob", 10),
            read(2, "bob", "carol", 4),
            FLUSH,
            COMMIT,
            read(3, "carol", "alice", 1),
            FLUSH,
            COMMIT,
        ],
    )
    assert done.code == 0, done.stderr
    assert done.variants == ["opened"] + ["published"] * 4 + ["flushed", "startedCommit"] + [
        "published"
    ] * 2 + ["flushed", "startedCommit"]
    published = [r["published"]["doc"] for r in done.stdout if "published" in r]
    assert published[:4] == [
        {"account": "alice", "balance": -10},
        {"account": "bob", "balance": 10},
        {"account": "bob", "balance": 6},
        {"account": "carol", "balance": 4},
    ]
    first, second = (r["startedCommit"]["state"] for r in done.stdout if "startedCommit" in r)
    assert first == {
        "updated": {"balances": {"alice": -10, "bob": 6, "carol": 4}},
        "mergePatch": True,
    }
    assert second == {"updated": {"balances": {"alice": -9, "carol": 3}}, "mergePatch": True}

    state = {"balances": {"alice": -9, "bob": 6, "carol": 3}}
    again = run_connector(EXAMPLE, [open_(state), read(4, "bob", "alice", 6), FLUSH, COMMIT])
    assert [r["published"]["doc"] for r in again.stdout if "published" in r] == [
        {"account": "bob", "balance": 0},
        {"account": "alice", "balance": -3},
    ]


def test_an_empty_transaction_and_the_probe_spec_before_open() -> None:
    done = run_connector(EXAMPLE, [{"spec": {"config": {}}}, open_(), FLUSH, COMMIT])
    assert done.code == 0, done.stderr
    assert done.variants == ["spec", "opened", "flushed", "startedCommit"]


@pytest.mark.parametrize(
    ("requests", "error"),
    [
        (
            [read(1, "a", "b", 1)],
            "`read` arrived out of turn: expected `spec`, `validate` or `open`",
        ),
        ([open_(), COMMIT], "`startCommit` arrived out of turn: expected `read`, `flush`"),
        (
            [open_(), FLUSH, read(1, "a", "b", 1)],
            "`read` arrived out of turn: expected `startCommit`",
        ),
        ([open_(), open_()], "`open` arrived out of turn"),
        (
            [open_(), read(1, "a", "b", 1, transform=3)],
            "`read` names transform 3, but the opened derivation has 1 transform(s)",
        ),
        ([open_(), read(1, "a", "b", 1)], "stdin ended in the middle of a transaction"),
        ([open_(), b'{"read": {"transform": "x"}}\n'], "malformed `read`: transform:"),
        ([open_(), b'{"read": \n'], "message is not valid JSON"),
        ([open_(), {"acknowledge": {}}], "no known message variant"),
    ],
)
def test_bad_input_ends_with_one_readable_error(requests: list, error: str) -> None:
    done = run_connector(EXAMPLE, requests)
    assert done.code == 1
    assert error in done.last_log["msg"], done.last_log
    assert "published" not in done.variants


def test_a_failing_read_names_the_cause() -> None:
    bad_doc = {"read": {"transform": 0, "doc": {"id": 1, "sender": "a", "recipient": "b"}}}
    done = run_connector(EXAMPLE, [open_(), bad_doc, FLUSH, COMMIT])
    assert done.code == 1
    assert done.last_log["msg"] == "connector failed: KeyError: 'amount'"
    assert done.variants == ["opened"], "nothing after a failure reaches the runtime"
