"""Start-up of a wrapped airbyte-cdk connector: one process answering the runtime's probe Spec
(interpreter, imports, the connector's spec, exit), which every launch pays (`preview` and
`run` launch a connector for Spec, Validate, Apply and each session).

Variants, interleaved, each a fresh process per run:

- `deferred`: as shipped, airbyte-cdk's package `__init__` deferred to first use
  (`flow_sdk.airbyte.deferred_cdk_root`);
- `eager`: `FLOW_SDK_EAGER_AIRBYTE_CDK=1`, the package initialized on import as airbyte-cdk
  does it.

for source-bigdata (`python -m source_bigdata`, a capture) and destination-kvdb
(`python -m destination_kvdb`, a materialization). One JSON line: medians of wall and CPU
seconds, and the paired ratio deferred / eager.

    .venv/bin/python bench/connector_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchlib import emit, interleaved, paired_ratio, run_process, summary  # noqa: E402

CONNECTORS = {"source-bigdata": "source_bigdata", "destination-kvdb": "destination_kvdb"}
SPEC_REQUEST = b'{"spec":{"connectorType":"LOCAL","config":{}}}\n'
EAGER_ENV = "FLOW_SDK_EAGER_AIRBYTE_CDK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if k != EAGER_ENV}
    with tempfile.TemporaryDirectory() as scratch:
        request = Path(scratch) / "spec.jsonl"
        request.write_bytes(SPEC_REQUEST)
        variants = {}
        for connector, module in CONNECTORS.items():
            for mode, env in (("deferred", base), ("eager", base | {EAGER_ENV: "1"})):
                argv = [sys.executable, "-m", module]
                variants[f"{connector}/{mode}"] = (
                    lambda argv=argv, env=env: run_process(argv, stdin=str(request), env=env)
                )
        results = interleaved(variants, args.runs)
    figures = {}
    for connector in CONNECTORS:
        deferred, eager = results[f"{connector}/deferred"], results[f"{connector}/eager"]
        figures[connector] = {
            "deferred": summary(deferred),
            "eager": summary(eager),
            "wall_ratio": round(paired_ratio([r.wall for r in deferred], [r.wall for r in eager]), 3),
            "cpu_ratio": round(paired_ratio([r.cpu for r in deferred], [r.cpu for r in eager]), 3),
        }
    emit({"bench": "connector_startup", "runs": args.runs, "connectors": figures})


if __name__ == "__main__":
    main()
