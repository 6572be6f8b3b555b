"""What every `flow-sdk preview` shares, whatever the task kind: its flags, parsed
(`PreviewOptions`).

The previews themselves live with their task kind: `capture.preview`,
`materialize.preview`, `derive.preview`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from flow_sdk.runtime.durations import flag_duration
from flow_sdk.runtime.errors import RuntimeFailure


@dataclass
class PreviewOptions:
    """The flags of `preview`, parsed."""

    sessions: list[int] = field(default_factory=lambda: [-1])
    delay: float = 0.0
    timeout: float | None = None
    """Total run time (flowctl's `--timeout`): the preview stops gracefully when it elapses."""
    idle_timeout: float | None = None
    """End a capture session when no data arrives for this long (the older `--timeout`)."""
    log_json: bool = False
    initial_state: Any = field(default_factory=dict)
    output_state: bool = False
    output_apply: bool = False
    max_interval: float | None = None
    progress: bool | None = None
    network: str = "bridge"

    @classmethod
    def from_flags(
        cls,
        *,
        sessions: str | None = None,
        delay: str | None = None,
        timeout: str | None = None,
        idle_timeout: str | None = None,
        initial_state: str | None = None,
        max_interval: str | None = None,
        **rest: Any,
    ) -> PreviewOptions:
        """Options from command-line strings; a bad value is a RuntimeFailure naming the flag."""
        out = cls(**rest)
        if sessions:
            try:
                out.sessions = [int(part) for part in sessions.split(",")]
            except ValueError:
                raise RuntimeFailure(
                    f"--sessions {sessions!r} is not a list of numbers like 2,1,-1"
                ) from None
            if 0 in out.sessions:
                raise RuntimeFailure("--sessions: a session needs at least one transaction (or -1)")
        out.delay = flag_duration("--delay", delay) or 0.0
        out.timeout = flag_duration("--timeout", timeout)
        out.idle_timeout = flag_duration("--idle-timeout", idle_timeout)
        out.max_interval = flag_duration("--max-interval", max_interval)
        if initial_state:
            try:
                out.initial_state = orjson.loads(initial_state)
            except orjson.JSONDecodeError as exc:
                raise RuntimeFailure(f"--initial-state is not valid JSON: {exc}") from None
        return out


def emit_line(output: BinaryIO, value: Any, flush: bool = True) -> None:
    """One JSON line of a preview's output (flushed, so a reader sees it as it happens)."""
    output.write(orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE))
    if flush:
        output.flush()
