"""The data plane's storage: journals append durably, drop uncommitted tails, read whole
lines within the committed length; state files are replaced atomically; one run per dir."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"") + b"\n"), max_size=30),
    st.integers(min_value=0, max_value=120),
)
def test_reads_bounded_by_bytes_take_whole_lines_until_the_bound(tmp_path_factory, lines, bound):
    """`max_bytes` stops a read before the first line that begins at or past the bound (never
    before the first line), and reads so bounded cover the journal exactly."""
    journal = Journal(tmp_path_factory.mktemp("j") / "j.jsonl")
    end = journal.append(lines) if lines else 0
    offset, pieces = 0, []
    while offset < end:
        taken, after = journal.read(offset, end, 1000, bound)
        assert taken and after - offset == sum(map(len, taken))
        assert sum(map(len, taken[:-1])) < max(1, bound)  # every line but the last began inside
        if after < end:  # and the next one would begin at or past the bound
            assert after - offset >= max(1, bound)
        pieces += taken
        offset = after
    assert pieces == lines


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
