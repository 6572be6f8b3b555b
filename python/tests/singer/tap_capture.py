"""The demo tap as a Flow capture connector, in process: `python tap_capture.py`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "connectors"))

from tap_demo import TapDemo  # noqa: E402

from flow_sdk.singer import CaptureShim  # noqa: E402

if __name__ == "__main__":
    CaptureShim(delegate=TapDemo).main()
