"""The test source behind `CaptureShim(source_factory=...)`: each build logs what it was
given, so a test sees which request built a source from what."""

import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent / "connectors"))

from cdk7_source import TestSource  # noqa: E402

from flow_sdk.airbyte import CaptureShim  # noqa: E402


def build(config: Any, catalog: Any, state: Any) -> TestSource:
    logging.getLogger("flow").info(
        "factory",
        extra={
            "config": sorted(config) if config is not None else None,
            "catalog": [s.stream.name for s in catalog.streams] if catalog is not None else None,
            "state": [type(s).__name__ for s in state] if state is not None else None,
        },
    )
    return TestSource()


if __name__ == "__main__":
    CaptureShim(source_factory=build).main()
