"""Requests and result helpers for driving the Singer shim as a real connector process."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from flow_sdk.protocol.merge_patch import merge_patch
from flow_sdk.protocol.state_key import encode_state_key
from flow_sdk.testing import run_connector


def binding(
    stream: str,
    method: str,
    key: Sequence[str] = ("/_meta/row_id",),
    backfill: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    resource = {"tap_stream_id": stream, "replication_method": method, **extra}
    return {
        "resourceConfig": resource,
        "resourcePath": [stream],
        "collection": {
            "name": f"acmeCo/{stream}",
            "key": list(key),
            "writeSchema": {"type": "object"},
        },
        "backfill": backfill,
        "stateKey": encode_state_key([stream], backfill),
    }


def open_request(
    config: dict[str, Any], bindings: list[dict[str, Any]], state: Any = None
) -> dict[str, Any]:
    return {
        "open": {
            "capture": {"name": "acmeCo/singer", "config": config, "bindings": bindings},
            "version": "v1",
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": state if state is not None else {},
        }
    }


@dataclass
class Run:
    code: int
    responses: list[dict[str, Any]]
    stderr: list[str]

    def of(self, variant: str) -> list[Any]:
        return [r[variant] for r in self.responses if variant in r]

    def docs(self, binding: int | None = None) -> list[dict[str, Any]]:
        return [
            c["doc"]
            for c in self.of("captured")
            if binding is None or c.get("binding", 0) == binding
        ]

    def reduced_state(self, initial: Any = None) -> Any:
        state = initial if initial is not None else {}
        for cp in self.of("checkpoint"):
            s = cp["state"]
            state = merge_patch(state, s["updated"]) if s.get("mergePatch") else s["updated"]
        return state

    @property
    def text(self) -> str:
        return "\n".join(self.stderr)

    @property
    def last_error(self) -> str:
        return orjson.loads(self.stderr[-1])["msg"] if self.stderr else ""


def run(argv: list[str], requests: list[dict[str, Any]], session: bool = False) -> Run:
    """Run the shim with `requests`; for a session, stdin stays open until it exits."""
    done = run_connector(argv, requests, hold_stdin=60 if session else 0, timeout=90)
    return Run(done.code, done.stdout, done.stderr)
