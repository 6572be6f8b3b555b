"""An airbyte-cdk 7 source that misbehaves on purpose, for the reliability suite's fault tests.

One incremental stream `things` (key `id`, cursor `id`, a state every `every` records) of
`count` records. After `FAULT_AFTER` records (an environment variable, like the others, so
that the config and the runtime's unary answers stay the same) the `FAULT` strikes:
`check` (the connection check fails), `raise` (an exception), `hang` (sleeps for an hour), `garbage` (writes non-JSON to stdout
and to fd 1, then carries on), `exit` (exits 3 after an error on stderr), `kill` (SIGKILLs
itself). The config's `api_key` is a secret the source logs nowhere — unless `FAULT_LEAK`
is set, when it logs and prints it and puts it into its error texts (what flow-sdk must
mask).

    faulty_source.py spec|check|discover|read ...   the Airbyte CLI
    faulty_source.py flow                           the shim, source in process
    faulty_source.py flow-subprocess                the shim, this file's CLI as a child
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import ConnectorSpecification, SyncMode
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import CheckpointMixin, Stream

SPEC = {
    "type": "object",
    "required": ["count"],
    "properties": {
        "count": {"type": "integer"},
        "every": {"type": "integer", "default": 5},
        "api_key": {"type": "string", "airbyte_secret": True},
    },
}


class Things(Stream, CheckpointMixin):
    primary_key = "id"
    cursor_field = "id"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self._cursor = 0

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {"id": self._cursor}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor = int(value.get("id", 0))

    def get_json_schema(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            "required": ["id"],
        }

    def stream_slices(self, **kwargs: Any) -> Iterable[Mapping[str, Any] | None]:
        if os.environ.get("FAULT_LEAK"):
            logging.getLogger("airbyte").info("reading with key %s", self.config.get("api_key"))
            print(f"debug print: reading with key={self.config.get('api_key')}")
        every, count = self.config.get("every", 5), self.config["count"]
        for low in range(self._cursor, count, every):
            yield {"low": low, "high": min(low + every, count)}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        assert stream_slice is not None
        for i in range(stream_slice["low"], stream_slice["high"]):
            if os.environ.get("FAULT") and i == int(os.environ.get("FAULT_AFTER", "0")):
                strike(self.config)
            self._cursor = i + 1
            yield {"id": i + 1, "name": f"thing {i + 1}"}


def strike(config: Mapping[str, Any]) -> None:
    fault = os.environ["FAULT"]
    secret = config.get("api_key", "") if os.environ.get("FAULT_LEAK") else "(not shown)"
    if fault == "raise":
        logging.getLogger("airbyte").error("about to fail; my api key is %s", secret)
        raise RuntimeError(f"the upstream API refused the key {secret}")
    if fault == "hang":
        time.sleep(3600)
    if fault == "garbage":
        print("this is not JSON {{{", flush=True)
        sys.stdout.flush()
        os.write(1, b"garbage on fd 1\n")
        os.environ["FAULT"] = ""  # once
    if fault == "exit":
        sys.stdout.flush()
        os.write(2, f"fatal: giving up with key {secret}\n".encode())
        os._exit(3)
    if fault == "kill":
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


class FaultySource(AbstractSource):
    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(connectionSpecification=SPEC)

    def check_connection(
        self, logger: logging.Logger, config: Mapping[str, Any]
    ) -> tuple[bool, Any]:
        if os.environ.get("FAULT_LEAK"):
            key = config.get("api_key")
            logger.info("checking the connection with key %s", key)
            print(f"debug print: key={key}")
            if os.environ.get("FAULT") == "check":
                return False, f"the API rejected the key {key}"
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        return [Things(dict(config))]


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in ("flow", "flow-subprocess"):
        from flow_sdk.airbyte import CaptureShim
        from flow_sdk.airbyte.source.process import SubprocessSource

        delegate: Any = FaultySource()
        if command == "flow-subprocess":
            delegate = SubprocessSource([sys.executable, os.path.abspath(__file__)])
        CaptureShim(delegate=delegate, oauth2=None).main()
        return
    from airbyte_cdk.entrypoint import launch

    launch(FaultySource(), sys.argv[1:])


if __name__ == "__main__":
    main()
