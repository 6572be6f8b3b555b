"""The manifest-only test source in process behind `CaptureShim.from_manifest`."""

from pathlib import Path

from flow_sdk.airbyte import CaptureShim

HERE = Path(__file__).parent.parent / "connectors" / "manifest_source"

if __name__ == "__main__":
    CaptureShim.from_manifest(HERE / "manifest.yaml", HERE / "components.py").main()
