"""The example derivation through `flow-sdk preview --fixture` (a real CLI process): published
documents per committed transaction, reduced by key, state lines, resume from a given state,
and fixtures or catalogs that are wrong ending with one readable error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).parents[4]
CATALOG = "python/examples/balances.flow.yaml"
FIXTURE = "python/examples/balances.fixture.json"


def preview(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "flow_sdk.cli",
            "preview",
            "--source",
            CATALOG,
            "--name",
            "acmeCo/balances",
            *args,
        ],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        timeout=120,
    )


def test_fixture_transactions_publish_reduced_documents_and_state() -> None:
    done = preview("--fixture", FIXTURE, "--output-state")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    docs = [(doc["account"], doc["balance"]) for name, doc in lines if name == "acmeCo/balances"]
    assert docs == [("alice", -10), ("bob", 6), ("carol", 4), ("alice", -8.5), ("carol", 2.5)]
    states = [value for name, value in lines if name == "connectorState"]
    assert states[0] == {
        "updated": {"balances": {"alice": -10, "bob": 6, "carol": 4}},
        "mergePatch": True,
    }
    assert states[-1] == {"updated": {"balances": {"alice": -8.5, "bob": 6, "carol": 2.5}}}


def test_json_lines_fixtures_from_a_file_or_stdin_match_the_legacy_form(tmp_path: Path) -> None:
    legacy = preview("--fixture", FIXTURE, "--output-state")
    assert legacy.returncode == 0, legacy.stderr.decode()[-2000:]
    transactions = json.loads((ROOT / FIXTURE).read_text())
    lines = "".join(
        "".join(json.dumps(pair) + "\n" for pair in txn) + '{"commit": true}\n'
        for txn in transactions
    )
    fixture = tmp_path / "balances.fixture.jsonl"
    fixture.write_text(lines)
    from_file = preview("--fixture", str(fixture), "--output-state")
    assert from_file.returncode == 0, from_file.stderr.decode()[-2000:]
    assert from_file.stdout == legacy.stdout
    from_stdin = preview("--fixture", "-", "--output-state", stdin=lines.encode())
    assert from_stdin.returncode == 0, from_stdin.stderr.decode()[-2000:]
    assert from_stdin.stdout == legacy.stdout


def test_resume_from_initial_state(tmp_path: Path) -> None:
    fixture = tmp_path / "one.json"
    fixture.write_text(
        json.dumps(
            [[["acmeCo/transfers", {"id": 9, "sender": "bob", "recipient": "dan", "amount": 6}]]]
        )
    )
    done = preview("--fixture", str(fixture), "--initial-state", '{"balances": {"bob": 6}}')
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    docs = [orjson.loads(line)[1] for line in done.stdout.splitlines()]
    assert [(d["account"], d["balance"]) for d in docs] == [("bob", 0), ("dan", 6)]


def test_a_bad_fixture_or_missing_flag_is_one_readable_error(tmp_path: Path) -> None:
    missing = preview()
    assert missing.returncode == 1
    assert "is a derivation: preview it with --fixture FILE" in missing.stderr.decode()
    fixture = tmp_path / "bad.json"
    fixture.write_text(json.dumps([[["acmeCo/nobody", {"id": 1}]]]))
    wrong = preview("--fixture", str(fixture))
    assert wrong.returncode == 1
    assert wrong.stderr.decode().strip().splitlines()[-1] == (
        f"flow-sdk: error: --fixture {fixture}: transaction 0, document 0 names collection "
        "'acmeCo/nobody', which no transform of derivation 'acmeCo/balances' reads "
        "(it reads: acmeCo/transfers)"
    )
    fixture.write_text(
        json.dumps([[["acmeCo/transfers", {"id": 1, "sender": "a", "recipient": "b"}]]])
    )
    crash = preview("--fixture", str(fixture))
    assert crash.returncode == 1
    assert "KeyError: 'amount'" in crash.stderr.decode().strip().splitlines()[-1]
