"""A test destination run in process behind `MaterializeShim`, with the shim's CLI options:
`python destination_main.py <module> [--state-type ...] [--write-transactions N] ...`, where
`<module>` (e.g. `staging_destination`) defines `DESTINATION`, its airbyte-cdk class."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from flow_sdk.airbyte.destination.materialize import MaterializeShim  # noqa: E402
from flow_sdk.airbyte.destination.materialize_cli import parser, shim_options  # noqa: E402

if __name__ == "__main__":
    module = importlib.import_module(sys.argv[1])
    options = shim_options(parser().parse_args(sys.argv[2:]))
    MaterializeShim(delegate=module.DESTINATION(), **options).main()
