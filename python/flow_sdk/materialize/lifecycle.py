"""The order of a materialization's requests, checked as they arrive (`flow-protocol.md` §3.3).

One object holds the transaction state machine so the request loop only dispatches: after
`open` the first request is `acknowledge`; each transaction is `load`* (with exactly one
`acknowledge` somewhere among them) → `flush` → `store`* → `startCommit`; stdin may end only
at a transaction boundary.
"""

from __future__ import annotations

import enum

from flow_sdk.protocol.wire import ProtocolError

UNARY = frozenset({"spec", "validate", "apply"})


class Phase(enum.Enum):
    UNOPENED = "before open"
    LOAD = "load phase"
    STORE = "store phase"


class TransactionLifecycle:
    """Tracks where a materialize session is; `admit` raises ProtocolError for a request that
    cannot come next, with a sentence that says what was expected instead."""

    def __init__(self) -> None:
        self.phase = Phase.UNOPENED
        self.awaiting_acknowledge = False
        """An `acknowledge` is owed in this transaction (for the previous commit)."""
        self.loads = 0
        """Loads received in the current transaction."""
        self.stores = 0
        """Stores received in the current transaction."""
        self.transactions = 0
        """Transactions started with `startCommit` in this session."""

    def admit(self, variant: str) -> None:
        """Check that request `variant` may come now, and advance the state machine."""
        phase = self.phase
        if phase is Phase.UNOPENED:
            if variant in UNARY:
                return
            if variant == "open":
                self.phase = Phase.LOAD
                self.awaiting_acknowledge = True
                return
            raise ProtocolError(f"`{variant}` arrived before `open`")
        if variant in UNARY or variant == "open":
            raise ProtocolError(f"`{variant}` arrived during an open session ({phase.value})")
        if phase is Phase.LOAD:
            self._admit_in_load(variant)
        else:
            self._admit_in_store(variant)

    def admit_store(self) -> None:
        """`admit("store")` for the request that comes by the thousand: one check when the
        store phase is on, the full state machine (and its errors) otherwise."""
        if self.phase is Phase.STORE:
            self.stores += 1
        else:
            self.admit("store")

    def _admit_in_load(self, variant: str) -> None:
        if variant == "acknowledge":
            if not self.awaiting_acknowledge:
                raise ProtocolError(
                    "a second `acknowledge` arrived in one transaction; the runtime sends "
                    "exactly one per commit"
                )
            self.awaiting_acknowledge = False
        elif variant == "load":
            self.loads += 1
        elif variant == "flush":
            if self.awaiting_acknowledge:
                what = "the session's first" if self.transactions == 0 else "the previous commit's"
                raise ProtocolError(f"`flush` arrived before {what} `acknowledge`")
            self.phase = Phase.STORE
            self.stores = 0
        elif variant == "store":
            raise ProtocolError("`store` arrived before `flush` ended the load phase")
        elif variant == "startCommit":
            raise ProtocolError("`startCommit` arrived before `flush` and the store phase")
        else:
            raise ProtocolError(f"unexpected `{variant}` in the {self.phase.value}")

    def _admit_in_store(self, variant: str) -> None:
        if variant == "store":
            self.stores += 1
        elif variant == "startCommit":
            self.phase = Phase.LOAD
            self.awaiting_acknowledge = True
            self.loads = 0
            self.transactions += 1
        else:
            raise ProtocolError(
                f"`{variant}` arrived in the store phase; only `store` and `startCommit` may"
            )

    @property
    def at_boundary(self) -> bool:
        """Between transactions: stdin may end here (§3.3 step 9)."""
        if self.phase is Phase.UNOPENED:
            return True
        if self.phase is not Phase.LOAD or self.loads:
            return False
        # Right after `opened` nothing is in flight yet; later, the last commit must have
        # been acknowledged.
        return self.transactions == 0 or not self.awaiting_acknowledge

    def check_eof(self) -> None:
        """Raise ProtocolError if stdin ending now would cut a transaction short."""
        if self.at_boundary:
            return
        if self.phase is Phase.STORE:
            where = f"in the store phase after {self.stores} store(s), before `startCommit`"
        elif self.awaiting_acknowledge and not self.loads:
            where = "after `startCommit`, before the commit was acknowledged"
        else:
            where = f"in the load phase after {self.loads} load(s), before `flush`"
        raise ProtocolError(
            f"stdin ended {where}; the runtime ends a session only between transactions"
        )
