"""The synthetic source behind estuary-cdk's Airbyte shim (`estuary_cdk.shim_airbyte_cdk`),
as Estuary's shimmed connectors run it; under bench/.venvs/estuary-cdk (estuary-cdk from
PyPI with airbyte-cdk 4.6.2)."""

import asyncio

from capture_source import BenchSource
from estuary_cdk.shim_airbyte_cdk import CaptureShim

if __name__ == "__main__":
    shim = CaptureShim(delegate=BenchSource(), oauth2=None, schema_inference=True)
    asyncio.run(shim.serve())
