"""How often the local runtime's requests launch a wrapped connector in subprocess mode:
once per request that needs it. The wrapped connector's spec is fetched once per runtime
invocation and shared by the shim processes of its later requests (`shared_answers`)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml
from launch_counter import counted, launched

HERE = Path(__file__).parent
PYTHON = sys.executable
FLOW_SDK = str(Path(PYTHON).parent / "flow-sdk")


def launches(log: Path) -> Counter[str]:
    return Counter(launched(log))


def test_a_preview_and_a_run_launch_each_connector_once_per_request(tmp_path: Path) -> None:
    changes = tmp_path / "changes.jsonl"
    changes.write_text('{"id": 1}\n{"id": 2}\n')
    source_log, destination_log = tmp_path / "source.log", tmp_path / "destination.log"
    source = counted(source_log, PYTHON, str(HERE / "cdc_source.py"))
    destination = counted(destination_log, str(Path(PYTHON).parent / "destination-kvdb"))
    catalog = {
        "captures": {
            "acmeCo/cdc": {
                "endpoint": {
                    "local": {
                        "command": [FLOW_SDK, "airbyte-capture", "--", *source],
                        "config": {"path": str(changes)},
                    }
                },
                "bindings": [
                    {
                        "resource": {"stream": "customers", "syncMode": "incremental"},
                        "target": "acmeCo/customers",
                    }
                ],
            }
        },
        "collections": {
            "acmeCo/customers": {
                "key": ["/id"],
                "schema": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}},
                    "required": ["id"],
                },
            }
        },
        "materializations": {
            "acmeCo/kvdb": {
                "endpoint": {
                    "local": {
                        "command": [FLOW_SDK, "airbyte-materialize", "--", *destination],
                        "config": {
                            "bucket": {"bucket_type": "local", "path": str(tmp_path / "kv.db")}
                        },
                    }
                },
                "bindings": [{"resource": {"stream": "customers"}, "source": "acmeCo/customers"}],
            }
        },
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))

    def flow_sdk(*args: str) -> None:
        done = subprocess.run(
            [FLOW_SDK, *args, "--source", str(path)],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]

    # Requests: the probe Spec, Validate, Apply, Open — each in a fresh shim process.
    flow_sdk("preview", "--name", "acmeCo/cdc")
    assert launches(source_log) == {"spec": 1, "check": 1, "discover": 1, "read": 1}

    source_log.unlink()
    flow_sdk("run", "--data-dir", str(tmp_path / "data"))
    assert launches(source_log) == {"spec": 1, "check": 1, "discover": 1, "read": 1}
    assert launches(destination_log) == {"spec": 1, "check": 1, "write": 1}


def test_a_singer_preview_launches_the_tap_once_per_request(tmp_path: Path) -> None:
    """`--about` once (the probe Specs share it), `--discover` once (Open reuses Validate's,
    same config), and two syncs: Validate's dry run and the session's."""
    sys.path.insert(0, str(HERE.parent / "connectors"))
    from demo_api import DemoApi

    log = tmp_path / "tap.log"
    tap = counted(log, PYTHON, str(HERE.parent / "connectors" / "tap_demo.py"))
    with DemoApi("key") as api:
        api.add_users(3)
        capture = {
            "endpoint": {
                "local": {
                    "command": [FLOW_SDK, "singer-capture", "--", *tap],
                    "config": {"api_url": api.url, "api_key": "key"},
                }
            },
            "bindings": [],
        }
        path = tmp_path / "flow.yaml"
        path.write_text(yaml.safe_dump({"captures": {"acmeCo/singer": capture}}))
        for command in (["raw", "discover"], ["preview"]):
            log.unlink(missing_ok=True)
            done = subprocess.run(
                [FLOW_SDK, *command, "--source", str(path)],
                capture_output=True, text=True, timeout=300, cwd=tmp_path,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
    verbs = Counter(launched(log, ("--about", "--discover", "--catalog")))
    assert verbs == {"--about": 1, "--discover": 1, "--catalog": 2}
