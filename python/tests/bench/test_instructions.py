"""`bench/instructions.py`'s recording: the requests a real `run` sent destination-kvdb's
session, every store among them (the callgrind counts themselves need valgrind and minutes,
so they are left to the script)."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))
from instructions import recorded_session  # noqa: E402


def test_the_recorded_session_holds_every_store_between_open_and_the_last_commit(
    tmp_path: Path,
) -> None:
    lines = recorded_session(tmp_path, 2_500).read_bytes().splitlines()
    variants = [next(iter(orjson.loads(line))) for line in lines]
    assert variants[:2] == ["spec", "open"]  # the probe Spec every launch gets, then Open
    assert variants.count("store") == 2_500
    assert variants.count("startCommit") == 1  # one transaction: at most 20,000 documents
    assert variants[-2:] == ["startCommit", "acknowledge"]
    ids = sorted(orjson.loads(line)["store"]["doc"]["id"] for line in lines if b'"store"' in line)
    assert ids == list(range(2_500))
