"""Baseline: a process that only iterates `source.read()` of the synthetic source (imports
and start-up included, like the shim's process). Usage: capture_bare.py '<config json>'."""

import json
import logging
import sys

from airbyte_cdk.models import ConfiguredAirbyteCatalog
from capture_source import BenchSource, configured_catalog

if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    catalog_dict = configured_catalog(config)
    try:
        from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer

        catalog = ConfiguredAirbyteCatalogSerializer.load(catalog_dict)
    except ImportError:  # airbyte-cdk 0.x (pydantic v1 models)
        catalog = ConfiguredAirbyteCatalog.parse_obj(catalog_dict)
    logging.disable(logging.INFO)
    n = 0
    for _message in BenchSource().read(logging.getLogger("airbyte"), config, catalog, []):
        n += 1
    print(n, file=sys.stderr)
