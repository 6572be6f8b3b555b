"""The KvDB HTTP client against the loopback KvDB: transactions, paged prefix listing, auth,
retries of 429/5xx as the rate-limit headers ask, and clear errors for everything else."""

from __future__ import annotations

import time

import pytest
from kvdb_driver import BUCKET_ID, SECRET, closed_port

from destination_kvdb.backoff import Backoff
from destination_kvdb.bucket import BucketError
from destination_kvdb.http_bucket import KvdbBucket


def client(kvdb, sleeps=None, **kwargs):
    sleep = sleeps.append if sleeps is not None else time.sleep
    return KvdbBucket(
        kwargs.pop("bucket_id", BUCKET_ID),
        kwargs.pop("secret", SECRET),
        kwargs.pop("url", kvdb.url),
        sleep=sleep,
        **kwargs,
    )


def test_transactions_and_listing(kvdb):
    with client(kvdb) as bucket:
        bucket.transact([("set", "a/1", '{"x":1}'), ("set", "a/2", "2"), ("set", "b/1", "3")])
        bucket.transact([("delete", "a/2", None)])
        assert bucket.keys("a/") == ["a/1"]
        assert bucket.items("") == [("a/1", '{"x":1}'), ("b/1", "3")]
    assert kvdb.buckets[BUCKET_ID][1] == {"a/1": '{"x":1}', "b/1": "3"}
    listing = [s for s in kvdb.seen if s.method == "GET"][0]
    assert listing.path == f"/{BUCKET_ID}/"
    assert listing.query == {
        "prefix": "a/",
        "skip": "0",
        "limit": "1000",
        "values": "false",
        "format": "json",
    }


def test_listing_pages_with_skip_and_limit(kvdb):
    data = kvdb.buckets[BUCKET_ID][1]
    data.update({f"p/{i:05d}": str(i) for i in range(2500)})
    with client(kvdb) as bucket:
        keys = bucket.keys("p/")
        items = bucket.items("p/")
    assert keys == sorted(data)
    assert items[-1] == ("p/02499", "2499")
    skips = [s.query["skip"] for s in kvdb.seen if s.query.get("values") == "false"]
    assert skips == ["0", "1000", "2000"]


def test_bearer_tokens_work_on_the_fake_too(kvdb):
    import requests

    answer = requests.get(f"{kvdb.url}/{BUCKET_ID}/", headers={"Authorization": f"Bearer {SECRET}"})
    assert answer.status_code == 200


def test_a_refused_secret_names_the_secret(kvdb):
    with client(kvdb, secret="wrong") as bucket, pytest.raises(BucketError) as caught:
        bucket.transact([("set", "k", "v")])
    assert caught.value.config_problem
    assert "refused the secret key (HTTP 401 (unauthorized))" in str(caught.value)
    assert "config.bucket.secret_key" in str(caught.value)
    assert "wrong" not in str(caught.value)


def test_an_unknown_bucket_names_the_bucket(kvdb):
    with client(kvdb, bucket_id="NoSuchBucket") as bucket, pytest.raises(BucketError) as caught:
        bucket.keys("")
    assert caught.value.config_problem
    assert f"KvDB bucket NoSuchBucket at {kvdb.url} does not exist (HTTP 404" in str(caught.value)


def test_an_unreachable_host_is_reported_after_the_retries(kvdb):
    sleeps: list[float] = []
    url = f"http://127.0.0.1:{closed_port()}"
    with (
        client(kvdb, sleeps, url=url, backoff=Backoff(attempts=3)) as bucket,
        pytest.raises(BucketError, match=f"cannot reach {url}"),
    ):
        bucket.transact([("set", "k", "v")])
    assert len(sleeps) == 2


def test_429_waits_as_retry_after_asks_then_succeeds(kvdb):
    sleeps: list[float] = []
    kvdb.fail_next(429, {"Retry-After": "3"}, times=2)
    with client(kvdb, sleeps) as bucket:
        bucket.transact([("set", "k", "v")])
        assert bucket.retries == 2
    assert sleeps == [3.0, 3.0]
    assert kvdb.buckets[BUCKET_ID][1] == {"k": "v"}


def test_429_waits_for_the_rate_limit_reset(kvdb):
    sleeps: list[float] = []
    kvdb.fail_next(429, {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "4"})
    with client(kvdb, sleeps) as bucket:
        bucket.transact([("set", "k", "v")])
    assert len(sleeps) >= 1 and all(3.5 <= s <= 4.0 for s in sleeps)


def test_a_real_wait_honours_retry_after(kvdb):
    kvdb.fail_next(429, {"Retry-After": "1"})
    with client(kvdb) as bucket:
        bucket.transact([("set", "k", "v")])
    first, second = [s.at for s in kvdb.seen]
    assert second - first >= 1.0


def test_an_exhausted_rate_limit_delays_the_next_request(kvdb):
    sleeps: list[float] = []
    kvdb.rate_headers = {
        "X-Ratelimit-Limit": "1000",
        "X-Ratelimit-Remaining": "0",
        "X-Ratelimit-Reset": "2",
    }
    with client(kvdb, sleeps) as bucket:
        bucket.transact([("set", "k", "v")])
        assert sleeps == []
        bucket.transact([("set", "k", "w")])
    assert len(sleeps) == 1 and 1.5 <= sleeps[0] <= 2.0


def test_5xx_is_retried_with_exponential_backoff(kvdb):
    sleeps: list[float] = []
    kvdb.fail_next(503)
    kvdb.fail_next(500)
    with client(kvdb, sleeps, backoff=Backoff(base=0.5)) as bucket:
        bucket.transact([("set", "k", "v")])
    assert len(sleeps) == 2 and 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_retries_give_up_with_the_last_reason(kvdb):
    sleeps: list[float] = []
    kvdb.fail_next(502, times=3)
    with (
        client(kvdb, sleeps, backoff=Backoff(attempts=3)) as bucket,
        pytest.raises(BucketError, match="failed 3 times, last with HTTP 502"),
    ):
        bucket.transact([("set", "k", "v")])


def test_a_wait_longer_than_allowed_fails_with_the_reason(kvdb):
    kvdb.fail_next(429, {"Retry-After": "3600"})
    with (
        client(kvdb, [], backoff=Backoff(max_wait=60)) as bucket,
        pytest.raises(BucketError, match="asks to wait 3600 s"),
    ):
        bucket.transact([("set", "k", "v")])


def test_other_errors_fail_at_once(kvdb):
    sleeps: list[float] = []
    kvdb.fail_next(400)
    with client(kvdb, sleeps) as bucket, pytest.raises(BucketError, match="was refused: HTTP 400"):
        bucket.transact([("set", "k", "v")])
    assert sleeps == [] and len(kvdb.seen) == 1


def test_a_listing_that_is_not_json_is_reported(kvdb):
    kvdb.fail_next(200)
    with client(kvdb) as bucket, pytest.raises(BucketError, match="is base_url a KvDB API"):
        bucket.keys("")


def test_the_probe(kvdb):
    with client(kvdb) as bucket:
        bucket.probe()
    assert kvdb.buckets[BUCKET_ID][1] == {}
    assert kvdb.transactions() == [1, 1]
