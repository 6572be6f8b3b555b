"""`write()` in process, on both buckets: keys, batching, overwrite, idempotent replays, and a
STATE echoed only once everything before it is committed, with its record count."""

from __future__ import annotations

import logging

import pytest
from airbyte_cdk.models import AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from kvdb_driver import (
    BUCKET_ID,
    configured_stream,
    global_state,
    kvdb_config,
    local_config,
    record,
    stream_state,
)

from destination_kvdb import DestinationKvdb
from destination_kvdb.config import KvdbConfig
from destination_kvdb.destination import open_bucket
from destination_kvdb.local_bucket import LocalBucket
from destination_kvdb.writer import BucketWriter


@pytest.fixture(params=["local", "kvdb"])
def config(request, tmp_path):
    if request.param == "local":
        return local_config(tmp_path / "bucket.sqlite")
    kvdb = request.getfixturevalue("kvdb")
    return kvdb_config(kvdb)


def contents(config, prefix=""):
    with open_bucket(KvdbConfig.parse(config)) as bucket:
        return dict(bucket.items(prefix))


def write(config, streams, messages):
    catalog = ConfiguredAirbyteCatalogSerializer.load({"streams": streams})
    loaded = [AirbyteMessageSerializer.load(m) for m in messages]
    return [
        AirbyteMessageSerializer.dump(m) for m in DestinationKvdb().write(config, catalog, loaded)
    ]


USERS = configured_stream("users", "append_dedup", [["id"]])


def test_primary_key_records_are_keyed_by_it_and_replays_overwrite(config):
    messages = [
        record("users", {"id": 1, "v": "a"}),
        record("users", {"id": 2, "v": "b"}),
        stream_state("users", {"cursor": 2}),
    ]
    write(config, [USERS], messages)
    write(config, [USERS], [record("users", {"id": 1, "v": "A"}), *messages[1:]])
    assert contents(config) == {"users/1": '{"id":1,"v":"A"}', "users/2": '{"id":2,"v":"b"}'}


def test_a_cdc_deletion_deletes_its_key_in_dedup_mode_only(config):
    deleted = {"id": 1, "_ab_cdc_deleted_at": "2026-11-30T01:00:00Z"}
    write(config, [USERS], [record("users", {"id": 1}), record("users", {"id": 2})])
    write(
        config,
        [USERS],
        [record("users", deleted), record("users", {"id": 3, "_ab_cdc_deleted_at": None})],
    )
    assert sorted(contents(config)) == ["users/2", "users/3"]
    write(config, [configured_stream("users", "append", [["id"]])], [record("users", deleted)])
    assert contents(config)["users/1"] == '{"id":1,"_ab_cdc_deleted_at":"2026-11-30T01:00:00Z"}', (
        "append keeps the deletion's record, as Airbyte's append destinations do"
    )


def test_records_without_a_primary_key_get_arrival_keys(config):
    stream = configured_stream("log", "append")
    write(config, [stream], [record("log", {"n": 1}, 5), record("log", {"n": 1}, 5)])
    write(config, [stream], [record("log", {"n": 2}, 6)])
    stored = contents(config)
    assert len(stored) == 3
    keys = sorted(stored)
    assert all(k.startswith("log/") for k in keys)
    assert keys[0].startswith("log/0000000000005-") and keys[2].startswith("log/0000000000006-")
    assert [stored[k] for k in keys] == ['{"n":1}', '{"n":1}', '{"n":2}']


def test_composite_nested_and_awkward_keys_are_escaped(config):
    stream = configured_stream("a/b.c", "append_dedup", [["org"], ["user", "id"]], namespace="ns")
    write(
        config,
        [stream],
        [
            {
                "type": "RECORD",
                "record": {
                    "stream": "a/b.c",
                    "namespace": "ns",
                    "data": {"org": "x/y.z%", "user": {"id": 7}},
                    "emitted_at": 1,
                },
            }
        ],
    )
    assert list(contents(config)) == ["ns.a%2Fb%2Ec/x%2Fy%2Ez%25/7"]


