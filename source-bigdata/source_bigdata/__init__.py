"""source-bigdata: a deterministic synthetic Airbyte source, and (with `python -m
source_bigdata`) the same source as an Estuary Flow capture through flow-sdk's CaptureShim."""

import flow_sdk.airbyte  # noqa: F401  # first: it makes airbyte-cdk's import ~0.8 s cheaper
from source_bigdata.source import SourceBigData, SourceBigdata

__all__ = ["SourceBigData", "SourceBigdata"]
