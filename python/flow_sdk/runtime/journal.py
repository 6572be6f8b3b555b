"""The local data plane's storage: append-only collection journals (one JSON document per
line) and task state files, under one data directory.

Crash safety rests on two primitives: a journal append is fsynced before the state that
counts it is written, and a state file is replaced atomically (temp file, fsync, rename,
fsync of the directory). Bytes of a journal past the length its writer's state records were
never committed; `Journal.truncate` drops them before anything reads the journal again.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from flow_sdk.runtime.errors import RuntimeFailure

JOURNAL_READ_BYTES = 1 << 20
"""Bytes of a journal read at once; lines are split out of the chunks."""
WRITE_BUFFER = 1 << 20


class Journal:
    """An append-only file of JSON lines; offsets are byte positions."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def truncate(self, length: int) -> int:
        """Drop everything past `length` (uncommitted appends); returns the bytes dropped."""
        size = self.size
        if size < length:
            raise RuntimeFailure(
                f"the journal {self.path} has {size} bytes but its committed length is {length}; "
                "it was changed outside flow-sdk. Delete the data directory to start over"
            )
        if size > length:
            with self.path.open("r+b") as file:
                file.truncate(length)
                _sync(file)
        return size - length

    def append(self, lines: Iterable[bytes]) -> int:
        """Append lines (each ending in a newline) durably; returns the new length."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab", buffering=WRITE_BUFFER) as file:
            write = file.write
            for line in lines:
                write(line)
            _sync(file)
            return file.tell()

    def read(
        self, offset: int, end: int, max_lines: int, max_bytes: int | None = None
    ) -> tuple[list[bytes], int]:
        """Up to `max_lines` whole lines from `offset` (never past `end`), and the offset after
        the last one returned. With `max_bytes`, no line begins once that many bytes were
        taken (so at least one line is, however long)."""
        if offset >= end:
            return [], offset
        lines: list[bytes] = []
        start = offset
        budget = end if max_bytes is None else min(end, offset + max(1, max_bytes))
        with self.path.open("rb", buffering=0) as file:
            file.seek(offset)
            rest = b""  # a line begun in the previous chunk
            while len(lines) < max_lines and offset < budget:
                chunk = file.read(min(JOURNAL_READ_BYTES, end - offset - len(rest)))
                if not chunk:
                    break
                parts = (rest + chunk).split(b"\n")
                rest = parts.pop()
                take = parts[: max_lines - len(lines)]
                for taken, part in enumerate(take):
                    if offset >= budget and offset > start:
                        take = take[:taken]
                        break
                    lines.append(part + b"\n")
                    offset += len(part) + 1
                if len(take) < len(parts):
                    break
            if len(lines) < max_lines and offset < budget:
                raise RuntimeFailure(
                    f"the journal {self.path} has a partial line at byte {offset}, inside "
                    "its committed length; it was changed outside flow-sdk"
                )
        return lines, offset

    def count_lines(self, offset: int, end: int) -> int:
        """The newlines between `offset` and `end` (lines, in a committed range): counted in
        chunks, nothing split or kept."""
        count = 0
        with self.path.open("rb", buffering=0) as file:
            file.seek(offset)
            while offset < end:
                chunk = file.read(min(JOURNAL_READ_BYTES, end - offset))
                if not chunk:
                    break
                count += chunk.count(b"\n")
                offset += len(chunk)
        return count

    def documents(self, offset: int = 0) -> Iterator[Any]:
        """Every document from `offset` to the end (for inspection and tests)."""
        with self.path.open("rb") as file:
            file.seek(offset)
            for line in file:
                yield orjson.loads(line)


class DataDir:
    """The run's data directory: `collections/<name>.jsonl` journals and
    `captures|materializations/<task name>.json` states, guarded by a lock file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock: BinaryIO | None = None

    def lock(self) -> None:
        """Take the directory for this run; a second concurrent run fails with a sentence."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = (self.root / ".lock").open("wb")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RuntimeFailure(
                f"another `flow-sdk run` is using the data directory {self.root}; wait for it "
                "to finish or choose another --data-dir"
            ) from None
        self._lock = handle

    def lock_fd(self) -> int | None:
        """The lock file's descriptor while this run holds it: a child process given a copy
        keeps the directory locked until it ended too (a flock belongs to the open file)."""
        return None if self._lock is None else self._lock.fileno()

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def journal(self, collection: str) -> Journal:
        return Journal(self.root / "collections" / f"{_safe(collection)}.jsonl")

    def state_path(self, kind: str, task: str) -> Path:
        return self.root / kind / f"{_safe(task)}.json"


def _safe(name: str) -> str:
    """A catalog name as a relative path: its `/`-separated parts, none of them special."""
    parts = [part for part in name.split("/") if part not in ("", ".", "..")]
    if not parts:
        raise RuntimeFailure(f"{name!r} cannot name a file in the data directory")
    return "/".join(parts)


def read_state(path: Path) -> dict[str, Any]:
    """A task's committed state, or `{}` before its first commit."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RuntimeFailure(
            f"the state file {path} is not valid JSON ({exc}); it is only ever replaced "
            "atomically, so it was changed outside flow-sdk. Delete the data directory to start over"
        ) from None
    if not isinstance(value, dict):
        raise RuntimeFailure(f"the state file {path} does not hold a JSON object")
    return value


def write_state(path: Path, value: dict[str, Any]) -> None:
    """Replace `path` with `value` atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("wb") as file:
        file.write(orjson.dumps(value))
        _sync(file)
    os.replace(temp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _sync(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())
