"""source-bigdata: a deterministic synthetic Airbyte source, and (with `python -m
source_bigdata`) the same source as an Estuary Flow capture through flow-sdk's CaptureShim."""

from source_bigdata.source import SourceBigData, SourceBigdata

__all__ = ["SourceBigData", "SourceBigdata"]
