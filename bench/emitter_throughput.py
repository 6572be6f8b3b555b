"""Emitter throughput: N Captured messages of ~300-byte documents written to a pipe.

The documents go through the real hot path (`Emitter.captured` → orjson → buffered
`ProtocolWriter`), with a checkpoint every 1000 documents, into a pipe drained by a
separate `cat > /dev/null` process. Prints one JSON line of results (medians of
`--runs` runs).

    python bench/emitter_throughput.py [--messages 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

from flow_sdk.capture.emitter import Emitter
from flow_sdk.io import ProtocolWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import emit  # noqa: E402


def make_docs(count: int) -> list[dict]:
    """A pool of distinct ~300-byte documents (nested object, array, mixed types)."""
    docs = []
    for i in range(count):
        docs.append(
            {
                "id": i,
                "name": f"user-{i:08d}",
                "email": f"user{i}@example.com",
                "active": i % 3 == 0,
                "score": i * 0.25,
                "tags": ["alpha", "beta", f"t{i % 17}"],
                "address": {
                    "street": f"{i} Main Street",
                    "city": "Springfield",
                    "zip": f"{i % 99999:05d}",
                },
                "updated_at": "2024-01-01T00:00:00Z",
                "note": "lorem ipsum dolor sit amet, consectetur",
                "_meta": {"row_id": i},
            }
        )
    return docs


def one_run(messages: int, docs: list[dict]) -> float:
    """Seconds to emit `messages` documents (checkpoint every 1000) into a drained pipe."""
    sink = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert sink.stdin is not None
    writer = ProtocolWriter(sink.stdin.fileno())
    emit = Emitter(writer, binding_count=2)
    emit.opened()
    pool = len(docs)
    captured = emit.captured
    start = time.perf_counter()
    for n in range(messages):
        captured(n & 1, docs[n % pool])
        if n % 1000 == 999:
            emit.checkpoint({"bindingStateV1": {"users": {"cursor": n}}})
    emit.close()
    elapsed = time.perf_counter() - start
    sink.stdin.close()
    sink.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    docs = make_docs(1000)
    doc_bytes = statistics.mean(len(orjson.dumps(d)) for d in docs)
    times = [one_run(args.messages, docs) for _ in range(args.runs)]
    rates = sorted(args.messages / t for t in times)
    emit(
        {
            "bench": "emitter",
            "messages": args.messages,
            "doc_bytes_mean": round(doc_bytes),
            "runs": args.runs,
            "median_per_s": round(statistics.median(rates)),
            "min_per_s": round(rates[0]),
            "max_per_s": round(rates[-1]),
            "median_mb_per_s": round(statistics.median(rates) * (doc_bytes + 35) / 1e6, 1),
        }
    )


if __name__ == "__main__":
    main()
