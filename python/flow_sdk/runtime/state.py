"""Connector state as Flow's runtime keeps it: checkpoints reduced with RFC 7396 merge
patches (or replaced when `mergePatch` is false), carried from session to session."""

from __future__ import annotations

import copy
from typing import Any

from flow_sdk.protocol.flow import ConnectorState
from flow_sdk.protocol.merge_patch import merge_patch


class StateStore:
    """The committed connector state of a task."""

    def __init__(self, initial: Any = None) -> None:
        self.state: Any = {} if initial is None else copy.deepcopy(initial)

    def apply(self, update: ConnectorState) -> None:
        """Reduce one checkpoint's state into the committed state."""
        patch = copy.deepcopy(update.updated)
        if update.mergePatch:
            self.state = merge_patch(self.state, patch)
        else:
            self.state = merge_patch({}, patch) if isinstance(patch, dict) else patch


def combine_updates(before: Any, updates: list[ConnectorState]) -> dict[str, Any]:
    """One `{updated, mergePatch}` with the effect of applying `updates` in order to the
    state `before`, as flowctl prints one per committed transaction. Falls back to the full
    resulting state when no single merge patch has that effect."""
    if len(updates) == 1:
        return {"updated": updates[0].updated} | (
            {"mergePatch": True} if updates[0].mergePatch else {}
        )
    result = StateStore(before)
    for update in updates:
        result.apply(update)
    if all(u.mergePatch for u in updates):
        composed: Any = {}
        for update in updates:
            composed = _compose(composed, copy.deepcopy(update.updated))
        if merge_patch(copy.deepcopy(before), copy.deepcopy(composed)) == result.state:
            return {"updated": composed, "mergePatch": True}
    return {"updated": result.state}


def _compose(first: Any, second: Any) -> Any:
    """A merge patch meant to have the effect of `first` then `second` (nulls kept, as they
    delete); callers check the effect, since not every pair composes."""
    if not isinstance(second, dict) or not isinstance(first, dict):
        return second
    for key, value in second.items():
        if value is None or key not in first or not isinstance(value, dict):
            first[key] = value
        else:
            first[key] = _compose(first[key], value)
    return first
