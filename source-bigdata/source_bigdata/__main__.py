"""`python -m source_bigdata`: the Flow capture, the Airbyte source wrapped by flow-sdk's shim."""

from flow_sdk.airbyte import CaptureShim
from source_bigdata.source import SourceBigdata


def main() -> None:
    CaptureShim(delegate=SourceBigdata(), oauth2=None, usesSchemaInference=True).main()


if __name__ == "__main__":
    main()
