"""The test source wrapped in process, as a connector author would: `CaptureShim(...).main()`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "connectors"))

from cdk7_source import TestSource  # noqa: E402

from flow_sdk.airbyte import CaptureShim  # noqa: E402

if __name__ == "__main__":
    CaptureShim(delegate=TestSource(), oauth2=None, usesSchemaInference=True).main()