def test_overwrite_deletes_only_its_own_stream_first(config):
    users = configured_stream("users", "append_dedup", [["id"]])
    usersx = configured_stream("usersx", "append_dedup", [["id"]])
    write(
        config,
        [users, usersx],
        [record("users", {"id": 1}), record("users", {"id": 2}), record("usersx", {"id": 1})],
    )
    write(config, [configured_stream("users", "overwrite", [["id"]])], [record("users", {"id": 3})])
    assert sorted(contents(config)) == ["users/3", "usersx/1"]


def test_states_are_echoed_in_order_after_their_records_are_committed(config):
    catalog = ConfiguredAirbyteCatalogSerializer.load(
        {"streams": [USERS, configured_stream("log")]}
    )
    messages = []
    for i in range(25):
        messages.append(record("users", {"id": i}))
        messages.append(record("log", {"i": i}))
        if i % 10 == 9:
            messages.append(stream_state("users", {"at": i}))
    messages.append(global_state({"done": True}))
    loaded = (AirbyteMessageSerializer.load(m) for m in messages)
    echoed = []
    for message in DestinationKvdb().write({**config, "batch_size": 7}, catalog, loaded):
        state = AirbyteMessageSerializer.dump(message)["state"]
        committed = contents(config)
        if state["type"] == "STREAM":
            at = state["stream"]["stream_state"]["at"]
            assert {f"users/{i}" for i in range(at + 1)} <= set(committed)
        else:
            assert len(committed) == 50
        echoed.append(state)
    assert [s.get("stream", {}).get("stream_state") for s in echoed] == [
        {"at": 9},
        {"at": 19},
        None,
    ]
    assert [s["destinationStats"]["recordCount"] for s in echoed] == [10.0, 10.0, 30.0]


def test_transactions_hold_at_most_batch_size_operations(kvdb):
    config = kvdb_config(kvdb, batch_size=300)
    write(config, [USERS], [record("users", {"id": i}) for i in range(1000)])
    assert kvdb.transactions() == [300, 300, 300, 100]
    write(kvdb_config(kvdb), [configured_stream("users", "overwrite", [["id"]])], [])
    assert kvdb.transactions()[4:] == [1000]
    assert kvdb.buckets[BUCKET_ID][1] == {}


def test_a_record_of_an_unknown_stream_fails_the_write(config):
    with pytest.raises(
        AirbyteTracedException, match="stream 'other' .* not in the configured catalog"
    ):
        write(config, [USERS], [record("other", {"id": 1})])


def test_a_record_without_its_primary_key_fails_the_write(config):
    with pytest.raises(
        AirbyteTracedException, match="stream 'users': the record has no primary key field 'id'"
    ):
        write(config, [USERS], [record("users", {"name": "x"})])


def test_a_key_longer_than_a_bucket_allows_fails_the_write(config):
    with pytest.raises(AirbyteTracedException, match="more than the 128 a bucket key may have"):
        write(config, [USERS], [record("users", {"id": "x" * 200})])


def test_append_dedup_needs_a_primary_key(config):
    with pytest.raises(AirbyteTracedException, match="append_dedup but has no primary key"):
        write(config, [configured_stream("log", "append_dedup")], [])


def test_a_bucket_failure_says_what_was_not_committed(kvdb):
    kvdb.fail_next(400)
    with pytest.raises(AirbyteTracedException) as caught:
        write(kvdb_config(kvdb), [USERS], [record("users", {"id": 1}), stream_state("users", {})])
    assert "was refused: HTTP 400" in caught.value.message
    assert "states after the last one echoed were not committed" in caught.value.message


def test_check_reports_success_and_precise_failures(kvdb, tmp_path):
    logger = logging.getLogger("test")
    check = DestinationKvdb().check
    assert check(logger, kvdb_config(kvdb)).status.value == "SUCCEEDED"
    assert check(logger, local_config(tmp_path / "b.sqlite")).status.value == "SUCCEEDED"
    bad_secret = check(logger, kvdb_config(kvdb, bucket={"secret_key": "nope"}))
    assert bad_secret.status.value == "FAILED" and "refused the secret key" in bad_secret.message
    unknown = check(logger, kvdb_config(kvdb, bucket={"bucket_id": "Unknown1"}))
    assert "KvDB bucket Unknown1" in unknown.message and "does not exist" in unknown.message
    malformed = check(logger, kvdb_config(kvdb, bucket={"base_url": "http://example.com"}))
    assert "config.bucket.base_url" in malformed.message


