"""An Airbyte connector executable (source or destination) driven as a child process: what
both halves share, its `spec` (kept across processes) and `check`, and secret masking.
`source.process` adds `discover` and `read`; `destination.process` adds `write`.

Any program that speaks the Airbyte protocol works: a console script in another virtualenv
(any CDK generation), `python -m ...`, a non-Python binary, `docker run -i ...`. The child is
run by `flow_sdk.child_process.ChildProcess`; here its stdout is read as JSON lines (straight
into dicts), and a non-zero exit is an error that names the stream being read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flow_sdk import spec_cache
from flow_sdk.airbyte.connector_log_messages import (
    ConnectorFailure,
    log_control,
    log_message,
    log_trace,
)
from flow_sdk.airbyte.spec import connection_schema
from flow_sdk.child_process import ChildProcess
from flow_sdk.errors import ConnectorError
from flow_sdk.secrets import mask_config_secrets
from flow_sdk.shared_answers import SHARED_ANSWERS_ENV, shared_answer


class SubprocessConnector:
    """An Airbyte connector command behind the verbs sources and destinations share."""

    is_airbyte_delegate = True

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        files_dir: str | None = None,
        args: Sequence[str] = (),
        spec: dict[str, Any] | None = None,
    ) -> None:
        """`files_dir`: where config, catalog and state files go (default: the system's temp
        directory); for `docker run`, a directory mounted into the container at the same path.
        `args` go after `check` / `discover` / `read` (a runner's own, such as
        `--manifest-path`); `spec`, when known, is used instead of running `spec`."""
        if not command:
            raise ConnectorError("no Airbyte connector command was given; pass it after `--`")
        self.command = list(command)
        self.env = env
        self.files_dir = files_dir
        self.name = command_name(self.command)
        self.log = logging.getLogger("flow")
        self.spec_log = logging.getLogger("flow.airbyte_spec")
        self.args = list(args)
        self._spec: dict[str, Any] | None = spec
        self._spec_lock = threading.Lock()
        self._pending_masks: list[Mapping[str, Any]] = []
        self._spec_thread: threading.Thread | None = None
        self._gated = False
        self.on_control: Callable[[Mapping[str, Any]], None] | None = None
        """Takes the CONTROL messages of check and discover (set by the shim)."""
        self.on_spec_changed: Callable[[dict[str, Any], dict[str, Any]], None] | None = None
        """Called (from a thread) with (kept, fresh) when a kept spec turned out stale; the
        default logs a warning. The fresh spec's secrets are masked before it is called."""
        self.spec_check: threading.Thread | None = None
        """The check of a kept spec, while it runs (`flow_sdk.spec_cache`)."""
        self._masked: list[Mapping[str, Any]] = []
        self._fresh_spec: dict[str, Any] | None = None
        """The spec the kept one's check fetched, when it differs: its secrets are masked too."""

    def mask_secrets(self, config: Mapping[str, Any]) -> None:
        """Secrets are known once the connector's spec is, and a connector takes seconds to
        start: the spec is fetched alongside the command that needs the config (when logs at
        info are on, so lines will surely be written) or else on demand. Either way the
        secrets are registered before the first log line is written (a filter on the log)."""
        self._pending_masks.append(config)
        if not self._gated:
            self.log.addFilter(self._mask_first)
            self._gated = True
        if self._spec is None and self._spec_thread is None and self.log.isEnabledFor(logging.INFO):
            self._spec_thread = threading.Thread(
                target=self._fetch_spec, name="airbyte spec", daemon=True
            )
            self._spec_thread.start()

    def _fetch_spec(self) -> None:
        with contextlib.suppress(Exception):  # `ready` fetches again and raises it
            self.spec()

    def _mask_first(self, record: logging.LogRecord) -> bool:
        if self._pending_masks:
            self.ready()
        return True

    def ready(self) -> None:
        """Register the pending configs' secrets with the logger (fetching the spec if it
        is not known yet). The spec run itself has no config, so it has nothing to hide."""
        if not self._pending_masks:
            return
        with self._spec_lock:
            if self._spec_thread is not None:
                self._spec_thread.join()
                self._spec_thread = None
            specs = [self.spec(), *([self._fresh_spec] if self._fresh_spec else [])]
            while self._pending_masks:
                config = self._pending_masks.pop()
                for spec in specs:
                    mask_config_secrets(connection_schema(spec), config)
                self._masked.append(config)

    def _one(
        self,
        verb: str,
        args: list[str],
        want: str,
        key: str,
        config: Any = None,
        background: bool = False,
    ) -> Any:
        """Run a unary command and return the payload of its `want` message. The `spec` run
        has no config, so it logs past the secrets gate (on a child logger of `flow`)."""
        from flow_sdk.capture.child_messages import child_messages

        log = self.log if config is not None else self.spec_log
        run = ChildProcess(
            self.command,
            log,
            self.env,
            files_dir=self.files_dir,
            kind="Airbyte connector",
            background=background,
        )
        if config is not None:
            args = args + ["--config", run.write_file("config.json", config), *self.args]
        failure = ConnectorFailure()
        found = None
        whose = f"the Airbyte connector {self.name}"
        try:
            for msg in child_messages(run.start(args), whose, lambda: f"answering `{verb}`", log):
                if msg["type"] == want and found is None:
                    found = msg.get(key)
                elif msg["type"] == "LOG":
                    log_message(log, msg.get("log") or {})
                elif msg["type"] == "TRACE":
                    log_trace(log, msg.get("trace") or {}, failure)
                elif msg["type"] == "CONTROL":
                    self._control(msg.get("control") or {})
            code = run.wait()
        finally:
            run.stop()
        if found is None:
            why = f": {failure.message}" if failure.message else ""
            if code != 0:
                raise ConnectorError(
                    run.exit_error(code, f"Airbyte `{verb}` of {self.name} failed{why}")
                )
            raise ConnectorError(f"Airbyte `{verb}` of {self.name} wrote no {want} message{why}")
        return found

    def _control(self, control: Mapping[str, Any]) -> None:
        if self.on_control is not None:
            self.on_control(control)
        else:
            log_control(self.log, control, self.spec().get("connectionSpecification"))

    def spec(self) -> dict[str, Any]:
        """The connector's spec: fetched once per shim process, and once per local-runtime
        invocation where the runtime shares answers (`flow_sdk.shared_answers`); elsewhere
        a spec kept by an earlier process is used at once and checked alongside
        (`flow_sdk.spec_cache`)."""
        if self._spec is None:
            self._spec = shared_answer("airbyte-spec", self.command, self._kept_or_fetched)
        return self._spec

    def _fetch(self, background: bool = False) -> dict[str, Any]:
        return self._one("spec", ["spec"], "SPEC", "spec", background=background)

    def _kept_or_fetched(self) -> dict[str, Any]:
        if os.environ.get(SHARED_ANSWERS_ENV):  # the runtime keeps it for its invocation
            return self._fetch()
        kept = spec_cache.load("airbyte-spec", self.command)
        if not isinstance(kept, dict):
            fresh = self._fetch()
            spec_cache.store("airbyte-spec", self.command, fresh)
            return fresh
        self.spec_check = threading.Thread(
            target=self._check_kept, args=(kept,), name="airbyte spec check", daemon=True
        )
        self.spec_check.start()
        return kept

    def _check_kept(self, kept: dict[str, Any]) -> None:
        """Run `spec` beside the session; a different answer replaces the kept one, its
        secrets are masked too, and `on_spec_changed` says what this session used."""
        try:
            fresh = self._fetch(background=True)  # beside the session, on idle CPU only
        except ConnectorError as exc:
            self.log.warning("checking the kept spec of %s failed: %s", self.name, exc)
            return
        if fresh == kept:
            return
        spec_cache.store("airbyte-spec", self.command, fresh)
        with self._spec_lock:  # a config `ready` has not masked yet is masked with both
            self._fresh_spec = fresh
            for config in self._masked:
                mask_config_secrets(connection_schema(fresh), config)
        if self.on_spec_changed is not None:
            self.on_spec_changed(kept, fresh)
        else:
            self.log.warning(
                "the spec of the Airbyte connector %s changed since an earlier run kept it; "
                "this process used the kept one, later ones use the new one",
                self.name,
            )

    def check(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return self._one("check", ["check"], "CONNECTION_STATUS", "connectionStatus", config)


def command_name(command: Sequence[str]) -> str:
    """A readable name for messages: the script or module behind an interpreter, else the
    program (`python main.py` → `main.py`, `python -m destination_x` → `destination_x`)."""
    program = os.path.basename(command[0]) if command else "connector"
    if program.startswith("python") and len(command) > 1:
        rest = list(command[1:])
        if rest[0] == "-m" and len(rest) > 1:
            return rest[1]
        if not rest[0].startswith("-"):
            return os.path.basename(rest[0])
    return program
