#!/usr/bin/env bash
# The demo, from a fresh machine with only Python 3.11 and pip: the whole local pipeline.
# `flow-sdk run` captures the example Airbyte source (source-bigdata, wrapped by flow-sdk's
# CaptureShim) into local collection journals under .flow-data/, then materializes them with
# the example Airbyte destination (destination-kvdb, wrapped by MaterializeShim) into a local
# KvDB bucket (.flow-data/kvdb.sqlite). Run it again and it continues incrementally; kill it
# at any point and the next run picks up where the last commit left off.
source "$(dirname "$0")/scripts/bootstrap.sh"
echo "demo: flow-sdk run --source test.flow.yaml --data-dir .flow-data" >&2
flow-sdk run --source test.flow.yaml --data-dir .flow-data
python - .flow-data/kvdb.sqlite <<'PY'
import collections, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
keys = [key for (key,) in db.execute("SELECT key FROM kv ORDER BY key")]
streams = collections.Counter(key.split("/", 1)[0] for key in keys)
print(f"what landed in the local bucket {sys.argv[1]}: {len(keys)} keys")
for stream, count in sorted(streams.items()):
    first, value = db.execute(
        "SELECT key, value FROM kv WHERE key >= ? ORDER BY key LIMIT 1", (stream + "/",)
    ).fetchone()
    print(f"  {stream + '/*':<12} {count:>6} keys, e.g. {first} = {value[:90]}...")
PY