def test_the_key_limit_is_exact(config):
    """`users/` and 122 characters are 128 bytes; one more fails (escaping keeps keys ASCII:
    an `é` is `%C3%A9`)."""
    with pytest.raises(AirbyteTracedException, match="is 129 bytes, more than the 128"):
        write(config, [USERS], [record("users", {"id": "x" * 123})])
    write(config, [USERS], [record("users", {"id": "x" * 122})])
    with pytest.raises(AirbyteTracedException, match="is 132 bytes, more than the 128"):
        write(config, [USERS], [record("users", {"id": "é" * 21})])


def test_a_value_larger_than_a_bucket_allows_fails_the_write(config):
    with pytest.raises(AirbyteTracedException, match=r"stream 'users': .* more than the 16384"):
        write(config, [USERS], [record("users", {"id": 1, "text": "x" * 16_400})])
    write(config, [USERS], [record("users", {"id": 1, "text": "x" * 16_000})])


def test_the_records_written_per_stream_are_logged_at_the_end(config, caplog):
    """Counted through STREAM and GLOBAL states, and after the last state too."""
    catalog = ConfiguredAirbyteCatalogSerializer.load(
        {"streams": [USERS, configured_stream("log")]}
    )
    messages = [record("users", {"id": i}) for i in range(5)] + [stream_state("users", {})]
    messages += [record("log", {"i": i}) for i in range(3)] + [global_state({})]
    messages += [record("users", {"id": 9}), record("log", {"i": 9})]
    with caplog.at_level(logging.INFO, logger="airbyte"):
        loaded = (AirbyteMessageSerializer.load(m) for m in messages)
        list(DestinationKvdb().write(config, catalog, loaded))
    wrote = [r.getMessage().split(" to ")[0] for r in caplog.records if "wrote" in r.getMessage()]
    assert wrote == ["wrote 4 records of stream log", "wrote 6 records of stream users"]


class SyncRecordingBucket(LocalBucket):
    """A real local bucket that notes each transaction's size and the `synchronous` level
    SQLite committed it with (2 FULL: the log synced; 1 NORMAL: not)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.commits: list[tuple[int, int]] = []

    def transact(self, operations, durable=True):
        super().transact(operations, durable)
        level = self.db.execute("PRAGMA synchronous").fetchone()[0]
        self.commits.append((len(operations), level))


def test_only_the_transaction_before_a_state_or_the_end_is_synced(tmp_path):
    """Each transaction holds at most batch_size operations as before, but only the one that
    makes a STATE's records durable (or the write's last) pays for a sync."""
    bucket = SyncRecordingBucket(str(tmp_path / "bucket.sqlite"))
    bucket.transact([("set", f"old/{i}", "0") for i in range(500)])
    bucket.commits.clear()
    streams = [USERS, configured_stream("old", "overwrite", [["id"]])]
    catalog = ConfiguredAirbyteCatalogSerializer.load({"streams": streams})
    messages = [record("users", {"id": i}) for i in range(700)]
    messages.append(stream_state("users", {"at": 699}))
    messages += [record("users", {"id": i}) for i in range(700, 1000)]
    loaded = [AirbyteMessageSerializer.load(m) for m in messages]
    writer = BucketWriter(bucket, catalog, 300, logging.getLogger("test"))
    echoed = []
    for _echo in writer.write(loaded):  # what was committed, and how, by each echo
        echoed.append(list(bucket.commits))
    full, normal = 2, 1
    deletes = [(300, normal), (200, full)]  # the overwritten stream's old keys first
    before_state = [(300, normal), (300, normal), (100, full)]
    assert echoed == [deletes + before_state]
    assert bucket.commits == deletes + before_state + [(300, full)]
    assert len(bucket.keys("users/")) == 1000 and bucket.keys("old/") == []


def test_a_bucket_whose_every_transaction_is_durable_gets_each_batch_at_once(kvdb):
    """KvDB needs no sync at a state, so a full batch is sent as soon as it fills, not held
    for the next record: a failure after it loses nothing that was ready."""
    config = kvdb_config(kvdb, batch_size=2)
    with pytest.raises(AirbyteTracedException, match="not in the configured catalog"):
        write(
            config,
            [USERS],
            [record("users", {"id": 1}), record("users", {"id": 2}), record("other", {"id": 3})],
        )
    assert kvdb.transactions() == [2]
