"""Airbyte adapters: any Airbyte source as a Flow capture, in process or as a subprocess.

    from flow_sdk.airbyte import CaptureShim
    CaptureShim(delegate=MySource(), oauth2=None, usesSchemaInference=True).main()

or, for any connector executable: `flow-sdk airbyte-capture -- <command...>`.
"""

from flow_sdk.airbyte.capture import CaptureShim
from flow_sdk.airbyte.materialize import MaterializeShim
from flow_sdk.airbyte.process import SubprocessSource

__all__ = ["CaptureShim", "MaterializeShim", "SubprocessSource"]
