"""Throughput of the local runtime's capture preview beside the connector's own output rate,
same workload, same run (interleaved): documents per second of

- `connector`: the connector alone, answering an Open with its documents into a pipe
  drained here (one process, start to exit): the counter capture (a native flow-sdk
  connector, ~1 µs per document), or with `--connector airbyte` the synthetic Airbyte source
  of the capture benchmarks behind flow-sdk's `CaptureShim` in process (`capture_shim_main.py`,
  one stream): "the shim's documents/s into a drained pipe" of the issue;
- `session`: `flow-sdk preview`'s capture session of the same connector (one process, from its
  start to the last document printed: strict JSON parsing with duplicate-key checks, key
  checks, write-schema validation, reduction by key, stdout lines);
- `preview`: the whole `preview_capture` call, including Spec, Validate and Apply, each in a
  connector process of its own (as Flow runs them).

The target (issue #18) is `session / connector` ≥ 0.8; ratios are taken run by run.

    .venv/bin/python bench/runtime_preview.py --documents 100000 --runs 3
    .venv/bin/python bench/runtime_preview.py --documents 200000 --runs 3 --connector airbyte
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from flow_sdk.protocol import capture
from flow_sdk.protocol.flow import RangeSpec
from flow_sdk.runtime.capture import preview
from flow_sdk.runtime.capture.build import spec_version
from flow_sdk.runtime.capture.preview import preview_capture
from flow_sdk.runtime.catalog.load import load_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.launcher import ConnectorLauncher, request_line
from flow_sdk.runtime.preview import PreviewOptions
from flow_sdk.runtime.raw import validated_capture

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Run, emit, interleaved, median, paired_ratio, run_process  # noqa: E402

HERE = Path(__file__).resolve().parent
COUNTER = HERE.parent / "python/tests/connectors/counter_capture.py"
CONNECTORS: dict[str, tuple[list[str], dict[str, Any], dict[str, Any]]] = {
    "counter": (
        [sys.executable, str(COUNTER)],
        {"count": 0, "every": 1000},
        {"name": "alpha"},
    ),
    "airbyte": (
        [sys.executable, str(HERE / "capture_shim_main.py")],
        {"records": 0, "streams": 1, "every": 1000},
        {"stream": "items0", "syncMode": "incremental", "cursorField": ["seq"]},
    ),
}
"""Per `--connector`: its command, its config (the document count goes in the first key) and
its one binding's resource."""
SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    "required": ["id"],
}


def catalog(directory: Path, documents: int, connector: str) -> Path:
    path = directory / "bench.flow.yaml"
    command, config, resource = CONNECTORS[connector]
    config = {**config, next(iter(config)): documents}
    spec = {
        "captures": {
            "bench/counter": {
                "endpoint": {"local": {"command": command, "config": config}},
                "bindings": [{"resource": resource, "target": "bench/alpha"}],
            }
        },
        "collections": {"bench/alpha": {"schema": SCHEMA, "key": ["/id"]}},
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def open_line(path: Path) -> bytes:
    """The Open the runtime sends the session (built as `preview` builds it)."""
    loaded = load_catalog(path)
    task = loaded.capture(None)
    _, _, spec = validated_capture(loaded, task, ConnectorLauncher(task, Console(io.StringIO())))
    request = capture.Open(capture=spec, version=spec_version(spec), range=RangeSpec.full())
    return request_line("open", request.to_wire() | {"state": {}})


class SessionClock:
    """Times `preview`'s sessions (connector start to the last document printed)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        original = preview._Runner._session

        def timed(runner: Any, limit: int) -> bool:
            started = time.perf_counter()
            try:
                return original(runner, limit)
            finally:
                self.seconds += time.perf_counter() - started

        preview._Runner._session = timed  # type: ignore[method-assign]


CLOCK = SessionClock()


def connector_run(command: list[str], request: bytes, documents: int) -> Run:
    run = run_process(command, stdin=request, marker=b'{"captured":')
    assert run.documents == documents, (run.documents, documents)
    return run


def preview_run(path: Path, documents: int) -> Run:
    loaded = load_catalog(path)
    out = io.BytesIO()
    CLOCK.seconds = 0.0
    started = time.perf_counter()
    progress = preview_capture(
        loaded, loaded.capture(None), PreviewOptions(progress=False), out, Console(io.StringIO())
    )
    wall = time.perf_counter() - started
    got = sum(progress.documents.values())
    assert got == documents, (got, documents)
    return Run(wall=wall, documents=got, extra={"session_s": CLOCK.seconds})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connector", choices=sorted(CONNECTORS), default="counter")
    args = parser.parse_args()
    n = args.documents
    with tempfile.TemporaryDirectory() as tmp:
        path = catalog(Path(tmp), n, args.connector)
        request = open_line(path)
        command = CONNECTORS[args.connector][0]
        runs = interleaved(
            {
                "connector": lambda: connector_run(command, request, n),
                "preview": lambda: preview_run(path, n),
            },
            args.runs,
        )
    connector = [n / r.wall for r in runs["connector"]]
    session = [n / r.extra["session_s"] for r in runs["preview"]]
    whole = [n / r.wall for r in runs["preview"]]
    for i, (c, s, w) in enumerate(zip(connector, session, whole, strict=True)):
        print(f"run {i + 1}: connector {c:,.0f} docs/s, session {s:,.0f}, preview {w:,.0f}")
    result = {
        "bench": "runtime_preview",
        "connector": args.connector,
        "documents": n,
        "runs": args.runs,
        "connector_per_s": round(median(connector) or 0),
        "session_per_s": round(median(session) or 0),
        "preview_per_s": round(median(whole) or 0),
        "session_over_connector": round(paired_ratio(session, connector), 3),
        "preview_over_connector": round(paired_ratio(whole, connector), 3),
    }
    print(
        f"median: connector {result['connector_per_s']:,} docs/s, session "
        f"{result['session_per_s']:,} ({result['session_over_connector']}×), preview "
        f"{result['preview_per_s']:,} ({result['preview_over_connector']}×)"
    )
    emit(result)


if __name__ == "__main__":
    main()
