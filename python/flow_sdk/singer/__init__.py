"""Singer adapters: any Singer tap as a Flow capture, in process or as a subprocess.

    from flow_sdk.singer import CaptureShim
    CaptureShim(delegate=TapMyApi).main()        # a singer-sdk Tap, in process

or, for any tap executable: `flow-sdk singer-capture -- <command...>`. singer-sdk is needed
only in process (`flow-sdk[singer]`) and is imported only then.
"""

from flow_sdk.singer.capture import CaptureShim
from flow_sdk.singer.process import SubprocessTap

__all__ = ["CaptureShim", "SubprocessTap"]
