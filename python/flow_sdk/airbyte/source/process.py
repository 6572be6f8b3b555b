"""An Airbyte source executable driven as a child process: `discover` and `read` on top of
what every subprocess connector has (`subprocess_connector`).

Any program that speaks the Airbyte protocol works: a console script in another virtualenv
(any CDK generation), `python -m ...`, a non-Python binary, `docker run -i ...`. The child is
run by `flow_sdk.child_process.ChildProcess`; here its stdout is read as JSON lines (straight
into dicts), and a non-zero exit is an error that names the stream being read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flow_sdk.airbyte.source.read_loop import ReadLoop
from flow_sdk.airbyte.subprocess_connector import SubprocessConnector
from flow_sdk.capture.child_messages import child_read, read_files
from flow_sdk.child_process import ChildProcess
from flow_sdk.errors import ConnectorError


class SubprocessSource(SubprocessConnector):
    """Adapts an Airbyte source command to the capture shim's delegate interface."""

    def discover(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return self._one("discover", ["discover"], "CATALOG", "catalog", config)

    def read(
        self,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        state: list[dict[str, Any]],
        loop: ReadLoop,
    ) -> None:
        run = ChildProcess(
            self.command, self.log, self.env, files_dir=self.files_dir, kind="Airbyte connector"
        )
        args = ["read", *read_files(run, config, catalog, state), *self.args]
        record = loop.record_keyed
        message = loop.message
        with child_read(run, args, f"the Airbyte connector {self.name}", loop, self.log) as msgs:
            for msg in msgs:
                if msg["type"] == "RECORD":
                    rec = msg.get("record")
                    try:
                        data = rec["data"]
                        stream = rec["stream"]
                    except (KeyError, TypeError):
                        data = stream = None
                    if type(data) is not dict or type(stream) is not str:
                        raise ConnectorError(
                            "the connector wrote a RECORD without a stream name or data "
                            f"object: {str(msg)[:300]}"
                        )
                    record((rec.get("namespace") or None, stream), data)
                else:
                    message(msg)
