"""Baseline: a process that only iterates `source.read()` of the synthetic source (imports
and start-up included, like the shim's process). It writes nothing per message; at the end
one JSON line tells the harness how many records came and when (`time.perf_counter()`, the
system-wide monotonic clock on Linux) the first and the last one did.

    python capture_bare.py '<config json>'
"""

import json
import logging
import sys
import time

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
    records = 0
    first = last = None
    for message in BenchSource().read(logging.getLogger("airbyte"), config, catalog, []):
        if message.record is not None:
            if records == 0:
                first = time.perf_counter()
            records += 1
    last = time.perf_counter()
    print(json.dumps({"bare": {"records": records, "first": first, "last": last}}))
