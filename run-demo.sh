#!/usr/bin/env bash
# The demo, from a fresh machine with only Python 3.11 and pip: capture the example Airbyte
# source (source-bigdata, wrapped by flow-sdk's CaptureShim) with the local runtime, as
# `flowctl preview --source test.flow.yaml` would, then summarize what was captured.
source "$(dirname "$0")/scripts/bootstrap.sh"
out=.flow-data/demo-preview.jsonl
mkdir -p .flow-data
echo "demo: flow-sdk preview --source test.flow.yaml --name acmeCo/source-bigdata (documents in $out)" >&2
flow-sdk preview --source test.flow.yaml --name acmeCo/source-bigdata --output-state >"$out"
python - "$out" <<'PY'
import collections, sys, orjson
docs, commits, final = collections.Counter(), 0, {}
with open(sys.argv[1], "rb") as lines:
    for line in lines:
        name, value = orjson.loads(line)
        if name != "connectorState":
            docs[name] += 1
        elif value.get("mergePatch"):
            commits += 1
        else:
            final = value["updated"]
print("captured: " + ", ".join(f"{n} {c}" for c, n in sorted(docs.items())))
print(f"committed: {commits} transaction(s), each closing one or more connector checkpoints")
for key, entry in sorted(final.get("bindingStateV1", {}).items()):
    for stream in entry.get("stream", []):
        print(f"state of {key}: {orjson.dumps(stream.get('stream_state')).decode()}")
PY
