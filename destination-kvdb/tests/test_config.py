"""The spec's patterns and the config parser: malformed values are rejected with a sentence
naming the field (never quoting a secret), good ones become a typed config."""

from __future__ import annotations

import jsonschema
import pytest

from destination_kvdb.config import (
    ConfigError,
    KvdbBucketConfig,
    KvdbConfig,
    LocalBucketConfig,
    connection_schema,
    spec_document,
)

GOOD_KVDB = {"bucket_type": "kvdb", "bucket_id": "N7cmQg1DwZbADh2Hu3NncF", "secret_key": "k3y!"}


def test_spec_is_a_valid_schema_with_the_secret_marked():
    spec = spec_document()
    jsonschema.Draft7Validator.check_schema(spec["connectionSpecification"])
    assert set(spec["supported_destination_sync_modes"]) == {"overwrite", "append", "append_dedup"}
    kvdb, local = connection_schema()["properties"]["bucket"]["oneOf"]
    assert kvdb["properties"]["secret_key"]["airbyte_secret"] is True
    assert local["properties"]["path"]["type"] == "string"


def test_a_kvdb_bucket_with_defaults():
    config = KvdbConfig.parse({"bucket": GOOD_KVDB})
    assert config == KvdbConfig(
        KvdbBucketConfig("N7cmQg1DwZbADh2Hu3NncF", "k3y!", "https://kvdb.io"), 1000
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://kvdb.io",
        "https://eu.kvdb.example:8443/api",
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://[::1]:9/",
    ],
)
def test_base_url_accepts_https_and_loopback_http(url):
    config = KvdbConfig.parse({"bucket": {**GOOD_KVDB, "base_url": url}})
    assert config.bucket.base_url == url.rstrip("/")


@pytest.mark.parametrize(
    ("bucket", "batch", "mentions"),
    [
        ({**GOOD_KVDB, "bucket_id": "no/slash"}, None, "config.bucket.bucket_id is 'no/slash'"),
        ({**GOOD_KVDB, "bucket_id": "ab"}, None, "config.bucket.bucket_id"),
        ({**GOOD_KVDB, "base_url": "http://kvdb.io"}, None, "config.bucket.base_url"),
        ({**GOOD_KVDB, "base_url": "http://127.0.0.1.evil.com"}, None, "config.bucket.base_url"),
        ({**GOOD_KVDB, "base_url": "ftp://kvdb.io"}, None, "config.bucket.base_url"),
        (
            {"bucket_type": "kvdb", "bucket_id": "abcd"},
            None,
            "config.bucket.secret_key is required",
        ),
        ({"bucket_type": "local", "path": ""}, None, "config.bucket.path"),
        ({"bucket_type": "local", "path": " lead"}, None, "config.bucket.path"),
        ({"bucket_type": "local", "path": "a\x00b"}, None, "config.bucket.path"),
        ({"bucket_type": "local"}, None, "config.bucket.path is required"),
        ({"bucket_type": "s3", "path": "x"}, None, "config.bucket.bucket_type is 's3'"),
        ({"bucket_type": "local", "path": "x", "secret_key": "y"}, None, "unknown fields"),
        ({"bucket_type": "local", "path": "x"}, 0, "config.batch_size is 0 but must be at least 1"),
        ({"bucket_type": "local", "path": "x"}, 1001, "must be at most 1000"),
    ],
)
def test_malformed_values_are_rejected_by_field(bucket, batch, mentions):
    config = {"bucket": bucket} if batch is None else {"bucket": bucket, "batch_size": batch}
    with pytest.raises(ConfigError) as caught:
        KvdbConfig.parse(config)
    assert mentions in str(caught.value)
    # the spec says the same as the parser
    assert not jsonschema.Draft7Validator(connection_schema()).is_valid(config)


def test_a_missing_bucket_is_named():
    with pytest.raises(ConfigError, match=r"config.bucket is required"):
        KvdbConfig.parse({})


@pytest.mark.parametrize("secret", ["has space", "", "x" * 257, "tab\there"])
def test_a_malformed_secret_is_never_quoted(secret):
    with pytest.raises(ConfigError) as caught:
        KvdbConfig.parse({"bucket": {**GOOD_KVDB, "secret_key": secret}})
    message = str(caught.value)
    assert "config.bucket.secret_key is a malformed value" in message
    if secret:
        assert secret not in message


def test_a_secret_of_the_wrong_type_is_never_quoted():
    with pytest.raises(ConfigError) as caught:
        KvdbConfig.parse({"bucket": {**GOOD_KVDB, "secret_key": 123456789}})
    assert "123456789" not in str(caught.value)


def test_a_local_bucket():
    config = KvdbConfig.parse(
        {"bucket": {"bucket_type": "local", "path": "~/b.db"}, "batch_size": 7}
    )
    assert config == KvdbConfig(LocalBucketConfig("~/b.db"), 7)
