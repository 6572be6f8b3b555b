"""A capture transaction's documents, reduced by key with bounded memory.

Flow's combiner reduces a transaction's documents by collection key and spills to local disk
when they outgrow its memory; so does this one. Documents are kept serialized, keyed by
`(binding, Key)`, last write wins. Past `memory_bytes` (an estimate: each document's bytes
plus a fixed per-entry cost) the in-memory part is sorted and written to an anonymous
temporary file as one sorted run; draining merges the runs and the in-memory rest by key,
where the latest run wins. The spilled bytes are exactly the documents the runtime would
otherwise hold, so the result is the same document for document, only the memory is flat in
the transaction's size.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import islice
from operator import itemgetter
from typing import IO

from flow_sdk.runtime.keys import Key

BindingKey = tuple[int, Key]
Entry = tuple[BindingKey, bytes]

COMBINER_MEMORY_BYTES = 24 << 20
"""The estimated size of the in-memory documents past which they are spilled to disk."""
ENTRY_OVERHEAD_BYTES = 240
"""What one in-memory document costs beside its bytes: its dict slot, its `(binding, Key)`
tuples and the `bytes` object's header (measured ~200–260 for one- or two-part keys)."""
SPILL_CHUNK_ENTRIES = 4096
"""Entries per pickled chunk of a run: merging reads one chunk per run at a time."""
MAX_RUNS = 32
"""Spilled runs kept at most; past it they are merged into one. A connector may send millions
of documents before its first checkpoint, and each run holds a file descriptor."""

_by_key = itemgetter(0)


class Combiner:
    """Documents of one checkpoint group or transaction, reduced by `(binding, key)`."""

    def __init__(self, memory_bytes: int | None = None) -> None:
        self.memory_bytes = COMBINER_MEMORY_BYTES if memory_bytes is None else memory_bytes
        self._memory: dict[BindingKey, bytes] = {}
        self._estimate = 0
        self._runs: list[IO[bytes]] = []
        self._spilled = 0

    def add(self, key: BindingKey, doc: bytes) -> None:
        """Reduce `doc` into the combiner: it replaces an earlier document of its key."""
        self._memory[key] = doc
        self._estimate += len(doc) + ENTRY_OVERHEAD_BYTES
        if self._estimate > self.memory_bytes:
            self._spill()

    def absorb(self, later: Combiner) -> None:
        """Reduce every document of `later` (all of them written after this one's) into this
        combiner; `later` is left empty."""
        if later._runs:
            self._spill()
            self._runs.extend(later._runs)
            self._spilled += later._spilled
            self._memory, self._estimate = later._memory, later._estimate
            self._bound_runs()
        else:
            self._memory.update(later._memory)
            self._estimate += later._estimate
            if self._estimate > self.memory_bytes:
                self._spill()
        later._memory, later._estimate, later._runs, later._spilled = {}, 0, [], 0

    def __len__(self) -> int:
        """Documents held: exact while nothing is spilled; with runs on disk, an upper bound
        (a key written in two runs counts twice until they are merged)."""
        return len(self._memory) + self._spilled

    @property
    def nearly_full(self) -> bool:
        """Past half its memory: a capture transaction closes at its next checkpoint, so
        that one of many small checkpoint groups commits before it must spill to disk
        (sorting, writing and merging runs cost a fifth of a capture's CPU); only a group
        larger than memory spills."""
        return self._estimate > self.memory_bytes // 2

    @property
    def spilled_runs(self) -> int:
        return len(self._runs)

    def drain(self) -> Iterator[Entry]:
        """Every document once, by `(binding, key)`: the order Flow's combiner drains in."""
        memory = sorted(self._memory.items(), key=_by_key)
        if not self._runs:
            yield from memory
            return
        yield from _merged([*(_read_run(run) for run in self._runs), iter(memory)])

    def close(self) -> None:
        """Release the spilled runs (anonymous files: the system drops them on close)."""
        for run in self._runs:
            run.close()
        self._runs, self._memory, self._estimate, self._spilled = [], {}, 0, 0

    def _spill(self) -> None:
        if not self._memory:
            return
        run, written = _written_run(iter(sorted(self._memory.items(), key=_by_key)))
        self._runs.append(run)
        self._spilled += written
        self._memory, self._estimate = {}, 0
        self._bound_runs()

    def _bound_runs(self) -> None:
        """Merge every run into one when there are more than `MAX_RUNS`."""
        if len(self._runs) <= MAX_RUNS:
            return
        run, written = _written_run(_merged([_read_run(run) for run in self._runs]))
        for old in self._runs:
            old.close()
        self._runs, self._spilled = [run], written


def _merged(runs: list[Iterator[Entry]]) -> Iterator[Entry]:
    """Sorted runs merged by key, oldest first; of a key's entries the latest run's wins."""
    merged = heapq.merge(*runs, key=_by_key)  # equal keys come in the order of `runs`
    held = next(merged, None)
    if held is None:
        return
    for entry in merged:
        if entry[0] != held[0]:
            yield held
        held = entry
    yield held


def _written_run(entries: Iterator[Entry]) -> tuple[IO[bytes], int]:
    """`entries` (sorted) written to an anonymous temporary file; the file and their count."""
    run = tempfile.TemporaryFile(prefix="flow-sdk-combiner-")  # noqa: SIM115 (kept open)
    written = 0
    while chunk := list(islice(entries, SPILL_CHUNK_ENTRIES)):
        pickle.dump(chunk, run, pickle.HIGHEST_PROTOCOL)
        written += len(chunk)
    return run, written


def _read_run(run: IO[bytes]) -> Iterator[Entry]:
    run.seek(0)
    while True:
        try:
            chunk = pickle.load(run)
        except EOFError:
            return
        yield from chunk


class Documents:
    """A transaction's reduced documents as `(collection, document JSON)` pairs, ordered by
    binding then key; iterable more than once (a spilled transaction is merged again from
    disk), with the per-collection counts known after the first pass."""

    def __init__(self, combiner: Combiner | None = None, names: Sequence[str] = ()) -> None:
        self._combiner = combiner if combiner is not None else Combiner()
        self._names = list(names)
        self._counts: Counter[str] | None = None

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        names = self._names
        counts: Counter[str] = Counter()
        for (binding, _), doc in self._combiner.drain():
            name = names[binding]
            counts[name] += 1
            yield name, doc
        self._counts = counts

    def counts(self) -> Counter[str]:
        """Documents per collection (one pass over them, unless one was made already)."""
        if self._counts is None:
            for _ in self:
                pass
        assert self._counts is not None
        return self._counts

    def __len__(self) -> int:
        return sum(self.counts().values())

    @property
    def spilled_runs(self) -> int:
        return self._combiner.spilled_runs

    def close(self) -> None:
        self._combiner.close()
