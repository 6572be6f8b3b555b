"""The synthetic source behind `CaptureShim` in process — flow-sdk 0.2 or 0.1.9, whichever
`flow_sdk` the interpreter has (both export `flow_sdk.shim_airbyte_cdk.CaptureShim`)."""

from capture_source import BenchSource

from flow_sdk.shim_airbyte_cdk import CaptureShim

if __name__ == "__main__":
    CaptureShim(delegate=BenchSource(), oauth2=None, usesSchemaInference=True).main()
