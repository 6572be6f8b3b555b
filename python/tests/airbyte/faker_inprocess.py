"""airbyte-source-faker (from PyPI, airbyte-cdk 6) wrapped in process by the shim."""

from source_faker import SourceFaker

from flow_sdk.airbyte import CaptureShim

if __name__ == "__main__":
    CaptureShim(delegate=SourceFaker(), usesSchemaInference=True).main()
