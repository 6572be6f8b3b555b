"""The catalog of the faulty source (connectors/faulty_source.py) for the fault and secret
tests: one incremental binding `things`, the config's secret `api_key` set to the canary."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from crash_harness import CONNECTORS
from secret_scan import CANARY

FAULTY = CONNECTORS / "faulty_source.py"
TASK = "acmeCo/faulty"
SHIM_MODES = {"in-process": "flow", "subprocess": "flow-subprocess"}


def faulty_catalog(
    directory: Path, mode: str, env: dict[str, str] | None = None, count: int = 20, every: int = 5
) -> Path:
    """A catalog capturing `things` from the faulty source, its `api_key` the canary."""
    catalog = {
        "captures": {
            TASK: {
                "endpoint": {
                    "local": {
                        "command": [sys.executable, str(FAULTY), SHIM_MODES[mode]],
                        "config": {"count": count, "every": every, "api_key": CANARY},
                        "env": env or {},
                    }
                },
                "bindings": [
                    {
                        "resource": {
                            "stream": "things",
                            "syncMode": "incremental",
                            "cursorField": ["id"],
                        },
                        "target": "acmeCo/things",
                    }
                ],
            }
        },
        "collections": {
            "acmeCo/things": {
                "key": ["/id"],
                "schema": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                    "required": ["id"],
                },
            }
        },
    }
    path = directory / "faulty.flow.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path
