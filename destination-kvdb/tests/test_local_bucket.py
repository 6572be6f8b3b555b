"""The local bucket: SQLite transactions are atomic and durable, listing is by prefix in key
order, and a path that cannot be written is reported with what to do."""

from __future__ import annotations

import os

import pytest

from destination_kvdb.bucket import BucketError
from destination_kvdb.local_bucket import LocalBucket, prefix_range


def test_sets_deletes_and_prefix_listing(tmp_path):
    with LocalBucket(str(tmp_path / "b.sqlite")) as bucket:
        bucket.transact(
            [("set", "users/2", "b"), ("set", "users/1", "a"), ("set", "usersx/1", "x")]
        )
        bucket.transact(
            [("set", "users/1", "A"), ("delete", "users/2", None), ("delete", "none", None)]
        )
        assert bucket.keys("users/") == ["users/1"]
        assert bucket.items("users") == [("users/1", "A"), ("usersx/1", "x")]
        assert bucket.keys("") == ["users/1", "usersx/1"]
    with LocalBucket(str(tmp_path / "b.sqlite")) as again:  # durable across connections
        assert again.items("") == [("users/1", "A"), ("usersx/1", "x")]


def test_prefix_range_covers_non_ascii_keys(tmp_path):
    assert prefix_range("a/") == ("a/", "a0")
    with LocalBucket(str(tmp_path / "b.sqlite")) as bucket:
        bucket.transact([("set", "é/ü", "1"), ("set", "é0", "2"), ("set", "é/\U0001f600", "3")])
        assert bucket.keys("é/") == ["é/ü", "é/\U0001f600"]


def test_a_failing_transaction_changes_nothing(tmp_path):
    with LocalBucket(str(tmp_path / "b.sqlite")) as bucket:
        bucket.transact([("set", "k/1", "old")])
        with pytest.raises(BucketError, match="writing 2 operations"):
            bucket.transact([("set", "k/1", "new"), ("set", "k/2", None)])  # type: ignore[list-item]
        assert bucket.items("") == [("k/1", "old")]


def test_a_missing_directory_is_created(tmp_path):
    with LocalBucket(str(tmp_path / "new" / "dir" / "b.sqlite")) as bucket:
        bucket.transact([("set", "k", "v")])
    assert (tmp_path / "new" / "dir" / "b.sqlite").is_file()


def test_a_directory_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(BucketError) as caught:
        LocalBucket(str(tmp_path / "file" / "b.sqlite"))
    assert caught.value.config_problem
    assert f"cannot create the directory {tmp_path / 'file'}" in str(caught.value)


def test_a_file_that_is_not_a_database_is_reported(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not the droids\n" * 100)
    with pytest.raises(BucketError, match="is a SQLite database") as caught:
        LocalBucket(str(path))
    assert caught.value.config_problem


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only directories")
def test_a_read_only_directory_is_reported(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        with pytest.raises(BucketError, match="cannot write the local bucket"):
            LocalBucket(str(directory / "b.sqlite"))
    finally:
        directory.chmod(0o700)


def test_the_probe_leaves_nothing_behind(tmp_path):
    with LocalBucket(str(tmp_path / "b.sqlite")) as bucket:
        bucket.probe()
        assert bucket.keys("") == []
