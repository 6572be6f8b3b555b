"""The test source wrapped in process, as a connector author would: `CaptureShim(...).main()`."""

from cdk7_source import TestSource

from flow_sdk.airbyte import CaptureShim

if __name__ == "__main__":
    CaptureShim(delegate=TestSource(), oauth2=None, usesSchemaInference=True).main()
