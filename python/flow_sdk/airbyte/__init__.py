"""Airbyte adapters: any Airbyte source as a Flow capture, in process or as a subprocess.

    from flow_sdk.airbyte import CaptureShim
    CaptureShim(delegate=MySource(), oauth2=None, usesSchemaInference=True).main()

or, for any connector executable: `flow-sdk airbyte-capture -- <command...>`. A manifest-only
(declarative) source: `CaptureShim.from_manifest("manifest.yaml", "components.py").main()`, or
`flow-sdk airbyte-capture --manifest manifest.yaml [--components components.py]`.

The source half (`CaptureShim`) lives in `airbyte.source`, the destination half
(`MaterializeShim`) in `airbyte.destination`; what both use (message codec, spec mapping,
the connector's own log messages, the in-process and subprocess runners) sits here. The
names are imported on first use, so a capture process does not pay for the materialize half
at start-up (and the other way round): ~30 ms each. Importing this package also makes
airbyte-cdk's own import ~0.8 s cheaper (`attribute_docs`), so import it before airbyte-cdk.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flow_sdk.airbyte import attribute_docs

if TYPE_CHECKING:
    from flow_sdk.airbyte.destination.materialize import MaterializeShim
    from flow_sdk.airbyte.source.capture import CaptureShim
    from flow_sdk.airbyte.source.process import SubprocessSource

_HOMES = {
    "CaptureShim": "flow_sdk.airbyte.source.capture",
    "MaterializeShim": "flow_sdk.airbyte.destination.materialize",
    "SubprocessSource": "flow_sdk.airbyte.source.process",
}

__all__ = ["CaptureShim", "MaterializeShim", "SubprocessSource"]

attribute_docs.install()


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
