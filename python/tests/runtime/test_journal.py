"""The data plane's storage: journals append durably, drop uncommitted tails, read whole
lines within the committed length; state files are replaced atomically; one run per dir."""

from __future__ import annotations

import pytest

from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.journal import DataDir, Journal, read_state, write_state


def test_append_read_and_truncate(tmp_path):
    journal = Journal(tmp_path / "c" / "users.jsonl")
    assert journal.size == 0
    end = journal.append([b'{"id":1}\n', b'{"id":2}\n'])
    assert end == journal.size == 18
    journal.append([b'{"id":3}\n'])
    lines, offset = journal.read(0, end, 10)
    assert lines == [b'{"id":1}\n', b'{"id":2}\n'] and offset == end
    lines, offset = journal.read(0, journal.size, 1)
    assert lines == [b'{"id":1}\n'] and offset == 9
    assert journal.truncate(end) == 9
    assert list(journal.documents()) == [{"id": 1}, {"id": 2}]


def test_a_journal_shorter_than_committed_is_an_error(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.append([b"{}\n"])
    with pytest.raises(RuntimeFailure, match="changed outside flow-sdk"):
        journal.truncate(10)


def test_a_partial_line_inside_the_committed_length_is_an_error(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.append([b'{"a":1}\n', b'{"b":'])
    with pytest.raises(RuntimeFailure, match="partial line at byte 8"):
        journal.read(0, journal.size, 10)


def test_state_files_are_replaced_whole(tmp_path):
    path = tmp_path / "captures" / "acmeCo" / "task.json"
    assert read_state(path) == {}
    write_state(path, {"a": 1})
    write_state(path, {"b": 2})
    assert read_state(path) == {"b": 2}
    assert [p.name for p in path.parent.iterdir()] == ["task.json"]
    path.write_text("{torn")
    with pytest.raises(RuntimeFailure, match="is not valid JSON"):
        read_state(path)


def test_one_run_per_data_directory(tmp_path):
    first, second = DataDir(tmp_path), DataDir(tmp_path)
    first.lock()
    with pytest.raises(RuntimeFailure, match="another `flow-sdk run` is using"):
        second.lock()
    first.unlock()
    second.lock()
    second.unlock()


def test_names_become_relative_paths(tmp_path):
    data = DataDir(tmp_path)
    assert data.journal("acmeCo/users").path == tmp_path / "collections" / "acmeCo" / "users.jsonl"
    assert data.state_path("captures", "../x/./y") == tmp_path / "captures" / "x" / "y.json"
