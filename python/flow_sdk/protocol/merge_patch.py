"""RFC 7396 JSON Merge Patch, the way Flow reduces checkpointed connector state."""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` and return the result. Objects merge recursively, `null`
    deletes a key, anything else replaces. `target` is modified in place when it is a dict."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target
