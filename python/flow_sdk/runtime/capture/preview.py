"""`flow-sdk preview` of a capture: Flow's catalog rules, Validate, then per session Apply and Open, printing
each committed transaction's documents (and state) on stdout exactly like `flowctl preview`.

Sessions follow `--sessions` (transactions per session, negative for unlimited); a
connector that exits cleanly is restarted after `intervalSeconds` from its session's start.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from flow_sdk.protocol import capture
from flow_sdk.protocol.flow import CaptureSpec
from flow_sdk.runtime.capture.build import spec_version
from flow_sdk.runtime.capture.config_updates import ConfigInbox
from flow_sdk.runtime.capture.progress import Progress
from flow_sdk.runtime.capture.session import (
    EXITED,
    CaptureSession,
    SessionEnded,
    Timeouts,
    Transaction,
)
from flow_sdk.runtime.catalog.load import CaptureDef, Catalog
from flow_sdk.runtime.catalog.rules import check_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.durations import format_duration
from flow_sdk.runtime.launcher import ConnectorLauncher
from flow_sdk.runtime.preview import PreviewOptions, emit_line
from flow_sdk.runtime.process import STOP_GRACE_SECONDS
from flow_sdk.runtime.raw import validated_capture
from flow_sdk.runtime.schema import SchemaValidators
from flow_sdk.runtime.state import StateStore, combine_updates


def preview_capture(
    catalog: Catalog,
    task: CaptureDef,
    options: PreviewOptions,
    output: BinaryIO,
    console: Console | None = None,
) -> Progress:
    """Run the capture's sessions, writing flowctl's preview lines to `output`."""
    check_catalog(catalog)
    console = console or Console()
    launcher = ConnectorLauncher(task, console, options.network)
    updates = Path(tempfile.mkdtemp(prefix="flow-sdk-preview-"))
    try:
        launcher.config_inbox = ConfigInbox(
            updates / "config-update.json", task.endpoint.config, console, task.name, None
        )
        with launcher.planned(4):  # Spec, Validate, Apply, the first session
            _, _, spec = validated_capture(catalog, task, launcher)
            spec.config = launcher.config  # its check may have rotated a token
            validators = SchemaValidators()
            for binding in spec.bindings:
                validators.prepare(binding.collection)
            runner = _Runner(launcher, spec, validators, options, output, console)
            try:
                runner.run()
            finally:
                console.line(runner.progress.close())
    finally:
        shutil.rmtree(updates, ignore_errors=True)
    if options.output_state:
        emit_line(output, ["connectorState", {"updated": runner.state.state}])
    return runner.progress


class _Runner:
    def __init__(
        self,
        launcher: ConnectorLauncher,
        spec: CaptureSpec,
        validators: SchemaValidators,
        options: PreviewOptions,
        output: BinaryIO,
        console: Console,
    ) -> None:
        self.launcher = launcher
        self.spec = spec
        self.version = spec_version(spec)
        self.validators = validators
        self.options = options
        self.output = output
        self.console = console
        self.state = StateStore(options.initial_state)
        self.progress = Progress(console, options.progress)
        self.timeouts = Timeouts(idle=options.idle_timeout, total=options.timeout)
        self.backfilling: set[int] = set()
        """Bindings whose backfill began in a committed transaction and has not completed."""

    def run(self) -> None:
        last_applied: tuple[CaptureSpec, str] | None = None
        sessions = self.options.sessions
        for number, limit in enumerate(sessions, start=1):
            if self.timeouts.expired():
                self.console.log("info", "--timeout elapsed; no more sessions")
                return
            started = time.monotonic()
            self._apply(last_applied)
            last_applied = (self.spec, self.version)
            self.progress.sessions += 1
            try:
                exited = self._session(limit)
            finally:
                self._take_config_update()
            if exited and number < len(sessions):
                self._cool_off(started)

    def _take_config_update(self) -> None:
        """The next session opens with the connector's updated config, as Flow opens a task
        it republished with it."""
        if self.launcher.take_config_update():
            self.spec = self.spec.model_copy(update={"config": self.launcher.config})
            self.version = spec_version(self.spec)

    def _apply(self, last: tuple[CaptureSpec, str] | None) -> None:
        request = capture.Apply(capture=self.spec, version=self.version)
        if last is not None:
            request.lastCapture, request.lastVersion = last
        applied = self.launcher.apply(capture.Response, request)
        if self.options.output_apply:
            emit_line(self.output, ["applied.actionDescription", applied.actionDescription])
        if applied.state is not None:
            self.state.apply(applied.state)

    def _session(self, limit: int) -> bool:
        """One connector process; True when it ended by exiting on its own."""
        proc = self.launcher.start(capture.Response)
        with proc:
            session = CaptureSession(
                proc,
                self.spec,
                self.validators,
                self.console,
                self.backfilling,
                known_history=not self.options.initial_state,
            )
            session.open(self.version, self.state.state)
            done = 0
            while limit < 0 or done < limit:
                if self.options.delay:
                    time.sleep(self.options.delay)
                txn = session.next_transaction_within(self.timeouts)
                if txn is EXITED:
                    if proc.wait() != 0:
                        raise proc.failure("the capture session")
                    return True
                if isinstance(txn, SessionEnded):
                    self.console.log("info", f"ending the session: {txn.reason}")
                    self._stop(proc)
                    return False
                try:
                    self._commit(txn)
                finally:
                    txn.documents.close()
                session.acknowledge(txn.checkpoints)
                done += 1
            self._stop(proc)
            return False

    def _commit(self, txn: Transaction) -> None:
        before = self.state.state if self.options.output_state and txn.checkpoints > 1 else None
        if before is not None:
            before = orjson.loads(orjson.dumps(before))
        write = self.output.write
        heads: dict[str, bytes] = {}
        for collection, doc in txn.documents:  # `["<collection>",<doc>]` lines
            head = heads.get(collection)
            if head is None:
                head = heads[collection] = b"[" + orjson.dumps(collection) + b","
            write(head + doc + b"]\n")
        for update in txn.states:
            self.state.apply(update)
        if self.options.output_state:
            emit_line(
                self.output, ["connectorState", combine_updates(before, txn.states)], flush=False
            )
        self.output.flush()
        self.progress.committed(txn.documents.counts())

    def _stop(self, proc: Any) -> None:
        """End a session the runtime's way: close stdin; output after the last commit is dropped."""
        code = proc.stop(STOP_GRACE_SECONDS)
        if code not in (0, -9):
            self.console.log(
                "warn", "the connector exited with an error after its stdin closed", exit_code=code
            )

    def _cool_off(self, started: float) -> None:
        interval = float(self.spec.intervalSeconds)
        if self.options.max_interval is not None:
            interval = min(interval, self.options.max_interval)
        wait = started + interval - time.monotonic()
        left = self.timeouts.remaining()
        if left is not None:
            wait = min(wait, left)
        if wait > 0:
            self.console.log(
                "info",
                f"the connector exited; restarting it when intervalSeconds elapses, in {format_duration(wait)}"
                + (
                    ""
                    if self.options.max_interval is not None
                    else " (shorten with --max-interval)"
                ),
            )
            time.sleep(wait)
