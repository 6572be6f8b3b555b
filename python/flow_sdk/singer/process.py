"""Any Singer tap executable driven as a child process.

The Singer convention: `<tap> --config FILE --discover` prints the catalog, `<tap> --config
FILE --catalog FILE [--state FILE]` writes messages as JSON lines. Singer has no spec
command: the config schema is given (`--config-schema`), or read from `--about --format=json`
(singer-sdk taps), or left open. Files go in a private temporary directory, stderr is
forwarded as logs, and a non-zero exit is an error naming the stream being read. The child
runner is `flow_sdk.child_process.ChildProcess`, shared with the Airbyte adapter.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from flow_sdk.capture.child_messages import child_read, read_files
from flow_sdk.capture.values import decode_line
from flow_sdk.child_process import ChildProcess
from flow_sdk.errors import ConnectorError, ValidateError
from flow_sdk.shared_answers import config_digest, shared_answer
from flow_sdk.singer.catalog import tap_stream_id
from flow_sdk.singer.read_loop import SingerReadLoop, message_type


class SubprocessTap:
    """Adapts a Singer tap command to the shim's delegate interface."""

    is_singer_delegate = True

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        config_schema: Mapping[str, Any] | None = None,
    ) -> None:
        if not command:
            raise ConnectorError("no Singer tap command was given; pass it after `--`")
        self.command = list(command)
        self.env = env
        self.name = os.path.basename(self.command[0])
        self.log = logging.getLogger("flow")
        self._config_schema = dict(config_schema) if config_schema is not None else None

    def _process(self) -> ChildProcess:
        program = self.command[0]
        if shutil.which(program) is None and not os.path.exists(program):
            raise ConnectorError(
                f"cannot start the Singer tap {program!r}: no such program; check the command after `--`"
            )
        return ChildProcess(self.command, self.log, self.env, kind="Singer tap")

    def _document(self, args: list[str], what: str, config: Any = None) -> Any:
        """Run the tap and parse its whole stdout as one JSON document."""
        run = self._process()
        if config is not None:
            args = ["--config", run.write_file("config.json", config), *args]
        try:
            out = b"".join(run.start(args))
            code = run.wait()
        finally:
            run.stop()
        if code != 0:
            raise ConnectorError(run.exit_error(code, f"the Singer tap's {what} failed"))
        try:
            return orjson.loads(out)
        except orjson.JSONDecodeError:
            raise ConnectorError(
                f"the Singer tap's {what} did not print one JSON document: {out[:300]!r}"
            ) from None

    def config_schema(self) -> dict[str, Any]:
        if self._config_schema is None:
            try:
                about = shared_answer(
                    "singer-about",
                    self.command,
                    lambda: self._document(["--about", "--format=json"], "--about"),
                )
                settings = about.get("settings") if isinstance(about, dict) else None
            except ConnectorError as exc:
                settings = None
                self.log.debug("no config schema from --about: %s", exc)
            if not isinstance(settings, dict):
                self.log.warning(
                    "the Singer tap %s does not describe its config (--about --format=json); "
                    "any config is accepted. Pass --config-schema FILE to describe it",
                    self.name,
                )
                settings = {"type": "object"}
            self._config_schema = settings
        return dict(self._config_schema)

    def discover(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The tap's catalog; Validate's discovery is reused by the Open of the same
        local-runtime invocation (same config), so a session launches the tap once."""
        catalog = shared_answer(
            "singer-discover",
            [*self.command, config_digest(config)],
            lambda: self._document(["--discover"], "discovery (--discover)", config),
        )
        if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
            raise ConnectorError(
                'the Singer tap\'s --discover printed no {"streams": [...]} catalog'
            )
        return catalog

    def dry_run(self, config: Mapping[str, Any], catalog: dict[str, Any]) -> dict[str, int]:
        """Run a sync of the streams `catalog` selects until each wrote a record (or the tap
        ended); records per stream. A failure is the user's to fix: a ValidateError."""
        wanted = {tap_stream_id(e) for e in catalog.get("streams") or []}

        def dry_run() -> str:
            return "in a dry run of stream " + ", ".join(repr(s) for s in sorted(wanted))

        records: dict[str, int] = {}
        run = self._process()
        args = [
            "--config",
            run.write_file("config.json", config),
            "--catalog",
            run.write_file("catalog.json", catalog),
        ]
        try:
            for line in run.start(args):
                msg = decode_line(line, f"the Singer tap {self.name}", dry_run)
                if msg is not None and message_type(msg) == "RECORD":
                    stream = msg.get("stream")
                    records[stream] = records.get(stream, 0) + 1
                    if wanted <= records.keys():
                        return records
            code = run.wait()
        finally:
            run.stop()
        if code != 0:
            raise ValidateError(run.exit_error(code, "the Singer tap's dry run failed"))
        return records

    def sync(
        self,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        state: dict[str, Any],
        loop: SingerReadLoop,
    ) -> None:
        run = self._process()
        args = read_files(run, config, catalog, state)
        record = loop.record_keyed
        message = loop.message
        with child_read(run, args, f"the Singer tap {self.name}", loop, self.log) as msgs:
            for msg in msgs:
                if msg["type"] == "RECORD":
                    data, stream = msg.get("record"), msg.get("stream")
                    if type(data) is not dict or type(stream) is not str:
                        raise ConnectorError(
                            "the Singer tap wrote a RECORD without a stream name or record "
                            f"object: {str(msg)[:300]}"
                        )
                    record(stream, data)
                else:
                    message(msg)
