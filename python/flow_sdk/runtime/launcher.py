"""Launching a task's connector as Flow's runtime does: every unary request (spec, discover,
validate, apply) in its own process, after a probe Spec, with exactly one response and then
EOF; sessions start the same way and then stream. A task's local processes share a directory
of config-free answers (`flow_sdk.shared_answers`), so a wrapped connector's spec is fetched
once per invocation, not once per request.

A known sequence of launches (`planned`: Spec, Validate, Apply and the session) keeps one
process started ahead: it imports while the one before it works, and gets its request when
that one is done. Still one process per request; an airbyte-cdk connector's ~1.5 s start-up
is paid about half as often on the run's critical path. A first process that may leave a
fork server (`flow_sdk.runtime.forked`) gets its successor only once it answered its probe:
then that successor is forked from it rather than importing beside it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import orjson

from flow_sdk.protocol.wire import Envelope, WireModel
from flow_sdk.runtime.capture.config_updates import ENV as CONFIG_UPDATE_ENV
from flow_sdk.runtime.capture.config_updates import ConfigInbox
from flow_sdk.runtime.catalog.env_refs import resolve_env
from flow_sdk.runtime.catalog.load import Endpoint
from flow_sdk.runtime.catalog.sops import unseal
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import ProtocolViolation
from flow_sdk.runtime.process import (
    EOF,
    ConnectorProcess,
    Launch,
    image_launch,
    local_launch,
)
from flow_sdk.runtime.strict import parse_response
from flow_sdk.shared_answers import SHARED_ANSWERS_ENV

E = TypeVar("E", bound=Envelope)
LAUNCH_AHEAD_ENV = "FLOW_SDK_LAUNCH_AHEAD"


class Task(Protocol):
    """What the launcher needs of a capture or materialization definition."""

    name: str
    endpoint: Endpoint
    log_level: str


class ConnectorLauncher:
    """Starts one task's connector processes and makes its unary requests."""

    def __init__(self, task: Task, console: Console, network: str = "bridge") -> None:
        self.task = task
        self.console = console
        self.network = network
        self._config: Any = None
        self._unsealed = False
        self._shared: str | None = None
        self.probe: Any = None
        """The last probe Spec's response (its `resourcePathPointers` place existing
        bindings when a discover is merged into the catalog)."""
        self.config_inbox: ConfigInbox | None = None
        """Where local connector processes leave config updates (sessions' runners set it)."""
        self._planned = 0
        self._standby: ConnectorProcess | None = None
        self._no_fork_server = False
        """A first process left no fork server: later ones are started ahead at once."""

    @property
    def connector_type(self) -> str:
        return "IMAGE" if self.task.endpoint.image else "LOCAL"

    @property
    def config(self) -> Any:
        """The endpoint config as the connector receives it: sops-decrypted, suffix stripped,
        `{"$env": NAME}` references resolved (and their values masked in logs); or the connector's own update of it, once one was taken."""
        if self.config_inbox is not None and self.config_inbox.config is not None:
            return self.config_inbox.config
        if not self._unsealed:
            endpoint = self.task.endpoint
            self._config = resolve_env(
                unseal(endpoint.config, endpoint.config_where),
                endpoint.config_where,
                endpoint.file,
                self.console,
            )
            self._unsealed = True
        return self._config

    def launch(self) -> Launch:
        endpoint = self.task.endpoint
        label = self.task.name
        if endpoint.image:
            return image_launch(
                endpoint.image, endpoint.env, self.task.log_level, label, self.network
            )
        shared = self._shared_answers()
        env = {SHARED_ANSWERS_ENV: shared, **endpoint.env}
        launch = local_launch(endpoint.command, env, self.task.log_level, label)
        launch.fork_servers = shared
        if self.config_inbox is not None:
            launch.env[CONFIG_UPDATE_ENV] = str(self.config_inbox.inbox)
        return launch

    def take_config_update(self) -> bool:
        """Apply the config update the last connector process left; True if there was one."""
        return self.config_inbox is not None and self.config_inbox.take()

    def _shared_answers(self) -> str:
        """A directory for this launcher's connector processes to share config-free answers
        in (the wrapped connector's spec), removed when the launcher goes away."""
        if self._shared is None:
            self._shared = tempfile.mkdtemp(prefix="flow-sdk-answers-")
            weakref.finalize(self, shutil.rmtree, self._shared, True)
        return self._shared

    @contextmanager
    def planned(self, launches: int) -> Iterator[None]:
        """The next `launches` starts follow one another: each later process is started while
        the one before works (local endpoints; an image's container is not started ahead).
        A process started ahead that is not taken by the end is killed.
        `FLOW_SDK_LAUNCH_AHEAD=0` launches one at a time (a connector that holds something
        exclusive from its start, before it reads a request)."""
        ahead = os.environ.get(LAUNCH_AHEAD_ENV, "1") != "0" and not self.task.endpoint.image
        self._planned = launches if ahead else 0
        try:
            yield
        finally:
            self._planned = 0
            self._drop_standby()

    def _take(self) -> ConnectorProcess:
        """The process started ahead when it still matches this launch, else a new one; and
        the next one started ahead while more are planned."""
        launch = self.launch()
        proc, self._standby = self._standby, None
        if proc is not None and (proc.launch != launch or proc.proc.poll() is not None):
            _kill_unused(proc)
            proc = None
        if proc is None:
            proc = ConnectorProcess(launch, self.console)
        self._planned = max(0, self._planned - 1)
        if self._planned and (proc.fork_server is None or self._no_fork_server):
            self._start_standby(proc)
        return proc

    def _start_standby(self, taken: ConnectorProcess) -> None:
        """Start the next process ahead; should that fail, `taken` is killed with it gone
        (nobody else would end it)."""
        try:
            self._standby = ConnectorProcess(self.launch(), self.console)
        except BaseException:
            taken.kill()
            raise

    def _drop_standby(self) -> None:
        proc, self._standby = self._standby, None
        if proc is not None:
            _kill_unused(proc)

    def start(self, model: type[E]) -> ConnectorProcess:
        """A new connector process that has been sent (and has answered) the probe Spec."""
        proc = self._take()
        try:
            proc.send(request_line("spec", {"connectorType": self.connector_type, "config": {}}))
            self.probe = read_one(proc, model, "spec", "the probe Spec request")
        except BaseException:
            proc.kill()
            raise
        if proc.fork_server is not None and not os.path.exists(proc.fork_server):
            self._no_fork_server = True  # not a flow-sdk connector: start ahead at once
        if self._planned and self._standby is None:
            # The first process left its fork server before it read the probe: the next is
            # a cheap copy (an import beside the first would have cost a core for ~1.3 s).
            self._start_standby(proc)
        return proc

    def apply(self, model: type[E], request: WireModel) -> Any:
        """Send an Apply (a capture's or a materialization's); its `applied` answer."""
        return self.unary(model, "apply", request.to_wire(), "applied").applied

    def unary(self, model: type[E], variant: str, payload: dict[str, Any], answer: str) -> E:
        """Send one request in a fresh process; the one `answer` response, then EOF."""
        try:
            return self._unary(model, variant, payload, answer)
        finally:
            self.take_config_update()  # a check may rotate a token, too

    def _unary(self, model: type[E], variant: str, payload: dict[str, Any], answer: str) -> E:
        with self.start(model) as proc:
            proc.send(request_line(variant, payload))
            proc.close_stdin()
            response = read_one(proc, model, answer, f"the {variant} request")
            extra = proc.next_line()
            if extra is not EOF:
                assert isinstance(extra, bytes)
                if proc.wait() != 0:
                    raise proc.failure(variant)
                raise ProtocolViolation(
                    "one-response",
                    f"a {variant} request gets exactly one response and then EOF, "
                    "but the connector wrote more",
                    extra,
                )
            if proc.wait() != 0:
                raise proc.failure(variant)
            return response


def _kill_unused(proc: ConnectorProcess) -> None:
    """End a process started ahead that got no request (it was only importing)."""
    proc.kill()
    proc.wait()


def request_line(variant: str, payload: dict[str, Any]) -> bytes:
    """One request as a JSON line."""
    return orjson.dumps({variant: payload}, option=orjson.OPT_APPEND_NEWLINE)


def read_one(proc: ConnectorProcess, model: type[E], answer: str, what: str) -> E:
    """The next response, which must be the `answer` variant."""
    line = proc.next_line()
    if line is EOF:
        if proc.wait() != 0:
            raise proc.failure(what.removeprefix("the "))
        raise ProtocolViolation(
            "one-response", f"the connector exited without answering {what} (expected `{answer}`)"
        )
    assert isinstance(line, bytes)
    response = parse_response(model, line)
    if response.variant != answer:
        raise ProtocolViolation(
            "response-variant",
            f"expected `{answer}` in answer to {what}, got `{response.variant}`",
            line,
        )
    return response
