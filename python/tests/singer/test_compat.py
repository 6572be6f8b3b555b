"""flow-sdk 0.1.x's spelling keeps working: `flow_sdk.shim_singer_sdk.CaptureShim(config_schema,
delegate_factory)`, and nothing of singer-sdk is imported until a tap runs in process."""

from __future__ import annotations

import subprocess
import sys

from tap_demo import TapDemo

from flow_sdk.protocol.flow import SpecRequest
from flow_sdk.shim_singer_sdk import CaptureShim


def test_0_1_arguments() -> None:
    schema = {"type": "object", "properties": {"token": {"type": "string", "writeOnly": True}}}
    shim = CaptureShim(schema, TapDemo, True, None)
    spec = shim.spec(SpecRequest())
    assert spec.configSchema["properties"]["token"]["secret"] is True
    assert spec.resourcePathPointers == ["/tap_stream_id"]
    assert CaptureShim(delegate=TapDemo).spec(SpecRequest()).configSchema["required"] == [
        "api_url",
        "api_key",
    ]


def test_importing_the_adapters_does_not_import_singer_sdk() -> None:
    code = "import sys, flow_sdk.singer, flow_sdk.singer.capture_cli; print('singer_sdk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert out.stdout.strip() == b"False"
