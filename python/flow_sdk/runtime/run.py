"""`flow-sdk run --source FILE [--data-dir DIR]`: the local data plane.

The catalog is checked against Flow's rules first. Every enabled capture of the catalog
runs into local collection journals, and every enabled materialization stores what it has
not read yet. The materializations run in a process of their own beside the captures
(`following`): their Spec, Validate, Apply and session Open overlap the captures, and so
does their storing. By default they store only settled transactions while the captures run
(the ones a pass after the captures would make, in the same order), the rest once the
captures ended: what a run stores is decided by what its captures committed (but for a
backfill that truncates a collection mid-run, see `following`). With `--follow`
(`RunOptions.follow`) they store each capture commit as it lands, as Flow's runtime does.
Running it again continues where the last run committed (see `capture.run` and
`materialize.run` for the commit protocol: a kill -9 at any point loses nothing and
duplicates nothing a keyed destination would keep).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flow_sdk.runtime.capture.run import (
    CaptureRun,
    run_capture,
)
from flow_sdk.runtime.capture.session import Timeouts, Transaction
from flow_sdk.runtime.catalog.load import Catalog, load_catalog
from flow_sdk.runtime.catalog.rules import check_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.durations import format_duration
from flow_sdk.runtime.errors import CatalogError, RuntimeFailure
from flow_sdk.runtime.following import MaterializationsProcess
from flow_sdk.runtime.journal import DataDir
from flow_sdk.runtime.materialize.run import (
    TRANSACTION_DOCUMENTS,
    MaterializationRun,
)
from flow_sdk.runtime.testing_seams import arm_crash_points_from_environment, crash_point

DEFAULT_DATA_DIR = ".flow-data"


@dataclass
class RunOptions:
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    timeout: float | None = None
    """Total capture time: sessions stop gracefully when it elapses, then materializations
    run over what was committed (default: wait for the connectors to exit)."""
    idle_timeout: float | None = None
    """End a capture session when no data arrives for this long."""
    progress: bool | None = None
    transaction_documents: int = TRANSACTION_DOCUMENTS
    network: str = "bridge"
    """The container network of image connectors (`--network`)."""
    follow: bool = False
    """Materializations store each capture commit as it lands (`--follow`), not only after
    the captures end."""


@dataclass
class RunSummary:
    captures: list[CaptureRun] = field(default_factory=list)
    materializations: list[MaterializationRun] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self, data_dir: Path) -> list[str]:
        out = []
        for c in self.captures:
            total = sum(c.documents.values())
            detail = ", ".join(f"{n}: {k}" for n, k in sorted(c.documents.items())) or "nothing new"
            out.append(
                f"captured {total} document(s) with {c.task} in {c.transactions} "
                f"transaction(s) ({detail})"
            )
        for m in self.materializations:
            total = sum(m.documents.values())
            detail = ", ".join(f"{n}: {k}" for n, k in sorted(m.documents.items())) or "nothing new"
            out.append(
                f"materialized {total} document(s) with {m.task} in {m.transactions} "
                f"transaction(s) ({detail})"
            )
        out.append(f"done in {format_duration(self.seconds)}; data and state in {data_dir}")
        return [f"run: {line}" for line in out]


class RunProgress:
    """Bars on stderr (when it is a terminal, or when asked): documents captured per capture,
    bytes of journal stored per materialization."""

    def __init__(self, console: Console, enabled: bool | None) -> None:
        self.console = console
        if enabled is None:
            enabled = console.wants_bars()
        self.enabled = enabled
        self._bar: Any = None

    def start(self, description: str, total: int | None = None, unit: str = " docs") -> None:
        self.finish()
        if not self.enabled:
            return
        from tqdm import tqdm

        self._bar = tqdm(
            desc=description,
            total=total,
            unit=unit,
            unit_scale=unit == "B",
            file=self.console.stream,
            dynamic_ncols=True,
            leave=False,
        )
        bar, stream = self._bar, self.console.stream
        self.console.sink = lambda text: bar.write(text, file=stream)  # (after `finish` too)

    def advance(self, amount: int, note: str = "") -> None:
        if self._bar is not None:
            self._bar.update(amount)
            if note:
                self._bar.set_postfix_str(note, refresh=False)

    def event(self, kind: str, text: str, amount: int | None) -> None:
        """A progress event of `run --follow`'s materializations process (see
        `following.Progress`)."""
        if kind == "start":
            self.start(text, total=amount, unit="B")
        else:
            self.advance(amount or 0, text)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self.console.sink = None


def run(source: str | Path, options: RunOptions, console: Console | None = None) -> RunSummary:
    """Run every capture, then every materialization, of the catalog at `source`."""
    console = console or Console()
    catalog = load_catalog(source)
    check_catalog(catalog)
    _check_single_writers(catalog)
    data = DataDir(options.data_dir.resolve())
    data.lock()
    arm_crash_points_from_environment()
    progress = RunProgress(console, options.progress)
    summary = RunSummary()
    started = time.monotonic()
    progress_so_far = SoFar(summary)
    materializing = MaterializationsProcess(
        catalog,
        source,
        data,
        options.transaction_documents,
        options.network,
        console,
        follow=options.follow,
    )
    try:
        committed = materializing.committed
        _run_captures(catalog, data, options, console, progress, progress_so_far, committed)
        crash_point("captures-done")
        summary.materializations += materializing.finish(progress.event)
        progress.finish()
    except RuntimeFailure as failure:
        progress.finish()
        progress_so_far.stored(materializing.stop())  # what they stored meanwhile is kept
        if materializing.error is not None and materializing.error is not failure:
            console.log("error", f"the materializations had failed too: {materializing.error}")
        for line in progress_so_far.lines(options.data_dir):
            console.line(line)
        raise
    finally:
        materializing.stop()  # (stopped already, unless something else interrupted)
        progress.finish()
        data.unlock()
    summary.seconds = time.monotonic() - started
    return summary


def _run_captures(
    catalog: Catalog,
    data: DataDir,
    options: RunOptions,
    console: Console,
    progress: RunProgress,
    so_far: SoFar,
    on_commit: Callable[[str], None],
) -> None:
    """Every enabled capture, one after the other, into the journals; `on_commit(capture)`
    after each transaction is committed."""
    timeouts = Timeouts(idle=options.idle_timeout, total=options.timeout)
    for task in catalog.captures.values():
        if task.disable:
            continue
        progress.start(f"capture {task.name}")

        def captured(txn: Transaction, name: str = task.name) -> None:
            progress.advance(len(txn.documents), f"{txn.checkpoints} checkpoint(s)")
            so_far.committed(name, txn)
            on_commit(name)

        so_far.summary.captures.append(
            run_capture(catalog, task, data, console, captured, timeouts, options.network)
        )
        progress.finish()


class SoFar:
    """What a run committed before a failure stopped it: the finished tasks' summaries and
    the documents of the capture that failed, so its last lines say what is kept."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        self.failing: CaptureRun | None = None

    def stored(self, runs: Iterable[MaterializationRun]) -> None:
        """What the materializations stored before the failure (they followed the captures)."""
        done = {m.task for m in self.summary.materializations}
        for stored in runs:
            if stored.transactions and stored.task not in done:
                self.summary.materializations.append(stored)

    def committed(self, task: str, txn: Transaction) -> None:
        if self.failing is None or self.failing.task != task:
            self.failing = CaptureRun(task)
        self.failing.transactions += 1
        for collection, count in txn.documents.counts().items():
            self.failing.documents[collection] = self.failing.documents.get(collection, 0) + count

    def lines(self, data_dir: Path) -> list[str]:
        done = {c.task for c in self.summary.captures}
        partial = RunSummary(list(self.summary.captures), list(self.summary.materializations))
        if self.failing is not None and self.failing.task not in done:
            partial.captures.append(self.failing)
        lines = partial.lines(data_dir)[:-1]
        if not lines:
            return ["run: nothing was committed before the failure"]
        return [
            *(line.replace("run: ", "run: before the failure: ", 1) for line in lines),
            f"run: what was committed is kept in {data_dir}; the next run continues from it",
        ]


def _check_single_writers(catalog: Catalog) -> None:
    writers: dict[str, str] = {}
    for task in catalog.captures.values():
        for binding in task.enabled_bindings:
            other = writers.setdefault(binding.target, task.name)
            if other != task.name:
                raise CatalogError(
                    f"the collection {binding.target!r} is written by both {other!r} and "
                    f"{task.name!r}; `flow-sdk run` keeps one journal per collection with its "
                    "capture's state, so give each collection one capture"
                )
