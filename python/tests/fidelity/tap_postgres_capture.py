"""The published tap-postgres as a Flow capture in process: run with the tap virtualenv's
python (`.cache/tap-postgres/bin/python tap_postgres_capture.py`), where flow-sdk is installed
beside it."""

from __future__ import annotations

from tap_postgres.tap import TapPostgres

from flow_sdk.singer import CaptureShim

if __name__ == "__main__":
    CaptureShim(delegate=TapPostgres).main()
