"""Cyclic garbage collection held off while a stream of documents is handled.

Documents, store lines and the records built from them are acyclic and freed by reference
counting as soon as they are done with. Yet every few hundred of them allocated sets off a
collector pass, and the passes over the thousands a transaction keeps in flight (a combiner's
entries, a transaction's store lines and keys) cost more than the documents' own
work. So the runtime's hot loops (reading a capture transaction, committing it to the
journals, reading a materialization transaction from them) pause the collector and let it
run, and catch up, between transactions: in a 1M-document `run` the runtime's collector
passes went from ~2 s to ~0.4 s (docs/benchmarks.md, fifth session). A materialization's
request loop pauses it from a transaction's `flushed` until its `startCommit` hook has returned
(`PhasePause`: an Airbyte destination's `write()` thread works through the stores in that
hook), with a young pass every `STORES_PER_PASS` stores, so cyclic garbage a connector makes
meanwhile is held for at most that many stores and one commit (destination-kvdb's session: 3%
fewer instructions per document). Threads that pause it at once may end each other's pause
early; it is always back on once all have left.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (unless it was off already)."""
    pause = PhasePause()
    pause.start()
    try:
        yield
    finally:
        pause.stop()


class PhasePause:
    """The collector held off across a phase of a request loop (from `start` to `stop`, not
    one block); `young_pass` collects the youngest generation meanwhile."""

    def __init__(self) -> None:
        self.active = False
        self._was_enabled = True

    def start(self) -> None:
        if not self.active:
            self.active = True
            self._was_enabled = gc.isenabled()
            gc.disable()

    def young_pass(self) -> None:
        """A pass over the youngest objects, when paused (so a long phase's cyclic garbage
        stays bounded)."""
        if self.active:
            gc.collect(0)

    def stop(self) -> None:
        if self.active:
            self.active = False
            if self._was_enabled:
                gc.enable()
