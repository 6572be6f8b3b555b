"""Throughput of the local runtime's capture preview: documents per second through the
strict session (strict JSON parsing with duplicate-key checks, write-schema validation,
reduction by key, stdout lines), fed by the counter capture.

    .venv/bin/python bench/runtime_preview.py --documents 100000 --runs 3
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from flow_sdk.runtime.catalog import load_catalog
from flow_sdk.runtime.logs import Console
from flow_sdk.runtime.preview import PreviewOptions, preview_capture

COUNTER = Path(__file__).resolve().parent.parent / "python/tests/connectors/counter_capture.py"
SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    "required": ["id"],
}


def catalog(directory: Path, documents: int) -> Path:
    path = directory / "bench.flow.yaml"
    spec = {
        "captures": {
            "bench/counter": {
                "endpoint": {
                    "local": {
                        "command": [sys.executable, str(COUNTER)],
                        "config": {"count": documents, "every": 1000},
                    }
                },
                "bindings": [{"resource": {"name": "alpha"}, "target": "bench/alpha"}],
            }
        },
        "collections": {"bench/alpha": {"schema": SCHEMA, "key": ["/id"]}},
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def run_once(path: Path) -> tuple[float, int]:
    loaded = load_catalog(path)
    out = io.BytesIO()
    started = time.perf_counter()
    progress = preview_capture(
        loaded, loaded.capture(None), PreviewOptions(progress=False), out, Console(io.StringIO())
    )
    return time.perf_counter() - started, sum(progress.documents.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = catalog(Path(tmp), args.documents)
        rates = []
        for _ in range(args.runs):
            seconds, docs = run_once(path)
            assert docs == args.documents, (docs, args.documents)
            rates.append(docs / seconds)
            print(f"{docs} documents in {seconds:.2f}s: {docs / seconds:,.0f} docs/s")
    print(
        f"median: {statistics.median(rates):,.0f} docs/s (min {min(rates):,.0f}, max {max(rates):,.0f})"
    )


if __name__ == "__main__":
    main()
