"""The `stateKey` of a binding: its resource path, escaped, plus the backfill counter.

Flow computes it in `assemble::encode_state_key`; connectors key per-binding state by it,
so a backfill (new counter) starts clean while other bindings keep their state.
"""

from __future__ import annotations

from collections.abc import Sequence

_KEEP = frozenset("-_+.=")


def encode_state_key(resource_path: Sequence[str], backfill: int = 0) -> str:
    """Escape `resource_path` joined by `/`: alphanumerics and `-_+.=` stay, the rest are
    percent-encoded UTF-8 bytes in upper-case hex; a non-zero backfill appends `.v<n>`."""
    out: list[str] = []
    for ch in "/".join(resource_path):
        if ch.isalnum() or ch in _KEEP:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode())
    key = "".join(out)
    return f"{key}.v{backfill}" if backfill else key
