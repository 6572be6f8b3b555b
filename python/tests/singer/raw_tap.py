"""A hand-written Singer tap (no singer-sdk): the Singer command line and message stream as
any tap executable speaks them. Stream `items` is incremental on `n` (declared only in the
catalog's metadata) and keyed by a property whose name holds a slash; `batched` arrives as a
BATCH of a gzipped JSONL file. Also writes ACTIVATE_VERSION, an unknown message type and a
stray line of text, as real taps do."""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from pathlib import Path

CATALOG = {
    "streams": [
        {
            "tap_stream_id": "items",
            "stream": "items",
            "schema": {
                "type": "object",
                "properties": {"sku/code": {"type": "string"}, "n": {"type": "integer"}},
            },
            "metadata": [
                {
                    "breadcrumb": [],
                    "metadata": {
                        "table-key-properties": ["sku/code"],
                        "forced-replication-method": "INCREMENTAL",
                        "valid-replication-keys": ["n"],
                        "inclusion": "available",
                    },
                },
                {"breadcrumb": ["properties", "n"], "metadata": {"inclusion": "automatic"}},
            ],
        },
        {
            "tap_stream_id": "batched",
            "stream": "batched",
            "schema": {"type": "object", "properties": {"v": {"type": "integer"}}},
            "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available"}}],
        },
    ]
}


def write(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--catalog")
    parser.add_argument("--state")
    parser.add_argument("--discover", action="store_true")
    args = parser.parse_args()
    config = json.loads(Path(args.config).read_text())
    if args.discover:
        json.dump(CATALOG, sys.stdout, indent=2)
        return
    catalog = json.loads(Path(args.catalog).read_text())
    state = json.loads(Path(args.state).read_text()) if args.state else {}
    selected = {s["tap_stream_id"] for s in catalog["streams"]}
    print("raw-tap starting", file=sys.stderr)
    if "items" in selected:
        since = state.get("bookmarks", {}).get("items", {}).get("n", 0)
        write(
            {
                "type": "SCHEMA",
                "stream": "items",
                "schema": CATALOG["streams"][0]["schema"],
                "key_properties": ["sku/code"],
            }
        )
        write({"type": "ACTIVATE_VERSION", "stream": "items", "version": 1})
        sys.stdout.write("this line is not a Singer message\n")
        for n in range(since + 1, config["count"] + 1):
            write({"type": "RECORD", "stream": "items", "record": {"sku/code": f"s{n}", "n": n}})
            if n % 2 == 0:
                write(
                    {
                        "type": "STATE",
                        "value": {
                            "currently_syncing": "items",
                            "bookmarks": {**state.get("bookmarks", {}), "items": {"n": n}},
                        },
                    }
                )
            if config.get("fail_at") == n:
                print("the upstream went away", file=sys.stderr)
                sys.exit(3)
        write({"type": "FOO", "stream": "items"})
        state = {"bookmarks": {**state.get("bookmarks", {}), "items": {"n": config["count"]}}}
        write({"type": "STATE", "value": state})
    if "batched" in selected:
        path = Path(tempfile.mkdtemp()) / "batch-0001.jsonl.gz"
        with gzip.open(path, "wt") as f:
            for v in range(3):
                f.write(json.dumps({"v": v}) + "\n")
        write(
            {
                "type": "BATCH",
                "stream": "batched",
                "encoding": {"format": "jsonl", "compression": "gzip"},
                "manifest": [path.as_uri()],
            }
        )
        write({"type": "STATE", "value": state})


if __name__ == "__main__":
    main()
